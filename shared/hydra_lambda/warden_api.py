"""The classic warden API, for resource servers: ``POST /warden/token/allowed`` (may the bearer of
this access token, holding these scopes, do this action on this resource?) and ``POST
/warden/allowed`` (may this subject?), and the warden groups behind ``/warden/groups``.

The caller is itself authorized by the warden: scope ``hydra.warden`` and action ``decide`` on
``rn:hydra:warden:token:allowed`` / ``rn:hydra:warden:allowed``; scope ``hydra.warden.groups`` and
actions list, create, get, delete, members.add, members.remove on ``rn:hydra:warden:groups[:<id>]``.

A token decision costs what an introspection costs: the token's HMAC is checked before any read, one
consistent read of its row decides whether it is live, and the policies and group memberships come
from the container's cache (storage/policies.py). Any failed check is ``{"allowed": false}``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hydra_lambda import clients, issuer, opaque_tokens, policies, scopes, warden
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest, Conflict, NotFound
from hydra_lambda.storage import policies as store
from hydra_lambda.storage import token_rows as token_store

WARDEN_SCOPE = "hydra.warden"
GROUPS_SCOPE = "hydra.warden.groups"
MAX_TEXT = 1024
MAX_SCOPES = 100
MAX_MEMBERS = 1000
DENIED: dict[str, Any] = {"allowed": False}


def _string(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    if name not in body and not required:
        return ""
    value = body.get(name)
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value):
        raise BadRequest(f"{name} must be a string of 1 to {MAX_TEXT} characters")
    return value


def _context(body: dict[str, Any]) -> dict[str, Any]:
    if "context" not in body:
        return {}
    value = body["context"]
    if not isinstance(value, dict):
        raise BadRequest("context must be a JSON object")
    return value


def _strings(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> list[str]:
    if name not in body and not required:
        return []
    value = body.get(name)
    if (not isinstance(value, list) or len(value) > limit
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in value)):
        raise BadRequest(f"{name} must be a list of at most {limit} non-empty strings")
    return value


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def token_allowed(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /warden/token/allowed``."""
    token = body.get("token", "")
    if not isinstance(token, str):
        raise BadRequest("token must be a string")
    wanted = _strings(body, "scopes", MAX_SCOPES)
    resource, action = _string(body, "resource"), _string(body, "action")
    context = _context(body)
    warden.require_access(caller, scope=WARDEN_SCOPE, resource="warden:token:allowed", action="decide")
    signature = opaque_tokens.signature_of(token or None, "access")
    if signature is None:
        return DENIED
    row = token_store.get(signature, "access")  # the one read: absent, expired or revoked -> None
    if row is None or not scopes.allows_all(row.scopes, wanted) or not issuer.issued_to_current_client(row):
        return DENIED
    if not warden.decide_name(row.subject, resource, action, context).allowed:
        return DENIED
    return {
        "allowed": True,
        "subject": row.subject,
        "grantedScopes": list(row.scopes),
        "issuer": get_settings().issuer,
        "clientId": row.client_id,
        "issuedAt": _iso(row.issued_at),
        "expiresAt": _iso(row.expires_at),
        "accessTokenExtra": dict(row.extra or {}),
    }


def allowed(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /warden/allowed``: the policies' decision for a subject (no token involved)."""
    subject = _string(body, "subject", required=False)
    resource, action = _string(body, "resource"), _string(body, "action")
    context = _context(body)
    warden.require_access(caller, scope=WARDEN_SCOPE, resource="warden:allowed", action="decide")
    return {"allowed": warden.decide_name(subject, resource, action, context).allowed}


# ---------------------------------------------------------------- groups


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


def list_groups(caller: Credentials, member: str | None) -> list[dict[str, Any]]:
    _require_groups_access(caller, "warden:groups", "list")
    groups = store.all_groups(fresh=True)
    if member:
        groups = [g for g in groups if member in g.members]
    return [g.wire() for g in groups]


def create_group(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - {"id", "members"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    group_id = _valid_id(body["id"], "id") if "id" in body else str(uuid.uuid4())
    group = store.Group(id=group_id, members=list(dict.fromkeys(_members(body))))
    _require_groups_access(caller, "warden:groups", "create")
    if clients.get_client(group.id) is not None:
        # Members act as the group id: a group named after a client would hand out its rights.
        raise Conflict(f"'{group.id}' is a client's id; a group may not take it")
    try:
        store.create_group(group)
    except store.AlreadyExists:
        raise Conflict(f"Group '{group.id}' already exists") from None
    return group.wire()


def get_group(caller: Credentials, group_id: str) -> dict[str, Any]:
    _require_groups_access(caller, f"warden:groups:{group_id}", "get")
    group = store.get_group(group_id) if policies.valid_id(group_id) else None  # no key DynamoDB refuses
    if group is None:
        raise NotFound(f"Group '{group_id}' not found")
    return group.wire()


def delete_group(caller: Credentials, group_id: str) -> None:
    _require_groups_access(caller, f"warden:groups:{group_id}", "delete")
    if not policies.valid_id(group_id) or not store.delete_group(group_id):
        raise NotFound(f"Group '{group_id}' not found")


def change_members(caller: Credentials, group_id: str, body: dict[str, Any], *, add: bool) -> None:
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

