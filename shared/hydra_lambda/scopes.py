"""Scopes: parsing (RFC 6749 section 3.3) and the wildcard matching strategy of classic Hydra.

``foo`` matches only ``foo``; ``foo.*`` matches ``foo.bar`` and ``foo.bar.baz`` but not ``foo``;
``foo.*.bar`` matches ``foo.baz.bar``; ``*`` matches any scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")
MAX_SCOPE_LENGTH = 256
MAX_SCOPES = 100


def is_valid_scope(token: str) -> bool:
    return len(token) <= MAX_SCOPE_LENGTH and bool(_SCOPE_TOKEN.match(token))


def parse_scope(raw: str | None) -> list[str]:
    """Split a space-delimited scope string, dropping duplicates while keeping order.

    Raises ValueError on a token outside the RFC 6749 character set or too many scopes.
    """
    out: list[str] = []
    for token in (raw or "").split(" "):
        if not token:
            continue
        if not is_valid_scope(token):
            raise ValueError(f"'{token[:40]}' is not a valid scope")
        if token not in out:
            out.append(token)
    if len(out) > MAX_SCOPES:
        raise ValueError(f"at most {MAX_SCOPES} scopes are allowed")
    return out


def wildcard_match(matcher: str, needle: str) -> bool:
    matcher_parts = matcher.split(".")
    needle_parts = needle.split(".")
    if len(matcher_parts) > len(needle_parts):
        return False
    last = len(matcher_parts) - 1
    for index, part in enumerate(matcher_parts):
        if index == last and len(matcher_parts) != len(needle_parts):
            return part == "*" and all(needle_parts[last:])
        if part == "*" and needle_parts[index]:
            continue
        if part != needle_parts[index]:
            return False
    return True


def allows(granted: Iterable[str], needle: str) -> bool:
    """Whether any scope in ``granted`` covers ``needle`` under the wildcard strategy."""
    return any(wildcard_match(matcher, needle) for matcher in granted)


def allows_all(granted: Iterable[str], needles: Iterable[str]) -> bool:
    granted = list(granted)
    return all(allows(granted, needle) for needle in needles)


def join(scopes: Iterable[str]) -> str:
    return " ".join(scopes)
