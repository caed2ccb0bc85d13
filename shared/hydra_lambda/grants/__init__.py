"""The grant registry of the token endpoint: ``grant_type`` -> a function that validates the rest of
the request for an authenticated client and issues the tokens. Add a grant with one entry."""

from __future__ import annotations

from collections.abc import Callable

from hydra_lambda.clients import Client
from hydra_lambda.grants import authorization_code, client_credentials, refresh_token
from hydra_lambda.issuance import TokenResponse

Grant = Callable[[Client, dict[str, str]], TokenResponse]

GRANTS: dict[str, Grant] = {
    "client_credentials": client_credentials.grant,
    "authorization_code": authorization_code.grant,
    "refresh_token": refresh_token.grant,
}
