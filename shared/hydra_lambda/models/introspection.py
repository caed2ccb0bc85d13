"""RFC 7662 introspection response (classic ``OAuth2TokenIntrospection``; every field but ``active``
is omitted when empty, so an inactive token is exactly ``{"active":false}``).

The endpoint builds it with ``models.plain.TokenIntrospection``; this model is its declared schema,
and tests/test_perf_coldstart.py keeps the two in step."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class OAuth2TokenIntrospection(BaseModel):
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
