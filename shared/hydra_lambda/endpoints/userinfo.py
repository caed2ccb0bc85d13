"""``/userinfo`` (OpenID Connect Core 5.3): the claims about the user behind an access token.

Returns ``sub`` (the ID token's: the client's pairwise identifier of the user for a pairwise client,
``hydra_lambda.subjects``) plus the ``idTokenExtra`` claims ``hydra_lambda.claims`` releases to userinfo for the
token's scopes and the claims request (and ``acr`` when set); the server's own claims win over extras.
A token without a user (client_credentials) is refused with 401 ``invalid_token``: there is nobody to
describe (classic Hydra answered ``{"sub":""}``). A token granted without ``openid`` is refused with
403 ``insufficient_scope`` (OpenID Connect Core 5.3, RFC 6750 3.1).

A client that registered ``userinfo_signed_response_alg`` gets the claims as a JWT instead (OpenID
Connect Core 5.3.2): ``iss`` and ``aud`` (the client) added, signed by the key set of that algorithm
(see ``hydra_lambda.keys``), served as ``application/jwt``.
"""

from __future__ import annotations

from typing import Any

from hydra_lambda import claims, keys
from hydra_lambda.clients.registry import get_client_for_auth
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import InsufficientScope, InvalidToken
from hydra_lambda.tokens import id_tokens, lookup


def serve(caller: Credentials, form_token: str | None = None) -> dict[str, Any] | str:
    """The claims as JSON, or (the client registered ``userinfo_signed_response_alg``) a signed JWT."""
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
    client = get_client_for_auth(row.client_id)  # live() just read it: cached
    alg = client.userinfo_alg if client is not None else None
    if alg is None:
        return out
    key = id_tokens.signer(alg, row.client_id, "userinfo_signed_response_alg")
    return keys.sign({**out, "iss": get_settings().issuer, "aud": row.client_id}, key.alg)
