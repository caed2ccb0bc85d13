"""One botocore session per container makes the KMS and Secrets Manager clients (aws.client); the
DynamoDB tables share one thin client (storage.transport) and botocore makes none for them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hydra_lambda import aws, config
from hydra_lambda.storage import tables


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
    monkeypatch.setattr(aws, "_clients", {})
    aws.client("kms")
    assert made == ["kms"]


def test_every_table_shares_one_thin_dynamodb_client_and_no_botocore_one_is_made(
    made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra_lambda.storage.transport import DynamoDBClient

    try:
        tables.bind(dataclasses.replace(config.get_settings()))  # fresh connections
        client = tables.TokenRecord._get_connection().connection.client
        assert isinstance(client, DynamoDBClient)
        for model in tables.MODELS:
            assert model._get_connection().connection.client is client
        tables.TokenRecord.count("no-such-signature")  # a real call through it
        assert made == []  # botocore made no DynamoDB client (its ~46 ms of cold start)
    finally:
        monkeypatch.undo()
        tables.bind(config.get_settings())
