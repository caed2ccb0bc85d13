"""The DynamoDB client pynamodb talks through: the JSON protocol over kept-alive HTTP/1.1, SigV4-signed.

Why not botocore's client: per call it spent 0.6-0.9 ms of CPU (parameter and header objects, a
dozen event emissions, the email-module header parser, shape-driven parsing) against ~0.1 ms here,
and creating it cost ~46 ms of every cold start (service model and endpoint rules). DynamoDB's wire
protocol is small: one POST of JSON per operation.

It keeps the contracts the rest of the code and the tests rely on:
- errors are botocore's: ``ClientError`` with the response shape botocore parses (``Error.Code``,
  ``CancellationReasons``...), which pynamodb wraps and ``transient.is_transient`` reads, and
  botocore's network exceptions (``EndpointConnectionError``, ``ReadTimeoutError``...);
- retries as botocore's "standard" mode: up to ``max_attempts`` for throttling, 5xx, timeouts and
  dropped connections, jittered exponential backoff, and botocore's retry quota;
- botocore events on ``meta.events``: ``before-call.dynamodb.<Operation>`` once per call and
  ``before-send.dynamodb.<Operation>`` once per attempt, where a handler may answer instead of
  DynamoDB (returning an ``AWSResponse``) or raise, as with botocore. Emitted only while a handler is
  registered, so they cost nothing otherwise.
Credentials come from the container's botocore session (environment, then the usual chain).
Binary attributes (``B``/``BS``) are not decoded: no table uses them (tests/test_transport.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import (
    ChecksumError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.hooks import HierarchicalEmitter
from botocore.retries.quota import RetryQuota

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
_THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
_TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
_RETRY_COST, _TIMEOUT_RETRY_COST, _THROTTLE_RETRY_COST, _SUCCESS_REFUND = 14, 14, 5, 1
BASE_BACKOFF = 0.025  # seconds; full jitter, doubling per attempt, capped
MAX_BACKOFF = 1.0
_POOL_SIZE = 10


def default_endpoint(region: str, env: dict[str, str] | None = None) -> str:
    """DynamoDB's public endpoint for ``region``, or the one the standard AWS variables name."""
    env = os.environ if env is None else env
    explicit = env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL")
    if explicit:
        return explicit
    service = "dynamodb-fips" if env.get("AWS_USE_FIPS_ENDPOINT", "").lower() == "true" else "dynamodb"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{service}.{region}.{suffix}"


class Events(HierarchicalEmitter):
    """botocore's emitter, knowing which events (``before-call``, ``before-send``) have a handler, so
    the hot path emits only those: the benchmark's call counter listens to ``before-call`` alone."""

    def __init__(self) -> None:
        super().__init__()
        self.listening: frozenset[str] = frozenset()

    @property
    def listeners(self) -> bool:
        return bool(self.listening)

    def _register_section(self, event_name: str, *args: Any, **kwargs: Any) -> None:
        super()._register_section(event_name, *args, **kwargs)
        self.listening = self.listening | {event_name.split(".", 1)[0]}

    def unregister(self, *args: Any, **kwargs: Any) -> Any:
        found = super().unregister(*args, **kwargs)
        children = self._handlers._root["children"]
        self.listening = frozenset(name for name, node in children.items() if _has_handlers(node))
        return found


def _has_handlers(node: dict[str, Any]) -> bool:
    values = node.get("values")
    if values is not None and (values.first or values.middle or values.last):
        return True
    return any(_has_handlers(child) for child in node["children"].values())


class _Operation:
    """What a ``before-call`` handler reads of botocore's OperationModel: the name and the service."""

    service_model = SimpleNamespace(service_name="dynamodb", endpoint_prefix="dynamodb", signing_name="dynamodb")

    def __init__(self, name: str) -> None:
        self.name = name


_operations: dict[str, _Operation] = {}


def _operation(name: str) -> _Operation:
    found = _operations.get(name)
    if found is None:
        found = _operations[name] = _Operation(name)
    return found


_SIGNED = "content-type;host;x-amz-date;x-amz-target"
_SIGNED_WITH_TOKEN = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"


class Signer:
    """AWS Signature Version 4 for DynamoDB's JSON POSTs (the derived key is kept for the day)."""

    def __init__(self, region: str, host: str) -> None:
        self.region = region
        self.host = host
        self._key: tuple[str, str, bytes] = ("", "", b"")

    def _signing_key(self, secret: str, day: str) -> bytes:
        if self._key[0] != day or self._key[1] != secret:
            key = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
            for part in (self.region, "dynamodb", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._key = (day, secret, key)
        return self._key[2]

    def headers(self, target: str, body: bytes, credentials: Any, amz_date: str) -> dict[str, str]:
        """The headers of a signed request; ``amz_date`` is ``YYYYMMDDTHHMMSSZ`` in UTC. The signed
        headers are always these, in this (sorted) order."""
        day = amz_date[:8]
        signed = {"content-type": CONTENT_TYPE, "host": self.host, "x-amz-date": amz_date}
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        signed["x-amz-target"] = target
        names = _SIGNED_WITH_TOKEN if credentials.token else _SIGNED
        canonical_headers = "".join([f"{name}:{value}\n" for name, value in signed.items()])
        payload = hashlib.sha256(body).hexdigest()
        canonical = f"POST\n/\n\n{canonical_headers}\n{names}\n{payload}"
        scope = f"{day}/{self.region}/dynamodb/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._signing_key(credentials.secret_key, day), to_sign.encode(), hashlib.sha256)
        signed["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={names}, Signature={signature.hexdigest()}"
        )
        return signed


class _Stale(Exception):
    """A kept-alive connection the server had closed before we wrote: resend on a fresh one."""


_HEAD_LIMIT = 65536


class HTTPConnection:
    """One kept-alive HTTP/1.1 connection; plain or TLS."""

    def __init__(self, url: str, connect_timeout: float, read_timeout: float) -> None:
        parts = urlsplit(url)
        self.url = url
        self.tls = parts.scheme == "https"
        self.address = (parts.hostname or "", parts.port or (443 if self.tls else 80))
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.sock: socket.socket | None = None
        self.reused = False

    def _connect(self) -> None:
        try:
            sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        except TimeoutError as exc:
            raise ConnectTimeoutError(endpoint_url=self.url, error=exc) from exc
        except OSError as exc:
            raise EndpointConnectionError(endpoint_url=self.url, error=exc) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            try:
                sock = _tls_context().wrap_socket(sock, server_hostname=self.address[0])
            except (OSError, ssl.SSLError) as exc:
                sock.close()
                raise EndpointConnectionError(endpoint_url=self.url, error=exc) from exc
        # Python's timeout, not the kernel's SO_RCVTIMEO: a blocking TLS socket would retry the read
        # after each kernel timeout forever (tests/test_transport.py holds a silent TLS server to 0.2 s).
        sock.settimeout(self.read_timeout)
        self.sock, self.reused = sock, False

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def round_trip(self, head: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send one request; a connection the server dropped while idle is replaced once."""
        if self.sock is not None and self.reused:
            try:
                return self._exchange(head, body, stale_ok=True)
            except _Stale:
                self.close()
        if self.sock is None:
            self._connect()
        return self._exchange(head, body, stale_ok=False)

    def _exchange(self, head: bytes, body: bytes, stale_ok: bool) -> tuple[int, dict[str, str], bytes]:
        assert self.sock is not None
        try:
            self.sock.sendall(head + body)
            status, headers, data, rest = self._read_response()
        except (BrokenPipeError, ConnectionResetError) as exc:
            self.close()
            if stale_ok:
                raise _Stale() from exc
            raise ConnectionClosedError(endpoint_url=self.url) from exc
        except TimeoutError as exc:
            self.close()
            raise ReadTimeoutError(endpoint_url=self.url, error=exc) from exc
        except (OSError, ValueError) as exc:
            self.close()
            raise ConnectionClosedError(endpoint_url=self.url) from exc
        if rest or headers.get("connection", "").lower() == "close":
            self.close()  # bytes beyond the response: this connection is out of step
        else:
            self.reused = True
        return status, headers, data

    def _recv(self) -> bytes:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("connection closed before the whole response")
        return data

    def _read_response(self) -> tuple[int, dict[str, str], bytes, bytes]:
        """Status, headers, body, and whatever followed the body (normally nothing)."""
        buffer = self._recv()
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            if len(buffer) > _HEAD_LIMIT:
                raise ValueError("response head too large")
            buffer += self._recv()
        status, headers = _parse_head(buffer[:end])
        rest = buffer[end + 4:]
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return (status, headers, *self._read_chunked(rest))
        size = int(headers.get("content-length", "0"))
        while len(rest) < size:
            rest += self._recv()
        return status, headers, rest[:size], rest[size:]

    def _read_chunked(self, buffer: bytes) -> tuple[bytes, bytes]:
        chunks: list[bytes] = []
        while True:
            line, buffer = self._line(buffer)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, up to the empty line
                    line, buffer = self._line(buffer)
                    if not line:
                        return b"".join(chunks), buffer
            while len(buffer) < size + 2:
                buffer += self._recv()
            chunks.append(buffer[:size])
            buffer = buffer[size + 2:]

    def _line(self, buffer: bytes) -> tuple[bytes, bytes]:
        while (end := buffer.find(b"\r\n")) < 0:
            if len(buffer) > _HEAD_LIMIT:
                raise ValueError("chunk line too long")
            buffer += self._recv()
        return buffer[:end], buffer[end + 2:]


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or len(lines) > 200:
        raise ValueError(f"not an HTTP response: {lines[0][:40]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


_tls: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _tls
    if _tls is None:
        _tls = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
    return _tls


class DynamoDBClient:
    """What pynamodb's ``Connection`` needs of a botocore client: ``_make_api_call`` and ``meta``."""

    _request_signer = None  # pynamodb checks botocore's signer for lost credentials; none here

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials: Callable[[], Any],
        *,
        connect_timeout: float = 2,
        read_timeout: float = 3,
        max_attempts: int = 3,
    ) -> None:
        self.endpoint_url = endpoint_url
        host = urlsplit(endpoint_url).netloc
        self.signer = Signer(region, host)
        self._credentials = credentials
        self._timeouts = (connect_timeout, read_timeout)
        self.max_attempts = max_attempts
        self._idle: list[HTTPConnection] = []
        self.quota = RetryQuota(lock=threading.Lock())
        self.meta = SimpleNamespace(events=Events(), endpoint_url=endpoint_url, region_name=region)
        self.sleep: Callable[[float], None] = time.sleep
        # On Lambda with X-Ray on (tables.bind sets it): a subsegment per call, as botocore's patch did.
        self.trace: Callable[[str], AbstractContextManager[Any]] | None = None

    # -- the botocore client surface pynamodb and storage.flush use ------------------------------
    def _make_api_call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        events: Events = self.meta.events
        if "before-call" in events.listening:
            answered = events.emit_until_response(
                f"before-call.dynamodb.{operation}", model=_operation(operation), params=params,
                request_signer=None, context={},
            )[1]
            if answered is not None:
                return _parsed_or_raise(operation, *answered)
        body = json.dumps(params, separators=(",", ":"), default=_encode).encode()
        if self.trace is None:
            return self._with_retries(operation, body)
        with self.trace(operation):
            return self._with_retries(operation, body)

    def batch_write_item(self, **params: Any) -> dict[str, Any]:
        return self._make_api_call("BatchWriteItem", params)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    # -- internals --------------------------------------------------------------------------------
    def _with_retries(self, operation: str, body: bytes) -> dict[str, Any]:
        acquired = 0
        for attempt in range(1, self.max_attempts + 1):
            try:
                status, headers, data = self._attempt(operation, body)
                parsed = _parse(status, headers, data)
            except (ConnectionClosedError, EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
                    ChecksumError) as exc:
                cost = _TIMEOUT_RETRY_COST if isinstance(exc, ReadTimeoutError) else _RETRY_COST
                if attempt == self.max_attempts or not self.quota.acquire(cost):
                    raise
                acquired = cost
                self.sleep(_backoff(attempt))
                continue
            if status < 300:
                self.quota.release(acquired or _SUCCESS_REFUND)
                return parsed
            code = parsed["Error"]["Code"]
            retryable = status in _TRANSIENT_STATUS or code in _THROTTLE_CODES or code in _TRANSIENT_CODES
            cost = _THROTTLE_RETRY_COST if code in _THROTTLE_CODES else _RETRY_COST
            if not retryable or attempt == self.max_attempts or not self.quota.acquire(cost):
                raise ClientError(parsed, operation)  # type: ignore[arg-type]
            acquired = cost
            self.sleep(_backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, operation: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        credentials = self._credentials()
        if credentials is None:
            raise NoCredentialsError()
        target = TARGET_PREFIX + operation
        amz_date = _amz_date()
        headers = self.signer.headers(target, body, credentials, amz_date)
        if "before-send" in self.meta.events.listening:
            answered = self._before_send(operation, headers, body)
            if answered is not None:
                return answered
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST / HTTP/1.1\r\n{head}accept-encoding: identity\r\ncontent-length: {len(body)}\r\n\r\n"
        connection = self._connection()
        status, response_headers, data = connection.round_trip(request.encode("latin-1"), body)
        if connection.sock is not None and len(self._idle) < _POOL_SIZE:
            self._idle.append(connection)
        return status, response_headers, data

    def _connection(self) -> HTTPConnection:
        try:
            return self._idle.pop()  # atomic under the GIL: each thread gets its own connection
        except IndexError:
            return HTTPConnection(self.endpoint_url, *self._timeouts)

    def _before_send(self, operation: str, headers: dict[str, str], body: bytes) -> Any:
        from botocore.awsrequest import AWSPreparedRequest

        request = AWSPreparedRequest("POST", self.endpoint_url + "/", headers, body, stream_output=False)
        response = self.meta.events.emit_until_response(f"before-send.dynamodb.{operation}", request=request)[1]
        if response is None:
            return None
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content


_date: tuple[int, str] = (0, "")


def _amz_date() -> str:
    """``YYYYMMDDTHHMMSSZ`` now, formatted once per second."""
    global _date
    second = int(time.time())
    if _date[0] != second:
        _date = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
    return _date[1]


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        import base64

        return base64.b64encode(value).decode()
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} to DynamoDB")


def _backoff(attempt: int) -> float:
    return random.random() * min(BASE_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF)


def _parse(status: int, headers: dict[str, str], data: bytes) -> dict[str, Any]:
    expected = headers.get("x-amz-crc32")
    if expected is not None and status < 300 and zlib.crc32(data) != int(expected):
        raise ChecksumError(checksum_type="crc32", expected_checksum=expected, actual_checksum=str(zlib.crc32(data)))
    try:
        parsed = json.loads(data) if data else {}
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    metadata = {"HTTPStatusCode": status, "HTTPHeaders": headers, "RequestId": headers.get("x-amzn-requestid", "")}
    if status < 300:
        parsed["ResponseMetadata"] = metadata
        return parsed
    code = str(parsed.pop("__type", "") or headers.get("x-amzn-errortype", "") or status)
    code = code.rsplit("#", 1)[-1].split(":", 1)[0]
    message = str(parsed.pop("message", parsed.pop("Message", "")) or "")
    return {"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata, **parsed}


def _parsed_or_raise(operation: str, http: Any, parsed: dict[str, Any]) -> dict[str, Any]:
    """A ``before-call`` handler's answer, taken as botocore takes it."""
    if getattr(http, "status_code", 200) >= 300:
        raise ClientError(parsed, operation)  # type: ignore[arg-type]
    return parsed
