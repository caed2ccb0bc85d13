"""The two pieces of compact JWS (RFC 7515) that need no cryptography: base64url without padding, and
the signing input ``b64url(header).b64url(claims)``."""

from __future__ import annotations

import base64
import json
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """base64url without padding, strictly (ValueError on anything else)."""
    if not isinstance(text, str) or any(c not in _ALPHABET for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def signing_input(header: dict[str, Any], claims: dict[str, Any]) -> bytes:
    def part(obj: dict[str, Any]) -> str:
        return b64url(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

    return f"{part(header)}.{part(claims)}".encode("ascii")
