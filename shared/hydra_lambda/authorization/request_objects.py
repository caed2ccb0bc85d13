"""Request objects at ``/oauth2/auth`` (RFC 9101, OpenID Connect Core section 6): ``request`` (the JWT
by value) or ``request_uri`` (by reference: only a URI in the client's registered ``request_uris``,
compared exactly without its fragment, fetched with ``fetch.py``).

The JWT is signed with the client's keys (``client_jwt``): with its registered
``request_object_signing_alg`` only, when it registered one; unsigned (``alg: none``) only when that
is ``none``. ``iss``, when present, is the client id; ``aud``, when present, names the issuer;
``exp``/``nbf``, when present, hold. The object's parameters then win over the query's (OpenID
Connect Core 6.3.3): ``client_id`` (and ``response_type``, when both have one) must agree; everything
after, the redirect URI first, is checked as for any request."""

from __future__ import annotations

import json
from typing import Any

from hydra_lambda import client_jwt, clock, fetch
from hydra_lambda.clients.model import ASYMMETRIC_ALGS, HMAC_ALGS, Client
from hydra_lambda.config import get_settings
from hydra_lambda.errors import InvalidRequest, InvalidRequestObject, InvalidRequestUri

MAX_REQUEST_URI = 512  # RFC 9101 section 5.2: a request_uri longer than 512 ASCII characters may be refused
MAX_OBJECT_BYTES = 16 * 1024
LEEWAY = 30
SIGNED_ALGS = (*ASYMMETRIC_ALGS, *HMAC_ALGS)
# JWT claims that are not authorization request parameters.
_JWT_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti", "sub"})


def sent(params: dict[str, str]) -> bool:
    return "request" in params or "request_uri" in params


def resolve(params: dict[str, str], client: Client) -> dict[str, str]:
    """``params`` with the request object's parameters merged in (``params`` as they are when there
    is none). InvalidRequestObject, InvalidRequestUri or InvalidRequest otherwise."""
    if not sent(params):
        return params
    if "request" in params and "request_uri" in params:
        raise InvalidRequest("Send the request object by value (request) or by reference (request_uri), not both.")
    token = params["request"] if "request" in params else _fetch(params["request_uri"], client)
    claims = _verified(token, client)
    return merge(params, claims, client.id)


def registered(uri: str, client: Client) -> bool:
    """Whether ``uri`` is one of the client's ``request_uris``, fragments aside."""
    base = uri.partition("#")[0]
    return any(entry.partition("#")[0] == base for entry in client.request_uris)


def _fetch(uri: str, client: Client) -> str:
    if not uri or len(uri) > MAX_REQUEST_URI or not registered(uri, client):
        raise InvalidRequestUri("The request_uri is not one the client registered in request_uris.")
    try:
        body = fetch.fetch(uri.partition("#")[0], max_bytes=MAX_OBJECT_BYTES,
                           accept="application/oauth-authz-req+jwt, application/jwt")
    except fetch.FetchError as exc:
        raise InvalidRequestUri(f"The request_uri could not be fetched: {exc}.") from None
    try:
        return body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise InvalidRequestUri("The request_uri did not answer a JWT.") from None


def _verified(token: str, client: Client) -> dict[str, Any]:
    """The object's claims once its signature (or its allowed absence) and claims check out."""
    wanted = client.request_object_signing_alg
    try:
        head, unverified = client_jwt.unverified(token)
        if head.get("alg") == "none":
            if wanted != "none" or not token.endswith("."):
                raise client_jwt.ClientJwtError("an unsigned request object is accepted only from a client that "
                                                "registered request_object_signing_alg none")
            claims = unverified
        else:
            claims = client_jwt.verify(token, client, (wanted,) if wanted else SIGNED_ALGS)
    except client_jwt.ClientJwtError as exc:
        raise InvalidRequestObject(f"The request object is invalid: {exc}.") from None
    _check_claims(claims, client.id)
    return claims


def _check_claims(claims: dict[str, Any], client_id: str) -> None:
    if "iss" in claims and claims["iss"] != client_id:
        raise InvalidRequestObject("The request object's iss must be the client id.")
    if "aud" in claims:
        aud = claims["aud"]
        named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if get_settings().issuer not in named:
            raise InvalidRequestObject("The request object's aud must name this server's issuer.")
    now = clock.now()
    for name, late in (("exp", False), ("nbf", True)):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRequestObject(f"The request object's {name} must be a number.")
        if (not late and value + LEEWAY <= now) or (late and value > now + LEEWAY):
            raise InvalidRequestObject("The request object has expired." if not late else
                                       "The request object is not valid yet (nbf).")
    if "request" in claims or "request_uri" in claims:
        raise InvalidRequestObject("A request object must not hold request or request_uri.")


def merge(params: dict[str, str], claims: dict[str, Any], client_id: str) -> dict[str, str]:
    """The query's parameters overridden by the object's (OpenID Connect Core 6.3.3)."""
    if claims.get("client_id", client_id) != client_id:
        raise InvalidRequestObject("The request object's client_id differs from the request's.")
    object_type, query_type = claims.get("response_type"), params.get("response_type")
    if object_type is not None and query_type is not None and object_type != query_type:
        raise InvalidRequestObject("The request object's response_type differs from the request's.")
    merged = {name: value for name, value in params.items() if name not in ("request", "request_uri")}
    for name, value in claims.items():
        if name in _JWT_CLAIMS:
            continue
        merged[name] = _as_parameter(name, value)
    return merged


def _as_parameter(name: str, value: Any) -> str:
    """A claim as the query parameter it stands for: strings as they are, whole numbers (max_age) as
    digits, objects (claims) as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    raise InvalidRequestObject(f"The request object's {name[:40]} has a value of the wrong type.")
