"""The request bodies of the current Hydra API's client routes (``/admin/clients``), pydantic models
read only on the write routes (``endpoints.admin_clients`` imports this module lazily): Hydra's
``oAuth2Client`` and ``oAuth2ClientTokenLifespans`` fields (``spec/api.json`` of ory/hydra)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr


class AdminClientBody(BaseModel):
    """The body of ``POST /admin/clients`` and ``PUT /admin/clients/{id}`` (and a patched document):
    Hydra's ``oAuth2Client`` fields. Unknown fields are refused (400) so a typo never silently drops a
    setting; ``null`` clears a field. The lifespans are read by ``clients.lifespans``."""

    model_config = ConfigDict(extra="forbid")

    client_id: StrictStr | None = None
    client_name: StrictStr | None = None
    client_secret: StrictStr | None = None
    redirect_uris: list[StrictStr] | None = None
    grant_types: list[StrictStr] | None = None
    response_types: list[StrictStr] | None = None
    scope: StrictStr | None = None
    audience: list[StrictStr] | None = None
    owner: StrictStr | None = None
    policy_uri: StrictStr | None = None
    allowed_cors_origins: list[StrictStr] | None = None
    tos_uri: StrictStr | None = None
    client_uri: StrictStr | None = None
    logo_uri: StrictStr | None = None
    contacts: list[StrictStr] | None = None
    subject_type: StrictStr | None = None
    sector_identifier_uri: StrictStr | None = None
    jwks_uri: StrictStr | None = None
    jwks: dict[str, Any] | None = None
    token_endpoint_auth_method: StrictStr | None = None
    token_endpoint_auth_signing_alg: StrictStr | None = None
    request_uris: list[StrictStr] | None = None
    request_object_signing_alg: StrictStr | None = None
    userinfo_signed_response_alg: StrictStr | None = None
    id_token_signed_response_alg: StrictStr | None = None
    post_logout_redirect_uris: list[StrictStr] | None = None
    frontchannel_logout_uri: StrictStr | None = None
    frontchannel_logout_session_required: StrictBool | None = None
    backchannel_logout_uri: StrictStr | None = None
    backchannel_logout_session_required: StrictBool | None = None
    access_token_strategy: StrictStr | None = None
    skip_consent: StrictBool | None = None
    skip_logout_consent: StrictBool | None = None
    metadata: dict[str, Any] | None = None
    authorization_code_grant_access_token_lifespan: StrictStr | None = None
    authorization_code_grant_id_token_lifespan: StrictStr | None = None
    authorization_code_grant_refresh_token_lifespan: StrictStr | None = None
    client_credentials_grant_access_token_lifespan: StrictStr | None = None
    device_authorization_grant_access_token_lifespan: StrictStr | None = None
    device_authorization_grant_id_token_lifespan: StrictStr | None = None
    device_authorization_grant_refresh_token_lifespan: StrictStr | None = None
    implicit_grant_access_token_lifespan: StrictStr | None = None
    implicit_grant_id_token_lifespan: StrictStr | None = None
    jwt_bearer_grant_access_token_lifespan: StrictStr | None = None
    refresh_token_grant_access_token_lifespan: StrictStr | None = None
    refresh_token_grant_id_token_lifespan: StrictStr | None = None
    refresh_token_grant_refresh_token_lifespan: StrictStr | None = None


class OAuth2ClientTokenLifespans(BaseModel):
    """The body of ``PUT /admin/clients/{id}/lifespans``: the 13 lifespans, each a duration string
    or null (the server's setting). The whole set is replaced: a field left out is unset."""

    model_config = ConfigDict(extra="forbid")

    authorization_code_grant_access_token_lifespan: StrictStr | None = None
    authorization_code_grant_id_token_lifespan: StrictStr | None = None
    authorization_code_grant_refresh_token_lifespan: StrictStr | None = None
    client_credentials_grant_access_token_lifespan: StrictStr | None = None
    device_authorization_grant_access_token_lifespan: StrictStr | None = None
    device_authorization_grant_id_token_lifespan: StrictStr | None = None
    device_authorization_grant_refresh_token_lifespan: StrictStr | None = None
    implicit_grant_access_token_lifespan: StrictStr | None = None
    implicit_grant_id_token_lifespan: StrictStr | None = None
    jwt_bearer_grant_access_token_lifespan: StrictStr | None = None
    refresh_token_grant_access_token_lifespan: StrictStr | None = None
    refresh_token_grant_id_token_lifespan: StrictStr | None = None
    refresh_token_grant_refresh_token_lifespan: StrictStr | None = None
