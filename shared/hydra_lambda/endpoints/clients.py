"""``/clients`` and ``/clients/{id}``: OAuth 2.0 client management, guarded by the warden (scope
``hydra.clients``, resources ``rn:hydra:clients[:<id>]``, the client's owner as the ``owner`` context).
The body is read by its pydantic model (``models.clients``) and answered in the ``OAuth2Client``
shape; ``clients.registry`` validates and stores."""

from __future__ import annotations

from typing import Any

from hydra_lambda import paging, warden
from hydra_lambda.clients import registry
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import check_new_client_id, check_owner_change, client_access, client_wire
from hydra_lambda.errors import BadRequest, NotFound


def _parse_body(body: dict[str, Any]) -> dict[str, Any]:
    """The fields the caller set (read-only echoes dropped), type-checked; 400 on anything else."""
    # Lazy: pydantic only on the write routes (tests/test_perf_coldstart.py: reads never import it).
    from pydantic import ValidationError

    from hydra_lambda.models.clients import READ_ONLY_FIELDS, ClientBody

    echoed = {key: body[key] for key in READ_ONLY_FIELDS if key in body}
    data = {key: value for key, value in body.items() if key not in READ_ONLY_FIELDS}
    try:
        parsed = ClientBody.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(_describe(exc)) from None
    fields = {name: getattr(parsed, name) for name in parsed.model_fields_set}
    if "client_id" in echoed:
        if not isinstance(echoed["client_id"], str) or echoed["client_id"] != fields.get("id", echoed["client_id"]):
            raise BadRequest("client_id and id differ")
        fields.setdefault("id", echoed["client_id"])  # RFC 7591-minded callers name the id client_id
    return fields


def _describe(exc: Any) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        if error.get("type") == "extra_forbidden":
            problems.append(f"{where}: unknown field")
        else:
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "Invalid client: " + "; ".join(problems)


def _require_access(caller: Credentials, resource: str, action: str,
                    owner: str | None = None) -> warden.AccessContext:
    return client_access(caller, resource, action, owner)


def create(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    fields = _parse_body(body)
    access = _require_access(caller, "clients", "create", fields.get("owner") or "")
    check_new_client_id(access.subject, fields.get("id"))
    return client_wire(*registry.create_client(fields))


def page(caller: Credentials, limit: str | None, offset: str | None) -> paging.Page[dict[str, Any]]:
    size, start = paging.window(limit, offset)
    _require_access(caller, "clients", "get")
    if size == 0:
        return paging.Page([], 0, start, False)
    found, more = registry.list_page(size, start)
    return paging.Page([client_wire(client) for client in found], size, start, more)


def get(caller: Credentials, client_id: str) -> dict[str, Any]:
    client = registry.get_client(client_id)
    # Authorize before answering 404, so callers without access learn nothing about which ids exist.
    _require_access(caller, f"clients:{client_id}", "get", client.owner if client else None)
    if client is None:
        raise NotFound(f"Client '{client_id}' not found")
    return client_wire(client)


def update(caller: Credentials, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    fields = _parse_body(body)
    if fields.get("id") not in (None, client_id):
        raise BadRequest("The id in the body differs from the id in the path")
    existing = registry.get_client(client_id)
    _require_access(caller, f"clients:{client_id}", "update", existing.owner if existing else None)
    if existing is None:
        raise NotFound(f"Client '{client_id}' not found")
    check_owner_change(caller, existing, fields)
    return client_wire(*registry.update_existing(existing, fields))


def delete(caller: Credentials, client_id: str) -> None:
    existing = registry.get_client(client_id)
    _require_access(caller, f"clients:{client_id}", "delete", existing.owner if existing else None)
    if existing is None:
        raise NotFound(f"Client '{client_id}' not found")
    registry.delete_client(client_id)
