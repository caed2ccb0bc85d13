"""A counting HTTP proxy in front of an AWS JSON-protocol endpoint (DynamoDB Local, moto's KMS and
Secrets Manager): what a handler asks AWS for, measured on the wire, whatever SDK or client makes the
calls (botocore, pynamodb, the AWS SDK for JavaScript), with no hook inside the process measured.

- Every request is counted by its ``X-Amz-Target`` header (``DynamoDB_20120810.PutItem``,
  ``TrentService.Sign``, ``secretsmanager.GetSecretValue``): one count per HTTP request, so a retry
  counts again, as AWS bills it.
- DynamoDB capacity: a DynamoDB request that can return ``ConsumedCapacity`` and does not ask for it
  gets ``"ReturnConsumedCapacity": "INDEXES"`` added (DynamoDB Local does not check the SigV4
  signature, so the changed body is accepted; ``python -m bench.awsproxy --check`` shows it), and
  the proxy adds up the units DynamoDB Local reports (table and indexes), then takes
  ``ConsumedCapacity`` out of the answer again and recomputes its ``x-amz-crc32``, so the client
  parses the answer it would have had. A request that asked for capacity itself gets it untouched.
- ``GET /_bench/counts`` answers the totals so far as JSON (AWS's JSON protocol only POSTs to ``/``).

It runs as threads of the benchmark driver, which ``bench.cpus`` keeps off the measured CPU.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
import zlib
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

CAPACITY_OPS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                          "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})
READ_OPS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
COUNTS_PATH = "/_bench/counts"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host",
                        "proxy-connection", "te", "trailer", "upgrade"})
SERVICES = {"DynamoDB_20120810": "dynamodb", "TrentService": "kms", "secretsmanager": "secretsmanager"}


class Tally:
    """Calls per ``service:Operation``, and DynamoDB capacity units per operation and per table/index."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, int] = defaultdict(int)
        self.read_units: dict[str, float] = defaultdict(float)  # per operation
        self.write_units: dict[str, float] = defaultdict(float)
        self.units_by_place: dict[str, float] = defaultdict(float)  # "table" or "table/index"

    def add(self, key: str, op: str, consumed: Any) -> None:
        with self.lock:
            self.calls[key] += 1
            for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
                self._add_capacity(op, entry)

    def _add_capacity(self, op: str, entry: dict[str, Any]) -> None:
        total = float(entry.get("CapacityUnits", 0.0))
        reads, writes = entry.get("ReadCapacityUnits"), entry.get("WriteCapacityUnits")
        if reads is None and writes is None:  # only the total: its kind is the operation's
            reads, writes = (total, 0.0) if op in READ_OPS else (0.0, total)
        self.read_units[op] += float(reads or 0.0)
        self.write_units[op] += float(writes or 0.0)
        table = str(entry.get("TableName", "?"))
        places = {table: (entry.get("Table") or {}).get("CapacityUnits", total if not _indexes(entry) else None)}
        for name, units in _indexes(entry).items():
            places[f"{table}/{name}"] = units.get("CapacityUnits", 0.0)
        for place, units in places.items():
            if units is not None:
                self.units_by_place[place] += float(units)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"calls": dict(self.calls), "read_units": dict(self.read_units),
                    "write_units": dict(self.write_units), "units_by_place": dict(self.units_by_place)}


def _indexes(entry: dict[str, Any]) -> dict[str, Any]:
    return {**(entry.get("GlobalSecondaryIndexes") or {}), **(entry.get("LocalSecondaryIndexes") or {})}


def _service_and_op(target: str) -> tuple[str, str]:
    prefix, _, op = target.partition(".")
    return SERVICES.get(prefix, prefix or "unknown"), op or "unknown"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if self.path != COUNTS_PATH:
            self._forward(b"")
            return
        self._answer(200, [("Content-Type", "application/json")], json.dumps(self.server.tally.snapshot()).encode())

    def do_POST(self) -> None:
        self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _forward(self, body: bytes) -> None:
        service, op = _service_and_op(self.headers.get("X-Amz-Target", ""))
        injected = False
        if service == "dynamodb" and op in CAPACITY_OPS and body:
            request = json.loads(body)
            if "ReturnConsumedCapacity" not in request:
                request["ReturnConsumedCapacity"] = "INDEXES"
                body, injected = json.dumps(request, separators=(",", ":")).encode(), True
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        status, reason, answer_headers, answer = self.server.upstream(self.command, self.path, body, headers)
        consumed = None
        if service == "dynamodb" and status == 200 and answer:
            parsed = json.loads(answer)
            consumed = parsed.get("ConsumedCapacity")
            if injected and "ConsumedCapacity" in parsed:
                del parsed["ConsumedCapacity"]
                answer = json.dumps(parsed, separators=(",", ":")).encode()
                answer_headers = [(k, str(zlib.crc32(answer)) if k.lower() == "x-amz-crc32" else v)
                                  for k, v in answer_headers]
        self.server.tally.add(f"{service}:{op}", op, consumed)
        self._answer(status, answer_headers, answer, reason)

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes, reason: str | None = None) -> None:
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.tally = Tally()
        self.local = threading.local()

    def upstream(self, method: str, path: str, body: bytes,
                 headers: dict[str, str]) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """One request upstream on this thread's kept-alive connection (reopened once if it was closed)."""
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
                conn.connect()
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.local.conn = conn
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.reason, response.getheaders(), response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


class CountingProxy:
    """``CountingProxy(upstream).url`` forwards to ``upstream`` and counts; ``stop()`` when done."""

    def __init__(self, upstream: str) -> None:
        self._server = _Server(upstream)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"awsproxy {upstream}", daemon=True)
        self._thread.start()

    def snapshot(self) -> dict[str, Any]:
        return self._server.tally.snapshot()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def fetch_counts(url: str) -> dict[str, Any]:
    """A proxy's totals, from another process."""
    import urllib.request

    with urllib.request.urlopen(url.rstrip("/") + COUNTS_PATH, timeout=10) as response:
        return dict(json.loads(response.read()))


def check(endpoint: str = "") -> dict[str, Any]:
    """What the method relies on, asked of DynamoDB Local through botocore: the proxy's changed body
    passes (no signature check), ``ConsumedCapacity`` counts the indexes a row lands in, a client that
    did not ask for capacity sees none, and the answer's checksum still holds."""
    import botocore.session
    from hydra_lambda_local.harness import DynamoDBLocal

    engine = None if endpoint else DynamoDBLocal()
    proxy = CountingProxy(endpoint or engine.endpoint)  # type: ignore[union-attr]
    try:
        client = botocore.session.get_session().create_client(
            "dynamodb", endpoint_url=proxy.url, region_name="us-east-1", aws_access_key_id="bench",
            aws_secret_access_key="bench")
        table = f"bench-proxy-check-{time.time_ns()}"  # a fresh table, on a reused endpoint too
        client.create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "g")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}])
        plain = client.put_item(TableName=table, Item={"pk": {"S": "a"}})  # not in the sparse index
        indexed = client.put_item(TableName=table, Item={"pk": {"S": "b"}, "g": {"S": "x"}})
        strong = client.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)
        weak = client.get_item(TableName=table, Key={"pk": {"S": "a"}})
        asked = client.get_item(TableName=table, Key={"pk": {"S": "a"}}, ReturnConsumedCapacity="TOTAL")
        client.delete_table(TableName=table)
        return {"client_sees_capacity": any("ConsumedCapacity" in r for r in (plain, indexed, strong, weak)),
                "asked_for_it": asked.get("ConsumedCapacity"), "tally": proxy.snapshot()}
    finally:
        proxy.stop()
        if engine is not None:
            engine.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        print(json.dumps(check(*sys.argv[2:3]), indent=1))
