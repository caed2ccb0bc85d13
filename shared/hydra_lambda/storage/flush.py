"""The key-range queries and batch deletes behind the flush (never a scan).

Token rows are keyed ("<kind>#<n>", "<expires_at:010d><HMAC>"): a flush queries each token shard of
the table itself for the keys below the cutoff's 10 digits, oldest first. Consent rows carry
``flush_shard`` and ``expires_at``, the keys of the consent table's ``by_expiry`` index (keys only),
queried the same way. Deleting is idempotent, so an interrupted or concurrent run does no harm and
the next run simply starts from the oldest row again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.models import Model

from hydra_lambda.storage.tables import FLUSH_SHARDS, ConsentRecord, TokenRecord, connection, ensure_bound
from hydra_lambda.tokens.opaque import expiry_prefix

BATCH_SIZE = 25  # the BatchWriteItem maximum
PAGE_SIZE = 500  # keys per index query page
MAX_ATTEMPTS = 6  # per batch, for unprocessed items (throttling): at most ~3 s of backoff
BASE_BACKOFF = 0.05


@dataclass(frozen=True)
class Kind:
    """One kind of expiring row: where it lives and how its rows are keyed."""

    name: str  # the shard prefix and the kind reported in logs and metrics
    model: type[Model]
    key: str  # the table's hash key attribute
    range_key: str | None = None  # token rows: the range key, which sorts by expiry

    def shards(self) -> list[str]:
        return [f"{self.name}#{index}" for index in range(FLUSH_SHARDS[self.name])]


KINDS: tuple[Kind, ...] = (
    Kind("access", TokenRecord, "shard", "signature"),
    Kind("refresh", TokenRecord, "shard", "signature"),
    Kind("code", TokenRecord, "shard", "signature"),
    Kind("consent", ConsentRecord, "id"),
)


class BatchIncomplete(Exception):
    """Some rows of a batch were still unprocessed after every retry (sustained throttling)."""


@ensure_bound
def prepare() -> None:
    """Bind the tables and make the batch deletes' client on this thread, before the flush's threads
    use it (botocore clients are thread-safe once made; making one is not)."""
    _ = connection().client


@ensure_bound
def expired_keys(kind: Kind, shard: str, cutoff: int) -> Iterator[dict[str, Any]]:
    """Keys of the rows in ``shard`` that expired before ``cutoff``, oldest first, page by page.

    The queries go straight to botocore's client, built once per shard: a flush makes at least one
    per shard (176), most of them empty, and pynamodb's expression and model building was 10-25% of
    their CPU."""
    request: dict[str, Any] = {"TableName": kind.model.Meta.table_name, "Limit": PAGE_SIZE}
    if kind.range_key is not None:  # token rows: a key-range query on the table, keys only read back
        request.update(KeyConditionExpression="#k = :k AND #r < :cutoff", ProjectionExpression="#k, #r",
                       ExpressionAttributeNames={"#k": kind.key, "#r": kind.range_key},
                       ExpressionAttributeValues={":k": {"S": shard}, ":cutoff": {"S": expiry_prefix(cutoff)}})
    else:  # consent rows: the by_expiry index (keys only)
        request.update(IndexName="by_expiry", KeyConditionExpression="#s = :s AND #e < :cutoff",
                       ExpressionAttributeNames={"#s": "flush_shard", "#e": "expires_at"},
                       ExpressionAttributeValues={":s": {"S": shard}, ":cutoff": {"N": str(cutoff)}})
    client = connection().client
    while True:
        page = client.query(**request)
        for item in page.get("Items") or []:
            key = {kind.key: item[kind.key]}
            if kind.range_key is not None:
                key[kind.range_key] = item[kind.range_key]
            yield key
        start = page.get("LastEvaluatedKey")
        if not start:
            return
        request["ExclusiveStartKey"] = start


@ensure_bound
def delete_batch(kind: Kind, keys: list[dict[str, Any]], sleep: Callable[[float], None] = time.sleep) -> None:
    """Delete up to 25 rows in one BatchWriteItem, retrying unprocessed items with jittered backoff.
    Deleting a row that is already gone succeeds, which is what makes concurrent flushes safe."""
    table = kind.model.Meta.table_name
    client = connection().client  # botocore's client: its own retries, then ours for unprocessed items
    pending: list[dict[str, Any]] = [{"DeleteRequest": {"Key": key}} for key in keys]
    for attempt in range(MAX_ATTEMPTS):
        response = client.batch_write_item(RequestItems={table: pending})
        pending = (response.get("UnprocessedItems") or {}).get(table) or []
        if not pending:
            return
        sleep(random.uniform(0, BASE_BACKOFF * 2**attempt))
    raise BatchIncomplete(f"{len(pending)} rows of {kind.name} left unprocessed")
