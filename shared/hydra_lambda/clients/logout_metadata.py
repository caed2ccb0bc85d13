"""The logout metadata of a client: the front-channel and back-channel logout URIs and their
``*_session_required`` flags (OpenID Connect Front-Channel Logout 1.0 section 2, Back-Channel Logout
1.0 section 2.2), validated the same way on the classic ``/clients`` API and on ``/oauth2/register``.
``post_logout_redirect_uris`` (RP-Initiated Logout 1.0 section 3.1) follow the redirect URI rules
(``clients.registry``). A BadRequest names the field.

- ``frontchannel_logout_uri`` is loaded by the user's browser in an iframe: an absolute https URL
  (http on a loopback host, as redirect URIs), a query allowed (section 2), no fragment, no userinfo.
- ``backchannel_logout_uri`` is POSTed to by this server, as a ``jwks_uri`` is fetched: https and a
  public host. A loopback host (http or https) only with FETCH_ALLOW_LOOPBACK (tests, ``make run``);
  an IP literal that is private, link-local, shared, multicast or reserved never. A host name is only
  checked by name here; delivery resolves it and checks every address (``fetch.py``'s rules)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import SplitResult, urlsplit

from hydra_lambda.clients.model import LOGOUT_FLAG_FIELDS, Client
from hydra_lambda.clients.uris import has_scheme, is_loopback, is_uri
from hydra_lambda.config import get_settings
from hydra_lambda.errors import BadRequest

MAX_URI_LENGTH = 2000  # as every other URI of a client (clients.registry.MAX_TEXT_LENGTH)
FRONT = "frontchannel_logout_uri"
BACK = "backchannel_logout_uri"
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def apply(client: Client, fields: dict[str, Any]) -> None:
    """Copy the front- and back-channel logout metadata in ``fields`` (None clears) onto ``client``."""
    if FRONT in fields:
        client.frontchannel_logout_uri = frontchannel_uri(fields[FRONT] or "")
    if BACK in fields:
        client.backchannel_logout_uri = backchannel_uri(fields[BACK] or "")
    for name in LOGOUT_FLAG_FIELDS:
        if name in fields:
            value = fields[name]
            if value is not None and not isinstance(value, bool):
                raise BadRequest(f"{name} must be true or false")
            setattr(client, name, bool(value))


def frontchannel_uri(value: str) -> str:
    """An absolute https URL (http on a loopback host) without fragment or userinfo; "" stays ""."""
    if not value:
        return ""
    parts = _parsed(FRONT, value)
    host = parts.hostname or ""
    if parts.scheme.lower() != "https" and not (parts.scheme.lower() == "http" and is_loopback(host)):
        raise BadRequest(f"{FRONT} must be an https URL (http is allowed for loopback hosts only)")
    return value


def backchannel_uri(value: str) -> str:
    """An https URL of a public host (loopback, over http or https, only with FETCH_ALLOW_LOOPBACK),
    without fragment or userinfo; "" stays ""."""
    if not value:
        return ""
    parts = _parsed(BACK, value)
    host = (parts.hostname or "").rstrip(".")
    scheme = parts.scheme.lower()
    if _names_loopback(host):
        if not get_settings().fetches_loopback:
            raise BadRequest(f"{BACK} must name a public host: this server POSTs logout tokens to it, and a "
                             "loopback host would be the server itself")
        if scheme not in ("https", "http"):
            raise BadRequest(f"{BACK} must be an https URL")
        return value
    if scheme != "https":
        raise BadRequest(f"{BACK} must be an https URL")
    address = _literal_address(host)
    if address is not None and not (address.is_global and not address.is_multicast):
        raise BadRequest(f"{BACK} must name a public host: '{host[:80]}' is a private or reserved address")
    return value


def _parsed(name: str, value: str) -> SplitResult:
    """The parts of an absolute http(s) URI by RFC 3986 with a host, a valid port, no fragment and no
    userinfo; BadRequest naming ``name`` otherwise."""
    if len(value) > MAX_URI_LENGTH:
        raise BadRequest(f"{name} must be at most {MAX_URI_LENGTH} characters")
    if not has_scheme(value) or not is_uri(value):
        raise BadRequest(f"{name}: '{value[:80]}' is not an absolute URI (RFC 3986)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a port out of range)
    except ValueError:
        raise BadRequest(f"{name}: '{value[:80]}' is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"{name} must be an absolute https URL with a host")
    if "#" in value:
        raise BadRequest(f"{name} must not contain a fragment")
    if "@" in parts.netloc:
        raise BadRequest(f"{name} must not contain user information (user:password@)")
    return parts


def _names_loopback(host: str) -> bool:
    """``localhost``, a name under ``.localhost`` (RFC 6761), or a loopback address in any notation."""
    if is_loopback(host) or host.lower().endswith(".localhost"):
        return True
    address = _literal_address(host)
    return address is not None and address.is_loopback


def _literal_address(host: str) -> _Address | None:
    """The address a host written as an IP literal stands for, including the legacy IPv4 forms a
    resolver accepts (``127.1``, ``2130706433``, ``0x7f.0.0.1``) and IPv4-mapped IPv6; else None."""
    try:
        address: _Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
