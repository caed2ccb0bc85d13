"""Policy rows, and a per-container cache of the whole table (the warden reads every policy on every
admin request; the table is small). The cache lives ``POLICY_CACHE_SECONDS``; changes made through
this module clear it at once, changes from other containers are seen within that time."""

from __future__ import annotations

import threading

from pynamodb.exceptions import DeleteError, PutError

from hydra_lambda import clock
from hydra_lambda.config import get_settings
from hydra_lambda.policies import Policy
from hydra_lambda.storage.tables import PolicyRecord, ensure_bound
from hydra_lambda.storage.tokens import _is_condition_failure, _unwrap


class AlreadyExists(Exception):
    """A policy with that id exists."""


_lock = threading.Lock()
_cache: tuple[float, list[Policy]] | None = None


def _from_record(record: PolicyRecord) -> Policy:
    return Policy(
        id=record.id,
        description=record.description or "",
        subjects=list(record.subjects or []),
        resources=list(record.resources or []),
        actions=list(record.actions or []),
        effect=record.effect if isinstance(record.effect, str) else "",  # exactly as stored: "" denies
        conditions=dict(record.conditions or {}),
    )


def to_record(policy: Policy) -> PolicyRecord:
    return PolicyRecord(
        policy.id,
        description=policy.description,
        subjects=list(policy.subjects),
        resources=list(policy.resources),
        actions=list(policy.actions),
        effect=policy.effect,
        conditions=dict(policy.conditions),
    )


def invalidate() -> None:
    global _cache
    with _lock:
        _cache = None


@ensure_bound
def all_policies(*, fresh: bool = False) -> list[Policy]:
    """Every policy, from this container's cache when it is recent enough (sorted by id)."""
    global _cache
    found = _cache
    now = clock.now()
    if not fresh and found is not None and 0 <= now - found[0] < get_settings().policy_cache_seconds:
        return found[1]
    policies = sorted((_from_record(r) for r in PolicyRecord.scan(consistent_read=True)), key=lambda p: p.id)
    with _lock:
        _cache = (now, policies)
    return policies


@ensure_bound
def get(policy_id: str) -> Policy | None:
    try:
        return _from_record(PolicyRecord.get(policy_id, consistent_read=True))
    except PolicyRecord.DoesNotExist:
        return None


@ensure_bound
def create(policy: Policy) -> None:
    try:
        to_record(policy).save(condition=PolicyRecord.id.does_not_exist())
    except PutError as exc:
        if _is_condition_failure(exc):
            raise AlreadyExists(policy.id) from exc
        raise _unwrap(exc) from exc
    finally:
        invalidate()


@ensure_bound
def put(policy: Policy) -> None:
    """Create or replace."""
    try:
        to_record(policy).save()
    finally:
        invalidate()


@ensure_bound
def delete(policy_id: str) -> bool:
    try:
        PolicyRecord(policy_id).delete(condition=PolicyRecord.id.exists())
    except DeleteError as exc:
        if _is_condition_failure(exc):
            return False
        raise _unwrap(exc) from exc
    finally:
        invalidate()
    return True
