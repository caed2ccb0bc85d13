"""JWTs a client signs for the server (client assertions, RFC 7523; request objects, RFC 9101): the
signature checked with python-jose against the client's own keys, and nothing else. Which
algorithms a use permits is the caller's to say; ``none`` is never verified here (a caller that
accepts an unsigned request object reads it with :func:`unverified`).

HMAC algorithms (HS256/384/512) are keyed by the client's secret, which only ``client_secret_jwt``
clients have sealed (``hydra_lambda.sealing``); asymmetric ones (RS*, ES*) by the client's ``jwks``
or ``jwks_uri`` (``clients.jwks``). A key is chosen by ``kid`` when the header names one, else every
key of the algorithm's type is tried (at most the client's few)."""

from __future__ import annotations

import base64
import json
from typing import Any

from hydra_lambda import sealing
from hydra_lambda.clients import jwks
from hydra_lambda.clients.model import HMAC_ALGS, Client

MAX_JWT_CHARS = 16 * 1024
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


class ClientJwtError(Exception):
    """The JWT is malformed, unsigned, signed with an algorithm not permitted, or not by the client's
    key. The message says which (never the JWT or a key)."""


def header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, unverified; ClientJwtError if it is not one."""
    return _decode_part(_parts(token)[0], "header")


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims), NOT verified: for reading who claims to have signed, and for ``none``."""
    parts = _parts(token)
    return _decode_part(parts[0], "header"), _decode_part(parts[1], "claims")


def verify(token: str, client: Client, algorithms: tuple[str, ...]) -> dict[str, Any]:
    """The claims of ``token`` once one of ``client``'s keys verifies it with its header's algorithm,
    which must be one of ``algorithms``; ClientJwtError otherwise."""
    alg, kid = _algorithm(token, algorithms)
    return _verified(token, alg, _keys(client, alg, kid), "the client's keys")


def verify_with_jwk(token: str, key: dict[str, Any], algorithms: tuple[str, ...]) -> dict[str, Any]:
    """The claims of ``token`` once the public JWK ``key`` (an RSA or EC key) verifies it with its
    header's algorithm, one of ``algorithms`` and the key's own ``alg``; ClientJwtError otherwise (the
    JWT bearer grant's trusted issuer keys)."""
    alg, kid = _algorithm(token, algorithms)
    return _verified(token, alg, _constructed([key], alg, kid), "the trusted key")


def _algorithm(token: str, algorithms: tuple[str, ...]) -> tuple[str, Any]:
    """The header's ``alg``, one of ``algorithms``, and its ``kid``."""
    head = header(token)
    alg = head.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise ClientJwtError(f"the JWT's alg must be one of {', '.join(algorithms) or 'nothing'} here")
    return alg, head.get("kid")


def _verified(token: str, alg: str, keys: list[Any], whose: str) -> dict[str, Any]:
    from jose import jws
    from jose.exceptions import JOSEError

    for key in keys:
        try:
            payload = jws.verify(token, key, algorithms=[alg])
        except (JOSEError, ValueError, TypeError):
            continue
        return _decode_json(payload, "claims")
    raise ClientJwtError(f"the JWT's signature was not made by any of {whose}")


def _keys(client: Client, alg: str, kid: Any) -> list[Any]:
    """The client's keys usable with ``alg`` (python-jose Key objects)."""
    from jose import jwk

    if alg in HMAC_ALGS:
        return [jwk.construct(_secret(client).encode("utf-8"), alg)]
    try:
        candidates = jwks.keys_for(client, kid if isinstance(kid, str) else None)
    except jwks.KeysUnavailable as exc:
        raise ClientJwtError(str(exc)) from None
    return _constructed(candidates, alg, kid)


def _constructed(candidates: list[dict[str, Any]], alg: str, kid: Any) -> list[Any]:
    """The JWKs of ``candidates`` that fit ``alg`` and ``kid``, as python-jose keys."""
    from jose import jwk
    from jose.exceptions import JOSEError

    out = []
    for key in candidates:
        if not _fits(key, alg, kid):
            continue
        try:
            out.append(jwk.construct(key, alg))
        except (JOSEError, ValueError, TypeError, KeyError):
            continue
    return out


def _fits(key: dict[str, Any], alg: str, kid: Any) -> bool:
    if kid is not None and key.get("kid") != kid:
        return False
    if key.get("use", "sig") != "sig" or key.get("alg", alg) != alg:
        return False
    if alg.startswith("RS"):
        return key.get("kty") == "RSA"
    return key.get("kty") == "EC" and key.get("crv") == _EC_CURVES.get(alg)


def _secret(client: Client) -> str:
    if client.public or not client.secret_sealed:
        raise ClientJwtError("the client has no secret the server can sign with (only client_secret_jwt "
                             "clients' secrets are kept sealed)")
    try:
        return sealing.unseal(client.secret_sealed, client.id)
    except sealing.Unsealable:
        raise ClientJwtError("the client's sealed secret cannot be opened with the system secret") from None


def _parts(token: str) -> list[str]:
    if not isinstance(token, str) or not token or len(token) > MAX_JWT_CHARS:
        raise ClientJwtError(f"not a JWT (a JWS of at most {MAX_JWT_CHARS} characters)")
    parts = token.split(".")
    if len(parts) == 5:
        raise ClientJwtError("encrypted JWTs (JWE) are not supported")
    if len(parts) != 3:
        raise ClientJwtError("not a JWT in the JWS compact serialization")
    return parts


def _decode_part(part: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except ValueError:
        raise ClientJwtError(f"the JWT's {what} is not base64url") from None
    return _decode_json(raw, what)


def _decode_json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ClientJwtError(f"the JWT's {what} is not JSON") from None
    if not isinstance(value, dict):
        raise ClientJwtError(f"the JWT's {what} is not a JSON object")
    return value
