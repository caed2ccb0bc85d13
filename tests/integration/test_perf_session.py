"""One botocore session per container makes the KMS and Secrets Manager clients (aws.client) and the
one DynamoDB client every table is reached through (``tables.SharedConnection``, pynamodb's public
low-level connection), with the public settings of ``tables._Base.Meta`` (timeouts, pool,
botocore's standard retry mode)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hydra_lambda import aws
from hydra_lambda.cache import TimedCache, forever
from hydra_lambda.storage import tables

from tests.support import CLIENT_HOOKS, dynamodb_calls


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The services whose clients the shared botocore session creates during the test."""
    services: list[str] = []
    session = aws.botocore_session()
    original = session.create_client

    def spy(service_name: str, *args: Any, **kwargs: Any) -> Any:
        services.append(service_name)
        return original(service_name, *args, **kwargs)

    monkeypatch.setattr(session, "create_client", spy)
    return services


def test_aws_clients_come_from_the_shared_botocore_session(
    made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws, "_clients", TimedCache("aws clients (test)", forever))
    aws.client("kms")
    assert made == ["kms"]


def test_the_dynamodb_clients_are_botocore_ones_with_the_tables_settings() -> None:
    tables.bind()
    list(tables.connection().query_rows(tables.TokenRecord, "access#0"))  # a real call
    clients = CLIENT_HOOKS.of("dynamodb")
    assert clients, "no botocore DynamoDB client was made"
    for client in clients:
        config = client.meta.config
        assert config.retries["mode"] == "standard"
        assert config.retries["total_max_attempts"] == 1 + tables._Base.Meta.max_retry_attempts
        assert (config.connect_timeout, config.read_timeout) == (2, 3)
        assert client.meta.endpoint_url.rstrip("/") == tables.TokenRecord.Meta.host.rstrip("/")


def test_transactions_go_through_botocore_with_its_idempotency_token() -> None:
    """botocore fills ClientRequestToken of TransactWriteItems itself (once per call, reused by its
    retries), which is what makes a resent transaction whose first response was lost harmless."""
    from pynamodb.transactions import TransactWrite

    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(json.loads(params["body"]))  # the request as sent

    with CLIENT_HOOKS.hooked("dynamodb", "before-call.dynamodb.TransactWriteItems", record), dynamodb_calls() as ops:
        with TransactWrite(connection=tables.connection()) as tx:
            tx.condition_check(tables.TokenRecord, "access#0", "no-such-signature",
                               condition=tables.TokenRecord.signature.does_not_exist())
    assert ops == ["TransactWriteItems"]
    assert len(seen) == 1 and len(seen[0]["ClientRequestToken"]) >= 32


def test_every_table_is_reached_through_one_dynamodb_client_of_the_shared_session(
    made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold start pays for one botocore session and one DynamoDB client, whatever tables the
    function touches (pynamodb's Model layer would make a session and a client per model)."""
    from hydra_lambda.storage import clients, consent, policies, token_rows
    from hydra_lambda.tokens.model import Token

    monkeypatch.setattr(tables, "_connection", None)  # as in a new container
    monkeypatch.setattr(tables, "_bound", None)
    with dynamodb_calls() as ops:
        assert clients.get("no-such-client") is None
        assert consent.get("no-such-consent") is None
        policies.all_policies(fresh=True)
        token = Token(signature="0000000001" + "a" * 40, kind="access", request_id="", client_id="c",
                      expires_at=2_000_000_000, issued_at=1_900_000_000)
        token_rows.put(token)
        assert token_rows.get(token.signature, "access") == token
        token_rows.delete(token.signature, "access")
    assert ops == ["GetItem", "GetItem", "Scan", "PutItem", "GetItem", "DeleteItem"]
    assert made == ["dynamodb"]


def test_requests_carry_no_telemetry_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``aws.drop_telemetry_headers``: no ``amz-sdk-*`` headers and, inside Lambda, no recursion
    detection trace header on the DynamoDB and KMS requests, a transaction's included (its idempotency
    token is still there: test_transactions_go_through_botocore_with_its_idempotency_token)."""
    from pynamodb.transactions import TransactWrite

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "hydra-test")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
    monkeypatch.setattr(aws, "_clients", TimedCache("aws clients (telemetry test)", forever))
    sent: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append({k.lower(): v for k, v in request.headers.items()})

    with CLIENT_HOOKS.hooked("", "before-send", record):
        list(tables.connection().query_rows(tables.TokenRecord, "access#0"))
        with TransactWrite(connection=tables.connection()) as tx:
            tx.condition_check(tables.TokenRecord, "access#0", "no-such-signature",
                               condition=tables.TokenRecord.signature.does_not_exist())
        aws.client("kms").list_keys()
    assert len(sent) == 3
    for headers in sent:
        assert not {"amz-sdk-invocation-id", "amz-sdk-request", "x-amzn-trace-id"} & set(headers), headers
        assert str(headers["authorization"]).find("AWS4-HMAC-SHA256") >= 0
