"""Policy rows and warden group rows (one table), and a per-container cache of the whole table (the
warden reads every policy and group on every admin request; the table is small). The cache lives
``POLICY_CACHE_SECONDS``; changes made through this module clear it at once, changes from other
containers are seen within that time.

A warden group is a row whose id is ``GROUP_PREFIX`` + the group id, holding ``members``. Policy ids
cannot start with the prefix (a control character, refused by policy validation), so the two never
collide, and the one cached scan serves policy decisions and group memberships alike.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from hydra_lambda import clock
from hydra_lambda.cache import TimedCache
from hydra_lambda.config import get_settings
from hydra_lambda.policies import Group, Policy
from hydra_lambda.storage.tables import PolicyRecord, connection, ensure_bound, is_condition_failure, unwrap

GROUP_PREFIX = "\x1fgroup:"


class AlreadyExists(Exception):
    """A policy (or group) with that id exists."""


class ChangedConcurrently(Exception):
    """A group's members changed under us too often to apply a change."""


@dataclass
class _Snapshot:
    loaded_at: float
    policies: list[Policy]
    groups: list[Group]
    member_of: dict[str, tuple[str, ...]]


# The whole table, read at most once per POLICY_CACHE_SECONDS (one entry: this container's snapshot).
_cache: TimedCache[str, _Snapshot] = TimedCache("policies", lambda: get_settings().policy_cache_seconds, 1)


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


def _group_from_record(record: PolicyRecord) -> Group:
    return Group(id=record.id[len(GROUP_PREFIX):], members=list(record.members or []))


def invalidate() -> None:
    _cache.clear()


@ensure_bound
def _snapshot(fresh: bool = False) -> _Snapshot:
    found = None if fresh else _cache.get("")
    if found is not None:
        return found
    now = clock.now()
    policies: list[Policy] = []
    groups: list[Group] = []
    for record in connection().scan_rows(PolicyRecord, consistent_read=True):
        if record.id.startswith(GROUP_PREFIX):
            groups.append(_group_from_record(record))
        else:
            policies.append(_from_record(record))
    policies.sort(key=lambda p: p.id)
    groups.sort(key=lambda g: g.id)
    member_of: dict[str, list[str]] = {}
    for group in groups:
        for member in dict.fromkeys(group.members):
            member_of.setdefault(member, []).append(group.id)
    snapshot = _Snapshot(now, policies, groups, {m: tuple(ids) for m, ids in member_of.items()})
    return _cache.put("", snapshot)


def all_policies(*, fresh: bool = False) -> list[Policy]:
    """Every policy, from this container's cache when it is recent enough (sorted by id). The same
    list object is returned for as long as the cache lives (the warden memoizes on it)."""
    return _snapshot(fresh).policies


def all_groups(*, fresh: bool = False) -> list[Group]:
    """Every warden group (sorted by id), from the same cache as the policies."""
    return _snapshot(fresh).groups


def decision_inputs() -> tuple[list[Policy], dict[str, tuple[str, ...]]]:
    """The policies and every member's group ids, from one snapshot (what a warden decision reads)."""
    snapshot = _snapshot()
    return snapshot.policies, snapshot.member_of


def groups_of(member: str) -> tuple[str, ...]:
    """The ids of the groups ``member`` belongs to (cached with the policies)."""
    return _snapshot().member_of.get(member, ())


@ensure_bound
def get(policy_id: str) -> Policy | None:
    if policy_id.startswith(GROUP_PREFIX):
        return None
    try:
        return _from_record(connection().get(PolicyRecord, policy_id, consistent_read=True))
    except PolicyRecord.DoesNotExist:
        return None


@ensure_bound
def create(policy: Policy) -> None:
    """AlreadyExists if the id is taken, unless by this very policy: botocore's resend of a write
    that committed but whose answer was lost finds its own row, which is success."""
    try:
        _create(to_record(policy), policy.id)
    finally:
        invalidate()


def _create(record: PolicyRecord, shown_id: str) -> None:
    """A conditional put of a new row; AlreadyExists if the id is taken, unless by this very write."""
    record.written_by = secrets.token_urlsafe(12)
    try:
        connection().save(record, condition=PolicyRecord.id.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            if _written_by(record.id) == record.written_by:
                return
            raise AlreadyExists(shown_id) from exc
        raise unwrap(exc) from exc


def _written_by(row_id: str) -> str | None:
    try:
        return connection().get(PolicyRecord, row_id, consistent_read=True, attributes_to_get=["written_by"]).written_by
    except PolicyRecord.DoesNotExist:
        return None


@ensure_bound
def put(policy: Policy) -> None:
    """Create or replace."""
    try:
        connection().save(to_record(policy))
    finally:
        invalidate()


@ensure_bound
def replace(policy: Policy) -> bool:
    """Replace an existing policy; False if there is none (a delete in between is never undone)."""
    try:
        connection().save(to_record(policy), condition=PolicyRecord.id.exists())
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise unwrap(exc) from exc
    finally:
        invalidate()
    return True


def delete(policy_id: str) -> bool:
    """Delete a policy; False if there was none (a group row is never a policy)."""
    return False if policy_id.startswith(GROUP_PREFIX) else _delete_row(policy_id)


@ensure_bound
def _delete_row(policy_id: str) -> bool:
    try:
        connection().delete(PolicyRecord(policy_id), condition=PolicyRecord.id.exists())
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise unwrap(exc) from exc
    finally:
        invalidate()
    return True


# ---------------------------------------------------------------- warden groups


@ensure_bound
def get_group(group_id: str) -> Group | None:
    try:
        return _group_from_record(connection().get(PolicyRecord, GROUP_PREFIX + group_id, consistent_read=True))
    except PolicyRecord.DoesNotExist:
        return None


@ensure_bound
def create_group(group: Group) -> None:
    record = PolicyRecord(GROUP_PREFIX + group.id, members=list(dict.fromkeys(group.members)))
    try:
        _create(record, group.id)
    finally:
        invalidate()


def delete_group(group_id: str) -> bool:
    return _delete_row(GROUP_PREFIX + group_id)


@ensure_bound
def change_members(group_id: str, add: Sequence[str] = (), remove: Sequence[str] = (), limit: int = 1000) -> bool:
    """Add and remove members, conditioned on the members read (no lost update between two
    containers); False when there is no such group. ValueError when the group would exceed ``limit``."""
    for _ in range(5):
        group = get_group(group_id)
        if group is None:
            return False
        gone = set(remove)
        members = [m for m in dict.fromkeys([*group.members, *add]) if m not in gone]
        if len(members) > limit:
            raise ValueError(f"a group holds at most {limit} members")
        unchanged = PolicyRecord.members == group.members
        if not group.members:
            unchanged = unchanged | PolicyRecord.members.does_not_exist()
        try:
            connection().update(PolicyRecord(GROUP_PREFIX + group_id), actions=[PolicyRecord.members.set(members)],
                                condition=PolicyRecord.id.exists() & unchanged)
        except UpdateError as exc:
            if is_condition_failure(exc):
                continue
            raise unwrap(exc) from exc
        finally:
            invalidate()
        return True
    raise ChangedConcurrently(group_id)
