"""Parsing what clients send: form bodies, query strings, JSON bodies and credentials.

Every parser here raises a :class:`HydraError` subclass on bad input, never anything else.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from hydra_lambda.credentials import BasicCredentials, Credentials
from hydra_lambda.errors import BadRequest, HydraError, InvalidClient, InvalidRequest
from hydra_lambda.http.trust import on_private_entry

MAX_JSON_DEPTH = 32


FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def require_form(content_type: str | None, raw: str | bytes | None) -> None:
    """RFC 6749 endpoints take their parameters as ``application/x-www-form-urlencoded`` (section
    3.2, 2.3.1): a body of any other media type is refused rather than read as a form."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if raw and media_type != FORM_MEDIA_TYPE:
        raise InvalidRequest(f"The request body must be {FORM_MEDIA_TYPE}, not {media_type[:80] or 'untyped'}.")


def parse_urlencoded(
    raw: str | bytes | None,
    *,
    error: Callable[[str], HydraError] = InvalidRequest,
) -> dict[str, str]:
    """Decode ``application/x-www-form-urlencoded`` data; a repeated parameter is an error
    (RFC 6749 section 3.1: "Request and response parameters MUST NOT be included more than once")."""
    if not raw:
        return {}
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error("The request body is not valid UTF-8.") from exc
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise error("The parameters are not valid UTF-8 form encoding.") from exc
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise error(f"The parameter '{key}' was given more than once.")
        if "\x00" in value or "\x00" in key:
            raise error("Parameters must not contain NUL characters.")
        out[key] = value
    return out


def parse_json_object(raw: str | bytes | None, *, required: bool = True,
                      error: Callable[[str], HydraError] = BadRequest) -> dict[str, Any]:
    """Decode a JSON object body; anything else is a 400 in the admin error shape (or ``error``'s:
    ``/oauth2/register`` answers RFC 7591's ``invalid_client_metadata``)."""
    if raw is None or (isinstance(raw, str | bytes) and not raw.strip()):
        if required:
            raise error("The request body must be a JSON object.")
        return {}
    try:
        value = json.loads(raw, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise error("The request body is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise error("The request body must be a JSON object.")
    _check_tree(value, error)
    return value


def parse_json_array(raw: str | bytes | None) -> list[Any]:
    """Decode a JSON array body (a JSON Patch document, RFC 6902); anything else is a 400."""
    if raw is None or (isinstance(raw, str | bytes) and not raw.strip()):
        raise BadRequest("The request body must be a JSON array.")
    try:
        value = json.loads(raw, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("The request body is not valid JSON.") from exc
    if not isinstance(value, list):
        raise BadRequest("The request body must be a JSON array.")
    _check_tree(value)
    return value


def _not_json(constant: str) -> Any:
    """``NaN`` and ``Infinity``: Python's json reads them, RFC 8259 has no such values."""
    raise ValueError(f"{constant} is not JSON")


def _is_text(item: str) -> bool:
    """False for a string holding a lone surrogate (a ``\\ud800`` escape): no character, so it can be
    neither stored as UTF-8 nor written back out."""
    try:
        item.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_tree(value: Any, error: Callable[[str], HydraError] = BadRequest) -> None:
    """``error`` if the body nests deeper than ``MAX_JSON_DEPTH`` or holds a string that is not text."""
    not_text = error("The request body holds a string that is not Unicode text.")
    stack = [(value, 1)]  # containers only: the depth counts objects and arrays, not their leaves
    while stack:
        item, level = stack.pop()
        if level > MAX_JSON_DEPTH:
            raise error(f"The request body is nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(item, dict) and not all(_is_text(key) for key in item):
            raise not_text
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, level + 1))
            elif isinstance(child, str) and not _is_text(child):
                raise not_text


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """Decode ``Authorization: Basic``; both halves are form-URL-decoded (RFC 6749 section 2.3.1).

    Returns None when the header is absent or uses another scheme.
    """
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidClient("The Basic credentials are not valid base64 of UTF-8 text.") from exc
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise InvalidClient("The Basic credentials must have the form client_id:client_secret.")
    return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def network_of(source_ip: str | None) -> str:
    """The caller's network as the client-secret budget counts it: an IPv4 address, or the /64 of an
    IPv6 one (one subscriber's usual allocation, so rotating addresses inside it gains nothing)."""
    try:
        address = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(getattr(address, "ipv4_mapped", None) or address)


def credentials(authorization: str | None, source_ip: str | None = None) -> Credentials:
    """The typed credentials of an ``Authorization`` header (absent or of another scheme: none), the
    network they came from (API Gateway's ``sourceIp``: the peer address, not a header), and whether
    the call came through the private admin entry (``http/trust.py``: never from the request)."""
    network = network_of(source_ip)
    private = on_private_entry()
    bearer = bearer_token(authorization)
    if bearer is not None:
        return Credentials(bearer=bearer, network=network, private_network=private)
    try:
        basic = basic_credentials(authorization)
    except InvalidClient as exc:
        return Credentials(basic_problem=exc.description, network=network, private_network=private)
    return Credentials(basic=BasicCredentials(*basic) if basic is not None else None, network=network,
                       private_network=private)
