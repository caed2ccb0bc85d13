"""Consent requests: stored by the first leg of ``/oauth2/auth``, answered once by the consent app,
consumed once by the second leg. This module is their persistence (``consent.model.Consent`` <-> record).
Every state change is a conditional write, so of two racing answers (or two racing redemptions)
exactly one wins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from hydra_lambda import clock
from hydra_lambda.consent.model import ACCEPTED as ACCEPTED  # the states, for the callers of this module
from hydra_lambda.consent.model import LOGIN_ACCEPTED as LOGIN_ACCEPTED
from hydra_lambda.consent.model import LOGIN_PENDING as LOGIN_PENDING
from hydra_lambda.consent.model import LOGIN_REJECTED as LOGIN_REJECTED
from hydra_lambda.consent.model import PENDING as PENDING
from hydra_lambda.consent.model import REJECTED as REJECTED
from hydra_lambda.consent.model import USED as USED
from hydra_lambda.consent.model import Authentication, Consent
from hydra_lambda.storage import sessions as session_rows
from hydra_lambda.storage import token_rows
from hydra_lambda.storage.sessions import ConsentSession, LoginSession
from hydra_lambda.storage.tables import (
    ConsentRecord,
    connection,
    ensure_bound,
    flush_shard,
    is_condition_failure,
    unwrap,
)
from hydra_lambda.tokens.model import Token


class ConditionFailed(Exception):
    """The row was not in the state the write required (answered, used, expired or gone)."""


def to_record(consent: Consent) -> ConsentRecord:
    return ConsentRecord(
        consent.id,
        client_id=consent.client_id,
        requested_scopes=list(consent.requested_scopes),
        redirect_url=consent.redirect_url,
        csrf_hash=consent.csrf_hash,
        request=dict(consent.request),
        state=consent.state,
        subject=consent.subject,
        grant_scopes=list(consent.grant_scopes),
        access_token_extra=dict(consent.access_token_extra),
        id_token_extra=dict(consent.id_token_extra),
        deny_reason=consent.deny_reason,
        authentication=_authentication_map(consent.authentication),
        flow=None if consent.flow is None else dict(consent.flow),
        created_at=consent.created_at or clock.now_int(),
        expires_at=consent.expires_at,
        ttl=datetime.fromtimestamp(consent.expires_at, UTC),
        flush_shard=flush_shard("consent", consent.id),
    )


def from_record(record: ConsentRecord) -> Consent:
    return Consent(
        id=record.id,
        client_id=record.client_id,
        requested_scopes=list(record.requested_scopes or []),
        redirect_url=record.redirect_url,
        csrf_hash=record.csrf_hash,
        expires_at=int(record.expires_at),
        request=dict(record.request or {}),
        state=record.state,
        subject=record.subject or "",
        grant_scopes=list(record.grant_scopes or []),
        access_token_extra=dict(record.access_token_extra or {}),
        id_token_extra=dict(record.id_token_extra or {}),
        deny_reason=record.deny_reason or "",
        created_at=int(record.created_at),
        authentication=_authentication(record.authentication or {}),
        flow=None if record.flow is None else dict(record.flow),
    )


def _authentication_map(authentication: Authentication | None) -> dict[str, Any]:
    if authentication is None or not authentication.auth_time:
        return {}  # not answered yet (or answered before authentication was recorded)
    return {"auth_time": authentication.auth_time, "acr": authentication.acr, "amr": list(authentication.amr)}


def _authentication(stored: dict[str, Any]) -> Authentication:
    return Authentication(auth_time=int(stored.get("auth_time") or 0), acr=str(stored.get("acr") or ""),
                          amr=list(stored.get("amr") or []))


@ensure_bound
def create(consent: Consent) -> None:
    """Store a new request (random id). If the row exists, it must be this very one, written by a
    first attempt whose response was lost and that botocore resent: then all is well."""
    try:
        connection().save(to_record(consent), condition=ConsentRecord.id.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            found = get(consent.id)
            if found is not None and found.csrf_hash == consent.csrf_hash and found.client_id == consent.client_id:
                return
        raise unwrap(exc) from exc


@ensure_bound
def get(consent_id: str) -> Consent | None:
    """The stored request, expired or not (callers tell "expired" from "unknown"); None if absent."""
    if not consent_id or len(consent_id) > 128:
        return None
    try:
        return from_record(connection().get(ConsentRecord, consent_id, consistent_read=True))
    except ConsentRecord.DoesNotExist:
        return None


@ensure_bound
def accept(
    consent_id: str,
    *,
    subject: str,
    grant_scopes: list[str],
    access_token_extra: dict[str, Any],
    id_token_extra: dict[str, Any],
    authentication: Authentication | None = None,
) -> None:
    """Record an acceptance, only if the request is still pending and unexpired. A resent write
    (its first response lost) finds the same acceptance already recorded and succeeds."""

    def recorded(found: Consent) -> bool:
        return (found.state == ACCEPTED and found.subject == subject and found.grant_scopes == grant_scopes
                and found.access_token_extra == access_token_extra and found.id_token_extra == id_token_extra)

    _transition(
        consent_id,
        PENDING,
        [
            ConsentRecord.state.set(ACCEPTED),
            ConsentRecord.subject.set(subject),
            ConsentRecord.grant_scopes.set(grant_scopes),
            ConsentRecord.access_token_extra.set(access_token_extra),
            ConsentRecord.id_token_extra.set(id_token_extra),
            ConsentRecord.authentication.set(_authentication_map(authentication)),
        ],
        recorded,
    )


@ensure_bound
def reject(consent_id: str, reason: str) -> None:
    _transition(consent_id, PENDING, [ConsentRecord.state.set(REJECTED), ConsentRecord.deny_reason.set(reason)],
                lambda found: found.state == REJECTED and found.deny_reason == reason)


@ensure_bound
def consume(consent_id: str, expected_state: str) -> None:
    """Mark an answered request used; exactly one caller succeeds (so a resent write whose first
    response was lost fails too: no caller does this outside a transaction, whose retries are safe)."""
    _transition(consent_id, expected_state, [ConsentRecord.state.set(USED)])


@ensure_bound
def consume_with_tokens(consent_id: str, rows: list[Token], session: ConsentSession | None = None) -> None:
    """ONE transaction across the consent and token tables: mark the accepted request used and write
    the token rows it yields (and, in the current flow, its consent ``session``). ConditionFailed
    (nothing written) if it was used or expired meanwhile."""
    consumed = (ConsentRecord(consent_id), [ConsentRecord.state.set(USED)], _condition(ACCEPTED))
    saves: list[Any] = [token_rows.to_record(row) for row in rows]
    if session is not None:
        saves.append(session_rows.consent_record(session))
    try:
        token_rows.transact(saves=saves, updates=[consumed])
    except token_rows.AlreadyUsed as exc:
        raise ConditionFailed(consent_id) from exc


# ---------------------------------------------------------------------------------------------
# The current flow's stages (consent.model.Consent.flow): each a conditional state change


@dataclass
class Advance:
    """What a stage change of the current flow writes beside the new state (None: unchanged)."""

    flow: dict[str, Any]
    subject: str | None = None
    grant_scopes: list[str] | None = None
    access_token_extra: dict[str, Any] | None = None
    id_token_extra: dict[str, Any] | None = None
    authentication: Authentication | None = None
    expires_at: int | None = None

    def actions(self, state: str) -> list[Any]:
        out = [ConsentRecord.state.set(state), ConsentRecord.flow.set(self.flow)]
        if self.subject is not None:
            out.append(ConsentRecord.subject.set(self.subject))
        if self.grant_scopes is not None:
            out.append(ConsentRecord.grant_scopes.set(self.grant_scopes))
        if self.access_token_extra is not None:
            out.append(ConsentRecord.access_token_extra.set(self.access_token_extra))
        if self.id_token_extra is not None:
            out.append(ConsentRecord.id_token_extra.set(self.id_token_extra))
        if self.authentication is not None:
            out.append(ConsentRecord.authentication.set(_authentication_map(self.authentication)))
        if self.expires_at is not None:
            out += [ConsentRecord.expires_at.set(self.expires_at),
                    ConsentRecord.ttl.set(datetime.fromtimestamp(self.expires_at, UTC))]
        return out


@ensure_bound
def advance(consent_id: str, expected_state: str, state: str, change: Advance) -> None:
    """Move a current-flow request from ``expected_state`` to ``state`` (pending and unexpired), once:
    of two racing writers exactly one wins, the other gets ConditionFailed. A resent write finds its
    own change recorded and succeeds."""
    _transition(consent_id, expected_state, change.actions(state),
                lambda found: found.state == state and found.flow == change.flow)


@ensure_bound
def advance_with_login_session(consent_id: str, expected_state: str, state: str, change: Advance,
                               session: LoginSession) -> None:
    """``advance`` and the creation of a new login session in ONE transaction: the login stage is
    consumed by exactly one request, and only the winner's session exists."""
    update = (ConsentRecord(consent_id), change.actions(state), _condition(expected_state))
    try:
        token_rows.transact(saves=[session_rows.login_record(session)], updates=[update])
    except token_rows.AlreadyUsed as exc:
        raise ConditionFailed(consent_id) from exc


def _condition(expected_state: str) -> Any:
    now = clock.now_int()
    return ConsentRecord.id.exists() & (ConsentRecord.state == expected_state) & (ConsentRecord.expires_at > now)


def _transition(consent_id: str, expected_state: str, actions: list[Any],
                done: Callable[[Consent], bool] | None = None) -> None:
    """A conditional state change. If the condition fails, ``done`` tells from a fresh read whether
    the row already holds exactly this change (our own first attempt, whose response was lost)."""
    condition = _condition(expected_state)
    try:
        connection().update(ConsentRecord(consent_id), actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            found = get(consent_id) if done is not None else None
            if found is not None and done is not None and done(found):
                return
            raise ConditionFailed(consent_id) from exc
        raise unwrap(exc) from exc

