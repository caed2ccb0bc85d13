"""Cost amplification on client authentication (issue #14): a wrong secret for a client with a
supplied (scrypt-hashed) secret must not cost a key derivation per request. Counted, not timed: the
number of scrypt runs the token endpoint makes (timings are in the report and ``make bench``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hydra_lambda import passwords

from tests.support import basic, call
from tests.support_flows import make_client


@pytest.fixture
def scrypt_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    runs: list[int] = []
    original = passwords._scrypt

    def counted(*args: object, **kwargs: object) -> bytes:
        runs.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(passwords, "_scrypt", counted)
    passwords.forget()  # a fresh container
    yield runs
    passwords.forget()


def _token(client_id: str, secret: str) -> int:
    return call("POST", "/oauth2/token", headers=basic(client_id, secret),
                form={"grant_type": "client_credentials"}).status


def test_wrong_secrets_after_a_right_one_cost_only_their_budget(scrypt_runs: list[int],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """After the right secret was seen, it is one HMAC; wrong ones cost what every failure costs (a
    derivation against a dummy hash, issue 22), within the same budget: never one per request."""
    monkeypatch.setattr(passwords, "SLOW_RATE", 0.0)
    client_id, _ = make_client(client_secret="a-supplied-secret", grant_types=["client_credentials"])
    scrypt_runs.clear()  # hashing it at creation
    assert _token(client_id, "a-supplied-secret") == 200
    assert len(scrypt_runs) == 1  # the first verification in this container
    for attempt in range(20):
        assert _token(client_id, f"wrong-{attempt}") == 401
    assert _token(client_id, "a-supplied-secret") == 200
    assert len(scrypt_runs) == passwords.SLOW_BURST


def test_wrong_secrets_on_a_cold_container_are_bounded(scrypt_runs: list[int],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "SLOW_RATE", 0.0)  # no refill during the test, however slow the machine
    client_id, _ = make_client(client_secret="another-supplied-secret", grant_types=["client_credentials"])
    passwords.forget()
    scrypt_runs.clear()
    for attempt in range(30):
        assert _token(client_id, f"wrong-{attempt}") == 401
    assert len(scrypt_runs) == passwords.SLOW_BURST
    # The budget refills: the right secret gets through once it has.
    passwords.refill_for_tests()
    assert _token(client_id, "another-supplied-secret") == 200


def test_right_generated_secrets_cost_no_key_derivation_and_failures_are_bounded(
        scrypt_runs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "SLOW_RATE", 0.0)
    client_id, secret = make_client(grant_types=["client_credentials"])
    assert secret is not None
    assert _token(client_id, secret) == 200
    assert scrypt_runs == []
    for _ in range(10):
        assert _token(client_id, "wrong") == 401
        assert _token("no-such-client", "wrong") == 401
    assert len(scrypt_runs) == 2 * passwords.SLOW_BURST  # each client id's budget, then nothing
