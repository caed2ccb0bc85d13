"""The wire models without pydantic, for the routes where importing it (about 45 ms of a cold start)
costs more than it gives: responses built from our own, already valid data, and the one-field body
of ``POST /oauth2/flush``. Request bodies with real structure (clients, consent answers) are still
validated by the pydantic models.

Each name here has a pydantic twin in this package, the declared schema that openapi.yaml is checked
against; tests/test_perf_coldstart.py checks that the two give the same output for representative
values, so they cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hydra_lambda.errors import BadRequest

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

# RFC 3339 date-time: full date, "T" (or space), time, optional fraction, and a mandatory offset.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
# Go's zero time, which classic clients send for "no value": it means "now", as a missing value does.
_GO_ZERO_YEAR = 1
NOT_AFTER_FORMAT = "notAfter must be an RFC 3339 date-time with an offset, e.g. 2026-01-01T00:00:00Z"


def rfc3339(value: str) -> datetime | None:
    """``value`` as an aware datetime, or None when it is not an RFC 3339 date-time with an offset."""
    if not _RFC3339.match(value):
        return None
    text = value.replace(" ", "T").replace("t", "T").replace("z", "Z")
    try:
        # Python keeps microseconds only; cut a longer fraction (nanoseconds from Go clients).
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def flush_cutoff(body: dict[str, Any]) -> int | None:
    """The ``notAfter`` of a ``FlushInactiveOAuth2TokensRequest`` body (or ``not_after``, as the
    model's field name) as epoch seconds; None (meaning now) when absent, null or Go's zero time.
    Other fields are ignored; a value that is not an RFC 3339 string is a 400."""
    value = body["notAfter"] if "notAfter" in body else body.get("not_after")
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("Invalid notAfter: Input should be a valid string")
    parsed = rfc3339(value)
    if parsed is None:
        raise BadRequest(f"Invalid notAfter: {NOT_AFTER_FORMAT}")
    return None if parsed.year == _GO_ZERO_YEAR else int(parsed.timestamp())
