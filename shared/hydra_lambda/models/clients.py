"""The body of a client write (classic field names). The client as the API returns it is
``models.responses.OAuth2Client``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

# Read-only fields a client may echo back from a GET into a PUT; accepted and ignored.
READ_ONLY_FIELDS = frozenset({"client_id", "created_at", "updated_at", "self_registered"})


class ClientBody(BaseModel):
    """The body of ``POST /clients`` and ``PUT /clients/{id}``. Every field is optional; unknown
    fields are rejected (400) so a typo never silently drops a setting. ``null`` clears a field."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr | None = None
    client_name: StrictStr | None = None
    client_secret: StrictStr | None = None
    redirect_uris: list[StrictStr] | None = None
    grant_types: list[StrictStr] | None = None
    response_types: list[StrictStr] | None = None
    scope: StrictStr | None = None
    owner: StrictStr | None = None
    policy_uri: StrictStr | None = None
    tos_uri: StrictStr | None = None
    client_uri: StrictStr | None = None
    logo_uri: StrictStr | None = None
    contacts: list[StrictStr] | None = None
    public: StrictBool | None = None
    # OpenID Connect Dynamic Client Registration 1.0 names (validated by clients.registry).
    token_endpoint_auth_method: StrictStr | None = None
    token_endpoint_auth_signing_alg: StrictStr | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: StrictStr | None = None
    request_uris: list[StrictStr] | None = None
    request_object_signing_alg: StrictStr | None = None
    id_token_signed_response_alg: StrictStr | None = None
    userinfo_signed_response_alg: StrictStr | None = None
    subject_type: StrictStr | None = None
    sector_identifier_uri: StrictStr | None = None
    # OpenID Connect RP-Initiated, Front-Channel and Back-Channel Logout 1.0 names
    # (validated by clients.registry and clients.logout_metadata).
    post_logout_redirect_uris: list[StrictStr] | None = None
    frontchannel_logout_uri: StrictStr | None = None
    frontchannel_logout_session_required: StrictBool | None = None
    backchannel_logout_uri: StrictStr | None = None
    backchannel_logout_session_required: StrictBool | None = None
    # The current Hydra client model (validated by clients.current_metadata).
    audience: list[StrictStr] | None = None
    allowed_cors_origins: list[StrictStr] | None = None
    access_token_strategy: StrictStr | None = None
    skip_consent: StrictBool | None = None
    skip_logout_consent: StrictBool | None = None
    metadata: dict[str, Any] | None = None

