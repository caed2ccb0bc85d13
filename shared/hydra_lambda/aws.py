"""botocore clients (KMS, Secrets Manager, Lambda for the token hook), created once per container and
reused across invocations.

Made with botocore alone: boto3 adds nothing to a plain client but its import (~25 ms of a cold
start) and resource factories we never use."""

from __future__ import annotations

import threading
from typing import Any

import botocore.handlers
import botocore.session
from botocore.config import Config

from hydra_lambda.cache import TimedCache, forever
from hydra_lambda.config import get_settings

# service, endpoint, region -> its botocore client (thread-safe, reused by every invocation).
_clients: TimedCache[tuple[str, str, str], Any] = TimedCache(
    "aws clients", forever, max_entries=64, keep_on_restore=True
)
_lock = threading.RLock()
_botocore: Any = None  # the one botocore session of this container


# Handlers botocore registers on every client that only add telemetry headers: ``amz-sdk-invocation-id``
# and ``amz-sdk-request`` (the attempt count, for AWS's own statistics) and, inside Lambda, the trace
# id as ``X-Amzn-Trace-Id`` (recursion detection, which concerns Lambda, SQS and SNS, never DynamoDB,
# KMS or Secrets Manager; X-Ray's own patching still adds its header when tracing is on). Neither
# changes what a request does; unregistering them saves 3-4% of a warm call's CPU. Never
# ``generate_idempotent_uuid``: it fills TransactWriteItems' ClientRequestToken, which makes a resent
# transaction harmless.
TELEMETRY_HANDLERS = (
    ("request-created", botocore.handlers.add_retry_headers),
    ("before-call", botocore.handlers.add_recursion_detection_header),
)


def drop_telemetry_headers(client: Any) -> Any:
    """``client`` without botocore's telemetry-only handlers (public ``meta.events.unregister``)."""
    for event, handler in TELEMETRY_HANDLERS:
        client.meta.events.unregister(event, handler)
    return client


def botocore_session() -> Any:
    """The botocore session every AWS client of this container is made from (these, and DynamoDB's
    through storage.tables), so endpoint data and credentials load once per container."""
    global _botocore
    if _botocore is None:
        with _lock:
            if _botocore is None:
                _botocore = botocore.session.get_session()
    return _botocore


def client(service: str, *, timeout: float | None = None) -> Any:
    """The client of ``service``; with a ``timeout`` (seconds), one that waits at most that long to
    connect and to read, and never retries (a call bounded by one deadline, e.g. the token hook)."""
    settings = get_settings()
    endpoint = {
        "kms": settings.kms_endpoint,
        "dynamodb": settings.dynamodb_endpoint,
        "secretsmanager": settings.secretsmanager_endpoint,
    }.get(service, "")
    key = (service if timeout is None else f"{service}@{timeout}", endpoint, settings.aws_region)
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                if timeout is None:
                    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
                else:
                    config = Config(connect_timeout=timeout, read_timeout=timeout,
                                    retries={"total_max_attempts": 1, "mode": "standard"})
                found = drop_telemetry_headers(botocore_session().create_client(
                    service, endpoint_url=endpoint or None, region_name=settings.aws_region, config=config
                ))
                _clients.put(key, found)
    return found


# What each operation answers while ``prime`` runs (checked by botocore's Stubber against the model).
_PRIMING_CALLS: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {
    "kms": [
        ("sign", {"KeyId": "alias/snapstart-prime", "Message": b"m", "MessageType": "RAW",
                  "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256"},
         {"KeyId": "alias/snapstart-prime", "Signature": b"s", "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256"}),
        ("get_public_key", {"KeyId": "alias/snapstart-prime"}, {"KeyId": "alias/snapstart-prime", "PublicKey": b"k"}),
        ("decrypt", {"CiphertextBlob": b"c"}, {"KeyId": "alias/snapstart-prime", "Plaintext": b"p"}),
    ],
    "secretsmanager": [
        ("get_secret_value", {"SecretId": "snapstart-prime"}, {"Name": "snapstart-prime", "SecretString": "-"}),
    ],
}


def prime() -> None:
    """Before a SnapStart snapshot: make the KMS and Secrets Manager clients and run the operations the
    layer calls once each, answered by botocore's public ``Stubber`` (nothing is sent; the answers are
    placeholders that never leave this function)."""
    from botocore.stub import Stubber

    for service, calls in _PRIMING_CALLS.items():
        made = client(service)
        with Stubber(made) as stub:
            for operation, params, answer in calls:
                stub.add_response(operation, answer, params)
                getattr(made, operation)(**params)
            stub.assert_no_pending_responses()


def prime_http() -> None:
    """Before a SnapStart snapshot: one request of each client's protocol (DynamoDB's and KMS's JSON)
    over the HTTP stack the real requests use (botocore's signing, urllib3, http.client and the email
    header parser, response parsing), so their first-use work (lazy imports, caches) is in the
    snapshot. The requests go to a one-shot HTTP server on a loopback socket of this very process,
    from throwaway clients of the shared session that are closed afterwards: nothing leaves the
    process, and no connection is left open."""
    import socket
    import threading
    import zlib

    listener = socket.create_server(("127.0.0.1", 0))
    body = b"{}"
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: prime\r\n"
              b"x-amz-crc32: %d\r\nContent-Length: %d\r\n\r\n%s" % (zlib.crc32(body), len(body), body))

    done = threading.Event()
    listener.settimeout(0.05)

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(rest) < length:
                    rest += conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings = get_settings()
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1, "mode": "standard"})
    try:
        for service, call in (("dynamodb", lambda c: c.get_item(TableName="prime", Key={"id": {"S": "p"}})),
                              ("kms", lambda c: c.get_public_key(KeyId="alias/prime"))):
            made = drop_telemetry_headers(botocore_session().create_client(
                service, endpoint_url=endpoint, region_name=settings.aws_region, config=config))
            try:
                call(made)
            finally:
                made.close()
    finally:
        done.set()
        thread.join(2)
        listener.close()
