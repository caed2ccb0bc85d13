"""Client rows, and the claims of user subjects that share their table. Ids are unique by a
conditional put; updates are guarded by ``updated_at`` so two concurrent updates cannot silently
overwrite each other; listing goes through the ``by_listing`` index (one partition, sorted by id: a
stable order).

One namespace of subjects: a client_credentials token's subject is its client's id, a consent's the
user's, and policies see only the string. So a subject is a client's id (its row exists) or a user's
subject (its ``SubjectClaim`` row exists), never both. Each write that makes one kind checks the
other kind's row in the same transaction (``ConditionCheck``), so of two racing writes one fails.
Only a subject a client id could be (``client_ids.is_valid_client_id``) needs a claim."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from hydra_lambda import clock
from hydra_lambda.client_ids import is_valid_client_id
from hydra_lambda.clients.model import FLAG_FIELDS, LIST_FIELDS, STRING_FIELDS, Client
from hydra_lambda.storage.tables import (
    ClientRecord,
    SubjectClaim,
    connection,
    ensure_bound,
    is_condition_failure,
    is_transaction_conflict,
    unwrap,
)

LISTING = "client"
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit (names and values, UTF-8)
CLAIM_PREFIX = "subject#"  # no client id holds '#' (client_ids.py): no claim key is a client's
_CONFLICT_ATTEMPTS = 3  # a transaction cancelled only by a concurrent one is tried again


class AlreadyExists(Exception):
    """A client with that id exists."""


class SubjectTaken(Exception):
    """The write would make ``subject`` a client's id and a user's subject at once."""

    def __init__(self, subject: str) -> None:
        super().__init__(subject)
        self.subject = subject


class Changed(Exception):
    """The client was changed or deleted since it was read."""


class TooLarge(Exception):
    """The client's item would exceed DynamoDB's 400 KB item limit; ``size`` is its size in bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def _value_size(value: dict[str, Any]) -> int:
    """The size DynamoDB counts for one serialized attribute value (rounded up where it estimates)."""
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return len(data) + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(item) for item in data)
    if kind == "M":
        return 3 + sum(1 + len(key.encode("utf-8")) + _value_size(item) for key, item in data.items())
    return sum(_value_size({kind[0]: item}) for item in data)  # SS, NS, BS


def item_size(record: ClientRecord) -> int:
    """The DynamoDB size of ``record`` as it would be written."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in record.serialize().items())


def _check_size(record: ClientRecord) -> None:
    size = item_size(record)
    if size > MAX_ITEM_BYTES:
        raise TooLarge(size)


def _is_too_large(exc: Exception) -> bool:
    return "Item size has exceeded" in str(getattr(exc, "cause", None) or exc)


def to_record(client: Client) -> ClientRecord:
    return ClientRecord(client.id, **client.attributes(), lifespans=dict(client.lifespans) or None,
                        tokens_since=client.tokens_since or None,
                        secret_hash=client.secret_hash,
                        registration_token_hash=client.registration_token_hash, secret_sealed=client.secret_sealed,
                        created_at=client.created_at, updated_at=client.updated_at)


def from_record(record: ClientRecord) -> Client:
    return Client(
        id=record.id,
        **{name: getattr(record, name) or "" for name in STRING_FIELDS},
        **{name: list(getattr(record, name) or []) for name in LIST_FIELDS},
        **{name: bool(getattr(record, name)) for name in FLAG_FIELDS},
        public=bool(record.public),
        jwks=record.jwks,
        metadata=record.metadata,
        lifespans={name: int(value) for name, value in (record.lifespans or {}).items()},
        tokens_since=int(record.tokens_since or 0),
        created_at=record.created_at,
        updated_at=record.updated_at,
        secret_hash=record.secret_hash,
        self_registered=bool(record.self_registered),
        registration_token_hash=record.registration_token_hash,
        secret_sealed=record.secret_sealed,
    )


@ensure_bound
def get(client_id: str) -> Client | None:
    """The client with that id (one strongly consistent read), or None."""
    if "#" in client_id:  # a claim's key, never a client's
        return None
    try:
        return from_record(connection().get(ClientRecord, client_id, consistent_read=True))
    except ClientRecord.DoesNotExist:
        return None


# ---------------------------------------------------------------- subject claims


def claim_key(subject: str) -> str:
    return CLAIM_PREFIX + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()


def needs_claim(subject: str) -> bool:
    """Whether a client could ever take ``subject`` as its id (only then is a user's claim needed)."""
    return is_valid_client_id(subject)


@ensure_bound
def is_claimed(subject: str) -> bool:
    """Whether ``subject`` is a user's (one consistent read of one small row)."""
    try:
        connection().get(SubjectClaim, claim_key(subject), consistent_read=True)
    except DoesNotExist:
        return False
    return True


def _claim_user(tx: TransactWrite, subject: str) -> None:
    """Add to ``tx``: ``subject`` is a user's, on condition that no client has it as its id.
    Idempotent (a resend, a second claim of the same subject)."""
    tx.condition_check(ClientRecord, subject, condition=ClientRecord.id.does_not_exist())
    tx.update(SubjectClaim(claim_key(subject)), actions=[
        SubjectClaim.subject.set(subject),
        SubjectClaim.claimed_at.set(SubjectClaim.claimed_at | clock.now_int()),  # the first claim's time
    ])


def _transact(fill: Any) -> None:
    """One transaction built by ``fill(tx)``; tried again (a new transaction) when only a concurrent
    transaction cancelled it. Raises TransactWriteError if a condition failed."""
    for attempt in range(_CONFLICT_ATTEMPTS):
        try:
            with TransactWrite(connection=connection()) as tx:
                fill(tx)
            return
        except TransactWriteError as exc:
            if is_condition_failure(exc) or not is_transaction_conflict(exc) or attempt == _CONFLICT_ATTEMPTS - 1:
                raise


@ensure_bound
def claim_user(subject: str) -> None:
    """Make ``subject`` a user's, unless a client has it as its id (SubjectTaken). A subject already
    claimed costs one read; the first claim is a transaction (the client row checked, the claim
    written). Subjects no client id can be are nobody's to take: nothing is read or written."""
    if not needs_claim(subject) or is_claimed(subject):
        return  # a claim is never removed, and no client can be made while it exists
    try:
        _transact(lambda tx: _claim_user(tx, subject))
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise SubjectTaken(subject) from exc
        raise unwrap(exc) from exc


def _write_error(exc: Exception, record: ClientRecord) -> Exception:
    if _is_too_large(exc):
        return TooLarge(item_size(record))
    return unwrap(exc)


@ensure_bound
def create(client: Client, owner_claim: str | None = None) -> None:
    """Store a new client in one transaction: its row (the id unused), on condition that no user has
    its id as subject, and, with ``owner_claim``, that owner claimed as a user's subject (on condition
    that no client has it). AlreadyExists, SubjectTaken (the id or the owner) or TooLarge otherwise."""
    record = to_record(client)
    record.listing = LISTING
    _check_size(record)

    def fill(tx: TransactWrite) -> None:
        tx.save(record, condition=ClientRecord.id.does_not_exist())
        tx.condition_check(SubjectClaim, claim_key(record.id), condition=SubjectClaim.id.does_not_exist())
        if owner_claim:
            _claim_user(tx, owner_claim)

    try:
        _transact(fill)
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise _write_error(exc, record) from exc
        if get(record.id) is not None:  # what failed, read again (the transaction decided)
            raise AlreadyExists(record.id) from exc
        raise SubjectTaken(record.id if is_claimed(record.id) else owner_claim or record.id) from exc


@ensure_bound
def replace(client: Client, expected_updated_at: datetime, owner_claim: str | None = None) -> None:
    """Overwrite a client that still carries ``expected_updated_at``; raise Changed otherwise. With
    ``owner_claim``, in one transaction with that owner's claim (SubjectTaken if a client has it)."""
    record = to_record(client)
    record.listing = LISTING
    _check_size(record)
    condition = ClientRecord.id.exists() & (ClientRecord.updated_at == expected_updated_at)
    if owner_claim:
        _replace_claiming(record, condition, owner_claim)
        return
    try:
        connection().save(record, condition=condition)
    except PutError as exc:
        if is_condition_failure(exc):
            raise Changed(record.id) from exc
        raise _write_error(exc, record) from exc


def _replace_claiming(record: ClientRecord, condition: Any, owner: str) -> None:
    def fill(tx: TransactWrite) -> None:
        tx.save(record, condition=condition)
        _claim_user(tx, owner)

    try:
        _transact(fill)
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise _write_error(exc, record) from exc
        if get(owner) is not None:
            raise SubjectTaken(owner) from exc
        raise Changed(record.id) from exc


@ensure_bound
def delete(client_id: str) -> bool:
    """Delete a client; False if there was none. Its id is free again: a user may take it."""
    if "#" in client_id:
        return False
    try:
        connection().delete(ClientRecord(client_id), condition=ClientRecord.id.exists())
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise unwrap(exc) from exc
    return True


@ensure_bound
def list_page(limit: int, offset: int) -> tuple[list[Client], bool]:
    """Clients ``offset`` to ``offset + limit`` in id order, and whether more follow."""
    out: list[Client] = []
    skipped = 0
    for record in connection().query_rows(ClientRecord, LISTING, index=ClientRecord.by_listing,
                                          page_size=min(offset + limit + 1, 1000)):
        if skipped < offset:
            skipped += 1
            continue
        if len(out) == limit:
            return out, True
        out.append(from_record(record))
    return out, False


@ensure_bound
def any_exists() -> bool:
    """Whether at least one client exists (a strongly consistent read of at most one item). A user's
    claim row counts too: an installation where users signed in is no new one."""
    for _ in connection().scan_rows(ClientRecord, limit=1, consistent_read=True, page_size=1):
        return True
    return False


def _listing_filter(client_name: str | None, owner: str | None) -> Any:
    """Exact-match filters of the current API's listing (``client_name``, ``owner``), or None."""
    condition = None
    for attribute, value in ((ClientRecord.client_name, client_name), (ClientRecord.owner, owner)):
        if value is not None:
            term = attribute == value
            condition = term if condition is None else condition & term
    return condition


@ensure_bound
def list_after(after: str, limit: int, client_name: str | None = None,
               owner: str | None = None) -> tuple[list[Client], bool]:
    """Up to ``limit`` clients with an id greater than ``after`` ("" = from the first), in id order,
    matching the filters, and whether more follow: a keyset page of the ``by_listing`` index."""
    out: list[Client] = []
    start = None
    condition = ClientRecord.id > after if after else None
    while True:
        data = connection().query(ClientRecord.Meta.table_name, LISTING, condition,
                                  filter_condition=_listing_filter(client_name, owner),
                                  index_name=ClientRecord.by_listing.Meta.index_name,
                                  exclusive_start_key=start, limit=min(limit + 1, 1000))
        for item in data.get("Items") or []:
            if len(out) == limit:
                return out, True
            out.append(from_record(ClientRecord.from_raw_data(item)))
        start = data.get("LastEvaluatedKey")
        if not start:
            return out, False


@ensure_bound
def count(client_name: str | None = None, owner: str | None = None) -> int:
    """How many clients match the filters (a COUNT query over the ``by_listing`` index: DynamoDB
    still reads, and bills, every client row of the index once)."""
    total, start = 0, None
    while True:
        data = connection().query(ClientRecord.Meta.table_name, LISTING,
                                  filter_condition=_listing_filter(client_name, owner),
                                  index_name=ClientRecord.by_listing.Meta.index_name,
                                  exclusive_start_key=start, select="COUNT")
        total += int(data.get("Count") or 0)
        start = data.get("LastEvaluatedKey")
        if not start:
            return total
