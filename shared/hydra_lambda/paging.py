"""Pagination of the admin lists: the classic ones' offsets (``GET /clients``, ``GET /policies``:
``limit`` and ``offset``) and the current API's keyset pages (``GET /admin/clients``, the trusted
issuers: ``page_size`` and an opaque ``page_token`` naming the last id of the previous page)."""

from __future__ import annotations

import base64
from collections.abc import Callable
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


def page_size(raw: str, default: int, maximum: int) -> int:
    """Hydra's ``page_size``: 1 to ``maximum``; 400 on anything else (a long digit string included,
    which ``int()`` would refuse with a ValueError past 4300 digits)."""
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"page_size must be a whole number from 1 to {maximum}.")
    return int(raw)


def keyset_token(kind: str, last_id: str) -> str:
    """The ``page_token`` of the page after ``last_id`` (``kind`` tells one list's tokens from another's)."""
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).rstrip(b"=").decode()


def keyset_after(token: str, kind: str, valid: Callable[[str], bool]) -> str:
    """The last id of the previous page, from a ``page_token`` this server gave ("" = the first page)."""
    if not token:
        return ""
    try:
        found, _, last_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        found, last_id = "", ""
    if found != kind or not valid(last_id):
        raise BadRequest("page_token is not one this server gave.")
    return last_id


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
