"""The response bodies that are built from our own, already valid data, declared once as plain
dataclasses: importing pydantic (about 45 ms of a cold start) would cost the token, introspection
and client-read routes more than it gives. Field names and order are the wire's; ``body()`` leaves
out every optional field that is None.

These are the declared schemas of openapi.yaml's ``OAuth2Client``, ``OAuth2ConsentRequest`` and
``OAuth2TokenIntrospection``: tests/test_openapi.py checks each against it through pydantic's
``TypeAdapter`` (in the tests only). Request bodies are pydantic models (``models.clients``...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class OAuth2Client:
    """A client as the API returns it; ``client_secret`` only right after it was set."""

    id: str
    client_id: str
    client_name: str
    client_secret: str | None = None
    redirect_uris: list[str]
    grant_types: list[str]
    response_types: list[str]
    scope: str
    owner: str
    policy_uri: str
    tos_uri: str
    client_uri: str
    logo_uri: str
    contacts: list[str]
    public: bool
    self_registered: bool  # made through /oauth2/register (RFC 7591)
    token_endpoint_auth_method: str
    token_endpoint_auth_signing_alg: str
    jwks: dict[str, Any] | None = None
    jwks_uri: str
    request_uris: list[str]
    request_object_signing_alg: str
    id_token_signed_response_alg: str
    userinfo_signed_response_alg: str
    subject_type: str
    sector_identifier_uri: str
    post_logout_redirect_uris: list[str]
    frontchannel_logout_uri: str
    frontchannel_logout_session_required: bool
    backchannel_logout_uri: str
    backchannel_logout_session_required: bool
    audience: list[str]
    allowed_cors_origins: list[str]
    access_token_strategy: str
    skip_consent: bool
    skip_logout_consent: bool
    metadata: dict[str, Any] | None = None
    created_at: str
    updated_at: str

    def body(self) -> dict[str, Any]:
        return _without_none(self.__dict__)


@dataclass(frozen=True)
class OAuth2ConsentRequest:
    """``GET /oauth2/consent/requests/{id}``: what the consent app shows the user (camelCase: the
    classic wire names)."""

    id: str
    requestedScopes: list[str]  # camelCase: the classic wire names
    clientId: str
    expiresAt: str
    redirectUrl: str
    # What the relying party asked, each present only when it did (OpenID Connect Core 3.1.2.1);
    # the first three are the names the classic v0.10 swagger gave them.
    requestedPrompt: str | None = None
    requestedMaxAge: int | None = None
    requestedAcr: list[str] | None = None
    loginHint: str | None = None
    uiLocales: list[str] | None = None
    display: str | None = None  # page, popup, touch or wap, when the request sent one
    idTokenHintClaims: dict[str, Any] | None = None  # only for a hint this server signed
    requestedClaims: dict[str, Any] | None = None  # the validated claims parameter (hydra_lambda.claims)

    def body(self) -> dict[str, Any]:
        return _without_none(self.__dict__)


@dataclass(frozen=True)
class OAuth2TokenIntrospection:
    """RFC 7662 introspection response: every field but ``active`` is left out of the body when None,
    so an inactive token is exactly ``{"active":false}``."""

    active: bool
    scope: str | None = None
    client_id: str | None = None
    sub: str | None = None
    exp: int | None = None
    iat: int | None = None
    iss: str | None = None
    aud: str | list[str] | None = None
    ext: dict[str, Any] | None = None
    token_type: str | None = None
    # Ory Hydra's name: the sub the token's pairwise client sees, for callers other than that client
    obfuscated_subject: str | None = None

    def body(self) -> dict[str, Any]:
        return _without_none(self.__dict__)


INACTIVE = OAuth2TokenIntrospection(active=False)
