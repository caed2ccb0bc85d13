"""``POST /oauth2/token`` (RFC 6749 section 3.2): one pipeline for every grant. Check the grant type,
authenticate the client, check the client may use the grant, then hand over to the grant."""

from __future__ import annotations

from hydra_lambda.client_auth import authenticate_client
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import InvalidRequest, UnauthorizedClient, UnsupportedGrantType
from hydra_lambda.grants import GRANTS
from hydra_lambda.issuer import TokenResponse
from hydra_lambda.observability import count


def handle(caller: Credentials, form: dict[str, str]) -> TokenResponse:
    grant_type = form.get("grant_type") or ""
    if not grant_type:
        raise InvalidRequest("The grant_type parameter is missing.")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"The grant type '{grant_type[:40]}' is not supported.")
    client = authenticate_client(caller, form)
    if not client.has_grant_type(grant_type):
        raise UnauthorizedClient(f"The client is not allowed to use the grant type '{grant_type}'.")
    response = grant(client, form)
    count(f"TokenIssued_{grant_type}")
    return response
