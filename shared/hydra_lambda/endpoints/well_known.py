"""``/.well-known/openid-configuration`` and ``/.well-known/oauth-authorization-server`` (OpenID
Connect Discovery 1.0 / RFC 8414 metadata), and ``/.well-known/jwks.json`` as the policies allow it.

Warm cost: the metadata needs no AWS call (the key algorithms are cached per container); the JWKS
needs none either within ``POLICY_CACHE_SECONDS`` of the last policy read (one Scan of the small
policies table per container per window), plus one token lookup only when a Bearer is sent.
"""

from __future__ import annotations

from typing import Any

from hydra_lambda import claims, keys, pkce, scopes, warden
from hydra_lambda.authorization.request import DISPLAYS, PROMPTS
from hydra_lambda.clients.model import ASYMMETRIC_ALGS, DEVICE_CODE_GRANT, HMAC_ALGS, JWT_BEARER_GRANT
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import ANONYMOUS, Credentials
from hydra_lambda.errors import HydraError

# How long clients may cache the documents. A rotation waits this long between publishing a key and
# signing with it (see hydra_lambda.keys.rotation), so verifiers never meet an unknown kid.
JWKS_MAX_AGE = 3600
METADATA_MAX_AGE = 3600
JWKS_RESOURCE = "keys:hydra.openid.id-token:{kid}"
KEYS_SCOPE = "hydra.keys.get"

# Exactly what /oauth2/auth serves: every combination of code, token and id_token (the classic six,
# in the classic order, plus "code token", which classic Hydra served without listing it).
RESPONSE_TYPES = ["code", "code id_token", "id_token", "token id_token", "token", "token id_token code", "code token"]
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials", "implicit", JWT_BEARER_GRANT]
RESPONSE_MODES = ["query", "fragment", "form_post"]
PKCE_METHODS = list(pkce.ADVERTISED)  # plain: confidential clients only, so not advertised
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"]
# What client assertions may be signed with (python-jose verifies these; it has no PS*).
AUTH_SIGNING_ALGS = [*ASYMMETRIC_ALGS, *HMAC_ALGS]
# Request objects: signed as assertions are, or unsigned where the client registered none.
REQUEST_OBJECT_ALGS = ["none", *AUTH_SIGNING_ALGS]
# Introspection needs a confidential client (or a Bearer token); revocation takes public clients too.
INTROSPECTION_AUTH_METHODS = [method for method in AUTH_METHODS if method != "none"]
# What our ID tokens carry (hydra_lambda.tokens.id_tokens), then the standard claims the scopes and
# the claims parameter release (hydra_lambda.claims); operators add theirs (idTokenExtra) by env.
CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "rat", "nonce", "acr", "amr", "at_hash", "c_hash",
          *claims.supported()]
SCOPES = ["offline", "openid", "offline_access", *claims.STANDARD_SCOPES]
# Every prompt value /oauth2/auth accepts (none is answered login_required: the classic flow keeps no
# login session). Claims are "normal" only: no aggregated or distributed claims.
PROMPT_VALUES = [value for value in ("none", "login", "consent", "select_account") if value in PROMPTS]
CLAIM_TYPES = ["normal"]
END_SESSION_PATH = "/oauth2/sessions/logout"  # Hydra's path of the end_session_endpoint


def _merged(base: list[str], extra: tuple[str, ...]) -> list[str]:
    return base + [item for item in extra if item not in base]


def metadata() -> dict[str, Any]:
    """The provider metadata, served at both well-known paths."""
    settings = get_settings()
    # Only when relying parties may register themselves (OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED).
    registration = {"registration_endpoint": settings.url("/oauth2/register")} if settings.registration_enabled else {}
    algorithms = keys.signing_algorithms()
    # RFC 8628 section 4: only when the device flow is on (URLS_DEVICE_VERIFICATION with the current flow).
    device = {"device_authorization_endpoint": settings.url("/oauth2/device/auth")} if settings.device_flow else {}
    device_grant = [DEVICE_CODE_GRANT] if settings.device_flow else []
    return {
        "issuer": settings.issuer,
        "authorization_endpoint": settings.url("/oauth2/auth"),
        "token_endpoint": settings.url("/oauth2/token"),
        "jwks_uri": settings.url("/.well-known/jwks.json"),
        "userinfo_endpoint": settings.oidc_discovery_userinfo_endpoint or settings.url("/userinfo"),
        "revocation_endpoint": settings.url("/oauth2/revoke"),
        "introspection_endpoint": settings.url("/oauth2/introspect"),
        **registration,
        **device,
        # OpenID Connect RP-Initiated Logout 1.0, Front-Channel Logout 1.0 (iss and sid on the
        # frontchannel_logout_uri) and Back-Channel Logout 1.0 (a logout token with sid).
        "end_session_endpoint": settings.url(END_SESSION_PATH),
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "response_types_supported": list(RESPONSE_TYPES),
        "response_modes_supported": list(RESPONSE_MODES),
        "grant_types_supported": [*GRANT_TYPES, *device_grant],
        # pairwise only with a salt (hydra_lambda.subjects; SUBJECT_IDENTIFIERS_PAIRWISE_SALT)
        "subject_types_supported": ["public", "pairwise"] if settings.pairwise_subjects else ["public"],
        # Exactly the algorithms a key set signs (keys.signing_algorithms), for ID tokens and userinfo.
        "id_token_signing_alg_values_supported": algorithms,
        "userinfo_signing_alg_values_supported": list(algorithms),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(AUTH_SIGNING_ALGS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(AUTH_SIGNING_ALGS),
        "introspection_endpoint_auth_methods_supported": list(INTROSPECTION_AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(AUTH_SIGNING_ALGS),
        "code_challenge_methods_supported": list(PKCE_METHODS),
        "claims_supported": _merged(CLAIMS, settings.oidc_discovery_claims_supported),
        "scopes_supported": _merged(SCOPES, settings.oidc_discovery_scopes_supported),
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": True,
        "claim_types_supported": list(CLAIM_TYPES),
        "prompt_values_supported": list(PROMPT_VALUES),
        "display_values_supported": list(DISPLAYS),
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": True,  # only the client's registered request_uris are fetched
        "request_object_signing_alg_values_supported": list(REQUEST_OBJECT_ALGS),
    }


def _bearer_subject(caller: Credentials) -> str | None:
    """The subject of a live access token holding ``hydra.keys.get``, else None (then anonymous)."""
    if not caller.bearer:
        return None
    try:
        token = warden.authenticate(caller)
    except HydraError:
        return None  # as classic Hydra: a bad Bearer falls back to the anonymous check
    return token.subject if scopes.allows(token.scopes, KEYS_SCOPE) else None


def jwks(caller: Credentials = ANONYMOUS) -> tuple[dict[str, Any], bool]:
    """The JWKS with every key the caller may ``get`` (classic check on
    ``rn:hydra:keys:hydra.openid.id-token:<kid>``: the Bearer's subject, then anonymous ``""``), and
    whether that is the whole configured set."""
    subject = _bearer_subject(caller)
    subjects = [subject, ""] if subject else [""]
    everything = keys.jwks()["keys"]
    allowed = [
        jwk for jwk in everything
        if any(warden.is_allowed(s, JWKS_RESOURCE.format(kid=jwk["kid"]), "get") for s in subjects)
    ]
    return {"keys": allowed}, len(allowed) == len(everything)


# Browser-based relying parties fetch both documents cross-origin; they are public and need no
# credentials, so any origin may read them.
_CORS = {"Access-Control-Allow-Origin": "*"}


def metadata_headers() -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={METADATA_MAX_AGE}", **_CORS}


def jwks_headers(complete: bool) -> dict[str, str]:
    # A partial set (policies withheld a key) must not stick in caches once the policy changes.
    return {"Cache-Control": f"public, max-age={JWKS_MAX_AGE}" if complete else "no-cache", **_CORS}
