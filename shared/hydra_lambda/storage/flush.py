"""The expiry-index queries and batch deletes behind the flush.

Rows that expire carry ``flush_shard`` ("<kind>#<n>", ``tables.FLUSH_SHARDS`` per kind) and
``expires_at``, the keys of the ``by_expiry`` index (keys only). A flush queries each shard from its
oldest row up to the cutoff and deletes what it finds; deleting is idempotent, so an interrupted or
concurrent run does no harm and the next run simply starts from the oldest row again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.models import Model

from hydra_lambda.storage.tables import FLUSH_SHARDS, ConsentRecord, TokenRecord, connection, ensure_bound

BATCH_SIZE = 25  # the BatchWriteItem maximum
PAGE_SIZE = 500  # keys per index query page
MAX_ATTEMPTS = 6  # per batch, for unprocessed items (throttling): at most ~3 s of backoff
BASE_BACKOFF = 0.05


@dataclass(frozen=True)
class Kind:
    """One kind of expiring row: where it lives and how its rows are keyed."""

    name: str  # the flush_shard prefix and the kind reported in logs and metrics
    model: type[Model]
    key: str  # the table's hash key attribute

    def shards(self) -> list[str]:
        return [f"{self.name}#{index}" for index in range(FLUSH_SHARDS[self.name])]


KINDS: tuple[Kind, ...] = (
    Kind("access", TokenRecord, "signature"),
    Kind("refresh", TokenRecord, "signature"),
    Kind("code", TokenRecord, "signature"),
    Kind("consent", ConsentRecord, "id"),
)


class BatchIncomplete(Exception):
    """Some rows of a batch were still unprocessed after every retry (sustained throttling)."""


@ensure_bound
def prepare() -> None:
    """Bind the tables and make the batch deletes' client on this thread, before the flush uses it
    from several (botocore clients are thread-safe once made; making one is not)."""
    _ = connection().client


@ensure_bound
def expired_keys(kind: Kind, shard: str, cutoff: int) -> Iterator[str]:
    """Keys of the rows in ``shard`` with ``expires_at < cutoff``, oldest first, page by page."""
    model: Any = kind.model
    for item in model.by_expiry.query(shard, model.expires_at < cutoff, page_size=PAGE_SIZE):
        yield getattr(item, kind.key)


@ensure_bound
def delete_batch(kind: Kind, keys: list[str], sleep: Callable[[float], None] = time.sleep) -> None:
    """Delete up to 25 rows in one BatchWriteItem, retrying unprocessed items with jittered backoff.
    Deleting a row that is already gone succeeds, which is what makes concurrent flushes safe."""
    table = kind.model.Meta.table_name
    client = connection().client  # botocore's client: its own retries, then ours for unprocessed items
    pending: list[dict[str, Any]] = [{"DeleteRequest": {"Key": {kind.key: {"S": key}}}} for key in keys]
    for attempt in range(MAX_ATTEMPTS):
        response = client.batch_write_item(RequestItems={table: pending})
        pending = (response.get("UnprocessedItems") or {}).get(table) or []
        if not pending:
            return
        sleep(random.uniform(0, BASE_BACKOFF * 2**attempt))
    raise BatchIncomplete(f"{len(pending)} rows of {kind.name} left unprocessed")
