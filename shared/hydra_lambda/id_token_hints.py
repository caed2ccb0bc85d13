"""``id_token_hint`` (OpenID Connect Core 3.1.2.1): an ID token this server signed for the client,
expired or not, read back for the consent and login apps and for the login session checks."""

from __future__ import annotations

from typing import Any

from hydra_lambda import keys
from hydra_lambda.config import get_settings


def claims(hint: str, client_id: str) -> dict[str, Any] | None:
    """The claims of an ``id_token_hint`` this server signed for this client (expired is fine: OpenID
    Connect Core 3.1.2.1), verified with the published key its ``kid`` names, in whichever set (RS256,
    PS256, ES256); None for anything else, so a forged or foreign hint is never trusted or shown."""
    if not hint:
        return None
    found = keys.verify(hint)
    if found is None or found.get("iss") != get_settings().issuer or not found.get("sub"):
        return None
    audience = found.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    return found if client_id in audiences else None
