"""The authorization code grant (RFC 6749 section 4.1.3, RFC 7636, OpenID Connect Core 3.1.3).

The code is single use: the issuer consumes it in the same transaction that writes the new tokens
(a condition on ``used_at``), so of two racing redemptions exactly one issues anything. A code
presented again fails with ``invalid_grant`` and revokes every token the first redemption issued
(RFC 6749 4.1.2).
"""

from __future__ import annotations

from hydra_lambda import pkce
from hydra_lambda.clients.model import Client
from hydra_lambda.errors import InvalidGrant, InvalidRequest
from hydra_lambda.tokens import issuer, lookup, revocation
from hydra_lambda.tokens.issuer import TokenResponse
from hydra_lambda.tokens.model import CodeBinding, Token

GRANT_TYPE = "authorization_code"


def grant(client: Client, form: dict[str, str]) -> TokenResponse:
    value = form.get("code", "")
    if not value:
        raise InvalidRequest("The code parameter is missing.")
    row = _load_code(value)
    if row.client_id != client.id:
        raise InvalidGrant("The authorization code was issued to another client.")
    if not lookup.issued_to_current_client(row, client):
        raise InvalidGrant("The authorization code is invalid, expired or revoked.")
    if row.used_at is not None:
        raise _replayed(row)
    binding = row.session.code_binding or CodeBinding()
    _check_redirect_uri(form, binding)
    pkce.verify(form.get("code_verifier", ""), binding.code_challenge, binding.code_challenge_method)
    response = issuer.issue_from(client, row, include_nonce=True)
    if response is None:
        raise _replayed(row)
    return response


def _load_code(value: str) -> Token:
    row = lookup.find(value, ("code",), include_used=True)
    if row is None:
        raise InvalidGrant("The authorization code is invalid, expired or revoked.")
    return row


def _replayed(row: Token) -> InvalidGrant:
    revocation.revoke_grant(row)
    return InvalidGrant("The authorization code was already used; the tokens issued for it are revoked.")


def _check_redirect_uri(form: dict[str, str], binding: CodeBinding) -> None:
    sent = form.get("redirect_uri", "")
    if binding.redirect_uri_sent and not sent:
        raise InvalidGrant("redirect_uri is required: the authorization request had one.")
    if sent and sent != binding.redirect_uri:
        raise InvalidGrant("redirect_uri does not match the one of the authorization request.")
