"""``POST /oauth2/token`` (RFC 6749 section 3.2): one pipeline for every grant. Check the grant type,
authenticate the client, check the client may use the grant, then hand over to the grant; the answer
is RFC 6749 section 5.1's (plus ``id_token``, OpenID Connect Core 3.1.3.3)."""

from __future__ import annotations

from typing import Any

from hydra_lambda.client_auth import authenticate_client
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import InvalidRequest, UnauthorizedClient, UnsupportedGrantType
from hydra_lambda.grants import GRANTS
from hydra_lambda.observability import count
from hydra_lambda.tokens.issuer import TokenResponse


def serve(caller: Credentials, form: dict[str, str]) -> dict[str, Any]:
    grant_type = form.get("grant_type") or ""
    if not grant_type:
        raise InvalidRequest("The grant_type parameter is missing.")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"The grant type '{grant_type[:40]}' is not supported.")
    client = authenticate_client(caller, form, endpoint="/oauth2/token")
    if not client.has_grant_type(grant_type):
        raise UnauthorizedClient(f"The client is not allowed to use the grant type '{grant_type}'.")
    response = grant(client, form)
    count(f"TokenIssued_{grant_type}")
    return body(response)


def body(response: TokenResponse) -> dict[str, Any]:
    out: dict[str, Any] = {
        "access_token": response.access_token,
        "token_type": "bearer",
        "expires_in": response.expires_in,
        "scope": " ".join(response.scope),
    }
    if response.refresh_token:
        out["refresh_token"] = response.refresh_token
    if response.id_token:
        out["id_token"] = response.id_token
    return out
