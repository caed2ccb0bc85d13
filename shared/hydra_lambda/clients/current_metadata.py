"""The current Hydra client model's fields beyond the classic ones (issue 26): ``audience``,
``allowed_cors_origins``, ``access_token_strategy``, ``skip_consent``, ``skip_logout_consent`` and
``metadata``, validated the same way on ``/clients`` and ``/admin/clients``. A BadRequest names the
field. Per-grant lifespans are set by their own route (``PUT /admin/clients/{id}/lifespans``)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from hydra_lambda.clients.model import ACCESS_TOKEN_STRATEGIES, Client
from hydra_lambda.errors import BadRequest

MAX_ITEMS = 100
MAX_TEXT = 2000
MAX_METADATA_BYTES = 16 * 1024
_FLAGS = ("skip_consent", "skip_logout_consent")


def apply(client: Client, fields: dict[str, Any]) -> None:
    """Copy these fields in ``fields`` (None clears) onto ``client``."""
    if "audience" in fields:
        client.audience = _strings("audience", fields["audience"] or [])
    if "allowed_cors_origins" in fields:
        client.allowed_cors_origins = [_origin(value) for value in _strings("allowed_cors_origins",
                                                                            fields["allowed_cors_origins"] or [])]
    if "access_token_strategy" in fields:
        strategy = fields["access_token_strategy"] or ""
        if strategy and strategy not in ACCESS_TOKEN_STRATEGIES:
            raise BadRequest("access_token_strategy must be 'opaque' or 'jwt'")
        client.access_token_strategy = strategy
    for name in _FLAGS:
        if name in fields:
            if fields[name] is not None and not isinstance(fields[name], bool):
                raise BadRequest(f"{name} must be true or false")
            setattr(client, name, bool(fields[name]))
    if "metadata" in fields:
        client.metadata = _metadata(fields["metadata"])


def _strings(name: str, values: list[Any]) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v and len(v) <= MAX_TEXT for v in values):
        raise BadRequest(f"{name} must be a list of non-empty strings of at most {MAX_TEXT} characters")
    if len(values) > MAX_ITEMS:
        raise BadRequest(f"{name} may hold at most {MAX_ITEMS} entries")
    return list(dict.fromkeys(values))


def _origin(value: str) -> str:
    """``scheme://host[:port]`` and nothing else (a CORS origin)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or value.rstrip("/") != f"{parts.scheme}://{parts.netloc}":
        raise BadRequest(f"allowed_cors_origins: '{value[:80]}' is not an origin (scheme://host[:port])")
    return f"{parts.scheme}://{parts.netloc}"


def _metadata(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("metadata must be a JSON object")
    if len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise BadRequest(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return value
