"""Short leases on one row of the tokens table, for work that must not run twice at once (the key
rotation over HTTP). A lease is a conditional PutItem: it is taken only if the row is absent or its
lease has run out, so of two racing takers exactly one wins; a holder that dies leaves a row that
stops counting when ``expires_at`` passes (and that DynamoDB's TTL later removes).

The row is keyed ``lock#<name>``: no token signature (an HMAC in base64url) has a ``#``."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, PutError

from hydra_lambda import clock
from hydra_lambda.storage.tables import TokenRecord, ensure_bound

PREFIX = "lock#"


def _conditional_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", "") == "ConditionalCheckFailedException"


@ensure_bound
def acquire(name: str, seconds: int) -> str | None:
    """Take the lease ``name`` for ``seconds``; its owner token, or None when someone else holds it."""
    now = int(clock.now())
    owner = secrets.token_urlsafe(16)
    row = TokenRecord(signature=PREFIX + name, kind="lock", client_id="", subject=owner, issued_at=now,
                      expires_at=now + seconds, ttl=datetime.fromtimestamp(now + seconds, UTC), flush_shard="lock")
    try:
        row.save(condition=TokenRecord.signature.does_not_exist() | (TokenRecord.expires_at < now))
    except PutError as exc:
        if _conditional_failed(exc):
            return None
        raise
    return owner


@ensure_bound
def release(name: str, owner: str) -> None:
    """Give the lease back, if it is still ours (after it ran out someone else may hold it)."""
    try:
        TokenRecord(signature=PREFIX + name).delete(condition=TokenRecord.subject == owner)
    except DeleteError as exc:
        if not _conditional_failed(exc):
            raise
