"""Offset pagination of the classic admin lists (``GET /clients``, ``GET /policies``): their
``limit`` and ``offset`` query parameters, read the same way for both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from hydra_lambda.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def int_param(name: str, raw: str | None, default: int, maximum: int | None = None) -> int:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:  # int() would also read "٣"; "²" it cannot
        raise BadRequest(f"{name} must be a non-negative whole number")
    value = int(raw)
    return min(value, maximum) if maximum is not None else value


def window(limit: str | None, offset: str | None) -> tuple[int, int]:
    """The page size (default 100, at most 500) and the offset a request asks for; 400 on anything else."""
    return int_param("limit", limit, DEFAULT_LIMIT, MAX_LIMIT), int_param("offset", offset, 0)


@dataclass
class Page(Generic[T]):
    """One page of an admin list, and where the next one starts (None on the last)."""

    items: list[T]
    limit: int
    offset: int
    more: bool

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.more else None
