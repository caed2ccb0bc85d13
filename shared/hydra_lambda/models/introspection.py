"""RFC 7662 introspection response (classic ``OAuth2TokenIntrospection``; every field but ``active``
is omitted when empty, so an inactive token is exactly ``{"active":false}``)."""

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

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


INACTIVE = OAuth2TokenIntrospection(active=False)
