"""The flush against DynamoDB Local: expired rows of every kind go, live rows stay, an interrupted
run finishes on the next one, concurrent runs do not fail, and the route, the schedule and the CLI
all run the same code."""

from __future__ import annotations

import functools
import json
import secrets
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from hydra_lambda import clock, flush
from hydra_lambda.storage import flush as store
from hydra_lambda.storage import tables
from hydra_lambda.storage.tables import ConsentRecord, TokenRecord, bind, flush_shard
from hydra_lambda.storage.token_rows import to_record
from hydra_lambda.tokens.model import Token
from hydra_lambda.tokens.opaque import storage_key

KINDS = ("access", "refresh", "code", "consent")


def _token_row(kind: str, expires_at: int) -> TokenRecord:
    # The storage key the token's reader computes: the expiry first (the flush's key range), then the HMAC.
    signature = storage_key(expires_at, f"flushtest-{secrets.token_hex(16)}")
    return to_record(Token(signature=signature, kind=kind, request_id=secrets.token_hex(8),
                           client_id="flush-test-client", expires_at=expires_at, issued_at=expires_at - 60))


def _consent_row(expires_at: int) -> ConsentRecord:
    key = f"flushtest-{secrets.token_hex(16)}"
    return ConsentRecord(key, client_id="flush-test-client", redirect_url="https://app.example/cb",
                         csrf_hash="x", created_at=expires_at - 600, expires_at=expires_at,
                         ttl=datetime.fromtimestamp(expires_at, UTC), flush_shard=flush_shard("consent", key))


def seed(expired: int, live: int, *, now: int | None = None) -> dict[str, dict[str, list[Any]]]:
    """``expired`` and ``live`` rows of each kind, written with BatchWriteItem; returns their keys."""
    bind()
    now = now or clock.now_int()
    rows: dict[str, dict[str, list[Any]]] = {kind: {"expired": [], "live": []} for kind in KINDS}
    tokens, consents = [], []
    for kind in KINDS:
        for state, count in (("expired", expired), ("live", live)):
            for index in range(count):
                # Expired rows spread over the last ~3 days; live ones expire from 10 min to 30 days ahead.
                at = now - 1 - index * 97 % 259_200 if state == "expired" else now + 600 + index * 1_013 % 2_592_000
                record = _consent_row(at) if kind == "consent" else _token_row(kind, at)
                # DynamoDB Local runs TTL too: push it out of the way so only the flush deletes.
                record.ttl = datetime.fromtimestamp(now + 10 * 365 * 86_400, UTC)
                (consents if kind == "consent" else tokens).append(record)
                rows[kind][state].append(record.id if kind == "consent" else (record.shard, record.signature))
    for model, records in ((TokenRecord, tokens), (ConsentRecord, consents)):
        with model.batch_write() as batch:
            for record in records:
                batch.save(record)
    return rows


def existing(kind: str, keys: list[Any]) -> set[Any]:
    """Which of ``keys`` (ids; (shard, signature) for tokens) still exist (BatchGetItem, consistent)."""
    model: Any = ConsentRecord if kind == "consent" else TokenRecord
    found: set[Any] = set()
    for start in range(0, len(keys), 100):
        for item in model.batch_get(keys[start:start + 100], consistent_read=True):
            found.add(item.id if kind == "consent" else (item.shard, item.signature))
    return found


def assert_flushed(rows: dict[str, dict[str, list[Any]]]) -> None:
    for kind in KINDS:
        assert existing(kind, rows[kind]["expired"]) == set(), f"expired {kind} rows survived"
        assert existing(kind, rows[kind]["live"]) == set(rows[kind]["live"]), f"live {kind} rows were deleted"


def test_flush_removes_every_expired_row_of_each_kind_and_keeps_live_ones(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra_lambda.observability import metrics

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    rows = seed(expired=600, live=150)
    capsys.readouterr()
    result = flush.flush()
    metrics.flush_metrics()
    assert result.complete
    assert_flushed(rows)
    for kind in KINDS:
        assert result.removed[kind] >= 600
    # The counts are logged and emitted as CloudWatch metrics (EMF on stdout).
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emitted = {}
    for blob in blobs:
        emitted.update({k: sum(v) if isinstance(v, list) else v for k, v in blob.items()
                        if k in flush.METRIC_NAMES.values()})
    assert emitted["FlushedAccessTokens"] == result.removed["access"]
    assert emitted["FlushedRefreshTokens"] == result.removed["refresh"]
    assert emitted["FlushedAuthorizationCodes"] == result.removed["code"]
    assert emitted["FlushedConsentRequests"] == result.removed["consent"]


def test_a_second_flush_finds_nothing_left() -> None:
    seed(expired=50, live=10)
    first = flush.flush()
    # Same cutoff: rows of other tests that expire meanwhile do not count.
    again = flush.flush(not_after=first.cutoff)
    assert again.complete and again.total == 0


def test_not_after_keeps_rows_that_expired_later() -> None:
    now = clock.now_int()
    early = seed(expired=40, live=0, now=now - 7 * 86_400)  # expired about a week ago or more
    recent = {kind: {"expired": [], "live": keys["expired"]} for kind, keys in
              seed(expired=40, live=0, now=now - 3_600).items()}  # expired in the last hour and a bit
    flush.flush(not_after=now - 3 * 86_400 - 259_200)  # before every recent row, after every early one
    assert_flushed(early)
    assert_flushed(recent)


def test_not_after_in_the_future_never_removes_live_rows() -> None:
    rows = seed(expired=20, live=20)
    flush.flush(not_after=clock.now_int() + 365 * 86_400)
    assert_flushed(rows)


def test_an_interrupted_run_finishes_on_the_next_run(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = seed(expired=400, live=50)
    monkeypatch.setattr(store, "BATCH_SIZE", 5)  # about 25 rows per shard: five rounds of batches
    rounds = iter(range(2))  # the deadline arrives after two rounds
    first = flush.flush(should_stop=lambda: next(rounds, None) is None)
    assert not first.complete
    left = sum(len(existing(kind, rows[kind]["expired"])) for kind in KINDS)
    assert 0 < left < 4 * 400
    second = flush.flush()
    assert second.complete
    assert second.total >= left
    assert_flushed(rows)


def test_a_deadline_that_has_already_passed_deletes_nothing() -> None:
    rows = seed(expired=10, live=0)
    result = flush.flush(should_stop=lambda: True)
    assert not result.complete and result.total == 0
    assert existing("access", rows["access"]["expired"]) == set(rows["access"]["expired"])
    flush.flush()


def test_two_concurrent_runs_do_not_fail() -> None:
    rows = seed(expired=300, live=50)
    results: list[flush.FlushResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(flush.flush())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 2 and all(r.complete for r in results)
    assert_flushed(rows)


def test_unprocessed_items_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = seed(expired=30, live=0)
    kind = store.KINDS[0]
    client = tables.connection().client
    real = client.batch_write_item
    calls = {"n": 0}

    def throttled(**kwargs: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] % 2:  # every other call: DynamoDB processes nothing and hands it all back
            return {"UnprocessedItems": kwargs["RequestItems"]}
        return real(**kwargs)

    monkeypatch.setattr(client, "batch_write_item", throttled)
    sleeps: list[float] = []
    keys = [{"shard": {"S": shard}, "signature": {"S": signature}}
            for shard, signature in rows["access"]["expired"][:25]]
    store.delete_batch(kind, keys, sleep=sleeps.append)
    assert existing("access", rows["access"]["expired"][:25]) == set()
    assert calls["n"] == 2 and len(sleeps) == 1


def test_sustained_throttling_leaves_rows_for_the_next_run(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = seed(expired=30, live=0)
    client = tables.connection().client
    monkeypatch.setattr(client, "batch_write_item", lambda **kw: {"UnprocessedItems": kw["RequestItems"]})
    monkeypatch.setattr(store, "BASE_BACKOFF", 0.0)
    result = flush.flush()
    assert not result.complete
    monkeypatch.undo()
    assert flush.flush().complete
    assert_flushed(rows)


# --- the route, the schedule and the CLI -------------------------------------------------------

ROOT_EVENTS = __import__("tests.support", fromlist=["ROOT"]).ROOT / "events"


@functools.cache
def _bearer(scope: str = "hydra.oauth2.flush", client: tuple[str, str] | None = None) -> dict[str, str]:
    from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, call

    client_id, secret = client or (ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    result = call("POST", "/oauth2/token", headers=basic(client_id, secret),
                  form={"grant_type": "client_credentials", "scope": scope})
    assert result.status == 200, result.body
    return {"Authorization": f"Bearer {result.json['access_token']}"}


def test_route_flushes_with_an_admin_token_and_answers_204() -> None:
    from tests.support import call

    rows = seed(expired=30, live=10)
    result = call("POST", "/oauth2/flush", headers=_bearer())
    assert result.status == 204 and result.body == ""
    assert_flushed(rows)


def test_route_honours_not_after() -> None:
    from tests.support import call

    now = clock.now_int()
    rows = seed(expired=20, live=0, now=now)
    kept = datetime.fromtimestamp(now - 3 * 86_400 - 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = call("POST", "/oauth2/flush", headers=_bearer(), json_body={"notAfter": kept})
    assert result.status == 204
    survivors = existing("access", rows["access"]["expired"])
    assert survivors == set(rows["access"]["expired"])  # all expired within the last 3 days: kept
    result = call("POST", "/oauth2/flush", headers=_bearer(), json_body={"notAfter": None})
    assert result.status == 204
    assert existing("access", rows["access"]["expired"]) == set()


def test_go_zero_time_means_now() -> None:
    from tests.support import call

    rows = seed(expired=5, live=5)
    result = call("POST", "/oauth2/flush", headers=_bearer(), json_body={"notAfter": "0001-01-01T00:00:00Z"})
    assert result.status == 204
    assert_flushed(rows)


@pytest.mark.parametrize("not_after", [
    "yesterday", "2026-13-01T00:00:00Z", "2026-01-01", "2026-01-01T00:00:00", "2026-01-01T25:00:00Z", 1795755061,
    True, ["2026-01-01T00:00:00Z"], "",
])
def test_malformed_not_after_is_400_in_the_admin_shape(not_after: Any) -> None:
    from tests.support import call

    result = call("POST", "/oauth2/flush", headers=_bearer(), json_body={"notAfter": not_after})
    assert result.status == 400, result.body
    assert result.json["error"]["code"] == 400
    assert "notAfter" in result.json["error"]["message"]


@pytest.mark.parametrize("body", ["[]", "not json", '"2026-01-01T00:00:00Z"'])
def test_a_body_that_is_not_a_json_object_is_400(body: str) -> None:
    from tests.support import call

    headers = {**_bearer(), "Content-Type": "application/json"}
    result = call("POST", "/oauth2/flush", headers=headers, body=body)
    assert result.status == 400 and result.json["error"]["code"] == 400


def test_route_without_a_token_is_401_and_flushes_nothing() -> None:
    from tests.support import call

    rows = seed(expired=5, live=0)
    result = call("POST", "/oauth2/flush")
    assert result.status == 401 and result.json["error"]["code"] == 401
    bad = call("POST", "/oauth2/flush", headers={"Authorization": "Bearer hl_at_forged.forged"})
    assert bad.status == 401
    assert existing("access", rows["access"]["expired"]) == set(rows["access"]["expired"])
    flush.flush()


def test_route_needs_the_flush_scope_and_a_policy() -> None:
    from hydra_lambda.clients.registry import create_client

    from tests.support import call

    without_scope = call("POST", "/oauth2/flush", headers=_bearer(scope="hydra.clients"))
    assert without_scope.status == 403 and without_scope.json["error"]["message"] == "insufficient_scope"
    client, secret = create_client({"id": f"flush-nopolicy-{secrets.token_hex(4)}",
                                     "grant_types": ["client_credentials"], "scope": "hydra.oauth2.flush"})
    denied = call("POST", "/oauth2/flush", headers=_bearer(client=(client.id, secret or "")))
    assert denied.status == 403 and denied.json["error"]["code"] == 403


def test_wrong_method_is_405() -> None:
    from tests.support import call

    result = call("GET", "/oauth2/flush")
    assert result.status == 405 and result.headers["allow"] == "POST"


def _flush_handler() -> Any:
    from hydra_lambda_local.routes import find_route, load_handler, load_routes

    from tests.support import TEMPLATE

    found = find_route(load_routes(TEMPLATE), "POST", "/oauth2/flush")
    assert found is not None
    return load_handler(found[0])


def test_the_scheduled_event_runs_the_same_flush() -> None:
    from hydra_lambda_local.events import FakeContext

    rows = seed(expired=40, live=10)
    event = json.loads((ROOT_EVENTS / "flush-schedule.json").read_text())
    out = _flush_handler()(event, FakeContext("FlushFunction", timeout_ms=300_000))
    assert out["complete"] is True and out["removed"]["access"] >= 40
    assert_flushed(rows)


def test_the_schedule_stops_before_the_lambda_deadline_and_the_next_run_finishes() -> None:
    from hydra_lambda_local.events import FakeContext

    rows = seed(expired=40, live=10)
    event = json.loads((ROOT_EVENTS / "flush-schedule.json").read_text())
    # Less time left than the safety margin: the run stops at once rather than be killed mid-way.
    short = _flush_handler()(event, FakeContext("FlushFunction", timeout_ms=flush.LAMBDA_SAFETY_MS // 2))
    assert short["complete"] is False and sum(short["removed"].values()) == 0
    assert existing("access", rows["access"]["expired"]) == set(rows["access"]["expired"])
    full = _flush_handler()(event, FakeContext("FlushFunction", timeout_ms=300_000))
    assert full["complete"] is True
    assert_flushed(rows)
