"""Fetching a document a client registered by URL (``jwks_uri``, ``request_uri``,
``sector_identifier_uri``) without letting the URL reach what the server can reach and the client
cannot: https only, no redirects, and only public addresses. The host is resolved once, every
address checked, and the connection made to a checked address (certificate and SNI still for the
name), so a DNS answer that changes between check and connect (rebinding) cannot point it inward.
A size cap and one deadline for the whole exchange bound what a hostile server can cost us.

urllib3 (botocore's HTTP client, already in the layer) does the protocol; this module only chooses
where it may connect. ``FETCH_ALLOW_LOOPBACK`` (tests and ``make run``) also allows loopback hosts,
over http or https; every other private, link-local (the instance metadata address), shared,
multicast or reserved address stays refused."""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from hydra_lambda.config import get_settings

DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_TIMEOUT = 3.0
_CHUNK = 8192


class FetchError(Exception):
    """The document could not be fetched safely; the message says why (never its content)."""


def fetch(url: str, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT,
          accept: str = "application/json") -> bytes:
    """The body of a 200 answer to GET ``url``, at most ``max_bytes``, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    scheme, host, port, target = _parse(url)
    address = _checked_address(host, port, scheme)
    return _get(scheme, host, port, target, address, accept, max_bytes, deadline)


def post_form(url: str, form: dict[str, str], *, timeout: float = DEFAULT_TIMEOUT) -> int:
    """POST ``form`` (urlencoded) to ``url`` under the same rules as :func:`fetch` (https, public
    addresses, no redirects, one deadline); the answer's status, its body read at most up to the cap
    and dropped. FetchError when no answer came; the caller judges the status."""
    from urllib.parse import urlencode

    deadline = time.monotonic() + timeout
    scheme, host, port, target = _parse(url)
    address = _checked_address(host, port, scheme)
    body = urlencode(form).encode("ascii")
    return _exchange("POST", scheme, host, port, target, address, body,
                     {"Accept": "*/*", "Content-Type": "application/x-www-form-urlencoded"}, deadline)


def post_json(url: str, payload: Any, *, timeout: float = DEFAULT_TIMEOUT,
              max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[int, bytes]:
    """POST ``payload`` as JSON to ``url`` under the same rules as :func:`fetch` (https, public
    addresses, no redirects, one deadline): the answer's status and its body (at most ``max_bytes``;
    FetchError beyond, or when no answer came in time)."""
    deadline = time.monotonic() + timeout
    scheme, host, port, target = _parse(url)
    address = _checked_address(host, port, scheme)
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    headers = {"Accept": "application/json", "Content-Type": "application/json; charset=UTF-8"}
    return _exchange_reading("POST", scheme, host, port, target, address, body, headers, max_bytes, deadline)


def fetch_json(url: str, **options: Any) -> Any:
    """``fetch``, parsed as JSON (FetchError if it is not)."""
    body = fetch(url, **options)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise FetchError(f"{_show(url)} did not answer JSON") from None


def _show(url: str) -> str:
    return f"'{url[:80]}'"


def _parse(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError(f"{_show(url)} is not a valid URL") from None
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    allow_loopback = get_settings().fetches_loopback
    if not host or scheme not in ("https", "http") or (scheme == "http" and not allow_loopback):
        raise FetchError(f"{_show(url)} must be an https URL")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), target


def _checked_address(host: str, port: int, scheme: str) -> str:
    """One address of ``host``, after checking that every address it resolves to may be reached."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise FetchError(f"the host '{host[:80]}' could not be resolved") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise FetchError(f"the host '{host[:80]}' could not be resolved")
    for address in addresses:
        if not _allowed(address, scheme):
            raise FetchError(f"the host '{host[:80]}' resolves to an address that may not be fetched from")
    return str(addresses[0])


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, scheme: str) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return get_settings().fetches_loopback
    return scheme == "https" and address.is_global and not address.is_multicast


def _pool(scheme: str, host: str, port: int, address: str, deadline: float) -> Any:
    import urllib3  # lazy: only the routes that fetch a registered URL load it here

    remaining = max(deadline - time.monotonic(), 0.01)
    options: dict[str, Any] = {"timeout": urllib3.Timeout(connect=remaining, read=remaining), "retries": False,
                               "maxsize": 1}
    if scheme == "https":
        options.update(server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED")
        return urllib3.HTTPSConnectionPool(address, port, **options)
    return urllib3.HTTPConnectionPool(address, port, **options)


def _exchange(method: str, scheme: str, host: str, port: int, target: str, address: str, body: bytes,
              headers: dict[str, str], deadline: float) -> int:
    """One request with a body; its status (the body of the answer read to the cap, then dropped)."""
    import urllib3

    pool = _pool(scheme, host, port, address, deadline)
    sent = {"Host": host if port in (80, 443) else f"{host}:{port}", "Accept-Encoding": "identity",
            "User-Agent": "hydra-lambda", **headers}
    try:
        response = pool.urlopen(method, target, body=body, headers=sent, redirect=False, preload_content=False,
                                assert_same_host=False)
        try:
            try:
                _read(response, DEFAULT_MAX_BYTES, deadline)
            except FetchError:
                pass  # the status is the answer; an oversized or slow body changes nothing
            return int(response.status)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError(f"the request could not be made ({type(exc).__name__})") from None
    finally:
        pool.close()


def _exchange_reading(method: str, scheme: str, host: str, port: int, target: str, address: str, body: bytes,
                      headers: dict[str, str], max_bytes: int, deadline: float) -> tuple[int, bytes]:
    """One request with a body; its status and the body of the answer (FetchError past the cap)."""
    import urllib3

    pool = _pool(scheme, host, port, address, deadline)
    sent = {"Host": host if port in (80, 443) else f"{host}:{port}", "Accept-Encoding": "identity",
            "User-Agent": "hydra-lambda", **headers}
    try:
        response = pool.urlopen(method, target, body=body, headers=sent, redirect=False, preload_content=False,
                                assert_same_host=False)
        try:
            return int(response.status), _read(response, max_bytes, deadline)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError(f"the request could not be made ({type(exc).__name__})") from None
    finally:
        pool.close()


def _get(scheme: str, host: str, port: int, target: str, address: str, accept: str, max_bytes: int,
         deadline: float) -> bytes:
    import urllib3  # lazy: only the routes that fetch a registered URL load it here

    pool = _pool(scheme, host, port, address, deadline)
    # identity: a compressed answer could expand past the cap inside one decoded chunk.
    headers = {"Host": host if port in (80, 443) else f"{host}:{port}", "Accept": accept,
               "Accept-Encoding": "identity", "User-Agent": "hydra-lambda"}
    try:
        response = pool.urlopen("GET", target, headers=headers, redirect=False, preload_content=False,
                                assert_same_host=False)
        try:
            if response.status != 200:
                raise FetchError(f"the document answered HTTP {response.status} (redirects are not followed)")
            return _read(response, max_bytes, deadline)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError(f"the document could not be fetched ({type(exc).__name__})") from None
    finally:
        pool.close()


def _read(response: Any, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"the document is larger than {max_bytes} bytes")
    body = bytearray()
    # read1: whatever one receive brings, so a server trickling bytes meets the deadline check.
    while chunk := response.read1(_CHUNK, decode_content=False):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"the document is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchError("the document took too long to arrive")
    return bytes(body)
