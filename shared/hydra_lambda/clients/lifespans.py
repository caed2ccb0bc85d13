"""A client's per-grant token lifespans (Ory Hydra's 13 ``*_grant_*_lifespan`` fields): Go duration
strings on the wire (``1h0m0s``, ``30m``, ``90s``: Hydra's ``NullDuration``, pattern
``^([0-9]+(ns|us|ms|s|m|h))*$``), whole seconds on the client (``Client.lifespans``). ``parse``
reads a wire value, ``render`` writes one as Go's ``time.Duration.String`` does, ``validate`` checks
a whole map before it is stored. A BadRequest names the field."""

from __future__ import annotations

import re
from typing import Any

from hydra_lambda.clients.model import LIFESPAN_FIELDS
from hydra_lambda.errors import BadRequest

MIN_SECONDS = 1
MAX_SECONDS = 365 * 24 * 3600  # one year: a token's expiry is signed into it, a typo of 10^9 s would outlive us
_PART = re.compile(r"([0-9]{1,12})(ns|us|ms|s|m|h)")
_NANOS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
MAX_TEXT = 64


def parse(name: str, value: Any) -> int | None:
    """Seconds for the wire value of field ``name``; None for ``null`` or ``""`` (the server's
    setting). Sub-second parts must add up to whole seconds."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRequest(f"{name} must be a duration string such as '1h0m0s', '30m' or '90s'")
    nanos, position = 0, 0
    for match in _PART.finditer(value):
        if match.start() != position:
            break
        nanos += int(match.group(1)) * _NANOS[match.group(2)]
        position = match.end()
    if position != len(value):
        raise BadRequest(f"{name}: '{value[:40]}' is not a duration (digits then ns, us, ms, s, m or h, e.g. '1h30m')")
    seconds, rest = divmod(nanos, 10**9)
    if rest:
        raise BadRequest(f"{name}: lifespans are kept in whole seconds; '{value[:40]}' is not")
    return check(name, seconds)


def check(name: str, seconds: Any) -> int:
    """``seconds`` if it is a lifespan this server honours (1 s to one year), else BadRequest."""
    if name not in LIFESPAN_FIELDS:
        raise BadRequest(f"{name[:80]} is not a lifespan field (known: {', '.join(LIFESPAN_FIELDS)})")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise BadRequest(f"{name} must be from {MIN_SECONDS}s to {MAX_SECONDS // 3600}h")
    return seconds


def render(seconds: int | None) -> str | None:
    """Go's ``time.Duration.String`` of whole seconds: ``1h0m0s``, ``1m30s``, ``30s``; None stays None."""
    if seconds is None:
        return None
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def from_wire(values: dict[str, Any]) -> dict[str, int]:
    """The lifespans a wire document sets (every name of ``values`` that is a lifespan field), in
    seconds; names whose value is null or "" are left out (the server's setting)."""
    out: dict[str, int] = {}
    for name in LIFESPAN_FIELDS:
        seconds = parse(name, values.get(name))
        if seconds is not None:
            out[name] = seconds
    return out


def to_wire(lifespans: dict[str, int]) -> dict[str, str | None]:
    """All 13 fields, each a duration string or None."""
    return {name: render(lifespans.get(name)) for name in LIFESPAN_FIELDS}


def validate(lifespans: Any) -> dict[str, int]:
    """A whole stored map checked (names and bounds); what the registry keeps."""
    if not isinstance(lifespans, dict):
        raise BadRequest("lifespans must be an object of lifespan fields")
    return {name: check(name, seconds) for name, seconds in lifespans.items()}
