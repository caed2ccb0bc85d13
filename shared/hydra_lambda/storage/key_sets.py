"""Application JSON Web Key sets (keys/app_sets.py) as rows of the clients table: key ``jwks#<set>``
(no client id holds ``#``, so no set can collide with a client; ``storage.clients.get`` never reads
one), out of the ``by_listing`` index. The row holds the set sealed (the caller seals: this module
never sees a key) and a version; every write is one conditional PutItem or DeleteItem on the version
it read, so two concurrent changes never silently overwrite each other. A read is one strongly
consistent GetItem (a row under 4 KB: one read unit; an RSA 4096 private key is ~3.2 KB sealed).

A put whose answer was lost and that botocore resent finds its own first write (``written_by``) and
takes it as success, as the other single-row writes here do."""

from __future__ import annotations

import secrets

from pynamodb.exceptions import DeleteError, PutError

from hydra_lambda import clock
from hydra_lambda.storage.tables import KeySetRecord, connection, ensure_bound, is_condition_failure, unwrap

PREFIX = "jwks#"


def row_key(name: str) -> str:
    return PREFIX + name


@ensure_bound
def get(name: str) -> tuple[str, int] | None:
    """The sealed set and its version, or None."""
    try:
        row = connection().get(KeySetRecord, row_key(name), consistent_read=True)
    except KeySetRecord.DoesNotExist:
        return None
    return row.sealed, int(row.version)


@ensure_bound
def put(name: str, sealed: str, expected_version: int | None) -> bool:
    """Write the set if its row is still at ``expected_version`` (None: if there is no row); False
    when another write came first."""
    mine = secrets.token_urlsafe(12)
    record = KeySetRecord(row_key(name), sealed=sealed, version=(expected_version or 0) + 1,
                          written_at=clock.now_int())
    record.written_by = mine
    condition = KeySetRecord.id.does_not_exist() if expected_version is None \
        else KeySetRecord.version == expected_version
    try:
        connection().save(record, condition=condition)
    except PutError as exc:
        if is_condition_failure(exc):
            return _written_by(name) == mine
        raise unwrap(exc) from exc
    return True


def _written_by(name: str) -> str | None:
    try:
        row = connection().get(KeySetRecord, row_key(name), consistent_read=True, attributes_to_get=["written_by"])
    except KeySetRecord.DoesNotExist:
        return None
    return row.written_by


@ensure_bound
def delete(name: str, expected_version: int | None = None) -> bool:
    """Delete the set's row (at ``expected_version`` when given); False when there was none (or it changed)."""
    condition = KeySetRecord.id.exists() if expected_version is None else KeySetRecord.version == expected_version
    try:
        connection().delete(KeySetRecord(row_key(name)), condition=condition)
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise unwrap(exc) from exc
    return True
