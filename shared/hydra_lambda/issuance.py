"""Minting tokens for a grant: the one place that turns (client, subject, scopes) into stored rows
and the RFC 6749 token response. Grants call this; they never touch ``tokens`` or storage directly
for issuing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from hydra_lambda import clock, tokens
from hydra_lambda.config import get_settings
from hydra_lambda.storage.tokens import Token


def new_request_id() -> str:
    """The id shared by every token of one grant (revoking the grant deletes them all): 128 random
    bits as 32 hex digits (the shape of ``uuid4().hex``, at a third of its cost)."""
    return secrets.token_hex(16)


def mint(
    kind: tokens.Kind,
    *,
    client_id: str,
    request_id: str,
    subject: str,
    scopes: list[str],
    lifespan: int,
    extra: dict[str, Any] | None = None,
    session: dict[str, Any] | None = None,
    audience: list[str] | None = None,
) -> tuple[str, Token]:
    """A new token string and its row (not yet stored: the caller writes it, alone or in a transaction)."""
    value, signature = tokens.generate(kind)
    now = clock.now_int()
    row = Token(
        signature=signature,
        kind=kind,
        request_id=request_id,
        client_id=client_id,
        subject=subject,
        scopes=list(scopes),
        audience=list(audience or []),
        extra=dict(extra or {}),
        session=dict(session or {}),
        issued_at=now,
        expires_at=now + lifespan,
    )
    return value, row


@dataclass
class TokenResponse:
    """RFC 6749 section 5.1 (plus ``id_token``, OpenID Connect Core 3.1.3.3)."""

    access_token: str
    expires_in: int
    scope: list[str]
    refresh_token: str | None = None
    id_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(self.scope),
        }
        if self.refresh_token:
            out["refresh_token"] = self.refresh_token
        if self.id_token:
            out["id_token"] = self.id_token
        return out


def access_lifespan() -> int:
    return get_settings().access_token_lifespan
