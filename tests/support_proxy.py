"""A small HTTP/1.1 proxy in front of DynamoDB Local that can lose responses.

Every request is forwarded as is. When a drop rule matches (by the ``X-Amz-Target`` operation, after
letting ``skip`` matching requests through), the request still reaches DynamoDB Local, so the write
COMMITS, but its response is thrown away and the client's connection closed: the client sees a
dropped connection and botocore retries, exactly as when a response is lost on the network.

The test session runs every DynamoDB call through one proxy (``tests/conftest.py``), passing
everything through until a test arms a rule with ``lose_responses``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_HEAD_LIMIT = 65536


@dataclass
class Rule:
    """Lose the responses of ``operations`` (all operations if empty): let ``skip`` matching requests
    through first, then lose at most ``times`` of them."""

    operations: frozenset[str]
    skip: int = 0
    times: int = 1
    matched: int = 0
    lost: list[str] = field(default_factory=list)

    def drops(self, operation: str) -> bool:
        if self.operations and operation not in self.operations:
            return False
        self.matched += 1
        if self.matched <= self.skip or len(self.lost) >= self.times:
            return False
        self.lost.append(operation)
        return True


class LossyProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.rules: list[Rule] = []
        self.seen: list[str] = []  # the operation of every request forwarded
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="lossy-proxy").start()

    def stop(self) -> None:
        self._closed = True
        self.listener.close()

    @contextmanager
    def lose_responses(self, operations: str | set[str] = "", *, skip: int = 0, times: int = 1) -> Iterator[Rule]:
        ops = frozenset({operations} if isinstance(operations, str) and operations else operations or ())
        rule = Rule(ops, skip=skip, times=times)
        with self._lock:
            self.rules.append(rule)
        try:
            yield rule
        finally:
            with self._lock:
                self.rules.remove(rule)

    def _drop(self, operation: str) -> bool:
        with self._lock:
            self.seen.append(operation)
            return any([rule.drops(operation) for rule in self.rules])

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        buffered = b""
        try:
            while True:
                request, buffered = _read_message(client, buffered, request=True)
                if request is None:
                    return
                head, body = request
                if upstream is None:
                    upstream = socket.create_connection(self.upstream)
                upstream.sendall(head + body)
                response, rest = _read_message(upstream, b"", request=False)
                if response is None or rest:
                    return
                if self._drop(_target(head)):
                    return  # committed upstream; the client never hears of it
                client.sendall(response[0] + response[1])
        except OSError:
            return
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


def _target(head: bytes) -> str:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-amz-target":
            return value.strip().rsplit(".", 1)[-1]
    return ""


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise ConnectionResetError("closed")
    return data


def _read_message(sock: socket.socket, buffer: bytes, *, request: bool) -> tuple[tuple[bytes, bytes] | None, bytes]:
    """One HTTP message (head with its blank line, body) and the bytes after it; None at a clean end."""
    try:
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            if len(buffer) > _HEAD_LIMIT:
                raise ValueError("head too large")
            buffer += _recv(sock)
    except ConnectionResetError:
        if request and not buffer:
            return None, b""
        raise
    head, buffer = buffer[: end + 4], buffer[end + 4 :]
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while (line_end := buffer.find(b"\r\n")) < 0:
                buffer += _recv(sock)
            size = int(buffer[:line_end].split(b";")[0] or b"0", 16)
            while len(buffer) < line_end + 2 + size + 2:
                buffer += _recv(sock)
            body += buffer[: line_end + 2 + size + 2]
            buffer = buffer[line_end + 2 + size + 2 :]
            if size == 0:
                return (head, body), buffer
    size = int(headers.get("content-length", "0"))
    while len(buffer) < size:
        buffer += _recv(sock)
    return (head, buffer[:size]), buffer[size:]
