"""Unit tests: pure logic, no engine (no DynamoDB Local, moto server, node or browser). Every AWS
endpoint refuses connections here, and a test that makes any AWS call fails: it belongs in
tests/integration/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import count_aws_calls


@pytest.fixture(scope="session")
def aws(test_env: dict[str, str]) -> dict[str, str]:
    """No engine: the test settings, AWS endpoints on a closed port."""
    return test_env


@pytest.fixture(scope="session")
def root_client() -> None:
    """No engine, so no root client."""
    return None


@pytest.fixture(autouse=True)
def _no_aws_calls() -> Iterator[None]:
    with count_aws_calls() as calls:
        yield
    assert not calls, f"a unit test made AWS calls ({dict(calls)}): it belongs in tests/integration/"
