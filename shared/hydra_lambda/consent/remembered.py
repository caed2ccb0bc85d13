"""Consent sessions of the current flow: one per accepted consent request, written with the tokens it
yields (its challenge is their grant's ``request_id``), remembered when the consent app said so.

A remembered, unexpired session of the same subject and client that covers the requested scopes
(and audience) makes a later consent request ``skip: true``; revoking consent sessions revokes the
tokens of their grants."""

from __future__ import annotations

from typing import Any

from hydra_lambda import clock
from hydra_lambda.config import get_settings
from hydra_lambda.consent.model import Consent
from hydra_lambda.storage import sessions as store
from hydra_lambda.storage.sessions import ConsentSession
from hydra_lambda.tokens import revocation

FOREVER = 5 * 365 * 24 * 3600  # remember_for 0 with remember: "until revoked" (the row still needs a TTL)


def still_remembered(session: ConsentSession, now: int) -> bool:
    """Whether ``session`` may still skip the consent screen."""
    if not session.remember:
        return False
    return session.remember_for == 0 or session.handled_at + session.remember_for > now


def covering(subject: str, client_id: str, scopes: list[str] | tuple[str, ...],
             audience: list[str] | tuple[str, ...] = ()) -> ConsentSession | None:
    """The newest remembered consent session of ``subject`` for ``client_id`` that grants every
    requested scope and audience; None if there is none (one index Query)."""
    now = clock.now_int()
    for session in store.consent_sessions_of(subject, client_id=client_id):
        if (still_remembered(session, now) and set(scopes) <= set(session.grant_scope)
                and set(audience) <= set(session.grant_access_token_audience)):
            return session
    return None


def session_for(found: Consent) -> ConsentSession:
    """The consent session of an accepted consent request of the current flow. It lives as long as
    the tokens of its grant may (REFRESH_TOKEN_LIFESPAN), or as long as it is remembered if longer."""
    flow = found.flow or {}
    answer: dict[str, Any] = dict(flow.get("consent") or {})
    now = clock.now_int()
    remember, remember_for = bool(answer.get("remember")), int(answer.get("remember_for") or 0)
    keep = FOREVER if remember and remember_for == 0 else max(remember_for, get_settings().refresh_token_lifespan)
    return ConsentSession(
        challenge=found.id, subject=found.subject, client_id=found.client_id, expires_at=now + keep,
        login_session_id=str(flow.get("login_session_id") or ""), requested_scope=list(found.requested_scopes),
        grant_scope=list(found.grant_scopes),
        grant_access_token_audience=list(answer.get("grant_access_token_audience") or []),
        access_token_session=dict(found.access_token_extra), id_token_session=dict(found.id_token_extra),
        context=answer.get("context"), remember=remember, remember_for=remember_for,
        handled_at=int(answer.get("handled_at") or now), created_at=now,
    )


def of_subject(subject: str, *, login_session_id: str | None = None) -> list[ConsentSession]:
    """The live consent sessions of ``subject`` (of one login session), newest first."""
    return store.consent_sessions_of(subject, login_session_id=login_session_id)


def of_login_session(subject: str, sid: str) -> list[ConsentSession]:
    """The consent sessions given in the login session ``sid`` (for logout: their clients)."""
    return store.consent_sessions_of(subject, login_session_id=sid)


def revoke(subject: str, *, client_id: str | None = None) -> int:
    """Remove the consent sessions of ``subject`` (only those of ``client_id`` when given) and revoke
    the tokens of their grants; the number removed. The tokens go first: a failure part-way leaves
    the session listed, so a retry finishes the job."""
    sessions = store.consent_sessions_of(subject, client_id=client_id)
    for session in sessions:
        revocation.revoke_request(session.challenge)
    store.delete_consent_sessions([session.challenge for session in sessions])
    return len(sessions)
