"""``/userinfo`` (OpenID Connect Core 5.3): the claims about the user behind an access token.

Returns ``sub`` (the ID token's: the client's pairwise identifier of the user for a pairwise client,
``hydra_lambda.subjects``) plus the ``idTokenExtra`` claims ``hydra_lambda.claims`` releases to userinfo for the
token's scopes and the claims request (and ``acr`` when set); the server's own claims win over extras.
A token without a user (client_credentials) is refused with 401 ``invalid_token``: there is nobody to
describe (classic Hydra answered ``{"sub":""}``). A token granted without ``openid`` is refused with
403 ``insufficient_scope`` (OpenID Connect Core 5.3, RFC 6750 3.1).
"""

from __future__ import annotations

from typing import Any

from hydra_lambda import claims
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import InsufficientScope, InvalidToken
from hydra_lambda.tokens import id_tokens, lookup


def serve(caller: Credentials, form_token: str | None = None) -> dict[str, Any]:
    value = caller.bearer or form_token
    if not value:
        raise InvalidToken("No access token: send it as a Bearer token.", token_sent=False)
    row = lookup.live(value)
    if row is None:
        raise InvalidToken()
    identity = row.session.identity
    if identity is None or not identity.subject:
        raise InvalidToken("The access token was not issued for a user (client_credentials).")
    if "openid" not in row.scopes:
        raise InsufficientScope("openid", "The access token was granted without the openid scope.")
    out = claims.released(identity.extra, granted_scopes=row.scopes, request=identity.claims_request,
                          target="userinfo", reserved=id_tokens.STANDARD_CLAIMS)
    out["sub"] = identity.client_subject  # the ID token's sub: pairwise for a pairwise client
    if identity.acr:
        out["acr"] = identity.acr
    return out
