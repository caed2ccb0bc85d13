"""The two pieces of compact JWS (RFC 7515) that need no cryptography: base64url without padding, and
the signing input ``b64url(header).b64url(claims)``."""

from __future__ import annotations

import base64
import json
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signing_input(header: dict[str, Any], claims: dict[str, Any]) -> bytes:
    def part(obj: dict[str, Any]) -> str:
        return b64url(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

    return f"{part(header)}.{part(claims)}".encode("ascii")
