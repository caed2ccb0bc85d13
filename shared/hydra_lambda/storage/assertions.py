"""Client assertion ``jti`` values (and the JWT bearer grant's, by issuer), each usable once (RFC
7523 section 3, item 7): one conditional PutItem of a row under 1 KB (one write unit, accepted or
refused) in the tokens table, which DynamoDB's TTL empties after the assertion's expiry. A row whose
expiry has passed but that TTL has not yet removed does not count as seen: reads never trust TTL,
and that jti's assertion has expired. A refused put reads the row once (a replay, or botocore
resending a put whose answer was lost)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from pynamodb.exceptions import PutError

from hydra_lambda import clock
from hydra_lambda.storage.tables import AssertionRecord, connection, ensure_bound, is_condition_failure, unwrap

SHARDS = 16  # ~16,000 first uses a second before one partition key runs hot
KIND = "jti"


def row_key(client_id: str, jti: str) -> tuple[str, str]:
    """(shard, signature): a digest of both, so no jti can be made to collide with another client's."""
    digest = hashlib.sha256(f"{client_id}\x00{jti}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{KIND}#{int(digest[:8], 16) % SHARDS}", digest


GRANT_OWNER_PREFIX = "jwt-bearer#"  # a client id never holds '#' (client_ids.py)


def use_grant_jti_once(issuer: str, jti: str, expires_at: int) -> bool:
    """``use_once`` for the JWT bearer grant's assertions (RFC 7523 section 2.1): the jti is its
    issuer's, under an owner no client id can be, so it never collides with a client assertion's."""
    return use_once(GRANT_OWNER_PREFIX + issuer, jti, expires_at)


@ensure_bound
def use_once(client_id: str, jti: str, expires_at: int) -> bool:
    """Record that ``client_id`` used ``jti`` until ``expires_at``: True the first time, False when a
    live row says it was used before (or a concurrent request recorded it first)."""
    shard, signature = row_key(client_id, jti)
    mine = secrets.token_urlsafe(12)
    record = AssertionRecord(shard, signature, expires_at=expires_at, ttl=datetime.fromtimestamp(expires_at, UTC),
                             written_by=mine)
    unused = AssertionRecord.shard.does_not_exist() | (AssertionRecord.expires_at < clock.now_int())
    try:
        connection().save(record, condition=unused)
    except PutError as exc:
        if is_condition_failure(exc):
            return _written_by(shard, signature) == mine
        raise unwrap(exc) from exc
    return True


def _written_by(shard: str, signature: str) -> str | None:
    try:
        row = connection().get(AssertionRecord, shard, signature, consistent_read=True,
                               attributes_to_get=["written_by"])
    except AssertionRecord.DoesNotExist:
        return None
    return row.written_by
