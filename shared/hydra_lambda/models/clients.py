"""The body of a client write (classic field names). The client as the API returns it is
``models.responses.OAuth2Client``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

# Read-only fields a client may echo back from a GET into a PUT; accepted and ignored.
READ_ONLY_FIELDS = frozenset({"client_id", "created_at", "updated_at"})


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

