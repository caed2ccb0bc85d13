"""An OAuth 2.0 client: the registered metadata and what it allows (grant types, response types,
redirect URIs, scopes). A plain typed value: ``registry`` validates and stores it, ``storage.clients``
maps it to its row, ``endpoints.clients`` gives its wire shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hydra_lambda import clock, scopes

DEFAULT_GRANT_TYPES = ("authorization_code",)
DEFAULT_RESPONSE_TYPES = ("code",)
# "implicit" is accepted for classic clients that list it; "password" never had a handler.
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 section 3.4
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"  # RFC 7523 section 2.1
SUPPORTED_GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", "implicit",
                         DEVICE_CODE_GRANT, JWT_BEARER_GRANT)
SUPPORTED_RESPONSE_TYPES = ("code", "token", "id_token")
# OpenID Connect Dynamic Client Registration 1.0 section 2 and RFC 7591 section 2 metadata.
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none")
# What a client may sign its JWTs with (assertions, request objects): what python-jose verifies.
ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
HMAC_ALGS = ("HS256", "HS384", "HS512")
# What our KMS keys sign (ID tokens and signed userinfo): RSASSA-PKCS1-v1_5, RSASSA-PSS, ECDSA P-256.
ID_TOKEN_SIGNING_ALGS = ("RS256", "PS256", "ES256")
SUBJECT_TYPES = ("public", "pairwise")
# RFC 9068 JWT access tokens or opaque ones; "" means the server's default (ACCESS_TOKEN_STRATEGY).
ACCESS_TOKEN_STRATEGIES = ("opaque", "jwt")
# Ory Hydra's per-client, per-grant token lifespans (PUT /admin/clients/{id}/lifespans), kept in seconds.
LIFESPAN_FIELDS = (
    "authorization_code_grant_access_token_lifespan", "authorization_code_grant_id_token_lifespan",
    "authorization_code_grant_refresh_token_lifespan", "client_credentials_grant_access_token_lifespan",
    "device_authorization_grant_access_token_lifespan", "device_authorization_grant_id_token_lifespan",
    "device_authorization_grant_refresh_token_lifespan", "implicit_grant_access_token_lifespan",
    "implicit_grant_id_token_lifespan", "jwt_bearer_grant_access_token_lifespan",
    "refresh_token_grant_access_token_lifespan", "refresh_token_grant_id_token_lifespan",
    "refresh_token_grant_refresh_token_lifespan",
)
OPENID_STRING_FIELDS = (
    "token_endpoint_auth_method", "token_endpoint_auth_signing_alg", "jwks_uri", "request_object_signing_alg",
    "id_token_signed_response_alg", "userinfo_signed_response_alg", "subject_type", "sector_identifier_uri",
)
# OpenID Connect RP-Initiated Logout 1.0 section 3.1, Front-Channel Logout 1.0 section 2 and Back-Channel
# Logout 1.0 section 2.2 metadata (validated in clients/logout_metadata.py).
LOGOUT_STRING_FIELDS = ("frontchannel_logout_uri", "backchannel_logout_uri")
LOGOUT_FLAG_FIELDS = ("frontchannel_logout_session_required", "backchannel_logout_session_required")
# The current Hydra client model's fields beyond the classic ones (issue 26).
FLAG_FIELDS = (*LOGOUT_FLAG_FIELDS, "skip_consent", "skip_logout_consent")
STRING_FIELDS = ("scope", "client_name", "owner", "policy_uri", "tos_uri", "client_uri", "logo_uri",
                 *OPENID_STRING_FIELDS, *LOGOUT_STRING_FIELDS, "access_token_strategy")
LIST_FIELDS = ("redirect_uris", "grant_types", "response_types", "contacts", "request_uris",
               "post_logout_redirect_uris", "audience", "allowed_cors_origins")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Client:
    id: str
    client_name: str = ""
    redirect_uris: list[str] = field(default_factory=list)
    grant_types: list[str] = field(default_factory=lambda: list(DEFAULT_GRANT_TYPES))
    response_types: list[str] = field(default_factory=lambda: list(DEFAULT_RESPONSE_TYPES))
    scope: str = ""
    owner: str = ""
    policy_uri: str = ""
    tos_uri: str = ""
    client_uri: str = ""
    logo_uri: str = ""
    contacts: list[str] = field(default_factory=list)
    public: bool = False
    # OpenID registration metadata; "" means "not registered" (the effective defaults are properties).
    token_endpoint_auth_method: str = ""
    token_endpoint_auth_signing_alg: str = ""
    jwks: dict[str, Any] | None = None
    jwks_uri: str = ""
    request_uris: list[str] = field(default_factory=list)
    request_object_signing_alg: str = ""
    id_token_signed_response_alg: str = ""
    userinfo_signed_response_alg: str = ""
    subject_type: str = "public"
    sector_identifier_uri: str = ""
    # Logout metadata; empty / False means "not registered" (older rows read so too).
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    frontchannel_logout_uri: str = ""
    frontchannel_logout_session_required: bool = False
    backchannel_logout_uri: str = ""
    backchannel_logout_session_required: bool = False
    # The current Hydra client model (issue 26); empty means not set.
    audience: list[str] = field(default_factory=list)
    allowed_cors_origins: list[str] = field(default_factory=list)
    access_token_strategy: str = ""
    skip_consent: bool = False
    skip_logout_consent: bool = False
    metadata: dict[str, Any] | None = None
    # Per-grant lifespans in seconds, by LIFESPAN_FIELDS name; a name absent uses the server's setting.
    lifespans: dict[str, int] = field(default_factory=dict)
    # When every token issued before was revoked at once (DELETE /admin/oauth2/tokens?client_id=), in
    # microseconds; 0: never. Tokens carry the generation (``since``) they were issued under.
    tokens_since: int = 0
    created_at: datetime = field(default_factory=lambda: _now())
    updated_at: datetime = field(default_factory=lambda: _now())
    secret_hash: str | None = None
    # Registered through /oauth2/register (RFC 7591): shown to admins; managed with the registration
    # access token, of which only a hash is kept (never in any response).
    self_registered: bool = False
    registration_token_hash: str | None = None
    # client_secret_jwt clients only: the secret itself, sealed (hydra_lambda.sealing), since the
    # server recomputes their HMAC assertions. Never part of the wire shape.
    secret_sealed: str | None = None

    def __post_init__(self) -> None:
        # Effective defaults as classic Hydra: no grant types means authorization_code, etc.
        self.grant_types = list(self.grant_types) or list(DEFAULT_GRANT_TYPES)
        self.response_types = list(self.response_types) or list(DEFAULT_RESPONSE_TYPES)
        self.subject_type = self.subject_type or "public"

    @property
    def auth_method(self) -> str:
        """How the client authenticates at the token endpoint: the registered method, else ``none``
        for a public client and ``client_secret_basic`` (RFC 7591's default) for a confidential one."""
        return self.token_endpoint_auth_method or ("none" if self.public else "client_secret_basic")

    @property
    def id_token_alg(self) -> str:
        """The JWS algorithm of this client's ID tokens (RS256 unless it registered another)."""
        return self.id_token_signed_response_alg or "RS256"

    @property
    def userinfo_alg(self) -> str | None:
        """The JWS algorithm of this client's userinfo responses, or None for plain JSON."""
        alg = self.userinfo_signed_response_alg
        return None if alg in ("", "none") else alg

    @property
    def allowed_scopes(self) -> list[str]:
        return self.scope.split()

    def allows_scopes(self, requested: list[str]) -> bool:
        """Whether every requested scope is covered by the client's ``scope`` (wildcard strategy)."""
        return scopes.allows_all(self.allowed_scopes, requested)

    def has_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def has_response_type(self, response_type: str) -> bool:
        """``response_type`` may be a space-separated combination; each part must be registered
        (either alone or inside a registered combination)."""
        registered = {part for entry in self.response_types for part in entry.split()}
        return all(part in registered for part in response_type.split())

    def has_redirect_uri(self, uri: str) -> bool:
        """Exact string match against the registered list."""
        return uri in self.redirect_uris

    def has_post_logout_redirect_uri(self, uri: str) -> bool:
        """Exact string match against the registered ``post_logout_redirect_uris`` (RP-Initiated
        Logout 1.0 section 3: the logout endpoint redirects only to one of these)."""
        return bool(uri) and uri in self.post_logout_redirect_uris

    def attributes(self) -> dict[str, object]:
        """The registered metadata, shared by the stored row and the API representation."""
        return {
            **{name: getattr(self, name) for name in STRING_FIELDS},
            **{name: list(getattr(self, name)) for name in LIST_FIELDS},
            **{name: bool(getattr(self, name)) for name in FLAG_FIELDS},
            "public": self.public,
            "self_registered": self.self_registered,
            "jwks": dict(self.jwks) if self.jwks is not None else None,
            "metadata": dict(self.metadata) if self.metadata is not None else None,
        }

    def lifespan(self, grant: str, token: str) -> int | None:
        """This client's lifespan in seconds for ``token`` (``access_token``, ``id_token``,
        ``refresh_token``) issued by ``grant`` (``authorization_code``, ``client_credentials``,
        ``device_authorization``, ``implicit``, ``jwt_bearer``, ``refresh_token``), or None for the
        server's setting."""
        return self.lifespans.get(f"{grant}_grant_{token}_lifespan")

    @property
    def since(self) -> int:
        """The client's generation: its creation time in microseconds (a client deleted and created
        again under the same id has another), or the moment all its tokens were revoked
        (``tokens_since``). Every token row records the one it was issued to."""
        return self.tokens_since or (self.created_at - _EPOCH) // timedelta(microseconds=1)


def _now() -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)
