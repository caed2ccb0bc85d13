"""The grants of the token endpoint, peers behind one interface: each module declares its
``GRANT_TYPE`` and a ``grant(client, form) -> TokenResponse`` that validates the rest of the request
for an authenticated client and has the issuer (``tokens.issuer``) issue the tokens. The
endpoint (``endpoints.token``) dispatches by ``grant_type``. Add a grant with one module and one
entry below."""

from __future__ import annotations

from collections.abc import Callable

from hydra_lambda.clients.model import Client
from hydra_lambda.grants import authorization_code, client_credentials, device_code, jwt_bearer, refresh_token
from hydra_lambda.tokens.issuer import TokenResponse

Grant = Callable[[Client, dict[str, str]], TokenResponse]

GRANTS: dict[str, Grant] = {
    module.GRANT_TYPE: module.grant
    for module in (client_credentials, authorization_code, refresh_token, jwt_bearer, device_code)
}
