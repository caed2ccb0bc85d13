"""Token rows (access, refresh, authorization code), keyed by signature.

Every read treats an expired row as absent. Single-use rows (codes, refresh tokens) are consumed
with a conditional write, so of two racing requests exactly one wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DeleteError, GetError, PutError, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from hydra_lambda import clock
from hydra_lambda.storage.tables import TokenRecord, connection, ensure_bound, flush_shard


class AlreadyUsed(Exception):
    """A single-use token was consumed before (or concurrently, and the other request won)."""


class NotFound(Exception):
    """No live row for that signature."""


@dataclass
class Token:
    signature: str
    kind: str
    request_id: str
    client_id: str
    expires_at: int
    subject: str = ""
    scopes: list[str] = field(default_factory=list)
    audience: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    issued_at: int = 0
    used_at: int | None = None
    client_since: int = 0  # the creation time (us) of the client it was issued to; 0 on older rows

    def to_record(self) -> TokenRecord:
        return TokenRecord(
            flush_shard(self.kind, self.signature),
            self.signature,
            request_id=self.request_id or None,  # only grant-chain rows enter the by_request index
            client_id=self.client_id,
            client_since=self.client_since,
            subject=self.subject,
            scopes=list(self.scopes),
            audience=list(self.audience),
            extra=dict(self.extra),
            session=dict(self.session),
            issued_at=self.issued_at or clock.now_int(),
            expires_at=self.expires_at,
            ttl=datetime.fromtimestamp(self.expires_at, UTC),
            used_at=self.used_at,
        )

    @classmethod
    def from_record(cls, record: TokenRecord) -> Token:
        return cls(
            signature=record.signature,
            kind=record.kind,
            request_id=record.request_id or "",
            client_id=record.client_id,
            client_since=int(record.client_since or 0),
            expires_at=int(record.expires_at),
            subject=record.subject or "",
            scopes=list(record.scopes or []),
            audience=list(record.audience or []),
            extra=dict(record.extra or {}),
            session=dict(record.session or {}),
            issued_at=int(record.issued_at),
            used_at=None if record.used_at is None else int(record.used_at),
        )

    @property
    def expired(self) -> bool:
        return self.expires_at <= clock.now()


def record_key(kind: str, signature: str) -> TokenRecord:
    """A row's key alone (for a delete or a conditional update): its kind's shard and its signature."""
    return TokenRecord(flush_shard(kind, signature), signature)


@ensure_bound
def put(token: Token) -> None:
    """Store a new token. Signatures are random, so an existing row is either this very token (the
    first attempt committed, its response was lost and botocore resent it: all is well) or a bug."""
    try:
        token.to_record().save(condition=TokenRecord.signature.does_not_exist())
    except PutError as exc:
        if _is_condition_failure(exc) and get(token.signature, token.kind) == token:
            return
        raise _unwrap(exc) from exc


@ensure_bound
def put_many(tokens: Iterable[Token]) -> None:
    """Store several tokens atomically (all or none)."""
    with TransactWrite(connection=connection()) as tx:
        for token in tokens:
            tx.save(token.to_record(), condition=TokenRecord.signature.does_not_exist())


@ensure_bound
def get(signature: str, kind: str, *, include_used: bool = False) -> Token | None:
    """The live token of ``kind`` with that signature; None if absent, expired or of another kind."""
    try:
        record = TokenRecord.get(flush_shard(kind, signature), signature, consistent_read=True)
    except TokenRecord.DoesNotExist:
        return None
    except GetError as exc:
        raise _unwrap(exc) from exc
    token = Token.from_record(record)
    if token.expired or (token.used_at is not None and not include_used):
        return None
    return token


def consume_condition(now: int) -> Any:
    """The condition under which a single-use row may be consumed: it exists, is unused, unexpired."""
    return (
        TokenRecord.signature.exists()
        & TokenRecord.used_at.does_not_exist()
        & (TokenRecord.expires_at > now)
    )


@ensure_bound
def consume(token: Token) -> None:
    """Mark a single-use token used. Raises AlreadyUsed if another request got there first."""
    now = clock.now_int()
    record = token.to_record()
    try:
        record.update(actions=[TokenRecord.used_at.set(now)], condition=consume_condition(now))
    except UpdateError as exc:
        if _is_condition_failure(exc):
            raise AlreadyUsed(token.signature) from exc
        raise _unwrap(exc) from exc
    token.used_at = now


@ensure_bound
def delete(signature: str, kind: str) -> None:
    try:
        record_key(kind, signature).delete()
    except DeleteError as exc:
        raise _unwrap(exc) from exc


@ensure_bound
def delete_owned(signature: str, kind: str, client_id: str) -> bool:
    """Delete the live, unused token of ``kind`` with that signature if it belongs to ``client_id``,
    in one conditional DeleteItem (no read first). False if there is no such row (absent, expired,
    used, of another kind or of another client): then nothing changes. The kind is part of the key."""
    condition = (
        TokenRecord.signature.exists()
        & (TokenRecord.client_id == client_id)
        & (TokenRecord.expires_at > clock.now_int())
        & TokenRecord.used_at.does_not_exist()
    )
    try:
        record_key(kind, signature).delete(condition=condition)
    except DeleteError as exc:
        if _is_condition_failure(exc):
            return False
        raise _unwrap(exc) from exc
    return True


def _delete_keys(keys: Iterable[TokenRecord]) -> int:
    count = 0
    with TokenRecord.batch_write() as batch:  # pynamodb retries unprocessed items itself
        for key in keys:
            batch.delete(TokenRecord(key.shard, key.signature))
            count += 1
    return count


@ensure_bound
def keys_of_request(request_id: str) -> Iterator[TokenRecord]:
    """The keys (shard and signature) of every row of one grant, from the sparse by_request index."""
    yield from TokenRecord.by_request.query(request_id)


def signatures_of_request(request_id: str) -> Iterator[str]:
    for item in keys_of_request(request_id):
        yield item.signature


@ensure_bound
def revoke_request(request_id: str) -> int:
    """Delete every token of one grant (all rows sharing ``request_id``)."""
    return _delete_keys(list(keys_of_request(request_id)))


def _is_condition_failure(exc: Exception) -> bool:
    code = getattr(exc, "cause_response_code", None)
    if code == "ConditionalCheckFailedException":
        return True
    if isinstance(exc, TransactWriteError):
        reasons = getattr(exc, "cancellation_reasons", None) or []
        return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)
    return False


def _unwrap(exc: Exception) -> Exception:
    """pynamodb wraps botocore errors; hand the original up so transient failures are recognised."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, Exception) else exc


def transact(
    *,
    saves: Iterable[Model] = (),
    updates: Iterable[tuple[Model, list[Any], Any]] = (),
    deletes: Iterable[Model] = (),
) -> None:
    """One DynamoDB transaction of conditional saves and updates (and unconditional deletes, e.g. the
    access token a refresh replaces). Raises AlreadyUsed if a condition failed (a single-use row was
    consumed concurrently), nothing is written in that case."""
    try:
        with TransactWrite(connection=connection()) as tx:
            for model, actions, condition in updates:
                tx.update(model, actions=actions, condition=condition)
            for model in saves:
                tx.save(model)
            for model in deletes:
                tx.delete(model)
    except TransactWriteError as exc:
        if _is_condition_failure(exc):
            raise AlreadyUsed("transaction condition failed") from exc
        raise _unwrap(exc) from exc
