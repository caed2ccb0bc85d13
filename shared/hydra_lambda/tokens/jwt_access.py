"""RFC 9068 JWT access tokens: for a client whose effective ``access_token_strategy`` is ``jwt`` (its
own field, else ``ACCESS_TOKEN_STRATEGY``), the access token is a JWS with header ``typ: at+jwt``,
signed by the first key of ``SIGNING_KEYS`` exactly as ID tokens are (``keys.sign``: one KMS ``Sign``
in kms mode, in process in envelope mode) and published in the same JWKS.

Claims: ``iss``, ``sub`` (the grant's local subject; the client id for client credentials), ``aud``
(the granted audience, else ``[client_id]``), ``exp``, ``iat``, ``nbf``, ``jti``, ``client_id``,
``scope`` (RFC 9068, space-separated) and ``scp`` (Ory Hydra's list), ``auth_time``/``acr``/``amr``
when a user signed in, and ``ext``: the consent's access-token claims (Hydra's ``session.access_token``,
``accessTokenExtra`` in the classic flow), as Hydra puts them.

The token is still recorded like an opaque one: its row holds the grant (scopes, subject, extras) under
the storage key ``<exp:010d><base64url(SHA-256(token))>``, never the token. So introspection, revocation
(one token, a refresh family, a deleted client) and the warden judge it by its row, as any token:
``signature_of`` verifies the signature, ``typ`` and ``iss`` first (no database read for a forgery or an
altered token), then the caller reads the row. A resource server that only checks the signature against
the JWKS cannot see any of that: a revoked token stays valid for it until ``exp``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from hydra_lambda import keys, scopes
from hydra_lambda.clients.model import Client
from hydra_lambda.config import get_settings
from hydra_lambda.keys.jws import b64url, unb64url
from hydra_lambda.tokens import opaque
from hydra_lambda.tokens.model import Token

TYP = "at+jwt"
_TYPES = (TYP, "application/at+jwt")  # RFC 9068 section 4: either form of the media type
MAX_TOKEN_LENGTH = 16 * 1024


def strategy(client: Client | None) -> str:
    """The client's effective access token strategy: its own, else the server's."""
    own = client.access_token_strategy if client is not None else ""
    return own or get_settings().access_token_strategy


def wanted(client: Client | None) -> bool:
    return strategy(client) == "jwt"


def claims(row: Token, jti: str) -> dict[str, Any]:
    """The claims of the access token ``row`` describes."""
    out: dict[str, Any] = {
        "iss": get_settings().issuer,
        "sub": row.subject,
        "aud": list(row.audience) or [row.client_id],
        "exp": row.expires_at,
        "iat": row.issued_at,
        "nbf": row.issued_at,
        "jti": jti,
        "client_id": row.client_id,
        "scope": scopes.join(row.scopes),
        "scp": list(row.scopes),
    }
    identity = row.session.identity
    if identity is not None:
        out["auth_time"] = identity.auth_time
        if identity.acr:
            out["acr"] = identity.acr
        if identity.amr:
            out["amr"] = list(identity.amr)
    if row.extra:
        out["ext"] = dict(row.extra)
    return out


def encode(row: Token) -> tuple[str, str]:
    """The signed token for ``row`` and its storage key (set it as the row's signature)."""
    value = keys.sign(claims(row, str(uuid.uuid4())), typ=TYP)
    return value, storage_key(value, row.expires_at)


def storage_key(value: str, expires_at: int) -> str:
    """The row key of a JWT access token: its expiry, then the SHA-256 of the whole token (43
    characters, as an opaque token's HMAC): a copy of the table holds no usable token."""
    return opaque.storage_key(expires_at, b64url(hashlib.sha256(value.encode("ascii")).digest()))


def looks_like(value: str | None) -> bool:
    """Whether ``value`` has the shape of a compact JWS (an opaque token has one dot)."""
    return bool(value) and value.count(".") == 2 and opaque.kind_of(value) is None  # type: ignore[union-attr]


def signature_of(value: str | None) -> str | None:
    """The storage key of a genuine JWT access token of this server (our signature, ``typ``
    ``at+jwt``, our ``iss``, a whole ``exp``); None for anything else, before any database read."""
    if not value or len(value) > MAX_TOKEN_LENGTH or not looks_like(value):
        return None
    try:
        header = json.loads(unb64url(value.split(".", 1)[0]))
        value.encode("ascii")
    except (ValueError, TypeError, UnicodeError):
        return None
    if not isinstance(header, dict) or str(header.get("typ", "")).lower() not in _TYPES:
        return None
    found = keys.verify(value)
    if found is None or found.get("iss") != get_settings().issuer:
        return None
    exp = found.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool) or not 0 < exp < 10**10:
        return None
    return storage_key(value, exp)
