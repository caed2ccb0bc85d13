"""The refresh token grant (RFC 6749 section 6) with rotation and reuse detection (RFC 9700 4.14).

Every use rotates: the issuer consumes the old refresh token (a condition on ``used_at``), deletes
the access token issued with it and writes the new pair, in ONE DynamoDB transaction. The new tokens
keep the grant's ``request_id``, subject and extras, and its scopes unless a narrower ``scope`` is
asked (RFC 6749 section 6: then exactly that scope, which the new refresh token keeps). Presenting a
rotated refresh token again revokes the whole grant, unless it comes within
``REFRESH_TOKEN_GRACE_PERIOD`` seconds of the rotation (concurrent refreshes of one client), which
then get a fresh pair of the same grant. A refresh token its grant's revocation marked (``used_at`` and
``revoked_at`` set) is neither consumed nor reissued from: it answers ``invalid_grant``.
"""

from __future__ import annotations

from hydra_lambda import clock, scopes
from hydra_lambda.clients.model import Client
from hydra_lambda.config import get_settings
from hydra_lambda.errors import InvalidGrant, InvalidRequest, InvalidScope
from hydra_lambda.tokens import issuer, lookup, revocation
from hydra_lambda.tokens.issuer import TokenResponse
from hydra_lambda.tokens.model import Token

GRANT_TYPE = "refresh_token"


def grant(client: Client, form: dict[str, str]) -> TokenResponse:
    value = form.get("refresh_token", "")
    if not value:
        raise InvalidRequest("The refresh_token parameter is missing.")
    row = _load(value)
    if row.client_id != client.id:
        raise InvalidGrant("The refresh token was issued to another client.")
    if not lookup.issued_to_current_client(row, client):
        raise InvalidGrant("The refresh token is invalid, expired or revoked.")
    if row.used_at is not None:
        return _reused(client, row, form)
    response = issuer.issue_from(client, row, granted=_scoped(form, row), include_nonce=False)
    if response is None:
        again = lookup.again(row)
        if again is None:
            raise InvalidGrant("The refresh token is invalid, expired or revoked.")
        return _reused(client, again, form)
    return response


def _load(value: str) -> Token:
    row = lookup.find(value, ("refresh",), include_used=True)
    if row is None:
        raise InvalidGrant("The refresh token is invalid, expired or revoked.")
    return row


def _scoped(form: dict[str, str], row: Token) -> list[str]:
    """RFC 6749 section 6: a ``scope`` sent must not exceed the refresh token's; the new tokens carry
    exactly the scope asked for (the refresh token's own when omitted)."""
    try:
        requested = scopes.parse_scope(form.get("scope"))
    except ValueError as exc:
        raise InvalidScope(f"The scope parameter is malformed: {exc}.") from None
    extra = [scope for scope in requested if scope not in row.scopes]
    if extra:
        raise InvalidScope(f"The scope '{extra[0][:80]}' was not granted to this refresh token.")
    return requested or list(row.scopes)


def _in_grace(row: Token) -> bool:
    grace = get_settings().refresh_token_grace_period
    return row.used_at is not None and clock.now_int() - row.used_at < grace


def _reused(client: Client, row: Token, form: dict[str, str]) -> TokenResponse:
    if _in_grace(row):
        return issuer.reissue_from(client, row, granted=_scoped(form, row))
    revocation.revoke_grant(row)
    raise InvalidGrant("The refresh token was already used; every token of this grant is revoked.")
