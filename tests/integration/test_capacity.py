"""What the hot operations cost in DynamoDB capacity, as DynamoDB Local reports it
(``ReturnConsumedCapacity=INDEXES`` on every call, indexes included), driven through the handlers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support import CLIENT_HOOKS, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, call, client_credentials_token


@contextmanager
def capacity() -> Iterator[list[tuple[str, float, float]]]:
    """(operation, read units, write units) of every DynamoDB call made meanwhile, indexes included."""
    seen: list[tuple[str, float, float]] = []

    def ask(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "INDEXES"

    def record(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        used = parsed.get("ConsumedCapacity")
        for entry in used if isinstance(used, list) else [used] if used else []:
            read = float(entry.get("ReadCapacityUnits") or 0)
            write = float(entry.get("WriteCapacityUnits") or 0)
            if not read and not write:  # some operations report only the total
                units = float(entry.get("CapacityUnits") or 0)
                write = units if model.name in {"PutItem", "UpdateItem", "DeleteItem"} else 0.0
                read = units - write
            seen.append((model.name, read, write))

    with CLIENT_HOOKS.hooked("dynamodb", "before-parameter-build.dynamodb", ask), \
            CLIENT_HOOKS.hooked("dynamodb", "after-call.dynamodb", record):
        yield seen


def _token() -> str:
    result = call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                  form={"grant_type": "client_credentials"})
    assert result.status == 200, result.body
    return result.json["access_token"]


def test_a_client_credentials_token_is_one_write(capsys: Any) -> None:
    _token()  # warm: the client record is cached after the first authentication
    with capacity() as used:
        _token()
    writes = [entry for entry in used if entry[2]]
    assert [entry[0] for entry in writes] == ["PutItem"], used
    with capsys.disabled():
        print(f"\nclient_credentials token: {used}")
    # The row alone, in no index (was 4: by_request, by_client and by_expiry; the flush now finds it by
    # its own key, which sorts by expiry within its shard).
    assert writes[0][2] == 1.0, used


def test_introspection_is_one_read_of_one_unit(capsys: Any) -> None:
    token = _token()
    caller = basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)  # the caller's client record is cached after this
    assert call("POST", "/oauth2/introspect", headers=caller, form={"token": token}).json["active"]
    with capacity() as used:
        result = call("POST", "/oauth2/introspect", headers=caller, form={"token": token})
    assert result.json["active"] is True
    with capsys.disabled():
        print(f"\nintrospection: {used}")
    assert used == [("GetItem", 1.0, 0.0)], used  # the token's row, consistently read; no write
    # A Bearer caller's first call adds the read of its own token (the warden); later calls within
    # CLIENT_CACHE_SECONDS reuse it: one read of one unit again, and never a write.
    headers = {"Authorization": f"Bearer {client_credentials_token('hydra.introspect')}"}
    with capacity() as used:
        assert call("POST", "/oauth2/introspect", headers=headers, form={"token": token}).json["active"]
    assert used == [("GetItem", 1.0, 0.0), ("GetItem", 1.0, 0.0)], used
    with capacity() as used:
        assert call("POST", "/oauth2/introspect", headers=headers, form={"token": token}).json["active"]
    assert used == [("GetItem", 1.0, 0.0)], used


def test_a_revoked_bearer_caller_is_refused_once_the_cache_window_passes() -> None:
    """The caller's token is remembered for CLIENT_CACHE_SECONDS at most: revoking it is honoured
    within that window (the same bound as deleting its client), and at once in a new container."""
    from hydra_lambda import clock
    from hydra_lambda.config import get_settings
    from hydra_lambda.storage import token_rows as token_store
    from hydra_lambda.tokens import opaque as opaque_tokens

    token = _token()
    caller = client_credentials_token("hydra.introspect")
    headers = {"Authorization": f"Bearer {caller}"}
    assert call("POST", "/oauth2/introspect", headers=headers, form={"token": token}).status == 200
    token_store.delete(opaque_tokens.signature_of(caller, "access") or "", "access")
    window = get_settings().client_cache_seconds
    assert window > 0
    clock.advance(window + 1)
    refused = call("POST", "/oauth2/introspect", headers=headers, form={"token": token})
    assert refused.status == 401, refused.body


def test_a_bearer_caller_revoked_through_this_container_is_refused_at_once() -> None:
    token = _token()
    caller = client_credentials_token("hydra.introspect")
    headers = {"Authorization": f"Bearer {caller}"}
    assert call("POST", "/oauth2/introspect", headers=headers, form={"token": token}).status == 200
    revoked = call("POST", "/oauth2/revoke", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), form={"token": caller})
    assert revoked.status == 200
    refused = call("POST", "/oauth2/introspect", headers=headers, form={"token": token})
    assert refused.status == 401, refused.body


def test_revoking_an_access_token_is_one_write(capsys: Any) -> None:
    token = _token()
    with capacity() as used:
        result = call("POST", "/oauth2/revoke", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                      form={"token": token})
    assert result.status == 200
    with capsys.disabled():
        print(f"\nrevocation: {used}")
    writes = [entry for entry in used if entry[2]]
    assert [entry[0] for entry in writes] == ["DeleteItem"], used
    assert writes[0][2] == 1.0, used  # the row alone: it is in no index


def test_a_client_credentials_row_is_well_under_one_kilobyte(capsys: Any) -> None:
    """A write unit covers 1 KB: the row (attribute names and values) must stay below it."""
    from hydra_lambda.storage.clients import item_size
    from hydra_lambda.storage.tables import TokenRecord, flush_shard
    from hydra_lambda.tokens import opaque as opaque_tokens

    signature = opaque_tokens.signature_of(_token(), "access") or ""
    row = TokenRecord.get(flush_shard("access", signature), signature, consistent_read=True)
    size = item_size(row)  # type: ignore[arg-type]
    with capsys.disabled():
        print(f"\nclient_credentials row: {size} bytes")
    assert 100 < size < 512, size


def _code_grant() -> tuple[str, str, str]:
    from tests.support_flows import code_flow, make_client

    client_id, secret = make_client()
    assert secret is not None
    _, callback = code_flow(client_id, scopes=["openid", "offline"])
    return client_id, secret, callback["code"]


def test_a_code_exchange_and_a_refresh_are_one_read_and_one_transaction(capsys: Any) -> None:
    """Each: the code's or refresh token's row (consistent read), then ONE transaction that consumes it
    (its condition on ``used_at`` is also what makes a concurrent revocation win: revoking marks
    the row, so nothing is added for it) and writes the new pair (and, for a refresh, deletes the
    access token the old refresh token came with)."""
    from tests.support_flows import redeem, refresh

    client_id, secret, code = _code_grant()
    with capacity() as exchange:
        tokens = redeem(client_id, secret, code).json
    with capacity() as rotation:
        assert refresh(client_id, secret, tokens["refresh_token"]).status == 200
    with capsys.disabled():
        print(f"\ncode exchange: {exchange}\nrefresh: {rotation}")
    for used in (exchange, rotation):
        assert [entry[0] for entry in used] == ["GetItem", "TransactWriteItems"], used
        assert sum(entry[1] + entry[2] for entry in used if entry[0] == "TransactWriteItems") == 6.0, used


def test_logging_out_marks_the_live_refresh_token_then_deletes_the_grant(capsys: Any) -> None:
    """RFC 7009 with a refresh token whose grant was rotated once, a while ago: the token's row read,
    ONE mark (UpdateItem) of it, the grant's keys from the index, the earlier links read in one
    BatchGetItem (used long enough ago that they can issue nothing more: not marked), their rows and
    the live access token deleted in one BatchWriteItem, the token itself last."""
    from hydra_lambda import clock

    from tests.support_flows import redeem, refresh

    client_id, secret, code = _code_grant()
    second = refresh(client_id, secret, redeem(client_id, secret, code).json["refresh_token"]).json
    clock.advance(120)  # past the grace period (0 s here) and the minute a late reissue may take
    assert call("POST", "/oauth2/revoke", headers=basic(client_id, secret), form={"token": "x"}).status == 200
    with capacity() as used:
        result = call("POST", "/oauth2/revoke", headers=basic(client_id, secret),
                      form={"token": second["refresh_token"]})
    assert result.status == 200
    with capsys.disabled():
        print(f"\nlogout: {used}")
    assert [entry[0] for entry in used] == [
        "GetItem", "UpdateItem", "Query", "BatchGetItem", "BatchWriteItem", "DeleteItem"], used
    assert [entry[2] for entry in used if entry[0] == "UpdateItem"] == [1.0], used
