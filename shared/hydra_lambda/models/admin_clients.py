"""The current Hydra API's client shapes (``/admin/clients``), field for field as Ory's OpenAPI
document (``spec/api.json`` of ory/hydra: ``oAuth2Client``, ``oAuth2ClientTokenLifespans``,
``jsonPatch``): ``client_id`` (never ``id``), the 13 per-grant lifespans as Go duration strings,
``client_secret_expires_at`` always 0. Plain dataclasses: no pydantic on the read routes (the request
bodies are ``models.admin_client_bodies``). The classic shapes are ``models.clients`` and
``models.responses.OAuth2Client``; both name the same stored client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What a GET answers and a client may send back in a PUT or leave in a patched document: accepted
# and ignored (client_id is compared with the path instead).
ADMIN_READ_ONLY_FIELDS = frozenset({"created_at", "updated_at", "client_secret_expires_at",
                                    "registration_access_token", "registration_client_uri"})


@dataclass(frozen=True, kw_only=True)
class AdminOAuth2Client:
    """A client as ``/admin/clients`` returns it; ``client_secret`` only right after it was set."""

    client_id: str
    client_name: str
    client_secret: str | None = None
    client_secret_expires_at: int
    redirect_uris: list[str]
    grant_types: list[str]
    response_types: list[str]
    scope: str
    audience: list[str]
    owner: str
    policy_uri: str
    allowed_cors_origins: list[str]
    tos_uri: str
    client_uri: str
    logo_uri: str
    contacts: list[str]
    subject_type: str
    sector_identifier_uri: str
    jwks_uri: str
    jwks: dict[str, Any] | None = None
    token_endpoint_auth_method: str
    token_endpoint_auth_signing_alg: str
    request_uris: list[str]
    request_object_signing_alg: str
    userinfo_signed_response_alg: str
    id_token_signed_response_alg: str
    post_logout_redirect_uris: list[str]
    frontchannel_logout_uri: str
    frontchannel_logout_session_required: bool
    backchannel_logout_uri: str
    backchannel_logout_session_required: bool
    access_token_strategy: str
    skip_consent: bool
    skip_logout_consent: bool
    metadata: dict[str, Any] | None = None
    created_at: str
    updated_at: str
    authorization_code_grant_access_token_lifespan: str | None
    authorization_code_grant_id_token_lifespan: str | None
    authorization_code_grant_refresh_token_lifespan: str | None
    client_credentials_grant_access_token_lifespan: str | None
    device_authorization_grant_access_token_lifespan: str | None
    device_authorization_grant_id_token_lifespan: str | None
    device_authorization_grant_refresh_token_lifespan: str | None
    implicit_grant_access_token_lifespan: str | None
    implicit_grant_id_token_lifespan: str | None
    jwt_bearer_grant_access_token_lifespan: str | None
    refresh_token_grant_access_token_lifespan: str | None
    refresh_token_grant_id_token_lifespan: str | None
    refresh_token_grant_refresh_token_lifespan: str | None

    def body(self) -> dict[str, Any]:
        """Every field; the lifespans as null when unset (the server's setting), the secret, ``jwks``
        and ``metadata`` only when there is one."""
        optional = ("client_secret", "jwks", "metadata")
        return {name: value for name, value in self.__dict__.items() if value is not None or name not in optional}


@dataclass(frozen=True, kw_only=True)
class IntrospectedOAuth2Token:
    """``POST /admin/oauth2/introspect``: Hydra's ``introspectedOAuth2Token`` (RFC 7662): ``aud`` is
    always a list, ``token_type`` ``Bearer``, ``token_use`` ``access_token`` or ``refresh_token``."""

    active: bool
    scope: str | None = None
    client_id: str | None = None
    sub: str | None = None
    obfuscated_subject: str | None = None
    exp: int | None = None
    iat: int | None = None
    nbf: int | None = None
    iss: str | None = None
    aud: list[str] | None = None
    ext: dict[str, Any] | None = None
    token_type: str | None = None
    token_use: str | None = None

    def body(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if value is not None}
