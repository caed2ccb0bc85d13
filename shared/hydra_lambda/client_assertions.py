"""Client authentication by a JWT the client signs (RFC 7523 section 2.2 and 3, OpenID Connect Core
section 9): ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and
``client_assertion``. ``private_key_jwt`` clients sign with a key of their ``jwks``/``jwks_uri``,
``client_secret_jwt`` clients with HMAC keyed by their secret; the algorithm is the registered
``token_endpoint_auth_signing_alg`` when there is one. The claims: ``iss`` and ``sub`` are the client
id, ``aud`` names the token endpoint, the issuer or the endpoint called, ``exp`` is required and at
most an hour ahead, ``iat``/``nbf`` not in the future, and ``jti`` is used once (a conditional put
in the tokens table, ``storage.assertions``). Every failure is ``invalid_client``."""

from __future__ import annotations

import math
from typing import Any

from hydra_lambda import client_jwt, clock
from hydra_lambda.clients.model import ASYMMETRIC_ALGS, HMAC_ALGS, Client
from hydra_lambda.clients.registry import get_client_for_auth
from hydra_lambda.config import get_settings
from hydra_lambda.errors import InvalidClient, InvalidRequest, OAuth2Error
from hydra_lambda.storage import assertions

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
METHOD_ALGORITHMS = {"private_key_jwt": ASYMMETRIC_ALGS, "client_secret_jwt": HMAC_ALGS}
LEEWAY = 30  # seconds of clock skew allowed on exp, iat and nbf
MAX_LIFETIME = 3600  # how far ahead exp may be: bounds how long a jti row is kept
MAX_JTI = 256
TOKEN_ENDPOINT = "/oauth2/token"


def sent(form: dict[str, str]) -> bool:
    """Whether the request authenticates the client with an assertion."""
    return "client_assertion" in form or "client_assertion_type" in form


def authenticate(form: dict[str, str], endpoint: str) -> Client:
    """The client whose assertion checks out at ``endpoint`` (a path), or InvalidClient."""
    assertion = _assertion(form)
    client = _claimed_client(assertion, form.get("client_id"))
    method = client.auth_method
    if method not in METHOD_ALGORITHMS:
        raise InvalidClient(f"The client is registered for {method}, not for a client assertion.")
    algorithms = METHOD_ALGORITHMS[method]
    if client.token_endpoint_auth_signing_alg:
        algorithms = (client.token_endpoint_auth_signing_alg,)
    try:
        claims = client_jwt.verify(assertion, client, algorithms)
    except client_jwt.ClientJwtError as exc:
        raise InvalidClient(f"The client assertion is invalid: {exc}.") from None
    expires_at = check_claims(claims, client.id, endpoint)
    if not assertions.use_once(client.id, claims["jti"], expires_at):
        raise InvalidClient("The client assertion was used before: its jti must be new each time.")
    return client


def _assertion(form: dict[str, str]) -> str:
    kind, assertion = form.get("client_assertion_type"), form.get("client_assertion")
    if not kind or not assertion:
        raise InvalidRequest("client_assertion and client_assertion_type go together: one is missing.")
    if kind != ASSERTION_TYPE:
        raise InvalidClient(f"The client_assertion_type must be {ASSERTION_TYPE}.")
    return assertion


def _claimed_client(assertion: str, client_id: str | None) -> Client:
    """The client the assertion's ``sub`` names (not yet verified)."""
    try:
        _header, claims = client_jwt.unverified(assertion)
    except client_jwt.ClientJwtError as exc:
        raise InvalidClient(f"The client assertion is invalid: {exc}.") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidClient("The client assertion has no sub (the client id).")
    if client_id and client_id != subject:
        raise InvalidClient("client_id differs from the client assertion's sub.")
    client = get_client_for_auth(subject)
    if client is None:
        raise InvalidClient("Client authentication failed: unknown client.")
    return client


def audiences(endpoint: str) -> set[str]:
    """What ``aud`` may name: the token endpoint, the issuer, or the endpoint called."""
    settings = get_settings()
    return {settings.url(TOKEN_ENDPOINT), settings.issuer, settings.url(endpoint)}


def check_claims(claims: dict[str, Any], client_id: str, endpoint: str) -> int:
    """RFC 7523 section 3 on verified claims; the time until which the jti must be remembered."""
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise InvalidClient("The client assertion's iss and sub must both be the client id.")
    aud = claims.get("aud")
    named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(value, str) and value in audiences(endpoint) for value in named):
        raise InvalidClient("The client assertion's aud must name the token endpoint URL or the issuer.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI:
        raise InvalidClient(f"The client assertion needs a jti (a unique string of at most {MAX_JTI} characters).")
    return _check_times(claims)


def _number(claims: dict[str, Any], name: str, error: type[OAuth2Error], what: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise error(f"The {what}'s {name} must be a number of seconds since the epoch.")
    return float(value)


def _check_times(claims: dict[str, Any]) -> int:
    return check_times(claims, max_lifetime=MAX_LIFETIME)


def _span(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds < 7200 or seconds % 3600 else f"{seconds // 3600} hours"


def check_times(claims: dict[str, Any], *, max_lifetime: int, error: type[OAuth2Error] = InvalidClient,
                what: str = "client assertion", require_iat: bool = False) -> int:
    """RFC 7523 section 3's times on verified claims (``exp`` required, live and at most
    ``max_lifetime`` ahead; ``iat`` and ``nbf`` not in the future; ``iat`` required when asked), with
    ``LEEWAY`` of clock skew; ``error`` names each failure. The time until which the jti must be
    remembered. Shared by client assertions and the JWT bearer grant (``grants.jwt_bearer``)."""
    now = clock.now()
    exp = _number(claims, "exp", error, what)
    if exp is None:
        raise error(f"The {what} needs an exp.")
    if exp + LEEWAY <= now:
        raise error(f"The {what} has expired.")
    if exp - now > max_lifetime + LEEWAY:
        raise error(f"The {what}'s exp is more than {_span(max_lifetime)} ahead.")
    if require_iat and claims.get("iat") is None:
        raise error(f"The {what} needs an iat (when it was issued).")
    for name in ("iat", "nbf"):
        value = _number(claims, name, error, what)
        if value is not None and value > now + LEEWAY:
            raise error(f"The {what}'s {name} is in the future.")
    return math.ceil(exp) + LEEWAY
