"""Logout requests (RP-initiated logout, ``hydra_lambda.logout``): their persistence as ``LogoutRecord``
rows of the sessions table (id ``lr#<challenge>``). Every change of ``status`` is a conditional write,
so of two racing answers, or two racing uses of one verifier, exactly one wins. Reads never trust
DynamoDB's TTL: the caller tells "expired" from the row's ``expires_at``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from hydra_lambda import clock
from hydra_lambda.storage.tables import LogoutRecord, connection, ensure_bound, is_condition_failure, unwrap

PREFIX = "lr#"
PENDING, ACCEPTED, REJECTED, USED = "pending", "accepted", "rejected", "used"


class ConditionFailed(Exception):
    """The request was not in the state the write required (answered, used, expired or gone)."""


@dataclass
class LogoutRequest:
    """What a logout asked for: whose login session (``subject``, ``sid``), on whose behalf (``client_id``,
    "" when no relying party was named), where the browser goes afterwards (``post_logout_redirect_uri``,
    validated against that client's registration before it is stored, and ``state``), and the hash of
    the CSRF value only the browser that asked holds (in a cookie)."""

    challenge: str
    subject: str
    sid: str
    csrf_hash: str
    expires_at: int
    requested_at: int
    client_id: str = ""
    request_url: str = ""
    rp_initiated: bool = False
    post_logout_redirect_uri: str = ""
    state: str = ""
    ui_locales: str = ""
    status: str = PENDING

    @property
    def expired(self) -> bool:
        return self.expires_at <= clock.now()


_DATA_SKIP = ("challenge", "status", "expires_at", "requested_at")


def _record(request: LogoutRequest) -> LogoutRecord:
    data = {name: value for name, value in asdict(request).items() if name not in _DATA_SKIP}
    return LogoutRecord(PREFIX + request.challenge, status=request.status, data=data,
                        created_at=request.requested_at, expires_at=request.expires_at,
                        ttl=datetime.fromtimestamp(request.expires_at, UTC))


def _from(record: LogoutRecord) -> LogoutRequest:
    data: dict[str, Any] = dict(record.data or {})
    known = set(LogoutRequest.__dataclass_fields__) - set(_DATA_SKIP)
    return LogoutRequest(challenge=record.id[len(PREFIX):], status=record.status,
                         expires_at=int(record.expires_at), requested_at=int(record.created_at),
                         **{name: value for name, value in data.items() if name in known})


@ensure_bound
def create(request: LogoutRequest) -> None:
    """Store a new request (random challenge); a row already there must be this one (a resent put)."""
    try:
        connection().save(_record(request), condition=LogoutRecord.id.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            found = get(request.challenge)
            if found is not None and found.csrf_hash == request.csrf_hash:
                return
        raise unwrap(exc) from exc


@ensure_bound
def get(challenge: str) -> LogoutRequest | None:
    """The stored request, expired or not; None if absent."""
    if not challenge or len(challenge) > 128:
        return None
    try:
        return _from(connection().get(LogoutRecord, PREFIX + challenge, consistent_read=True))
    except LogoutRecord.DoesNotExist:
        return None


@ensure_bound
def transition(challenge: str, allowed: tuple[str, ...], to: str) -> None:
    """Move the request from one of ``allowed`` to ``to``, only while it is unexpired. ConditionFailed
    otherwise (the caller re-reads to say why). Not retried as "already done": a use must be once."""
    condition = (LogoutRecord.id.exists() & LogoutRecord.status.is_in(*allowed)
                 & (LogoutRecord.expires_at > clock.now_int()))
    try:
        connection().update(LogoutRecord(PREFIX + challenge), actions=[LogoutRecord.status.set(to)],
                            condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise ConditionFailed(challenge) from exc
        raise unwrap(exc) from exc
