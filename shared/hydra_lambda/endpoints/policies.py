"""``/policies`` and ``/policies/{id}`` (classic Hydra's policy API): the warden first (scope
``hydra.policies``, resources ``rn:hydra:policies`` and ``rn:hydra:policies:<id>``, actions list,
create, get, update, delete), then the change. Bodies are Ladon policies, validated as the CLI
validates them (hydra_lambda.policies): anything wrong is a 400 that changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

from hydra_lambda import paging, policies, warden
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest, Conflict, NotFound
from hydra_lambda.policies import InvalidPolicy, Policy
from hydra_lambda.storage import policies as store

SCOPE = "hydra.policies"


def _require_access(caller: Credentials, resource: str, action: str) -> None:
    warden.require_access(caller, scope=SCOPE, resource=resource, action=action)


def _parse(body: dict[str, Any]) -> Policy:
    try:
        return Policy.from_wire(body)
    except InvalidPolicy as exc:
        raise BadRequest(f"Invalid policy: {exc}") from None


def page(caller: Credentials, limit: str | None, offset: str | None) -> paging.Page[dict[str, Any]]:
    size, start = paging.window(limit, offset)
    _require_access(caller, "policies", "list")
    everything = store.all_policies(fresh=True)
    return paging.Page([policy.wire() for policy in everything[start:start + size]], size, start,
                       start + size < len(everything) and size > 0)


def create(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    if "id" not in body:
        body = {**body, "id": str(uuid.uuid4())}  # classic Hydra gave a policy without id a UUID
    policy = _parse(body)
    _require_access(caller, "policies", "create")
    try:
        store.create(policy)
    except store.AlreadyExists:
        raise Conflict(f"Policy '{policy.id}' already exists") from None
    return policy.wire()


def get(caller: Credentials, policy_id: str) -> dict[str, Any]:
    # Authorize before answering 404, so callers without access learn nothing about which ids exist.
    _require_access(caller, f"policies:{policy_id}", "get")
    policy = store.get(policy_id) if policies.valid_id(policy_id) else None  # no key DynamoDB refuses
    if policy is None:
        raise NotFound(f"Policy '{policy_id}' not found")
    return policy.wire()


def update(caller: Credentials, policy_id: str, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("id") not in (None, "", policy_id):
        raise BadRequest("The id in the body differs from the id in the path")
    policy = _parse({**body, "id": policy_id})
    _require_access(caller, f"policies:{policy_id}", "update")
    if not store.replace(policy):
        raise NotFound(f"Policy '{policy_id}' not found")
    return policy.wire()


def delete(caller: Credentials, policy_id: str) -> None:
    _require_access(caller, f"policies:{policy_id}", "delete")
    if not policies.valid_id(policy_id) or not store.delete(policy_id):
        raise NotFound(f"Policy '{policy_id}' not found")
