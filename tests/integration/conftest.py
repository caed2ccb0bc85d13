"""Integration tests: each one runs on the session's engines (DynamoDB Local behind the lossy proxy,
the moto server), with the tables, the signing key and the root client in place (tests/conftest.py
gives them to every test outside tests/unit/). Fixtures only the integration tests use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"  # Debian's (make test installs it)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium through playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _fresh_secret_budgets() -> None:
    """Every in-process request comes from 127.0.0.1, one caller network for the whole session: each
    test starts with the client-secret budgets of a fresh container, as a new caller would (the
    fingerprints of right secrets already seen stay, as in a warm container)."""
    from hydra_lambda import passwords

    passwords.refill_for_tests()
