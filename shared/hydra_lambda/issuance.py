"""Minting tokens for a grant: the one place that turns (client, subject, scopes) into stored rows
and the RFC 6749 token response. Grants call this; they never touch ``tokens`` or storage directly
for issuing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hydra_lambda import clock, tokens
from hydra_lambda.config import get_settings
from hydra_lambda.storage.tokens import Token

if TYPE_CHECKING:
    from hydra_lambda.clients import Client


def new_request_id() -> str:
    """The id shared by every token of one grant (revoking the grant deletes them all): 128 random
    bits as 32 hex digits (the shape of ``uuid4().hex``, at a third of its cost)."""
    return secrets.token_hex(16)


def mint(
    kind: tokens.Kind,
    *,
    client_id: str,
    client: Client | None = None,
    request_id: str,
    subject: str,
    scopes: list[str],
    lifespan: int,
    extra: dict[str, Any] | None = None,
    session: dict[str, Any] | None = None,
    audience: list[str] | None = None,
) -> tuple[str, Token]:
    """A new token string and its row (not yet stored: the caller writes it, alone or in a transaction).
    ``client`` is the client it is issued to when the caller holds it (else it is looked up, cached)."""
    now = clock.now_int()
    value, signature = tokens.generate(kind, now + lifespan)  # the expiry is part of the row key
    if client is None or client.id != client_id:
        from hydra_lambda.clients import get_client_for_auth

        client = get_client_for_auth(client_id)
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
        client_since=0 if client is None else client_since(client),
    )
    return value, row


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def client_since(client: Client) -> int:
    """The client's generation: its creation time in microseconds (a client deleted and created
    again under the same id has another)."""
    return (client.created_at - _EPOCH) // timedelta(microseconds=1)


def issued_to_current_client(row: Token, client: Client | None = None) -> bool:
    """Whether the client ``row`` was issued to still exists, as the same client (not deleted, nor
    deleted and created again): how deleting a client revokes its tokens, checked at read time on
    the client record (``client``, or the per-container cached one: CLIENT_CACHE_SECONDS)."""
    if client is None:
        from hydra_lambda.clients import get_client_for_auth

        client = get_client_for_auth(row.client_id)
    if client is None or client.id != row.client_id:
        return False
    if row.client_since:
        return row.client_since == client_since(client)
    # A row written before client generations: issued while this client existed.
    return row.issued_at >= int(client.created_at.timestamp())


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
