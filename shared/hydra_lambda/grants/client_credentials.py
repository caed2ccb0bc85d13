"""The client credentials grant (RFC 6749 section 4.4): a confidential client gets an access token
for itself. Subject = client id; granted scopes = requested scopes, each allowed by the client's
``scope``; no refresh token. One DynamoDB write (the token row)."""

from __future__ import annotations

from hydra_lambda import scopes
from hydra_lambda.clients.model import Client
from hydra_lambda.errors import InvalidScope, UnauthorizedClient
from hydra_lambda.scopes import parse_scope
from hydra_lambda.tokens import issuer
from hydra_lambda.tokens.issuer import TokenResponse

GRANT_TYPE = "client_credentials"


def grant(client: Client, form: dict[str, str]) -> TokenResponse:
    if client.public:
        raise UnauthorizedClient("Public clients cannot use the client_credentials grant.")
    try:
        requested = parse_scope(form.get("scope"))
    except ValueError as exc:
        raise InvalidScope(f"The scope parameter is malformed: {exc}.") from None
    allowed = client.allowed_scopes
    denied = [scope for scope in requested if not scopes.allows(allowed, scope)]
    if denied:
        raise InvalidScope(f"The client is not allowed to request scope '{denied[0][:80]}'.")
    return issuer.issue_to_client(client, requested)
