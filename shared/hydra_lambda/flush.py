"""The flush: removes expired access tokens, refresh tokens, authorization codes and consent requests.

It reads expired keys by key-range queries (the token table's own keys, the consent table's
``by_expiry`` index; never a table scan), deletes in batches of 25 on a few threads,
takes the shards of every kind in turn so one huge backlog does not starve the others, and stops
when ``should_stop`` says the time is up. There is no cursor: each run starts from the oldest row of
each shard, and rows deleted earlier are simply gone, so the next run resumes where this one stopped.
Two runs at once delete some rows twice, which DynamoDB treats as success.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from hydra_lambda import clock
from hydra_lambda.observability import count, logger
from hydra_lambda.storage import flush as store
from hydra_lambda.transient import is_transient

# Metric name per kind (CloudWatch EMF through powertools Metrics).
METRIC_NAMES = {
    "access": "FlushedAccessTokens",
    "refresh": "FlushedRefreshTokens",
    "code": "FlushedAuthorizationCodes",
    "consent": "FlushedConsentRequests",
}
WORKERS = 4
# Keep this much of the Lambda's time for the last batches, the logs and the metrics.
LAMBDA_SAFETY_MS = 10_000
# API Gateway cuts HTTP API integrations off after 30 s, however long the function may run.
HTTP_BUDGET_SECONDS = 25.0


@dataclass
class FlushResult:
    cutoff: int
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METRIC_NAMES, 0))
    complete: bool = True

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def _never() -> bool:
    return False


def deadline_from(context: Any, budget_seconds: float | None = None) -> Callable[[], bool]:
    """A ``should_stop`` for a Lambda invocation: stop ``LAMBDA_SAFETY_MS`` before the function's
    deadline, and after ``budget_seconds`` if given (HTTP calls)."""
    started = time.monotonic()
    remaining = getattr(context, "get_remaining_time_in_millis", None)

    def should_stop() -> bool:
        if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            return True
        return remaining is not None and remaining() < LAMBDA_SAFETY_MS

    return should_stop


Stream = tuple[store.Kind, Iterator[list[dict[str, Any]]]]


def _batches(kind: store.Kind, shard: str, cutoff: int) -> Iterator[list[dict[str, Any]]]:
    keys = store.expired_keys(kind, shard, cutoff)
    while batch := list(islice(keys, store.BATCH_SIZE)):
        yield batch


def flush(
    not_after: int | None = None, should_stop: Callable[[], bool] = _never, *, emit_metrics: bool = True
) -> FlushResult:
    """Delete every row that expired before ``min(not_after, now)``, until done or ``should_stop``.
    The counts are logged, and emitted as CloudWatch metrics (EMF) unless ``emit_metrics`` is False."""
    store.prepare()
    now = clock.now_int()
    result = FlushResult(cutoff=now if not_after is None else min(not_after, now))
    streams: list[Stream] = [
        (kind, _batches(kind, shard, result.cutoff)) for kind in store.KINDS for shard in kind.shards()
    ]
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="flush") as pool:
        while streams:
            if should_stop():
                result.complete = False
                break
            streams = _one_round(pool, streams, result)
    _report(result, emit_metrics)
    return result


def _one_round(pool: ThreadPoolExecutor, streams: list[Stream], result: FlushResult) -> list[Stream]:
    """One batch from each shard that still has expired rows; returns the shards that may have more."""
    futures = [(stream, pool.submit(_next_batch, stream)) for stream in streams]
    alive = []
    for stream, future in futures:
        try:
            deleted = future.result()
        except Exception as exc:
            if not (isinstance(exc, store.BatchIncomplete) or is_transient(exc)):
                raise
            # Throttled: leave this shard for the next run rather than fail the whole flush.
            logger.warning("flush batch failed", extra={"kind": stream[0].name, "error": type(exc).__name__})
            result.complete = False
            continue
        if deleted is not None:
            result.removed[stream[0].name] += deleted
            alive.append(stream)
    return alive


def _next_batch(stream: Stream) -> int | None:
    """Read the next batch of a shard (a query when its page is used up) and delete it; None when the
    shard has no expired rows left. Each stream is only ever advanced by one task at a time."""
    kind, batches = stream
    batch = next(batches, None)
    if batch is None:
        return None
    store.delete_batch(kind, batch)
    return len(batch)


def _report(result: FlushResult, emit: bool) -> None:
    logger.info(
        "flush finished" if result.complete else "flush stopped before the deadline; the next run resumes",
        extra={"removed": result.removed, "complete": result.complete, "cutoff": result.cutoff},
    )
    if emit:  # published with the invocation's other metrics when it ends
        for kind, removed in result.removed.items():
            count(METRIC_NAMES[kind], removed)
        count("FlushIncomplete", 0 if result.complete else 1)
