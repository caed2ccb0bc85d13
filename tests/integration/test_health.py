"""/health/alive, /health/ready and /version through Ory's generated SDK (``ory-hydra-client``'s
MetadataApi) against the local server, what the ready check costs, and not-ready (503, Hydra's
``healthNotReadyStatus``) when DynamoDB does not answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hydra_lambda
import pytest
from hydra_lambda import readiness
from hydra_lambda.config import reset_settings

from tests.support import LocalServer, call, count_aws_calls, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    instance = LocalServer(aws)
    yield instance
    instance.stop()


@pytest.fixture(autouse=True)
def _fresh_readiness() -> Iterator[None]:
    readiness._answers.pop("ready")
    yield
    readiness._answers.pop("ready")


def metadata_api(host: str) -> Any:
    import ory_hydra_client
    from ory_hydra_client.api.metadata_api import MetadataApi

    return MetadataApi(ory_hydra_client.ApiClient(ory_hydra_client.Configuration(host=host)))


def test_the_sdk_reads_alive_ready_and_version(server: LocalServer) -> None:
    api = metadata_api(server.url)
    assert api.is_alive().status == "ok"
    assert api.is_ready().status == "ok"
    assert api.get_version().version == hydra_lambda.__version__


def test_ready_costs_two_reads_then_nothing_for_a_few_seconds() -> None:
    call("GET", "/health/ready")  # a warm container: its keys and secret loaded (cached per container)
    readiness._answers.pop("ready")
    with count_aws_calls() as calls:
        assert call("GET", "/health/ready").json == {"status": "ok"}
    assert calls == {"dynamodb.GetItem": 2}, dict(calls)
    with count_aws_calls() as calls:
        for _ in range(5):
            assert call("GET", "/health/ready").status == 200
    assert not calls


def test_not_ready_when_dynamodb_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    from ory_hydra_client.models import IsReady503Response

    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DYNAMODB_ENDPOINT", closed)
    reset_settings()
    try:
        result = call("GET", "/health/ready")
    finally:
        monkeypatch.undo()
        reset_settings()
    assert result.status == 503
    assert result.json == {"errors": {"clients_table": "the clients table does not answer",
                                      "tokens_table": "the tokens table does not answer"}}
    assert closed.rsplit(":", 1)[1] not in result.body and "127.0.0.1" not in result.body
    # The SDK's model of the 503 answer reads it whole.
    assert IsReady503Response.from_json(json.dumps(result.json)).errors == result.json["errors"]
