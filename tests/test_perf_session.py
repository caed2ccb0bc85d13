"""One botocore session per container: boto3's clients (aws.client) and pynamodb's DynamoDB client
are made from it. The pynamodb half relies on ``Connection.session`` reading the thread-local
``_local.session`` slot; these tests fail if pynamodb stops doing so."""

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


def test_boto3_clients_come_from_the_shared_botocore_session(
    made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws, "_clients", {})
    aws.client("kms")
    assert made == ["kms"]


def test_pynamodb_makes_its_client_from_the_shared_botocore_session(
    made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = aws.botocore_session()
    try:
        tables.bind(dataclasses.replace(config.get_settings()))  # fresh connections, client not made yet
        connection = tables.TokenRecord._get_connection().connection
        assert connection.session is session  # pynamodb reads the slot bind() filled
        client = connection.client  # made now, from that session
        assert made == ["dynamodb"]
        for model in tables.MODELS:  # and still one client for every table
            assert model._get_connection().connection.client is client
    finally:
        monkeypatch.undo()
        tables.bind(config.get_settings())
