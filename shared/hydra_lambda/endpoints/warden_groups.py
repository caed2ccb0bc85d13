"""``/warden/groups``, ``/warden/groups/{id}`` and ``/warden/groups/{id}/members``: the warden groups
(members act with the rights policies give the group id).

The caller is authorized by the warden: scope ``hydra.warden.groups`` and actions list, create, get,
delete, members.add, members.remove on ``rn:hydra:warden:groups[:<id>]``.
"""

from __future__ import annotations

import uuid
from typing import Any

from hydra_lambda import policies, warden
from hydra_lambda.clients.registry import get_client
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest, Conflict, NotFound
from hydra_lambda.policies import Group
from hydra_lambda.storage import policies as store

GROUPS_SCOPE = "hydra.warden.groups"
MAX_TEXT = 1024
MAX_MEMBERS = 1000


def _strings(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> list[str]:
    if name not in body and not required:
        return []
    value = body.get(name)
    if (not isinstance(value, list) or len(value) > limit
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in value)):
        raise BadRequest(f"{name} must be a list of at most {limit} non-empty strings")
    return value


def _wire(group: Group) -> dict[str, Any]:
    return {"id": group.id, "members": list(group.members)}


def _require_groups_access(caller: Credentials, resource: str, action: str) -> None:
    warden.require_access(caller, scope=GROUPS_SCOPE, resource=resource, action=action)


def _valid_id(value: Any, what: str) -> str:
    if not policies.valid_id(value):
        raise BadRequest(f"{what} must be {policies.ID_RULE}")
    return value


def _members(body: dict[str, Any], *, required: bool = False) -> list[str]:
    members = _strings(body, "members", MAX_MEMBERS, required=required)
    for member in members:
        _valid_id(member, "each member")
    return members


def find(caller: Credentials, member: str | None) -> list[dict[str, Any]]:
    _require_groups_access(caller, "warden:groups", "list")
    groups = store.all_groups(fresh=True)
    if member:
        groups = [g for g in groups if member in g.members]
    return [_wire(g) for g in groups]


def create(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - {"id", "members"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    group_id = _valid_id(body["id"], "id") if "id" in body else str(uuid.uuid4())
    group = policies.Group(id=group_id, members=list(dict.fromkeys(_members(body))))
    _require_groups_access(caller, "warden:groups", "create")
    if get_client(group.id) is not None:
        # Members act as the group id: a group named after a client would hand out its rights.
        raise Conflict(f"'{group.id}' is a client's id; a group may not take it")
    try:
        store.create_group(group)
    except store.AlreadyExists:
        raise Conflict(f"Group '{group.id}' already exists") from None
    return _wire(group)


def get(caller: Credentials, group_id: str) -> dict[str, Any]:
    _require_groups_access(caller, f"warden:groups:{group_id}", "get")
    group = store.get_group(group_id) if policies.valid_id(group_id) else None  # no key DynamoDB refuses
    if group is None:
        raise NotFound(f"Group '{group_id}' not found")
    return _wire(group)


def delete(caller: Credentials, group_id: str) -> None:
    _require_groups_access(caller, f"warden:groups:{group_id}", "delete")
    if not policies.valid_id(group_id) or not store.delete_group(group_id):
        raise NotFound(f"Group '{group_id}' not found")


def add_members(caller: Credentials, group_id: str, body: dict[str, Any]) -> None:
    _change_members(caller, group_id, body, add=True)


def remove_members(caller: Credentials, group_id: str, body: dict[str, Any]) -> None:
    _change_members(caller, group_id, body, add=False)


def _change_members(caller: Credentials, group_id: str, body: dict[str, Any], *, add: bool) -> None:
    members = _members(body, required=True)
    _require_groups_access(caller, f"warden:groups:{group_id}", "members.add" if add else "members.remove")
    if not policies.valid_id(group_id):
        raise NotFound(f"Group '{group_id[:255]}' not found")
    try:
        changed = store.change_members(group_id, add=members if add else (), remove=() if add else members,
                                       limit=MAX_MEMBERS)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    except store.ChangedConcurrently:
        raise Conflict(f"Group '{group_id}' changed concurrently; try again") from None
    if not changed:
        raise NotFound(f"Group '{group_id}' not found")

