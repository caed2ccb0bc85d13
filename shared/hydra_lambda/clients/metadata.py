"""The OpenID registration metadata of a client (OpenID Connect Dynamic Client Registration 1.0
section 2, RFC 7591 section 2): validated the same way on the classic ``/clients`` API and on
``/oauth2/register``. ``apply`` copies the fields a write sent onto the client and checks that
they agree with each other and with ``public``; a BadRequest names the field."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hydra_lambda.clients.model import (
    ASYMMETRIC_ALGS,
    AUTH_METHODS,
    HMAC_ALGS,
    ID_TOKEN_SIGNING_ALGS,
    SUBJECT_TYPES,
    Client,
)
from hydra_lambda.clients.uris import is_loopback, is_uri
from hydra_lambda.errors import BadRequest

MAX_URI_LENGTH = 2000
MAX_REQUEST_URIS = 20
MAX_KEYS = 20
MIN_RSA_BITS = 2048
_KEY_TYPES = ("RSA", "EC")
# Members that only a private or symmetric JWK has (RFC 7518 section 6): a key set that holds one
# was pasted by mistake, and storing it would keep a private key in the clients table.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_CHOICES: dict[str, tuple[str, ...]] = {
    "token_endpoint_auth_method": AUTH_METHODS,
    "token_endpoint_auth_signing_alg": ASYMMETRIC_ALGS + HMAC_ALGS,
    "request_object_signing_alg": (*ASYMMETRIC_ALGS, *HMAC_ALGS, "none"),
    "id_token_signed_response_alg": ID_TOKEN_SIGNING_ALGS,
    "userinfo_signed_response_alg": (*ID_TOKEN_SIGNING_ALGS, "none"),
    "subject_type": SUBJECT_TYPES,
}
_URL_FIELDS = ("jwks_uri", "sector_identifier_uri")


def apply(client: Client, fields: dict[str, Any]) -> None:
    """Copy the OpenID metadata in ``fields`` (None clears) onto ``client``, validated."""
    for name, allowed in _CHOICES.items():
        if name in fields:
            setattr(client, name, _choice(name, fields[name] or "", allowed))
    for name in _URL_FIELDS:
        if name in fields:
            setattr(client, name, _https_url(name, fields[name] or ""))
    if "request_uris" in fields:
        client.request_uris = _request_uris(fields["request_uris"] or [])
    if "jwks" in fields:
        client.jwks = _key_set(fields["jwks"]) if fields["jwks"] is not None else None
    _reconcile_public(client, fields)
    _check_consistency(client)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value and value not in allowed:
        raise BadRequest(f"{name}: '{value[:40]}' is not supported (supported: {', '.join(allowed)})")
    return value


def _https_url(name: str, value: str) -> str:
    """An absolute https URL (http only on a loopback host, for local development), no fragment."""
    if not value:
        return ""
    if len(value) > MAX_URI_LENGTH or not is_uri(value):
        raise BadRequest(f"{name}: '{value[:80]}' is not a valid URI (RFC 3986)")
    parts = urlsplit(value)
    host = parts.hostname or ""
    secure = parts.scheme.lower() == "https" or (parts.scheme.lower() == "http" and is_loopback(host))
    if not secure or not host:
        raise BadRequest(f"{name} must be an absolute https URL (http is allowed for loopback hosts only)")
    if parts.fragment or "#" in value:
        raise BadRequest(f"{name} must not contain a fragment")
    return value


def _request_uris(values: list[str]) -> list[str]:
    """Each an https URL; a fragment is allowed (OpenID Connect Core 6.2: it may carry a hash of the
    content, and is ignored when the registered list is matched)."""
    if len(values) > MAX_REQUEST_URIS:
        raise BadRequest(f"request_uris: at most {MAX_REQUEST_URIS} entries are allowed")
    out: list[str] = []
    for value in values:
        base, _, _fragment = value.partition("#")
        _https_url("request_uris", base)
        if len(value) > MAX_URI_LENGTH or not is_uri(value):
            raise BadRequest(f"request_uris: '{value[:80]}' is not a valid URI (RFC 3986)")
        if value not in out:
            out.append(value)
    return out


def _key_set(value: Any) -> dict[str, Any]:
    """A JWK Set of public RSA (2,048 bits or more) or EC keys, each usable by python-jose."""
    keys = value.get("keys") if isinstance(value, dict) else None
    if not isinstance(keys, list) or not keys or set(value) != {"keys"}:
        raise BadRequest('jwks must be a JWK Set: {"keys": [...]} with at least one key and nothing else')
    if len(keys) > MAX_KEYS:
        raise BadRequest(f"jwks: at most {MAX_KEYS} keys are allowed")
    kids = [key.get("kid") for key in keys if isinstance(key, dict) and key.get("kid") is not None]
    if len(kids) != len(set(kids)):
        raise BadRequest("jwks: two keys have the same kid")
    return {"keys": [_public_key(index, key) for index, key in enumerate(keys)]}


def _public_key(index: int, key: Any) -> dict[str, Any]:
    where = f"jwks.keys[{index}]"
    if not isinstance(key, dict) or not all(isinstance(name, str) for name in key):
        raise BadRequest(f"{where} must be a JSON object")
    if key.get("kty") not in _KEY_TYPES:
        raise BadRequest(f"{where}: kty must be one of {', '.join(_KEY_TYPES)}")
    if any(member in key for member in _PRIVATE_MEMBERS):
        raise BadRequest(f"{where} holds private key material; register only the public key")
    if key.get("use", "sig") != "sig" and key.get("use") != "enc":
        raise BadRequest(f"{where}: use must be sig or enc")
    alg = key.get("alg")
    if alg is not None and alg not in ASYMMETRIC_ALGS:
        raise BadRequest(f"{where}: alg must be one of {', '.join(ASYMMETRIC_ALGS)}")
    _check_constructible(where, key)
    return dict(key)


def _check_constructible(where: str, key: dict[str, Any]) -> None:
    # Lazy: python-jose and cryptography load only on client writes that register keys.
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jose import jwk
    from jose.exceptions import JOSEError

    probe = {name: value for name, value in key.items() if name in ("kty", "crv", "x", "y", "n", "e")}
    try:
        constructed = jwk.construct(probe, algorithm=key.get("alg") or ("RS256" if key["kty"] == "RSA" else "ES256"))
        public = getattr(constructed, "prepared_key", None)
    except (JOSEError, ValueError, TypeError, KeyError) as exc:
        raise BadRequest(f"{where} is not a usable {key['kty']} public key") from exc
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        raise BadRequest(f"{where}: an RSA key must have at least {MIN_RSA_BITS} bits")


def _reconcile_public(client: Client, fields: dict[str, Any]) -> None:
    """``token_endpoint_auth_method: none`` is the OpenID name of a public client."""
    method = client.token_endpoint_auth_method
    if "token_endpoint_auth_method" in fields and "public" not in fields and method:
        client.public = method == "none"
    elif "public" in fields and "token_endpoint_auth_method" not in fields and method:
        if client.public != (method == "none"):
            client.token_endpoint_auth_method = ""  # the classic switch wins over a stale method
    method = client.token_endpoint_auth_method
    if method and client.public != (method == "none"):
        raise BadRequest("public and token_endpoint_auth_method disagree: a public client authenticates "
                         "with token_endpoint_auth_method none, a confidential one never does")


def _check_consistency(client: Client) -> None:
    method, alg = client.token_endpoint_auth_method, client.token_endpoint_auth_signing_alg
    if client.jwks is not None and client.jwks_uri:
        raise BadRequest("Register jwks or jwks_uri, not both")
    if method == "private_key_jwt":
        if not (client.jwks or client.jwks_uri):
            raise BadRequest("private_key_jwt needs the client's public keys: register jwks or jwks_uri")
        if alg and alg not in ASYMMETRIC_ALGS:
            raise BadRequest("token_endpoint_auth_signing_alg must be an asymmetric algorithm for private_key_jwt")
    elif method == "client_secret_jwt":
        if alg and alg not in HMAC_ALGS:
            raise BadRequest("token_endpoint_auth_signing_alg must be HS256, HS384 or HS512 for client_secret_jwt")
    elif alg:
        raise BadRequest("token_endpoint_auth_signing_alg applies only to private_key_jwt and client_secret_jwt")
    request_alg = client.request_object_signing_alg
    if request_alg in ASYMMETRIC_ALGS and not (client.jwks or client.jwks_uri):
        raise BadRequest("request_object_signing_alg needs the client's public keys: register jwks or jwks_uri")
    if request_alg in HMAC_ALGS and client.public:
        raise BadRequest("A public client has no secret to sign request objects with HMAC")
