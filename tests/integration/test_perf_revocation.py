"""Revoking an access token is one conditional DeleteItem (no read of the token first; the client
comes from the warm container's client cache), and the condition keeps every case that must change
nothing unchanged."""

from __future__ import annotations

from hydra_lambda import clock
from hydra_lambda.storage import token_rows as token_store
from hydra_lambda.tokens import opaque as opaque_tokens

from tests.support import dynamodb_calls
from tests.support_lifecycle import grant, is_active, new_client, revoke


def test_revoking_an_access_token_is_one_delete_when_warm() -> None:
    g = grant()
    revoke("garbage")  # warm: start-up reads, and the client record is cached
    with dynamodb_calls() as seen:
        result = revoke(g.access)
    assert result.status == 200
    assert seen == ["DeleteItem"]  # the token, conditional on its owner
    assert not is_active(g.access)


def test_another_clients_access_token_survives_the_conditional_delete() -> None:
    owner_id, _ = new_client(scope="photos.read")
    g = grant(client_id=owner_id, scopes=("photos.read",))
    revoke("garbage")
    with dynamodb_calls() as seen:
        assert revoke(g.access).status == 200
    assert seen == ["DeleteItem"]
    assert is_active(g.access)


def test_delete_owned_checks_kind_owner_expiry_and_use() -> None:
    g = grant(access_lifespan=10)
    access = opaque_tokens.signature_of(g.access, "access") or ""
    refresh = opaque_tokens.signature_of(g.refresh, "refresh") or ""
    assert not token_store.delete_owned(refresh, "access", g.client_id)  # wrong kind
    assert not token_store.delete_owned(access, "access", "someone-else")
    assert not token_store.delete_owned("no-such-signature", "access", g.client_id)
    clock.advance(11)
    assert not token_store.delete_owned(access, "access", g.client_id)  # expired: left to the flush
    clock.advance(-11)
    assert token_store.get(access, "access") is not None
    assert token_store.delete_owned(access, "access", g.client_id)
    assert token_store.get(access, "access") is None
