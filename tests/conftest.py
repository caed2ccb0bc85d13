"""Session fixtures. Every test runs with the test settings in the environment, and AWS endpoints that
refuse connections until an engine is asked for: Amazon DynamoDB Local and a moto server (KMS, Secrets
Manager) start with the first test outside tests/unit/ (every integration test gets them) and stop
at the end; tests/unit/ runs without them (its conftest.py overrides ``aws`` and ``root_client``).
Nothing depends on a server started by hand."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hydra_lambda_local.harness import create_tables_and_key

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, DynamoDBLocal, LocalServer
from tests.support_proxy import LossyProxy

BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "SYSTEM_SECRET": "test-system-secret-0123456789abcdef",
    "ISSUER": "http://127.0.0.1:4444",
    "CONSENT_URL": "http://127.0.0.1:3000/consent",
    "FORCE_ROOT_CLIENT_CREDENTIALS": f"{ROOT_CLIENT_ID}:{ROOT_CLIENT_SECRET}",
    "POWERTOOLS_METRICS_NAMESPACE": "HydraLambdaTests",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
# Until the engines start, AWS calls fail at once (a closed port) instead of reaching for AWS.
NO_ENGINE = "http://127.0.0.1:9"


@pytest.fixture(scope="session", autouse=True)
def test_env() -> Iterator[dict[str, str]]:
    """The test settings, for unit and integration tests alike."""
    env = {**BASE_ENV, "DYNAMODB_ENDPOINT": NO_ENGINE, "KMS_ENDPOINT": NO_ENGINE, "SECRETSMANAGER_ENDPOINT": NO_ENGINE}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    from hydra_lambda.config import reset_settings

    reset_settings()
    yield env
    _restore(saved)
    reset_settings()


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _engines(aws: dict[str, str], root_client: tuple[str, str] | None) -> None:
    """Every test runs on the engines, with the tables, the signing key and the root client in place:
    tests/integration/, and any test file still at the top of tests/. tests/unit/conftest.py
    overrides ``aws`` and ``root_client`` with engine-free ones. (Session fixtures asked for here
    are set up before any module fixture, which may already call the handlers.)"""


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    try:
        engine = DynamoDBLocal()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def lossy_proxy(dynamodb_local: DynamoDBLocal) -> Iterator[LossyProxy]:
    """Every DynamoDB call of the session goes through this proxy, which passes everything through
    until a test asks it to lose a response (tests/integration/test_lost_response.py)."""
    proxy = LossyProxy(dynamodb_local.endpoint)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from hydra_lambda_local.backends import start_moto

    from tests.support_keys import patch_moto_pss

    undo = patch_moto_pss()  # moto's PSS salt is not KMS's (see there): the tests' moto only
    server, url = start_moto()
    yield url
    server.stop()
    undo()


@pytest.fixture(scope="session")
def aws(test_env: dict[str, str], lossy_proxy: LossyProxy, moto_endpoint: str) -> Iterator[dict[str, str]]:
    """Point the whole test session at DynamoDB Local and moto, with every table and the signing key."""
    (ROOT / ".pytest_cache").mkdir(exist_ok=True)
    env = {
        **test_env,
        "DYNAMODB_ENDPOINT": lossy_proxy.url,
        "KMS_ENDPOINT": moto_endpoint,
        "SECRETSMANAGER_ENDPOINT": moto_endpoint,
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    from hydra_lambda.config import reset_settings

    os.environ["SIGNING_KEYS"] = env["SIGNING_KEYS"] = create_tables_and_key(env)
    reset_settings()
    yield env
    _restore(saved)
    os.environ.pop("SIGNING_KEYS", None)
    reset_settings()


@pytest.fixture
def empty_tables() -> Iterator[None]:
    """Run a test with every table empty (first-start behaviour), then put every row back, so the
    tests after it find the root client, its policies and any tokens they cached."""
    from hydra_lambda.storage import policies
    from hydra_lambda.storage.tables import MODELS, bind, connection

    bind()

    def wipe() -> None:
        for model in MODELS:
            with model.batch_write() as batch:
                for item in model.scan(consistent_read=True):
                    batch.delete(item)

    # Saved as raw items: a table may hold rows of more than one model (the clients table holds the
    # claims of user subjects too), and a row read through the wrong model would not save back whole.
    dynamodb = connection().client  # botocore's client: rows as DynamoDB holds them
    saved = {model.Meta.table_name: _raw_rows(dynamodb, model.Meta.table_name) for model in MODELS}
    wipe()
    policies.invalidate()
    yield
    wipe()
    for table, items in saved.items():
        for start in range(0, len(items), 25):
            answer = dynamodb.batch_write_item(
                RequestItems={table: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]})
            assert not answer.get("UnprocessedItems"), answer
    policies.invalidate()


def _raw_rows(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    start: dict[str, Any] = {}
    for _ in range(10_000):  # bounded: pages of at most 1 MB
        page = dynamodb.scan(TableName=table, ConsistentRead=True, **start)
        rows += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    return rows


@pytest.fixture(autouse=True)
def _fresh_clock() -> Iterator[None]:
    from hydra_lambda import clock

    clock.reset()
    yield
    clock.reset()


@pytest.fixture(scope="session")
def server(aws: dict[str, str]) -> Iterator[LocalServer]:
    """One local server for the session, on DynamoDB Local and the moto server."""
    instance = LocalServer(aws)
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def root_client(aws: dict[str, str]) -> tuple[str, str]:
    """The root client (from FORCE_ROOT_CLIENT_CREDENTIALS) and default policies, as after a first start."""
    from hydra_lambda.bootstrap import ensure_root_client

    ensure_root_client()
    return ROOT_CLIENT_ID, ROOT_CLIENT_SECRET


@pytest.fixture
def fresh_install(empty_tables: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Empty tables; afterwards empty them again and restore the session's forced root client."""
    from hydra_lambda import bootstrap
    from hydra_lambda.config import reset_settings
    from hydra_lambda.storage import policies

    policies.invalidate()
    bootstrap.reset()
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()
    from hydra_lambda.storage.tables import MODELS

    for model in MODELS:
        with model.batch_write() as batch:
            for item in model.scan():
                batch.delete(item)
    assert bootstrap.ensure_root_client() is not None
    policies.invalidate()
    bootstrap.reset()


@pytest.fixture
def cors_for_spa(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CORS_ALLOWED_ORIGINS set to one single-page app's origin for the test."""
    from hydra_lambda.config import reset_settings

    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://spa.example.com")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()
