"""URI syntax for client metadata: RFC 3986's grammar (linear time) and loopback hosts."""

from __future__ import annotations

import ipaddress
import re

_LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
# RFC 3986 section 3: URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ] (ASCII only; an IRI
# must be percent-encoded first). Every repetition is anchored by a distinct delimiter: linear time.
_URI = re.compile(
    rf"(?P<scheme>[A-Za-z][A-Za-z0-9+\-.]*):"
    rf"(?://(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"
    rf"(?P<host>\[[^\[\]/?#@]*\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*)(?::[0-9]*)?(?:/{_PCHAR}*)*"
    rf"|/?(?:{_PCHAR}+(?:/{_PCHAR}*)*)?)"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:\#(?:{_PCHAR}|[/?])*)?"
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:")
_IP_FUTURE = re.compile(rf"v[0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+")


def is_uri(value: str) -> bool:
    """Whether ``value`` is a URI by RFC 3986's grammar: no spaces, quotes, ``<>``, ``{}``, ``\\``,
    ``^``, `` ` ``, ``|``, non-ASCII or bare ``%``, brackets only around an IP literal host."""
    found = _URI.fullmatch(value)
    if found is None:
        return False
    host = found.group("host") or ""
    if host.startswith("["):
        literal = host[1:-1]
        if _IP_FUTURE.fullmatch(literal):
            return True
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return False
    return True


def has_scheme(value: str) -> bool:
    """Whether ``value`` starts with a scheme (an absolute URI)."""
    return _SCHEME.match(value) is not None
