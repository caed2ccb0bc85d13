"""The thin DynamoDB client (storage.transport): signatures equal botocore's, errors and retries
behave as botocore's standard mode, botocore's events still fire, and HTTP edge cases (dropped
kept-alive connections, chunked bodies, bad checksums, timeouts) are handled. Wire behaviour is
checked against a scripted HTTP server; data behaviour against DynamoDB Local."""

from __future__ import annotations

import json
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from hydra_lambda.storage import tables, transport
from hydra_lambda.storage.transport import DynamoDBClient, Signer, default_endpoint

CREDS = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)


def _ok(body: dict[str, Any], crc: bool = True, extra: str = "") -> bytes:
    data = json.dumps(body).encode()
    checksum = f"x-amz-crc32: {zlib.crc32(data)}\r\n" if crc else ""
    return (f"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n{checksum}{extra}"
            f"content-length: {len(data)}\r\n\r\n").encode() + data


def _error(status: int, code: str, message: str = "nope", **extra: Any) -> bytes:
    data = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra}).encode()
    return (f"HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\n"
            f"content-length: {len(data)}\r\n\r\n").encode() + data


class Scripted:
    """An HTTP server answering each request with the next scripted reply: bytes to send, "drop" (close
    without answering), or "hang" (never answer). Records requests (head, body) and connections."""

    def __init__(self, replies: list[bytes | str], tls: Any = None) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[str, bytes]] = []
        self.connections = 0
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        port = self.listener.getsockname()[1]
        self.url = f"https://localhost:{port}" if tls else f"http://127.0.0.1:{port}"
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except OSError:  # a client that refused our certificate
                    conn.close()
                    continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = int(next(v for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
                                  if k.lower() == b"content-length"))
                self.requests.append((head.decode(), reader.read(length)))
                reply = self.replies.pop(0) if self.replies else _ok({})
                if reply == "drop":
                    return
                if reply == "hang":
                    self._stop.wait(5)
                    return
                conn.sendall(reply if isinstance(reply, bytes) else reply.encode())
        finally:
            reader.close()
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


@pytest.fixture
def server() -> Iterator[Callable[[list[bytes | str]], Scripted]]:
    made: list[Scripted] = []

    def start(replies: list[bytes | str]) -> Scripted:
        made.append(Scripted(replies))
        return made[-1]

    yield start
    for one in made:
        one.close()


def _client(url: str, **options: Any) -> DynamoDBClient:
    client = DynamoDBClient(url, "us-east-1", lambda: CREDS, **options)
    client.sleep = lambda _s: None
    return client


# -- signing ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "session-token-value"])
def test_signature_equals_botocores(token: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    from botocore import auth

    creds = ReadOnlyCredentials(CREDS.access_key, CREDS.secret_key, token)
    moment = datetime.datetime(2026, 11, 27, 7, 8, 9)
    monkeypatch.setattr(auth, "get_current_datetime", lambda: moment)
    body = b'{"TableName":"t","Key":{"id":{"S":"x"}}}'
    ours = Signer("eu-west-1", "dynamodb.eu-west-1.amazonaws.com").headers(
        "DynamoDB_20120810.GetItem", body, creds, moment.strftime("%Y%m%dT%H%M%SZ"))
    request = AWSRequest("POST", "https://dynamodb.eu-west-1.amazonaws.com/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem"})
    auth.SigV4Auth(creds, "dynamodb", "eu-west-1").add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")


def test_the_signature_covers_the_body(server: Callable[[list[bytes | str]], Scripted]) -> None:
    fake = server([_ok({}), _ok({})])
    client = _client(fake.url)
    client._make_api_call("GetItem", {"TableName": "a"})
    client._make_api_call("GetItem", {"TableName": "b"})
    first, second = (head.split("Signature=")[1].split("\r\n")[0] for head, _ in fake.requests)
    assert first != second


# -- wire behaviour ---------------------------------------------------------------------------------

def _self_signed(tmp_path: Any) -> tuple[Any, str]:
    """A TLS server context for localhost and the path of its certificate (the client's CA bundle)."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, str(cert_path)


def test_https_verifies_the_server_certificate(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    context, ca_bundle = _self_signed(tmp_path)
    fake = Scripted([_ok({"n": 1}), _ok({"n": 2})], tls=context)
    try:
        monkeypatch.setattr(transport, "_tls", None)
        with pytest.raises(EndpointConnectionError):  # the system CAs do not know this certificate
            _client(fake.url, max_attempts=1)._make_api_call("GetItem", {})
        monkeypatch.setattr(transport, "_tls", None)
        monkeypatch.setenv("AWS_CA_BUNDLE", ca_bundle)
        client = _client(fake.url)
        assert [client._make_api_call("GetItem", {})["n"] for _ in range(2)] == [1, 2]
        head, _ = fake.requests[0]
        assert f"host: localhost:{fake.url.rsplit(':', 1)[1]}" in head
    finally:
        fake.close()
        monkeypatch.setattr(transport, "_tls", None)

def test_a_silent_server_over_tls_times_out(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    context, ca_bundle = _self_signed(tmp_path)
    fake = Scripted(["hang"], tls=context)
    try:
        monkeypatch.setattr(transport, "_tls", None)
        monkeypatch.setenv("AWS_CA_BUNDLE", ca_bundle)
        with pytest.raises(ReadTimeoutError):
            _client(fake.url, read_timeout=0.2, max_attempts=1)._make_api_call("GetItem", {})
    finally:
        fake.close()
        monkeypatch.setattr(transport, "_tls", None)


def test_one_kept_alive_connection_serves_many_calls(server: Callable[[list[bytes | str]], Scripted]) -> None:
    fake = server([])
    client = _client(fake.url)
    for _ in range(5):
        assert client._make_api_call("GetItem", {"TableName": "t"})["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert fake.connections == 1
    head, body = fake.requests[0]
    assert "x-amz-target: DynamoDB_20120810.GetItem" in head and json.loads(body) == {"TableName": "t"}


def test_a_connection_the_server_dropped_while_idle_is_replaced(
    server: Callable[[list[bytes | str]], Scripted],
) -> None:
    fake = server([_ok({"n": 1}), "drop", _ok({"n": 2})])
    client = _client(fake.url, max_attempts=1)  # no retry: the resend is not an attempt
    assert client._make_api_call("GetItem", {})["n"] == 1
    assert client._make_api_call("GetItem", {})["n"] == 2
    assert fake.connections == 2


def test_connection_close_is_honoured(server: Callable[[list[bytes | str]], Scripted]) -> None:
    fake = server([_ok({"n": 1}, extra="connection: close\r\n"), _ok({"n": 2})])
    client = _client(fake.url, max_attempts=1)
    assert [client._make_api_call("GetItem", {})["n"] for _ in range(2)] == [1, 2]
    assert fake.connections == 2


def test_a_chunked_body_is_read(server: Callable[[list[bytes | str]], Scripted]) -> None:
    data = json.dumps({"Item": {"id": {"S": "chunked"}}}).encode()
    reply = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + f"{5:x}\r\n".encode() + data[:5]
             + b"\r\n" + f"{len(data) - 5:x}\r\n".encode() + data[5:] + b"\r\n0\r\n\r\n")
    fake = server([reply, _ok({"n": 2})])
    client = _client(fake.url)
    assert client._make_api_call("GetItem", {})["Item"] == {"id": {"S": "chunked"}}
    assert client._make_api_call("GetItem", {})["n"] == 2  # the connection was left at a clean boundary


def test_a_bad_checksum_is_retried(server: Callable[[list[bytes | str]], Scripted]) -> None:
    bad = _ok({"n": 1}).replace(b"x-amz-crc32: ", b"x-amz-crc32: 1")
    fake = server([bad, _ok({"n": 2})])
    assert _client(fake.url)._make_api_call("GetItem", {})["n"] == 2


def test_throttling_and_5xx_are_retried_then_surface_as_client_error(
    server: Callable[[list[bytes | str]], Scripted],
) -> None:
    fake = server([_error(400, "ProvisionedThroughputExceededException"), _error(500, "InternalServerError"),
                   _error(400, "ThrottlingException", "slow down")])
    with pytest.raises(ClientError) as caught:
        _client(fake.url)._make_api_call("PutItem", {})
    assert len(fake.requests) == 3
    assert caught.value.response["Error"] == {"Code": "ThrottlingException", "Message": "slow down"}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_retry_that_succeeds_returns_the_answer(server: Callable[[list[bytes | str]], Scripted]) -> None:
    fake = server([_error(503, "ServiceUnavailable"), _ok({"n": 2})])
    assert _client(fake.url)._make_api_call("GetItem", {})["n"] == 2


def test_client_errors_are_not_retried_and_keep_their_fields(
    server: Callable[[list[bytes | str]], Scripted],
) -> None:
    reasons = [{"Code": "None"}, {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}]
    fake = server([_error(400, "TransactionCanceledException", "cancelled", CancellationReasons=reasons)])
    with pytest.raises(ClientError) as caught:
        _client(fake.url)._make_api_call("TransactWriteItems", {})
    assert len(fake.requests) == 1
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert caught.value.response["CancellationReasons"] == reasons


def test_timeouts_and_refused_connections_raise_botocores_errors(
    server: Callable[[list[bytes | str]], Scripted],
) -> None:
    fake = server(["hang", "hang"])
    with pytest.raises(ReadTimeoutError):
        _client(fake.url, read_timeout=0.2, max_attempts=2)._make_api_call("GetItem", {})
    assert len(fake.requests) == 2
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(EndpointConnectionError):
        _client(f"http://127.0.0.1:{port}")._make_api_call("GetItem", {})


def test_a_response_that_is_not_http_is_a_closed_connection(server: Callable[[list[bytes | str]], Scripted]) -> None:
    fake = server([b"garbage\r\n\r\n", b"garbage\r\n\r\n"])
    with pytest.raises(ConnectionClosedError):
        _client(fake.url, max_attempts=2)._make_api_call("GetItem", {})


def test_the_retry_quota_stops_retries_when_exhausted(server: Callable[[list[bytes | str]], Scripted]) -> None:
    fake = server([_error(500, "InternalServerError")] * 10)
    client = _client(fake.url)
    while client.quota.acquire(14):
        pass
    with pytest.raises(ClientError):
        client._make_api_call("GetItem", {})
    assert len(fake.requests) == 1


def test_no_credentials_is_botocores_error(server: Callable[[list[bytes | str]], Scripted]) -> None:
    from botocore.exceptions import NoCredentialsError

    fake = server([])
    client = DynamoDBClient(fake.url, "us-east-1", lambda: None)
    with pytest.raises(NoCredentialsError):
        client._make_api_call("GetItem", {})
    assert fake.requests == []


# -- botocore's events ------------------------------------------------------------------------------

def test_events_fire_only_while_someone_listens(server: Callable[[list[bytes | str]], Scripted]) -> None:
    fake = server([_error(500, "InternalServerError"), _ok({}), _ok({})])
    client = _client(fake.url)
    assert not client.meta.events.listeners
    calls: list[str] = []
    sends: list[str] = []

    def on_call(event_name: str, model: Any, **_: Any) -> None:
        calls.append(f"{model.service_model.service_name}:{model.name}")

    def on_send(request: Any, event_name: str, **_: Any) -> None:
        sends.append(request.url)

    client.meta.events.register("before-call.dynamodb", on_call)
    client.meta.events.register("before-send.dynamodb.GetItem", on_send)
    assert client.meta.events.listeners
    client._make_api_call("GetItem", {})
    assert calls == ["dynamodb:GetItem"]  # once per call
    assert sends == [fake.url + "/"] * 2  # once per attempt
    client.meta.events.unregister("before-send.dynamodb.GetItem", on_send)
    assert client.meta.events.listening == {"before-call"}  # no request is built for before-send now
    client._make_api_call("GetItem", {})
    assert len(calls) == 2 and len(sends) == 2
    client.meta.events.unregister("before-call.dynamodb", on_call)
    assert not client.meta.events.listeners


def test_a_before_send_handler_can_answer_instead_of_dynamodb(
    server: Callable[[list[bytes | str]], Scripted],
) -> None:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b'{"__type": "x#ResourceNotFoundException", "message": "injected"}'

    fake = server([])
    client = _client(fake.url)
    client.meta.events.register("before-send.dynamodb", lambda **_: AWSResponse("u", 400, {}, Raw()))
    with pytest.raises(ClientError) as caught:
        client._make_api_call("DescribeTable", {})
    assert caught.value.response["Error"] == {"Code": "ResourceNotFoundException", "Message": "injected"}
    assert fake.requests == []


def test_a_before_call_handler_can_answer_the_whole_call(server: Callable[[list[bytes | str]], Scripted]) -> None:
    from types import SimpleNamespace

    fake = server([])
    client = _client(fake.url)
    answer: list[Any] = [SimpleNamespace(status_code=200), {"Item": {"id": {"S": "stubbed"}}}]
    client.meta.events.register("before-call.dynamodb.GetItem", lambda **_: tuple(answer))
    assert client._make_api_call("GetItem", {})["Item"] == {"id": {"S": "stubbed"}}
    answer[:] = [SimpleNamespace(status_code=400), {"Error": {"Code": "ValidationException", "Message": "stub"}}]
    with pytest.raises(ClientError) as caught:
        client._make_api_call("GetItem", {})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert fake.requests == []


# -- configuration ----------------------------------------------------------------------------------

def test_default_endpoints() -> None:
    assert default_endpoint("eu-west-1", {}) == "https://dynamodb.eu-west-1.amazonaws.com"
    assert default_endpoint("cn-north-1", {}) == "https://dynamodb.cn-north-1.amazonaws.com.cn"
    assert default_endpoint("us-east-1", {"AWS_USE_FIPS_ENDPOINT": "true"}) == \
        "https://dynamodb-fips.us-east-1.amazonaws.com"
    assert default_endpoint("us-east-1", {"AWS_ENDPOINT_URL": "http://a:1"}) == "http://a:1"
    assert default_endpoint("us-east-1", {"AWS_ENDPOINT_URL": "http://a:1",
                                          "AWS_ENDPOINT_URL_DYNAMODB": "http://b:2"}) == "http://b:2"


def test_no_table_uses_binary_attributes() -> None:
    from pynamodb.attributes import BinaryAttribute, BinarySetAttribute

    for model in tables.MODELS:
        for name, attribute in model.get_attributes().items():
            assert not isinstance(attribute, BinaryAttribute | BinarySetAttribute), (model.__name__, name)


# -- against DynamoDB Local -------------------------------------------------------------------------

def test_pynamodb_errors_through_the_transport_against_dynamodb_local() -> None:
    from pynamodb.exceptions import DeleteError

    tables.bind()
    client = tables.TokenRecord._get_connection().connection.client
    assert isinstance(client, DynamoDBClient)
    table = tables.TokenRecord.Meta.table_name
    item = {"signature": {"S": "transport-test"}, "kind": {"S": "access"}}
    client._make_api_call("PutItem", {"TableName": table, "Item": item})
    try:
        assert client._make_api_call("GetItem", {"TableName": table, "Key": {"signature": item["signature"]},
                                                 "ConsistentRead": True})["Item"]["kind"] == {"S": "access"}
        assert tables.TokenRecord.get("transport-test", consistent_read=True).kind == "access"
        with pytest.raises(DeleteError) as caught:
            tables.TokenRecord(signature="transport-test").delete(condition=tables.TokenRecord.kind == "refresh")
        assert caught.value.cause_response_code == "ConditionalCheckFailedException"
        with pytest.raises(ClientError) as missing:
            client._make_api_call("GetItem", {"TableName": "no-such-table", "Key": item})
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    finally:
        client._make_api_call("DeleteItem", {"TableName": table, "Key": {"signature": item["signature"]}})


def test_threads_share_the_client_safely() -> None:
    tables.bind()
    client = tables.TokenRecord._get_connection().connection.client
    table = tables.TokenRecord.Meta.table_name
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                key = {"signature": {"S": f"thread-{n}-{i}"}}
                client._make_api_call("PutItem", {"TableName": table, "Item": {**key, "kind": {"S": "code"}}})
                got = client._make_api_call("GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
                assert got["Item"]["signature"] == key["signature"]
                client._make_api_call("DeleteItem", {"TableName": table, "Key": key})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(client._idle) <= transport._POOL_SIZE


def test_on_lambda_with_tracing_each_call_is_an_xray_subsegment(monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    import dataclasses

    from hydra_lambda import config, observability

    opened: list[tuple[str, dict[str, str]]] = []

    class Subsegment:
        def __init__(self, name: str) -> None:
            self.annotations: dict[str, str] = {}
            opened.append((name, self.annotations))

        def put_annotation(self, key: str, value: str) -> None:
            self.annotations[key] = value

    class Provider:
        @contextlib.contextmanager
        def in_subsegment(self, name: str) -> Iterator[Subsegment]:
            yield Subsegment(name)

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "OAuth2Function")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setattr(observability, "tracer", lambda: type("T", (), {"provider": Provider()})())
    try:
        tables.bind(dataclasses.replace(config.get_settings()))
        tables.TokenRecord.count("no-such-signature")
        assert opened == [("DynamoDB", {"operation": "Query"})]
    finally:
        monkeypatch.undo()
        tables.bind(config.get_settings())
    assert tables.TokenRecord._get_connection().connection.client.trace is None


def test_credentials_come_from_the_environment_first_else_botocores_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    found = tables._credentials()()
    assert (found.access_key, found.secret_key, found.token) == ("AKIDENV", "env-secret", "env-token")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    assert tables._credentials()().token is None

    from hydra_lambda import aws

    class Session:
        def get_credentials(self) -> Any:
            return type("C", (), {"get_frozen_credentials": lambda self: CREDS})()

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.setattr(aws, "botocore_session", lambda: Session())
    assert tables._credentials()() == CREDS
