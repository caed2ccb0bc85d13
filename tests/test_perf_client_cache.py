"""CLIENT_CACHE_SECONDS: client records reused for client authentication within one container.
Off by default; when on, a second authentication within the TTL makes no read, one after it reads
again, and a local update or delete is seen at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from hydra_lambda import clients, clock, config
from hydra_lambda.client_auth import authenticate_client
from hydra_lambda.errors import InvalidClient

from tests.support import basic, dynamodb_calls
from tests.support_lifecycle import new_client


@pytest.fixture
def cache_seconds() -> Iterator[None]:
    """Client cache on (30 s) for one test."""
    config.reset_settings()
    config._current = dataclasses.replace(config.get_settings(), client_cache_seconds=30)
    clients._auth_cache.clear()
    yield
    clients._auth_cache.clear()
    config.reset_settings()


def _auth(client_id: str, secret: str | None) -> str:
    return authenticate_client(basic(client_id, secret or "")["Authorization"], {}).id


def test_the_setting_defaults_to_off_and_reads_the_environment() -> None:
    assert config.Settings.from_env({}).client_cache_seconds == 0
    assert config.Settings.from_env({"CLIENT_CACHE_SECONDS": "30"}).client_cache_seconds == 30


def test_off_by_default_a_deleted_client_fails_at_once() -> None:
    assert config.get_settings().client_cache_seconds == 0
    client_id, secret = new_client()
    assert _auth(client_id, secret) == client_id
    with dynamodb_calls() as seen:
        assert _auth(client_id, secret) == client_id
    assert seen == ["GetItem"]  # no cache: every authentication reads
    clients.delete_client(client_id)
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
    clock.advance(31)
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


def test_on_unknown_clients_are_not_cached(cache_seconds: None) -> None:
    with pytest.raises(InvalidClient):
        _auth("not-yet-created-client", "some-secret-0123456789")
    client_id, secret = new_client(id="not-yet-created-client")
    try:
        assert _auth(client_id, secret) == client_id
    finally:
        clients.delete_client(client_id)


def test_on_the_admin_routes_do_not_use_the_cache(cache_seconds: None) -> None:
    client_id, secret = new_client()
    _auth(client_id, secret)
    with dynamodb_calls() as seen:
        assert clients.get_client(client_id) is not None
    assert seen == ["GetItem"]
