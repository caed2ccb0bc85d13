"""OpenID Connect ID tokens (Core 1.0 section 2): claims, at_hash / c_hash, signing by ``keys``.

The user's claims are those ``hydra_lambda.claims`` releases to the ID token for the granted scopes
and the claims request. ``sub`` is the subject the client sees (``hydra_lambda.subjects``): its
pairwise identifier of the user when it registered ``subject_type: pairwise``."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from hydra_lambda import claims as user_claims
from hydra_lambda import clock, keys
from hydra_lambda.config import get_settings
from hydra_lambda.observability import logger
from hydra_lambda.tokens.model import IdentityContext

# Claims the server sets; idTokenExtra may not override them.
STANDARD_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash",
     "s_hash", "nbf", "jti", "rat"}
)
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def half_hash(value: str, algorithm: str) -> str:
    """at_hash / c_hash: the left half of the hash of the ASCII value, with the hash the JWS alg
    uses (SHA-256 for RS256, PS256 and ES256), base64url without padding."""
    digest = _HASHES.get(algorithm[-3:], hashlib.sha256)(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def claims(
    identity: IdentityContext,
    *,
    client_id: str,
    granted: Iterable[str] = (),
    access_token: str | None = None,
    code: str | None = None,
    include_nonce: bool = True,
    algorithm: str = "RS256",
    lifespan: int | None = None,
) -> dict[str, Any]:
    """The claims of an ID token living ``lifespan`` seconds (None: ID_TOKEN_LIFESPAN)."""
    now = clock.now_int()
    out = user_claims.released(identity.extra, granted_scopes=granted, request=identity.claims_request,
                               target="id_token", reserved=STANDARD_CLAIMS)
    out.update(
        {
            "iss": get_settings().issuer,
            "sub": identity.client_subject,  # a pairwise client's own identifier of the user
            "aud": client_id,
            "exp": now + (lifespan or get_settings().id_token_lifespan),
            "iat": now,
            "auth_time": identity.auth_time,
            "rat": identity.requested_at or identity.auth_time,
        }
    )
    if identity.nonce and include_nonce:
        out["nonce"] = identity.nonce
    if identity.acr:
        out["acr"] = identity.acr
    if identity.amr:
        out["amr"] = list(identity.amr)
    if identity.sid:
        out["sid"] = identity.sid  # OpenID Connect Front-/Back-Channel Logout 1.0: the login session
    if access_token:
        out["at_hash"] = half_hash(access_token, algorithm)
    if code:
        out["c_hash"] = half_hash(code, algorithm)
    return out


def issue(
    identity: IdentityContext,
    *,
    client_id: str,
    granted: Iterable[str] = (),
    access_token: str | None = None,
    code: str | None = None,
    include_nonce: bool = True,
    algorithm: str | None = None,
    lifespan: int | None = None,
) -> str:
    """A signed ID token (compact JWS) for ``client_id``, for the ``granted`` scopes, signed with the
    set of ``algorithm`` (the client's ``id_token_signed_response_alg``; None: SIGNING_KEYS's), living
    ``lifespan`` seconds (the client's for the grant; None: ID_TOKEN_LIFESPAN)."""
    key = signer(algorithm, client_id, "id_token_signed_response_alg")
    return keys.sign(
        claims(identity, client_id=client_id, granted=granted, access_token=access_token, code=code,
               include_nonce=include_nonce, algorithm=key.alg, lifespan=lifespan),
        algorithm,
    )


def signer(algorithm: str | None, client_id: str, field: str) -> keys.SigningKey:
    """The key that signs what ``client_id`` registered ``algorithm`` for (``field``). A set removed
    since the client registered it fails loudly (logged, then a server error): never another alg."""
    try:
        return keys.signer(algorithm)
    except keys.AlgorithmNotConfigured as exc:
        logger.error("a client's registered signing algorithm is not configured any more",
                     extra={"client_id": client_id, "field": field, "alg": algorithm, "detail": str(exc)})
        raise
