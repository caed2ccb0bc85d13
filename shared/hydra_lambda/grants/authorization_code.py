"""The authorization code grant (RFC 6749 section 4.1.3, RFC 7636, OpenID Connect Core 3.1.3).

The code is single use: ONE DynamoDB transaction consumes it (a condition on ``used_at``) and writes
the new tokens, so of two racing redemptions exactly one issues anything. A code presented again
fails with ``invalid_grant`` and revokes every token the first redemption issued (RFC 6749 4.1.2).
"""

from __future__ import annotations

import time
from typing import Any

from hydra_lambda import clock, id_tokens, issuance, pkce, tokens
from hydra_lambda.clients import Client
from hydra_lambda.config import get_settings
from hydra_lambda.errors import InvalidGrant, InvalidRequest, TemporarilyUnavailable
from hydra_lambda.issuance import TokenResponse
from hydra_lambda.storage import tokens as token_store
from hydra_lambda.storage.tables import TokenRecord

OFFLINE_SCOPES = ("offline", "offline_access")


def _load_code(value: str) -> token_store.Token:
    signature = tokens.signature_of(value, "code")
    row = token_store.get(signature, "code", include_used=True) if signature else None
    if row is None:
        raise InvalidGrant("The authorization code is invalid, expired or revoked.")
    return row


def _replayed(row: token_store.Token) -> InvalidGrant:
    revoke_grant(row)
    return InvalidGrant("The authorization code was already used; the tokens issued for it are revoked.")


def revoke_grant(row: token_store.Token) -> None:
    """Delete every token of the grant: those the consuming write recorded on ``row`` (read
    consistently, so even tokens written a moment ago go) and every row sharing its ``request_id``
    (the index is eventually consistent)."""
    fresh = token_store.get(row.signature, row.kind, include_used=True) or row
    for issued in fresh.session.get("issued") or []:
        kind, _, signature = issued.partition(" ")  # "<kind> <signature>": the kind is in the row key
        token_store.delete(signature, kind)
    token_store.revoke_request(row.request_id)


def _is_conflict(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    reasons = (response or {}).get("CancellationReasons") or [] if isinstance(response, dict) else []
    return any((reason or {}).get("Code") == "TransactionConflict" for reason in reasons)


def consume_and_write(origin: token_store.Token, rows: list[token_store.Token],
                      deletes: list[str] | None = None) -> bool:
    """ONE transaction: consume ``origin`` (unused, unexpired), record what it issued on it, write
    ``rows`` and delete the access tokens ``deletes``. False if ``origin`` was consumed by another request. A
    transaction cancelled only by a concurrent one (TransactionConflict) is retried."""
    session = {**origin.session, "issued": [f"{row.kind} {row.signature}" for row in rows]}
    for attempt in range(3):
        now = clock.now_int()
        try:
            token_store.transact(
                saves=[row.to_record() for row in rows],
                updates=[(origin.to_record(), [TokenRecord.used_at.set(now), TokenRecord.session.set(session)],
                          token_store.consume_condition(now))],
                deletes=[token_store.record_key("access", signature) for signature in deletes or []],
            )
            return True
        except token_store.AlreadyUsed:
            return False
        except Exception as exc:
            if not _is_conflict(exc):
                raise
            time.sleep(0.02 * (attempt + 1))
    raise TemporarilyUnavailable("The grant is being used by a concurrent request; try again.")


def _check_redirect_uri(form: dict[str, str], authorize: dict[str, Any]) -> None:
    sent = form.get("redirect_uri", "")
    if authorize.get("redirect_uri_sent") and not sent:
        raise InvalidGrant("redirect_uri is required: the authorization request had one.")
    if sent and sent != authorize.get("redirect_uri"):
        raise InvalidGrant("redirect_uri does not match the one of the authorization request.")


def grant(client: Client, form: dict[str, str]) -> TokenResponse:
    value = form.get("code", "")
    if not value:
        raise InvalidRequest("The code parameter is missing.")
    row = _load_code(value)
    if row.client_id != client.id:
        raise InvalidGrant("The authorization code was issued to another client.")
    if not issuance.issued_to_current_client(row, client):
        raise InvalidGrant("The authorization code is invalid, expired or revoked.")
    if row.used_at is not None:
        raise _replayed(row)
    authorize = dict(row.session.get("authorize") or {})
    _check_redirect_uri(form, authorize)
    pkce.verify(form.get("code_verifier", ""), authorize.get("code_challenge", ""),
                authorize.get("code_challenge_method", ""))
    identity = id_tokens.identity_of(row.subject, row.session)
    response, rows = issue_tokens(client, row, identity, include_nonce=True)
    if not consume_and_write(row, rows):
        raise _replayed(row)
    return response


def issue_tokens(client: Client, origin: token_store.Token, identity: id_tokens.IdentityContext | None,
                 *, include_nonce: bool) -> tuple[TokenResponse, list[token_store.Token]]:
    """The token response of a code or refresh grant and the rows to write (same grant = same
    ``request_id``; subject, scopes and extras carried over from ``origin``)."""
    settings = get_settings()
    session = id_tokens.session_of(identity) if identity else {}
    common = {"client_id": client.id, "client": client, "request_id": origin.request_id, "subject": origin.subject,
              "scopes": origin.scopes, "extra": origin.extra}
    lifespan = issuance.access_lifespan()
    access, access_row = issuance.mint("access", lifespan=lifespan, session=session, **common)
    rows = [access_row]
    refresh = None
    if any(scope in origin.scopes for scope in OFFLINE_SCOPES) and client.has_grant_type("refresh_token"):
        refresh_session = {**session, "access_signature": access_row.signature}
        refresh, refresh_row = issuance.mint("refresh", lifespan=settings.refresh_token_lifespan,
                                             session=refresh_session, **common)
        rows.append(refresh_row)
    id_token = None
    if identity is not None and "openid" in origin.scopes:
        id_token = id_tokens.issue(identity, client_id=client.id, access_token=access, include_nonce=include_nonce)
    response = TokenResponse(access_token=access, expires_in=lifespan, scope=list(origin.scopes),
                             refresh_token=refresh, id_token=id_token)
    return response, rows
