"""Build API Gateway HTTP API (payload format 2.0) events exactly as API Gateway would send them."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


def _is_text(content_type: str, body: bytes) -> bool:
    if not body:
        return True
    if any(content_type.lower().startswith(t) for t in _TEXT_TYPES) or not content_type:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    return False


def gateway_path(raw_path: str) -> str:
    """The request path as API Gateway HTTP APIs hand it on: percent-decoded once (UTF-8), in both
    ``rawPath`` and ``pathParameters``, and routed after decoding (so ``%2F`` is a ``/``)."""
    return unquote(raw_path, encoding="utf-8", errors="replace")


def build_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | str | None = None,
    route_key: str = "$default",
    path_parameters: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    domain: str = "127.0.0.1",
) -> dict[str, Any]:
    """One HTTP request as the event API Gateway hands to Lambda.

    Header names are lower-cased and repeated headers joined with commas; the Cookie header moves to
    ``cookies``; repeated query parameters are comma-joined in ``queryStringParameters`` (the raw
    string stays in ``rawQueryString``); a body that is not UTF-8 text arrives base64-encoded.
    """
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    raw_body = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    text = _is_text(merged.get("content-type", ""), raw_body)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": merged,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route_key,
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(raw_body) and not text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = path_parameters
    if raw_body:
        event["body"] = raw_body.decode("utf-8") if text else base64.b64encode(raw_body).decode("ascii")
    return event


class FakeContext:
    """The parts of the Lambda context object that handlers and powertools read."""

    def __init__(self, function_name: str = "local", timeout_ms: int = 30_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def build_rest_event(
    method: str,
    raw_path: str,
    *,
    resource: str,
    query: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | str | None = None,
    path_parameters: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    domain: str = "127.0.0.1",
) -> dict[str, Any]:
    """One HTTP request as the event an API Gateway REST API (payload format 1.0, Lambda proxy) hands
    to Lambda: what the private admin API sends its functions.

    ``path`` keeps the request's percent-encoding (REST APIs do not decode it); header and query
    values come single (the last one) and in ``multiValue*`` lists; the body is base64 unless it is
    UTF-8 text.
    """
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        multi_query.setdefault(key, []).append(value)
    raw_body = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    content_type = next((v[-1] for k, v in multi_headers.items() if k.lower() == "content-type"), "")
    text = _is_text(content_type, raw_body)
    now = time.time()
    encoded = (raw_body.decode("utf-8") if text else base64.b64encode(raw_body).decode("ascii")) if raw_body else None
    return {
        "resource": resource,
        "path": raw_path,
        "httpMethod": method.upper(),
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "private",
            "domainName": domain,
            "httpMethod": method.upper(),
            "identity": {"sourceIp": source_ip, "userAgent": (multi_headers.get("User-Agent") or [""])[-1]},
            "path": f"/admin{raw_path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now * 1000),
            "resourcePath": resource,
            "stage": "admin",
        },
        "body": encoded,
        "isBase64Encoded": bool(raw_body) and not text,
    }
