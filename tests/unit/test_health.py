"""/health/alive, /health/ready and /version (Ory Hydra's health and version routes) in process: the
shapes, the not-ready answer naming what failed without leaking the error, and the few seconds of
caching that keep a poller from costing a read per request."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator

import pytest
from hydra_lambda import clock, readiness

from tests.support import ROOT, call


@pytest.fixture(autouse=True)
def _fresh_readiness() -> Iterator[None]:
    readiness._answers.pop("ready")
    yield
    readiness._answers.pop("ready")


def _checks(monkeypatch: pytest.MonkeyPatch, **outcomes: Callable[[], object]) -> list[str]:
    """Replace each check's work by ``outcomes[name]`` (else a success); returns the calls made."""
    calls: list[str] = []

    def run(name: str, work: Callable[[], object]) -> Callable[[], object]:
        def check() -> object:
            calls.append(name)
            return work()
        return check

    monkeypatch.setattr(readiness, "CHECKS", tuple(
        (name, text, run(name, outcomes.get(name, lambda: None))) for name, text, _ in readiness.CHECKS))
    return calls


def _fail(message: str) -> Callable[[], object]:
    def boom() -> object:
        raise RuntimeError(message)
    return boom


def test_alive_is_ok_without_any_check(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _checks(monkeypatch, clients_table=_fail("down"))
    result = call("GET", "/health/alive")
    assert (result.status, result.json) == (200, {"status": "ok"})
    assert result.headers["content-type"] == "application/json"
    assert "no-store" in result.headers["cache-control"]
    assert calls == []


def test_version_is_the_package_version() -> None:
    import hydra_lambda

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert hydra_lambda.__version__ == declared
    result = call("GET", "/version")
    assert (result.status, result.json) == (200, {"version": declared})


def test_ready_runs_every_check(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _checks(monkeypatch)
    result = call("GET", "/health/ready")
    assert (result.status, result.json) == (200, {"status": "ok"})
    assert calls == ["clients_table", "tokens_table", "signing_keys", "system_secret"]


def test_not_ready_names_what_failed_and_never_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    secret_detail = "arn:aws:dynamodb:eu-west-1:123456789012:table/hydra-tokens refused at 10.0.0.7"
    _checks(monkeypatch, tokens_table=_fail(secret_detail), signing_keys=_fail("kms key alias/x disabled"))
    result = call("GET", "/health/ready")
    assert result.status == 503
    assert result.json == {"errors": {"tokens_table": "the tokens table does not answer",
                                      "signing_keys": "the signing keys cannot be read"}}
    assert "arn:" not in result.body and "10.0.0.7" not in result.body and "alias/" not in result.body
    assert "no-store" in result.headers["cache-control"]


def test_the_answer_is_kept_a_few_seconds_failures_too(monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"down": True}

    def clients() -> None:
        if state["down"]:
            raise RuntimeError("down")

    calls = _checks(monkeypatch, clients_table=clients)
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start)
    assert call("GET", "/health/ready").status == 503
    state["down"] = False
    assert call("GET", "/health/ready").status == 503  # the failure is kept: no second probe
    assert calls.count("clients_table") == 1
    monkeypatch.setattr(clock, "now", lambda: start + readiness.READY_CACHE_SECONDS + 0.1)
    assert call("GET", "/health/ready").status == 200
    assert call("GET", "/health/ready").status == 200
    assert calls.count("clients_table") == 2


def test_other_methods_are_405() -> None:
    for path in ("/health/alive", "/health/ready", "/version"):
        result = call("DELETE", path)
        assert result.status == 405 and result.headers["allow"] == "GET", path
