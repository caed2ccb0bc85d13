"""Short leases on one row of the tokens table, for work that must not run twice at once (the key
rotation over HTTP). A lease is a conditional PutItem: it is taken only if the row is absent or its
lease has run out, so of two racing takers exactly one wins; a holder that dies leaves a row that
stops counting when ``expires_at`` passes (and that DynamoDB's TTL later removes).

The row's partition key is ``lock#<name>`` (sort key ``lease``): token partitions are "<kind>#<n>" and
the flush only ever queries those, so a lease is never mistaken for a token or flushed."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, PutError

from hydra_lambda import clock
from hydra_lambda.storage.tables import TokenRecord, connection, ensure_bound, is_condition_failure

PREFIX = "lock#"
LEASE = "lease"


@ensure_bound
def acquire(name: str, seconds: int) -> str | None:
    """Take the lease ``name`` for ``seconds``; its owner token, or None when someone else holds it."""
    now = int(clock.now())
    owner = secrets.token_urlsafe(16)
    row = TokenRecord(shard=PREFIX + name, signature=LEASE, client_id="", subject=owner, issued_at=now,
                      expires_at=now + seconds, ttl=datetime.fromtimestamp(now + seconds, UTC))
    try:
        # ``subject == owner``: botocore's resend of a write that committed but whose answer was lost
        # finds its own lease, which is success, not "someone else holds it".
        connection().save(row, condition=TokenRecord.shard.does_not_exist() | (TokenRecord.expires_at < now)
                          | (TokenRecord.subject == owner))
    except PutError as exc:
        if is_condition_failure(exc):
            return None
        raise
    return owner


@ensure_bound
def release(name: str, owner: str) -> None:
    """Give the lease back, if it is still ours (after it ran out someone else may hold it)."""
    try:
        connection().delete(TokenRecord(shard=PREFIX + name, signature=LEASE), condition=TokenRecord.subject == owner)
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise
