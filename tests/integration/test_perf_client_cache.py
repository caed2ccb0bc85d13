"""CLIENT_CACHE_SECONDS: client records reused for client authentication within one container.
On by default (10 s), 0 turns it off. Within the TTL a second authentication makes no read but still
checks the secret; after it the record is read again; a local update or delete is seen at once; an
unknown client is never remembered; a change made by another container is seen within the TTL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from hydra_lambda import clock, config, passwords
from hydra_lambda.client_auth import authenticate_client
from hydra_lambda.clients import registry as clients
from hydra_lambda.errors import InvalidClient
from hydra_lambda.http.forms import credentials
from hydra_lambda.storage import clients as store

from tests.support import basic, dynamodb_calls
from tests.support_lifecycle import new_client


def _use_ttl(seconds: int) -> Iterator[None]:
    config.reset_settings()
    config._current = dataclasses.replace(config.get_settings(), client_cache_seconds=seconds)
    clients._auth_cache.clear()
    yield
    clients._auth_cache.clear()
    config.reset_settings()


@pytest.fixture
def cache_seconds() -> Iterator[None]:
    """Client cache on (30 s) for one test."""
    yield from _use_ttl(30)


@pytest.fixture
def cache_off() -> Iterator[None]:
    yield from _use_ttl(0)


def _auth(client_id: str, secret: str | None) -> str:
    return authenticate_client(credentials(basic(client_id, secret or "")["Authorization"]), {}).id


def _change_secret_elsewhere(client_id: str, new_secret: str) -> None:
    """What another container's update does: a new row in the table, this container's cache untouched."""
    existing = clients.get_client(client_id)
    assert existing is not None
    existing.secret_hash = passwords.hash_secret(new_secret, generated=False)
    store.replace(existing, existing.updated_at)


def test_the_setting_defaults_to_ten_seconds_and_reads_the_environment() -> None:
    assert config.Settings.from_env({}).client_cache_seconds == 10
    assert config.Settings.from_env({"CLIENT_CACHE_SECONDS": "30"}).client_cache_seconds == 30
    assert config.Settings.from_env({"CLIENT_CACHE_SECONDS": "0"}).client_cache_seconds == 0


def test_on_by_default_a_warm_authentication_makes_no_read() -> None:
    assert config.get_settings().client_cache_seconds == 10
    client_id, secret = new_client()
    _auth(client_id, secret)
    with dynamodb_calls() as seen:
        assert _auth(client_id, secret) == client_id
    assert seen == []


def test_off_every_authentication_reads_and_a_delete_elsewhere_fails_at_once(cache_off: None) -> None:
    client_id, secret = new_client()
    assert _auth(client_id, secret) == client_id
    with dynamodb_calls() as seen:
        assert _auth(client_id, secret) == client_id
    assert seen == ["GetItem"]
    assert store.delete(client_id)  # as another container would: nothing local is forgotten
    with pytest.raises(InvalidClient):
        _auth(client_id, secret)


def test_on_a_second_authentication_within_the_ttl_makes_no_read(cache_seconds: None) -> None:
    client_id, secret = new_client()
    with dynamodb_calls() as seen:
        assert _auth(client_id, secret) == client_id
        assert _auth(client_id, secret) == client_id
    assert seen == ["GetItem"]
    with pytest.raises(InvalidClient):  # the secret is still checked against the cached record
        _auth(client_id, "wrong-secret-wrong-secret")


def test_on_after_the_ttl_it_reads_again(cache_seconds: None) -> None:
    client_id, secret = new_client()
    _auth(client_id, secret)
    clock.advance(29)
    with dynamodb_calls() as seen:
        assert _auth(client_id, secret) == client_id
    assert seen == []
    clock.advance(2)
    with dynamodb_calls() as seen:
        assert _auth(client_id, secret) == client_id
    assert seen == ["GetItem"]


def test_on_a_clock_that_went_back_does_not_stretch_the_ttl(cache_seconds: None) -> None:
    client_id, secret = new_client()
    clock.advance(3600)
    _auth(client_id, secret)
    clock.advance(-3600)  # read "in the future": not trusted
    with dynamodb_calls() as seen:
        assert _auth(client_id, secret) == client_id
    assert seen == ["GetItem"]


def test_on_a_local_delete_invalidates(cache_seconds: None) -> None:
    client_id, secret = new_client()
    _auth(client_id, secret)
    clients.delete_client(client_id)
    with pytest.raises(InvalidClient):
        _auth(client_id, secret)


def test_on_a_local_secret_change_invalidates(cache_seconds: None) -> None:
    client_id, secret = new_client()
    _auth(client_id, secret)
    new_secret = "a-brand-new-secret-0123456789abcdef"
    clients.update_client(client_id, {"client_secret": new_secret})
    with pytest.raises(InvalidClient):
        _auth(client_id, secret)
    assert _auth(client_id, new_secret) == client_id


def test_on_a_secret_changed_elsewhere_the_old_one_works_for_at_most_the_ttl(cache_seconds: None) -> None:
    client_id, secret = new_client()
    _auth(client_id, secret)
    new_secret = "a-secret-set-by-another-container-0123"
    _change_secret_elsewhere(client_id, new_secret)
    assert _auth(client_id, secret) == client_id  # the cached hash: the documented window
    with pytest.raises(InvalidClient):
        _auth(client_id, new_secret)  # checked against the cached hash too, not trusted blindly
    clock.advance(30)
    assert _auth(client_id, new_secret) == client_id
    with pytest.raises(InvalidClient):
        _auth(client_id, secret)


def test_on_a_delete_elsewhere_is_seen_after_the_ttl(cache_seconds: None) -> None:
    client_id, secret = new_client()
    _auth(client_id, secret)
    assert store.delete(client_id)
    assert _auth(client_id, secret) == client_id  # the documented window
    clock.advance(30)
    with pytest.raises(InvalidClient):
        _auth(client_id, secret)
    assert client_id not in clients._auth_cache


def test_on_unknown_clients_are_not_cached(cache_seconds: None) -> None:
    with pytest.raises(InvalidClient):
        _auth("not-yet-created-client", "some-secret-0123456789")
    assert "not-yet-created-client" not in clients._auth_cache
    client_id, secret = new_client(id="not-yet-created-client")
    try:
        assert _auth(client_id, secret) == client_id
    finally:
        clients.delete_client(client_id)


def test_on_the_cache_is_bounded(cache_seconds: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients._auth_cache, "_max_entries", 2)
    made = [new_client() for _ in range(3)]
    for client_id, secret in made:
        assert _auth(client_id, secret) == client_id
    assert len(clients._auth_cache) <= 2
    assert made[-1][0] in clients._auth_cache


def test_on_the_admin_routes_do_not_use_the_cache(cache_seconds: None) -> None:
    client_id, secret = new_client()
    _auth(client_id, secret)
    with dynamodb_calls() as seen:
        assert clients.get_client(client_id) is not None
    assert seen == ["GetItem"]
