"""The answers of ``/admin/trust/grants/jwt-bearer/issuers`` (Ory Hydra's
``trustedOAuth2JwtGrantIssuer`` and ``trustedOAuth2JwtGrantJsonWebKey``), plain dataclasses: the
read routes never import pydantic. The request body is ``models.trust``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TrustedOAuth2JwtGrantJsonWebKey:
    """``public_key``: the key's set (the issuer, as Hydra groups keys) and its ``kid``."""

    set: str
    kid: str


@dataclass(frozen=True, kw_only=True)
class TrustedOAuth2JwtGrantIssuer:
    """``trustedOAuth2JwtGrantIssuer``; times in RFC 3339 (UTC, whole seconds)."""

    id: str
    issuer: str
    subject: str
    allow_any_subject: bool
    scope: list[str]
    public_key: TrustedOAuth2JwtGrantJsonWebKey
    created_at: str
    expires_at: str

    def body(self) -> dict[str, Any]:
        return asdict(self)
