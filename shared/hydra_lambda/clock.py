"""Injectable time: tests move the clock instead of sleeping."""

from __future__ import annotations

import time

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
