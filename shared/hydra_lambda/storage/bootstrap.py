"""The first start's rows: the marker policy (``default-admin-policy``, carrying the pending
``first_start`` nonce), and the ONE transaction that writes the root client and the default policies
on condition that the marker does not exist yet (``hydra_lambda.bootstrap`` explains why)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from hydra_lambda.clients.model import Client
from hydra_lambda.storage import clients as client_store
from hydra_lambda.storage.tables import (
    ClientRecord,
    PolicyRecord,
    connection,
    ensure_bound,
    is_condition_failure,
    unwrap,
)

if TYPE_CHECKING:  # policies (and re2) load only when a first start writes them
    from hydra_lambda.policies import Policy


class Raced(Exception):
    """Another container's first start won the race (the marker exists): read what it wrote."""


class Conflicted(Exception):
    """A concurrent transaction cancelled ours (TransactionConflict): look again shortly."""


@ensure_bound
def read_marker(marker_id: str) -> tuple[str, str] | None:
    """(root client id, pending nonce or "") from the marker policy; None before the first start."""
    try:
        row = connection().get(PolicyRecord, marker_id, consistent_read=True,
                               attributes_to_get=["id", "subjects", "first_start"])
    except PolicyRecord.DoesNotExist:
        return None
    subjects = list(row.subjects or [])
    return (subjects[0] if subjects else ""), (row.first_start or "")


@ensure_bound
def complete(marker_id: str, nonce: str) -> bool:
    """Remove the marker's nonce (the first start is done); False if another caller did already."""
    try:
        connection().update(PolicyRecord(marker_id), actions=[PolicyRecord.first_start.remove()],
                            condition=PolicyRecord.first_start == nonce)
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise unwrap(exc) from exc
    return True


def _is_conflict(exc: Exception) -> bool:
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(r is not None and r.code == "TransactionConflict" for r in reasons)


@ensure_bound
def write_root(client: Client, marker: Policy, others: list[Policy], nonce: str, *, may_retry: bool) -> None:
    """The root client, the marker policy (carrying ``nonce``) and ``others`` in ONE transaction,
    conditional on neither the marker nor the client existing. Raced if the marker exists; Conflicted
    if a concurrent transaction cancelled it and ``may_retry``."""
    # Lazy: only a new installation's first start writes policies; on every other oauth2 cold start
    # storage.policies (with policies and re2) would add 9 ms of imports (python -X importtime).
    from hydra_lambda.storage import policies as policy_store

    record = client_store.to_record(client)
    record.listing = client_store.LISTING
    marker_record = policy_store.to_record(marker)
    marker_record.first_start = nonce
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(marker_record, condition=PolicyRecord.id.does_not_exist())
            for policy in others:
                tx.save(policy_store.to_record(policy))
            tx.save(record, condition=ClientRecord.id.does_not_exist())
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise Raced() from exc
        if _is_conflict(exc) and may_retry:
            raise Conflicted() from exc
        raise unwrap(exc) from exc
    finally:
        policy_store.invalidate()
