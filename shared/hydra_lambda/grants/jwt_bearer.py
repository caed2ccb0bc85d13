"""The JWT bearer grant (RFC 7523 section 2.1; Ory Hydra's trusted issuers): an authenticated client
presents ``assertion``, a JWT a trusted issuer signed about a subject, and gets an access token for that
subject. RFC 7523 section 3, in order (each failure ``invalid_grant`` unless said otherwise):

- the header names the key (``kid``): with ``iss`` and ``sub`` it finds the trust (``trust.issuers``:
  at most two reads by key); unknown, deleted or expired trusts alike say nothing was found;
- the trusted public key verifies the signature (RS*/ES* via python-jose, ``client_jwt``);
- ``sub`` is the trusted subject (or any, when the trust allows any subject), ``aud`` names the token
  endpoint URL or the issuer URL (as Hydra);
- ``exp`` required, live and at most ``OAUTH2_GRANT_JWT_MAX_TTL`` ahead; ``iat`` required (Hydra's
  default) and, as ``nbf``, not in the future (``client_assertions.check_times``);
- ``jti`` required and used once per issuer (``storage.assertions``, apart from client assertions);
- requested scopes within the trust's and the client's (``invalid_scope``);
- the subject may not be a client's id (its tokens would act as that client: policies see only the
  subject); it is claimed as a user's, as a consent accept does.

Public clients are refused (``unauthorized_client``): the assertion alone would then be the whole
credential, replayable by whoever saw it until its jti is spent, and client authentication is what ties
the issued token to a registered party. Only an access token is issued (no refresh token, no ID token),
for ``client.lifespan("jwt_bearer", "access_token")``, else ACCESS_TOKEN_LIFESPAN."""

from __future__ import annotations

from typing import Any

from hydra_lambda import client_assertions, client_jwt, scopes
from hydra_lambda.clients.model import ASYMMETRIC_ALGS, JWT_BEARER_GRANT, Client
from hydra_lambda.config import get_settings
from hydra_lambda.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from hydra_lambda.storage import assertions
from hydra_lambda.storage import clients as client_store
from hydra_lambda.tokens import issuer
from hydra_lambda.tokens.issuer import TokenResponse
from hydra_lambda.trust import issuers
from hydra_lambda.trust.model import TrustedIssuer

GRANT_TYPE = JWT_BEARER_GRANT
TOKEN_ENDPOINT = "/oauth2/token"
MAX_CLAIM = 1024  # iss and sub, as a trust stores them


def grant(client: Client, form: dict[str, str]) -> TokenResponse:
    if client.public:
        raise UnauthorizedClient("Public clients cannot use the JWT bearer grant: authenticate the client.")
    assertion = form.get("assertion")
    if not assertion:
        raise InvalidRequest("The assertion parameter is missing.")
    requested = _requested_scopes(form)
    trust, claims = _verified(assertion)
    expires_at = _check_claims(claims)
    _check_scopes(requested, trust, client)
    subject = claims["sub"]
    _claim_subject(subject)
    if not assertions.use_grant_jti_once(trust.issuer, claims["jti"], expires_at):
        raise InvalidGrant("The assertion was used before: its jti must be new each time.")
    # The client's jwt_bearer lifespan, the hook and the access token strategy apply there.
    return issuer.issue_new(client, "jwt_bearer", subject=subject, granted=requested,
                            payload={"assertion": [assertion]})


def _requested_scopes(form: dict[str, str]) -> list[str]:
    try:
        return scopes.parse_scope(form.get("scope"))
    except ValueError as exc:
        raise InvalidScope(f"The scope parameter is malformed: {exc}.") from None


def _verified(assertion: str) -> tuple[TrustedIssuer, dict[str, Any]]:
    """The trust the assertion names and its verified claims."""
    try:
        header, unverified = client_jwt.unverified(assertion)
    except client_jwt.ClientJwtError as exc:
        raise InvalidGrant(f"The assertion is invalid: {exc}.") from None
    iss, sub, kid = (_text(unverified, "iss"), _text(unverified, "sub"), header.get("kid"))
    if not isinstance(kid, str) or not kid:
        raise InvalidGrant("The assertion's header must name the trusted key that signed it (kid).")
    trust = issuers.for_assertion(iss, sub, kid)
    if trust is None:
        raise InvalidGrant(f"No live trust lets the issuer '{iss[:80]}' assert the subject '{sub[:80]}' with the key "
                           f"'{kid[:80]}'.")
    try:
        claims = client_jwt.verify_with_jwk(assertion, trust.jwk, ASYMMETRIC_ALGS)
    except client_jwt.ClientJwtError as exc:
        raise InvalidGrant(f"The assertion is invalid: {exc}.") from None
    if claims.get("iss") != trust.issuer or not (trust.allow_any_subject or claims.get("sub") == trust.subject):
        raise InvalidGrant("The assertion's iss and sub must be the trusted issuer and subject.")
    return trust, claims


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_CLAIM:
        raise InvalidGrant(f"The assertion needs a {name} (a string of at most {MAX_CLAIM} characters).")
    return value


def _check_claims(claims: dict[str, Any]) -> int:
    """``aud``, ``jti`` and the times; until when the jti must be remembered."""
    aud = claims.get("aud")
    named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    allowed = client_assertions.audiences(TOKEN_ENDPOINT)
    if not any(isinstance(value, str) and value in allowed for value in named):
        raise InvalidGrant("The assertion's aud must name the token endpoint URL or the issuer.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > client_assertions.MAX_JTI:
        raise InvalidGrant(f"The assertion needs a jti (a unique string of at most {client_assertions.MAX_JTI} "
                           "characters).")
    return client_assertions.check_times(claims, max_lifetime=get_settings().oauth2_grant_jwt_max_ttl,
                                         error=InvalidGrant, what="assertion", require_iat=True)


def _check_scopes(requested: list[str], trust: TrustedIssuer, client: Client) -> None:
    beyond_trust = [scope for scope in requested if not scopes.allows(trust.scope, scope)]
    if beyond_trust:
        raise InvalidScope(f"The trusted issuer may not grant the scope '{beyond_trust[0][:80]}'.")
    beyond_client = [scope for scope in requested if not scopes.allows(client.allowed_scopes, scope)]
    if beyond_client:
        raise InvalidScope(f"The client is not allowed to request scope '{beyond_client[0][:80]}'.")


def _claim_subject(subject: str) -> None:
    try:
        client_store.claim_user(subject)
    except client_store.SubjectTaken:
        raise InvalidGrant("The assertion's subject is a client's id: a token for it would act as that "
                           "client.") from None
