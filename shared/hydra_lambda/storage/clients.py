"""Client rows. Ids are unique by a conditional put; updates are guarded by ``updated_at`` so two
concurrent updates cannot silently overwrite each other; listing goes through the ``by_listing``
index (one partition, sorted by id: a stable order)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, PutError

from hydra_lambda.storage.tables import ClientRecord, ensure_bound, is_condition_failure, unwrap

LISTING = "client"
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit (names and values, UTF-8)


class AlreadyExists(Exception):
    """A client with that id exists."""


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


@ensure_bound
def get(client_id: str) -> ClientRecord | None:
    try:
        return ClientRecord.get(client_id, consistent_read=True)
    except ClientRecord.DoesNotExist:
        return None


@ensure_bound
def create(record: ClientRecord) -> None:
    record.listing = LISTING
    _check_size(record)
    try:
        record.save(condition=ClientRecord.id.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            raise AlreadyExists(record.id) from exc
        if _is_too_large(exc):
            raise TooLarge(item_size(record)) from exc
        raise unwrap(exc) from exc


@ensure_bound
def replace(record: ClientRecord, expected_updated_at: datetime) -> None:
    """Overwrite a client that still carries ``expected_updated_at``; raise Changed otherwise."""
    record.listing = LISTING
    _check_size(record)
    try:
        record.save(condition=ClientRecord.id.exists() & (ClientRecord.updated_at == expected_updated_at))
    except PutError as exc:
        if is_condition_failure(exc):
            raise Changed(record.id) from exc
        if _is_too_large(exc):
            raise TooLarge(item_size(record)) from exc
        raise unwrap(exc) from exc


@ensure_bound
def delete(client_id: str) -> bool:
    """Delete a client; False if there was none."""
    try:
        ClientRecord(client_id).delete(condition=ClientRecord.id.exists())
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise unwrap(exc) from exc
    return True


@ensure_bound
def list_page(limit: int, offset: int) -> tuple[list[ClientRecord], bool]:
    """Clients ``offset`` to ``offset + limit`` in id order, and whether more follow."""
    out: list[ClientRecord] = []
    skipped = 0
    for record in ClientRecord.by_listing.query(LISTING, page_size=min(offset + limit + 1, 1000)):
        if skipped < offset:
            skipped += 1
            continue
        if len(out) == limit:
            return out, True
        out.append(record)
    return out, False


@ensure_bound
def any_exists() -> bool:
    """Whether at least one client exists (a strongly consistent read of at most one item)."""
    for _ in ClientRecord.scan(limit=1, consistent_read=True, page_size=1):
        return True
    return False
