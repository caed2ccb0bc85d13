"""Injectable time: tests move the clock instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_offset = 0.0


def now() -> float:
    return time.time() + _offset


def now_int() -> int:
    return int(now())


def advance(seconds: float) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    _offset += seconds


def reset() -> None:
    global _offset
    _offset = 0.0


def moment() -> datetime:
    """Now, as an aware UTC datetime (on the injectable clock)."""
    return datetime.fromtimestamp(now(), UTC)


def rfc3339(value: datetime | float) -> str:
    """The one RFC 3339 formatter of the API: a datetime or Unix seconds as ``2026-01-02T03:04:05Z``
    (UTC, whole seconds)."""
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
