"""The wire models without pydantic, for the routes where importing it (about 45 ms of a cold start)
costs more than it gives: responses built from our own, already valid data. Request bodies
(clients, consent answers, the flush body) are validated by the pydantic models.

Each name here has a pydantic twin in this package, the declared schema that openapi.yaml is checked
against; tests/test_perf_coldstart.py checks that the two give the same output for representative
values, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# models.clients.OAuth2Client, in its order; only client_secret is ever None (then left out).
OAUTH2_CLIENT_FIELDS = (
    "id", "client_id", "client_name", "client_secret", "redirect_uris", "grant_types", "response_types", "scope",
    "owner", "policy_uri", "tos_uri", "client_uri", "logo_uri", "contacts", "public", "created_at", "updated_at",
)


def oauth2_client(values: dict[str, Any]) -> dict[str, Any]:
    """``OAuth2Client(**values).wire()``."""
    return {name: values[name] for name in OAUTH2_CLIENT_FIELDS if values[name] is not None}


def consent_request(
    *, id: str, requested_scopes: list[str], client_id: str, expires_at: str, redirect_url: str,
    asked: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``models.consent.OAuth2ConsentRequest(...).model_dump(exclude_none=True)`` (camelCase: the
    classic wire names); ``asked`` holds the optional fields (requestedPrompt...) that are set."""
    return {"id": id, "requestedScopes": list(requested_scopes), "clientId": client_id, "expiresAt": expires_at,
            "redirectUrl": redirect_url, **{k: v for k, v in (asked or {}).items() if v is not None}}


@dataclass(frozen=True)
class TokenIntrospection:
    """``models.introspection.OAuth2TokenIntrospection``: every field but ``active`` is left out of the
    body when None, so an inactive token is exactly ``{"active":false}``."""

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

    def body(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if value is not None}


INACTIVE = TokenIntrospection(active=False)
