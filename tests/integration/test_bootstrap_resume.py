"""First start on AWS is resumable (issue #14): whichever write fails, before it reaches the service or
after it committed with its response lost, the following cold starts publish credentials that work,
there is exactly one root client, and the published secret always matches it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from hydra_lambda import bootstrap
from hydra_lambda.config import reset_settings

from tests.integration.test_bootstrap import _all_clients, _random_credentials
from tests.support import basic, call

WRITES = [
    ("dynamodb", "TransactWriteItems"),  # the root client and policies
    ("dynamodb", "UpdateItem"),  # the first start marked complete
    ("secretsmanager", "PutSecretValue"),  # the credentials published
]


def _client(service: str, operation: str) -> Any:
    """The client object the code under test calls ``_make_api_call`` on (pynamodb does, for DynamoDB)."""
    from hydra_lambda.aws import client
    from hydra_lambda.storage.tables import connection

    if service == "secretsmanager":
        return client("secretsmanager")
    return connection().client  # every table's reads and writes go through the shared connection


@contextmanager
def fault(service: str, operation: str, when: str, times: int = 1) -> Iterator[list[str]]:
    """Make the next ``times`` calls of ``operation`` fail: "before" the service sees them, or "lost":
    the service carries the call out and the caller gets a timeout instead of the answer."""
    target = _client(service, operation)
    original: Callable[[str, dict[str, Any]], Any] = target._make_api_call
    fired: list[str] = []

    def wrapped(name: str, params: dict[str, Any]) -> Any:
        if name != operation or len(fired) >= times:
            return original(name, params)
        fired.append(name)
        if when == "before":
            raise EndpointConnectionError(endpoint_url=f"https://{service}.invalid")
        original(name, params)
        raise ReadTimeoutError(endpoint_url=f"https://{service}.invalid")

    target._make_api_call = wrapped
    try:
        yield fired
    finally:
        del target._make_api_call


def _on_aws(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    from hydra_lambda.aws import client

    _random_credentials(monkeypatch)
    secrets = client("secretsmanager")
    arn = secrets.create_secret(Name=f"root-{uuid.uuid4().hex}", SecretString="not-yet-created")["ARN"]
    monkeypatch.setenv("ROOT_CLIENT_SECRET_ARN", arn)
    reset_settings()
    return secrets, arn


def _cold_start() -> None:
    bootstrap.reset()  # a new container
    bootstrap.on_cold_start()


def _published_credentials_work(secrets: Any, arn: str) -> tuple[str, str]:
    from urllib.parse import unquote

    value = secrets.get_secret_value(SecretId=arn)["SecretString"]
    assert value != "not-yet-created", "the credentials were never published"
    client_id, _, secret = (unquote(part) for part in value.partition(":"))
    assert _all_clients() == [client_id]
    token = call("POST", "/oauth2/token", headers=basic(client_id, secret),
                 form={"grant_type": "client_credentials", "scope": "hydra.clients"})
    assert token.status == 200, token.body
    return client_id, secret


@pytest.mark.parametrize("when", ["before", "lost"])
@pytest.mark.parametrize(("service", "operation"), WRITES)
def test_a_failed_write_at_first_start_is_resumed_by_the_next_cold_starts(
    fresh_install: pytest.MonkeyPatch, service: str, operation: str, when: str
) -> None:
    secrets, arn = _on_aws(fresh_install)
    with fault(service, operation, when) as fired:
        _cold_start()
    assert fired == [operation]
    _cold_start()
    _cold_start()
    first = _published_credentials_work(secrets, arn)
    _cold_start()  # a later container changes nothing
    assert _published_credentials_work(secrets, arn) == first


def test_every_write_failing_in_turn_across_cold_starts(fresh_install: pytest.MonkeyPatch) -> None:
    """One cold start dies at each step in turn, both ways; the installation still ends up whole."""
    secrets, arn = _on_aws(fresh_install)
    for service, operation in WRITES:
        for when in ("lost", "before"):
            with fault(service, operation, when):
                _cold_start()
    _cold_start()
    _published_credentials_work(secrets, arn)


def test_racing_first_starts_publish_one_matching_secret(fresh_install: pytest.MonkeyPatch) -> None:
    """Containers starting at once, one of them losing its transaction's answer: one root client, and
    what is published is that client's secret whichever container's publication lands last."""
    secrets, arn = _on_aws(fresh_install)
    racers = 4
    barrier = threading.Barrier(racers)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait(10)
            bootstrap.first_start()  # what on_cold_start runs, once per container
        except Exception as exc:
            errors.append(exc)

    with fault("dynamodb", "TransactWriteItems", "lost"):
        threads = [threading.Thread(target=start) for _ in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(errors) <= 1  # only the container whose answer was lost may fail; it retries on its next call
    _cold_start()
    _published_credentials_work(secrets, arn)


def test_the_pending_state_holds_no_secret(fresh_install: pytest.MonkeyPatch) -> None:
    from hydra_lambda.storage.tables import ClientRecord, PolicyRecord

    secrets, arn = _on_aws(fresh_install)
    with fault("secretsmanager", "PutSecretValue", "before"):
        _cold_start()
    rows = str([r.attribute_values for r in PolicyRecord.scan()] + [r.attribute_values for r in ClientRecord.scan()])
    _cold_start()
    _, secret = _published_credentials_work(secrets, arn)
    assert secret not in rows
