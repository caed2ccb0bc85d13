"""Storage against Amazon DynamoDB Local: conditional writes, expiry, indexes, transactions."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from hydra_lambda import clock
from hydra_lambda.storage import token_rows as store
from hydra_lambda.storage.tables import ConsentRecord, TokenRecord, flush_shard
from hydra_lambda.tokens import opaque as opaque_tokens


def make(kind: str = "access", request_id: str | None = None, ttl: int = 3600, client: str = "c1") -> store.Token:
    return store.Token(
        signature=uuid.uuid4().hex,
        kind=kind,
        request_id=uuid.uuid4().hex if request_id is None else request_id,
        client_id=client,
        subject="alice",
        scopes=["openid", "offline"],
        extra={"tenant": "t1"},
        expires_at=clock.now_int() + ttl,
    )


def test_put_and_get_round_trip() -> None:
    token = make()
    store.put(token)
    found = store.get(token.signature, "access")
    assert found is not None
    assert (found.subject, found.scopes, found.extra) == ("alice", ["openid", "offline"], {"tenant": "t1"})
    assert store.get(token.signature, "refresh") is None  # another kind is absent


def test_expired_rows_are_absent_even_before_ttl_removes_them() -> None:
    token = make(ttl=60)
    store.put(token)
    assert store.get(token.signature, "access") is not None
    clock.advance(61)
    assert store.get(token.signature, "access") is None
    # The row is still there: reads do not trust TTL.
    assert TokenRecord.get(flush_shard("access", token.signature), token.signature) is not None


def test_a_signature_cannot_be_stored_twice() -> None:
    token = make()
    store.put(token)
    with pytest.raises(ClientError) as raised:
        store.put(token)
    assert raised.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_consume_is_single_use_under_a_race() -> None:
    token = make(kind="code")
    store.put(token)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        mine = store.get(token.signature, "code")
        barrier.wait()
        try:
            assert mine is not None
            store.consume(mine)
            outcomes.append("won")
        except store.AlreadyUsed:
            outcomes.append("lost")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]
    assert store.get(token.signature, "code") is None
    assert store.get(token.signature, "code", include_used=True) is not None


def test_an_expired_code_cannot_be_consumed() -> None:
    token = make(kind="code", ttl=10)
    store.put(token)
    clock.advance(11)
    with pytest.raises(store.AlreadyUsed):
        store.consume(token)


def test_revoke_request_deletes_the_whole_grant_through_the_index() -> None:
    grant = uuid.uuid4().hex
    family = [make("access", grant), make("refresh", grant), make("access", grant)]
    other = make("access")
    for token in [*family, other]:
        store.put(token)
    assert store.revoke_request(grant) == 3
    assert all(store.get(t.signature, t.kind) is None for t in family)
    assert store.get(other.signature, "access") is not None


def test_only_grant_chain_rows_enter_the_request_index() -> None:
    chained = make("access", uuid.uuid4().hex)
    alone = make("access", "")  # a client_credentials token: no grant chain
    for token in (chained, alone):
        store.put(token)
    assert TokenRecord.get(flush_shard("access", alone.signature), alone.signature).request_id is None
    assert store.get(alone.signature, "access").request_id == ""  # type: ignore[union-attr]
    assert list(store.signatures_of_request(chained.request_id)) == [chained.signature]


def test_transaction_consumes_and_issues_atomically() -> None:
    code = make("code")
    store.put(code)
    issued = make("access", code.request_id)
    now = clock.now_int()
    store.transact(
        updates=[(store.to_record(code), [TokenRecord.used_at.set(now)], store.consume_condition(now))],
        saves=[store.to_record(issued)],
    )
    assert store.get(issued.signature, "access") is not None
    # The code is used now: a second transaction fails as a whole and writes nothing.
    again = make("access", code.request_id)
    with pytest.raises(store.AlreadyUsed):
        store.transact(
            updates=[(store.to_record(code), [TokenRecord.used_at.set(now)], store.consume_condition(now))],
            saves=[store.to_record(again)],
        )
    assert store.get(again.signature, "access") is None


def test_token_rows_sort_by_expiry_in_their_shard_without_an_expiry_index() -> None:
    """The flush finds expired token rows by a key range of the table itself: the row key is
    (kind's shard, expiry digits + HMAC), and no token row lands in an expiry index."""
    assert not hasattr(TokenRecord, "by_expiry")
    now = clock.now_int()
    gone, live = make(ttl=-30), make(ttl=600)
    for row in (gone, live):
        row.signature = opaque_tokens.storage_key(row.expires_at, row.signature)  # as opaque_tokens.generate makes it
        store.put(row)
    below = TokenRecord.signature < opaque_tokens.expiry_prefix(now)
    found = {r.signature for row in (gone, live)
             for r in TokenRecord.query(flush_shard("access", row.signature), below)}
    assert gone.signature in found and live.signature not in found


def test_consent_table_accepts_rows() -> None:
    record = ConsentRecord(
        uuid.uuid4().hex, client_id="c", redirect_url="https://x", csrf_hash="h",
        created_at=clock.now_int(), expires_at=clock.now_int() + 600, flush_shard="consent#0",
        ttl=datetime.fromtimestamp(clock.now_int() + 600, UTC),
    )
    record.save()
    assert ConsentRecord.get(record.id).client_id == "c"
