"""Login sessions and consent sessions of the current login/consent flow: their persistence in the
sessions table (``SessionRecord``: a row each, ``ls#<sid>`` or ``cs#<consent challenge>``).

Both kinds carry their ``subject`` in the ``by_subject`` index, so every login session (or every
consent session) of a subject is one Query (eventually consistent, as every index read: a session
written a moment ago may be missing for a moment). A session itself is read by its key, strongly.
Reads never trust DynamoDB's TTL: a row past ``expires_at`` is treated as absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DeleteError, PutError

from hydra_lambda import clock
from hydra_lambda.storage.tables import SessionRecord, connection, ensure_bound, is_condition_failure, unwrap

LOGIN, CONSENT = "ls#", "cs#"
MAX_LISTED = 1000  # rows one listing reads at most (a subject with more sessions is not a real user)


class SessionExists(Exception):
    """A new session's id was taken by another row (random ids: only a resent write finds its own)."""


@dataclass
class LoginSession:
    """A remembered authentication: what the login app said when it accepted, and the hash of the
    browser's cookie secret (the cookie is ``<sid>.<secret>``; login_sessions.py)."""

    sid: str
    subject: str
    cookie_hash: str
    auth_time: int
    expires_at: int
    acr: str = ""
    amr: list[str] = field(default_factory=list)
    remember: bool = False
    remember_for: int = 0
    identity_provider_session_id: str = ""
    created_at: int = 0

    @property
    def expired(self) -> bool:
        return self.expires_at <= clock.now()


@dataclass
class ConsentSession:
    """One accepted consent request of the current flow (``challenge`` is also its grant's token
    ``request_id``): what was granted, to which client, in which login session, and whether it is
    remembered (then it may skip the consent screen until it expires)."""

    challenge: str
    subject: str
    client_id: str
    expires_at: int
    login_session_id: str = ""
    requested_scope: list[str] = field(default_factory=list)
    grant_scope: list[str] = field(default_factory=list)
    grant_access_token_audience: list[str] = field(default_factory=list)
    access_token_session: dict[str, Any] = field(default_factory=dict)
    id_token_session: dict[str, Any] = field(default_factory=dict)
    context: Any = None
    remember: bool = False
    remember_for: int = 0
    handled_at: int = 0
    created_at: int = 0

    @property
    def expired(self) -> bool:
        return self.expires_at <= clock.now()


def _record(key: str, subject: str, expires_at: int, created_at: int, data: dict[str, Any]) -> SessionRecord:
    return SessionRecord(key, subject=subject, data=data, created_at=created_at or clock.now_int(),
                         expires_at=expires_at, ttl=datetime.fromtimestamp(expires_at, UTC))


def _login_from(record: SessionRecord) -> LoginSession:
    data = dict(record.data or {})
    return LoginSession(sid=record.id[len(LOGIN):], subject=record.subject, expires_at=int(record.expires_at),
                        created_at=int(record.created_at), cookie_hash=str(data.get("cookie_hash", "")),
                        auth_time=int(data.get("auth_time") or 0), acr=str(data.get("acr") or ""),
                        amr=list(data.get("amr") or []), remember=bool(data.get("remember")),
                        remember_for=int(data.get("remember_for") or 0),
                        identity_provider_session_id=str(data.get("identity_provider_session_id") or ""))


def _consent_from(record: SessionRecord) -> ConsentSession:
    data = dict(record.data or {})
    known = {name for name in ConsentSession.__dataclass_fields__} - {"challenge", "subject", "expires_at",
                                                                       "created_at"}
    return ConsentSession(challenge=record.id[len(CONSENT):], subject=record.subject,
                          expires_at=int(record.expires_at), created_at=int(record.created_at),
                          **{name: value for name, value in data.items() if name in known})


def _data(value: LoginSession | ConsentSession, *skip: str) -> dict[str, Any]:
    return {name: item for name, item in asdict(value).items() if name not in skip}


# ---------------------------------------------------------------------------------------------
# Login sessions


def login_record(session: LoginSession) -> SessionRecord:
    """The row of a login session (to write it in a transaction with other rows)."""
    return _record(LOGIN + session.sid, session.subject, session.expires_at, session.created_at,
                   _data(session, "sid", "subject", "expires_at", "created_at"))


def consent_record(session: ConsentSession) -> SessionRecord:
    """The row of a consent session (to write it in a transaction with other rows)."""
    return _record(CONSENT + session.challenge, session.subject, session.expires_at, session.created_at,
                   _data(session, "challenge", "subject", "expires_at", "created_at"))


@ensure_bound
def create_login_session(session: LoginSession) -> None:
    """Store a new login session. A row already under its (random) sid is accepted only if it is this
    very session (botocore resent a put whose answer was lost); SessionExists otherwise."""
    record = login_record(session)
    try:
        connection().save(record, condition=SessionRecord.id.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            found = get_login_session(session.sid, include_expired=True)
            if found is not None and found.cookie_hash == session.cookie_hash:
                return
            raise SessionExists(session.sid) from exc
        raise unwrap(exc) from exc


@ensure_bound
def save_login_session(session: LoginSession) -> None:
    """Overwrite an existing login session (a new authentication in it, a longer lifespan), only while
    it exists: a session ended meanwhile (logout) is never brought back. SessionExists is not raised;
    LookupError when it is gone."""
    record = _record(LOGIN + session.sid, session.subject, session.expires_at, session.created_at,
                     _data(session, "sid", "subject", "expires_at", "created_at"))
    try:
        connection().save(record, condition=SessionRecord.id.exists() & (SessionRecord.subject == session.subject))
    except PutError as exc:
        if is_condition_failure(exc):
            raise LookupError(session.sid) from exc
        raise unwrap(exc) from exc


@ensure_bound
def get_login_session(sid: str, *, include_expired: bool = False) -> LoginSession | None:
    if not sid or len(sid) > 128:
        return None
    try:
        found = _login_from(connection().get(SessionRecord, LOGIN + sid, consistent_read=True))
    except SessionRecord.DoesNotExist:
        return None
    return None if found.expired and not include_expired else found


@ensure_bound
def login_sessions_of(subject: str) -> list[LoginSession]:
    """The live login sessions of ``subject`` (one index Query)."""
    return [session for session in map(_login_from, _of(subject, LOGIN)) if not session.expired]


@ensure_bound
def delete_login_session(sid: str) -> LoginSession | None:
    """End a login session; returns it as it was (None if there was none). Idempotent."""
    found = get_login_session(sid, include_expired=True)
    if found is None:
        return None
    try:
        connection().delete(SessionRecord(LOGIN + sid))
    except DeleteError as exc:
        raise unwrap(exc) from exc
    return found


# ---------------------------------------------------------------------------------------------
# Consent sessions


@ensure_bound
def save_consent_session(session: ConsentSession) -> None:
    """Store (or overwrite: a resent write writes the same row) the consent session of a challenge."""
    record = consent_record(session)
    try:
        connection().save(record)
    except PutError as exc:
        raise unwrap(exc) from exc


@ensure_bound
def get_consent_session(challenge: str) -> ConsentSession | None:
    if not challenge or len(challenge) > 128:
        return None
    try:
        found = _consent_from(connection().get(SessionRecord, CONSENT + challenge, consistent_read=True))
    except SessionRecord.DoesNotExist:
        return None
    return None if found.expired else found


@ensure_bound
def consent_sessions_of(subject: str, *, client_id: str | None = None,
                        login_session_id: str | None = None) -> list[ConsentSession]:
    """The live consent sessions of ``subject`` (one index Query), newest first, optionally only those
    of one client or of one login session."""
    found = [session for session in map(_consent_from, _of(subject, CONSENT)) if not session.expired
             and (client_id is None or session.client_id == client_id)
             and (login_session_id is None or session.login_session_id == login_session_id)]
    return sorted(found, key=lambda session: (session.handled_at, session.challenge), reverse=True)


@ensure_bound
def delete_consent_sessions(challenges: list[str]) -> int:
    """Remove consent sessions by challenge (absent ones are fine); the number asked."""
    return connection().delete_rows(SessionRecord, [(CONSENT + challenge, None) for challenge in challenges])


def _of(subject: str, prefix: str) -> Iterator[SessionRecord]:
    if not subject:
        return iter(())
    rows = connection().query_rows(SessionRecord, subject, SessionRecord.id.startswith(prefix),
                                   index=SessionRecord.by_subject, page_size=100)
    return (row for index, row in zip(range(MAX_LISTED), rows, strict=False))
