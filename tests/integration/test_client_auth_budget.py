"""The client-secret budget and what a failed client authentication costs (issue 22), counted, not
timed: the number of scrypt derivations each request makes.

- A flood of wrong secrets from one network never makes another network's right secret fail: the
  budget is per (client id, network), with a cap per network across client ids; both still bound
  how many derivations a flood gets.
- Every failure costs the same derivation under the same budget, whatever the client: unknown, a
  generated (hs256) secret, a supplied (scrypt) one, before or after its right secret was seen; at
  the token, introspection and revocation endpoints alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hydra_lambda import passwords
from hydra_lambda_local import routes

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, call, client_credentials_token
from tests.support_flows import make_client

ATTACKER, OWNER = "203.0.113.7", "198.51.100.20"


@pytest.fixture
def scrypt_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    runs: list[int] = []
    original = passwords._scrypt

    def counted(*args: Any, **kwargs: Any) -> bytes:
        runs.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(passwords, "_scrypt", counted)
    monkeypatch.setattr(passwords, "SLOW_RATE", 0.0)  # no refill during a test, however slow the machine
    monkeypatch.setattr(passwords, "NETWORK_RATE", 0.0, raising=False)
    passwords.forget()  # a fresh container
    yield runs
    passwords.forget()


def _from(ip: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "build_event", functools.partial(routes.build_event, source_ip=ip))


def _token(client_id: str, secret: str) -> int:
    return call("POST", "/oauth2/token", headers=basic(client_id, secret),
                form={"grant_type": "client_credentials"}).status


def _supplied(secret: str) -> str:
    client_id, _ = make_client(client_secret=secret, grant_types=["client_credentials"], response_types=[])
    return client_id


def test_a_flood_of_wrong_secrets_does_not_refuse_the_right_one(scrypt_runs: list[int],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    client_id = _supplied("the-owners-secret")
    passwords.forget()
    scrypt_runs.clear()
    _from(ATTACKER, monkeypatch)
    for attempt in range(30):
        assert _token(client_id, f"wrong-{attempt}") == 401
    assert len(scrypt_runs) == passwords.SLOW_BURST  # the flood got its budget, no more
    _from(OWNER, monkeypatch)
    assert _token(client_id, "the-owners-secret") == 200  # was 401: the flood had spent the budget
    _from(ATTACKER, monkeypatch)
    assert _token(client_id, "the-owners-secret") == 200  # now one HMAC, from anywhere


def test_an_ipv6_flood_counts_per_64(scrypt_runs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    client_id = _supplied("another-owners-secret")
    passwords.forget()
    scrypt_runs.clear()
    for host in range(30):  # a new address of the same /64 each time
        _from(f"2001:db8:1:2::{host + 1:x}", monkeypatch)
        assert _token(client_id, f"wrong-{host}") == 401
    assert len(scrypt_runs) == passwords.SLOW_BURST
    _from("2001:db8:1:3::1", monkeypatch)
    assert _token(client_id, "another-owners-secret") == 200


def test_one_network_gets_a_bounded_number_of_derivations_across_client_ids(
        scrypt_runs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    _from(ATTACKER, monkeypatch)
    for attempt in range(40):  # a new (unknown) client id each time
        assert _token(f"no-such-client-{attempt}", "guess") == 401
    assert len(scrypt_runs) == passwords.NETWORK_BURST


def _introspect(client_id: str, secret: str) -> int:
    return call("POST", "/oauth2/introspect", headers=basic(client_id, secret), form={"token": "x"}).status


def _revoke(client_id: str, secret: str) -> int:
    return call("POST", "/oauth2/revoke", headers=basic(client_id, secret), form={"token": "x"}).status


@pytest.mark.parametrize("endpoint", [_token, _introspect, _revoke], ids=["token", "introspect", "revoke"])
def test_an_unknown_client_costs_what_a_wrong_secret_costs(endpoint: Callable[[str, str], int],
                                                           scrypt_runs: list[int]) -> None:
    supplied = _supplied("a-supplied-secret")
    generated, generated_secret = make_client(grant_types=["client_credentials"], response_types=[])
    assert generated_secret is not None
    warm = _supplied("a-warm-secret")
    assert _token(warm, "a-warm-secret") == 200  # its fingerprint is now known in this container
    cases = {"unknown": "no-such-client", "supplied": supplied, "generated": generated, "warm": warm}
    costs = {}
    for name, client_id in cases.items():
        passwords.refill_for_tests()
        scrypt_runs.clear()
        assert endpoint(client_id, "a-wrong-secret") == 401
        first = len(scrypt_runs)
        for _ in range(5):  # until the budget of this client id and network runs out
            assert endpoint(client_id, "a-wrong-secret") == 401
        costs[name] = (first, len(scrypt_runs))
    assert set(costs.values()) == {(1, passwords.SLOW_BURST)}, costs


def test_no_secret_and_an_empty_secret_cost_the_same_too(scrypt_runs: list[int]) -> None:
    """A confidential client sent without a secret (client_secret_post with only client_id) and an
    unknown one: the same derivation."""
    client_id, _ = make_client(grant_types=["client_credentials"], response_types=[])
    for who in (client_id, "no-such-client"):
        passwords.refill_for_tests()
        scrypt_runs.clear()
        result = call("POST", "/oauth2/token", form={"grant_type": "client_credentials", "client_id": who})
        assert result.status == 401
        assert len(scrypt_runs) == 1, who


def test_right_secrets_and_bearer_callers_cost_no_derivation(scrypt_runs: list[int]) -> None:
    client_id, secret = make_client(grant_types=["client_credentials"], response_types=[])
    assert secret is not None
    assert _token(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET) == 200  # the root's supplied secret: one, then known
    scrypt_runs.clear()
    assert _token(client_id, secret) == 200
    assert _token(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET) == 200
    headers = {"Authorization": f"Bearer {client_credentials_token('hydra.introspect')}"}
    assert call("POST", "/oauth2/introspect", headers=headers, form={"token": "x"}).status == 200
    assert scrypt_runs == []
