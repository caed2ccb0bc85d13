"""Integration tests: each one runs on the session's engines (DynamoDB Local behind the lossy proxy,
the moto server), with the tables, the signing key and the root client in place. They start with
the first test collected here."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _engines(aws: dict[str, str], root_client: tuple[str, str]) -> None:
    """Every integration test gets the engines and the first start's root client."""
