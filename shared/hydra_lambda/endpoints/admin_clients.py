"""``/admin/clients``, ``/admin/clients/{id}`` and ``/admin/clients/{id}/lifespans``: the current Hydra
API's client management over the same store as the classic ``/clients`` (a client made through either
is read through both, each with its own field names). Guarded exactly as ``/clients`` (scope
``hydra.clients``, resources ``rn:hydra:clients[:<id>]``, the client's owner as the ``owner``
context); on the private admin API without a token. Shapes: ``models.admin_clients`` (Hydra's
``oAuth2Client``).

Writes: POST creates; PUT replaces the client as Hydra does (a field left out is cleared, but the
secret, which stays unless ``client_secret`` is sent); PATCH applies an RFC 6902 JSON Patch to the
client's wire document (``clients.json_patch``) and then writes the result as a PUT (a patch of
``/client_secret`` rotates the secret, returned once); PUT ``.../lifespans`` replaces the 13 lifespans.
``client_id`` is immutable. Every write is validated whole before anything is stored (400 errorOAuth2,
nothing changed).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hydra_lambda import clock, paging
from hydra_lambda.clients import json_patch, lifespans, registry
from hydra_lambda.clients.model import LIFESPAN_FIELDS, Client
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import check_new_client_id, check_owner_change, client_access
from hydra_lambda.errors import BadRequest, NotFound
from hydra_lambda.models.admin_clients import ADMIN_READ_ONLY_FIELDS, AdminOAuth2Client

PATH = "/admin/clients"
DEFAULT_PAGE, MAX_PAGE = 250, 1000  # Hydra's (the SDK allows 1 to 1000)
MAX_FILTER = registry.MAX_TEXT_LENGTH
# Fields whose GET shows the effective value of an unregistered setting: sending that value back
# keeps the setting unregistered (a GET then PUT round trip changes nothing).
_EFFECTIVE = {"token_endpoint_auth_method": "auth_method", "id_token_signed_response_alg": "id_token_alg"}


def wire(client: Client, secret: str | None = None) -> dict[str, Any]:
    """``client`` in Hydra's ``oAuth2Client`` shape; the cleartext secret only when just set."""
    attributes = client.attributes()
    for name in ("public", "self_registered"):  # classic names, not Hydra's
        attributes.pop(name)
    return AdminOAuth2Client(
        client_id=client.id,
        client_secret=secret,
        client_secret_expires_at=0,
        **{
            **attributes,
            "token_endpoint_auth_method": client.auth_method,
            "id_token_signed_response_alg": client.id_token_alg,
            "userinfo_signed_response_alg": client.userinfo_alg or "none",
            **lifespans.to_wire(client.lifespans),
        },  # type: ignore[arg-type]
        created_at=clock.rfc3339(client.created_at),
        updated_at=clock.rfc3339(client.updated_at),
    ).body()


# ---------------------------------------------------------------- reading bodies


def _fields(body: dict[str, Any], existing: Client | None) -> dict[str, Any]:
    """The registry's fields for a whole client document in Hydra's names (read-only echoes
    dropped); every field of the shape is set (absent = cleared), but ``client_secret``."""
    from pydantic import ValidationError  # lazy: pydantic only on the write routes

    from hydra_lambda.models.admin_client_bodies import AdminClientBody

    data = {key: value for key, value in body.items() if key not in ADMIN_READ_ONLY_FIELDS}
    try:
        parsed = AdminClientBody.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(_describe(exc)) from None
    values = parsed.model_dump()
    fields: dict[str, Any] = {name: value for name, value in values.items()
                              if name not in LIFESPAN_FIELDS and name not in ("client_id", "client_secret")}
    if parsed.client_id:
        fields["id"] = parsed.client_id
    if parsed.client_secret:
        fields["client_secret"] = parsed.client_secret
    fields["lifespans"] = lifespans.from_wire(values)
    fields["public"] = (fields["token_endpoint_auth_method"] or "") == "none"
    if existing is not None:
        for name, effective in _EFFECTIVE.items():
            if not getattr(existing, name) and fields.get(name) == getattr(existing, effective):
                fields[name] = None
        if not existing.userinfo_signed_response_alg and fields.get("userinfo_signed_response_alg") == "none":
            fields["userinfo_signed_response_alg"] = None
    return fields


def _describe(exc: Any) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        problems.append(f"{where}: unknown field" if error.get("type") == "extra_forbidden"
                        else f"{where}: {error.get('msg', 'invalid')}")
    return "Invalid client: " + "; ".join(problems)


# ---------------------------------------------------------------- the routes


def create(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    """POST: 201 with the client and its secret (generated when none was sent)."""
    fields = _fields(body, None)
    access = client_access(caller, "clients", "create", fields.get("owner") or "")
    check_new_client_id(access.subject, fields.get("id"))
    return wire(*registry.create_client(fields))


def page(caller: Credentials, query: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """GET: one page in id order (``page_size``, ``page_token``), exact ``client_name`` / ``owner``
    filters, the total in ``X-Total-Count`` and the next page in ``Link`` (Hydra's headers)."""
    client_access(caller, "clients", "get")
    size = paging.page_size(query.get("page_size", ""), DEFAULT_PAGE, MAX_PAGE)
    after = paging.keyset_after(query.get("page_token", ""), "k", _listed_id)
    filters = {name: query[name] for name in ("client_name", "owner") if name in query}
    if any(len(value) > MAX_FILTER for value in filters.values()):
        raise BadRequest(f"client_name and owner filters are at most {MAX_FILTER} characters (as the fields).")
    found, more = registry.list_after(after, size, filters.get("client_name"), filters.get("owner"))
    headers = {"X-Total-Count": str(registry.count(filters.get("client_name"), filters.get("owner")))}
    links = [f'<{PATH}?{urlencode({**filters, "page_size": size})}>; rel="first"']
    if more and found:
        next_token = paging.keyset_token("k", found[-1].id)
        links.append(f'<{PATH}?{urlencode({**filters, "page_size": size, "page_token": next_token})}>; '
                     'rel="next"')
    headers["Link"] = ", ".join(links)
    return [wire(client) for client in found], headers


def get(caller: Credentials, client_id: str) -> dict[str, Any]:
    return wire(_existing(caller, client_id, "get"))


def update(caller: Credentials, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT: the whole client replaced by ``body`` (its secret kept unless ``client_secret`` is sent)."""
    existing = _existing(caller, client_id, "update")
    return _replace(caller, existing, body)


def patch(caller: Credentials, client_id: str, operations: Any) -> dict[str, Any]:
    """PATCH: ``operations`` (RFC 6902) applied to the client's document, then written as a PUT."""
    existing = _existing(caller, client_id, "update")
    # Every member present (null when unset), so a patch may replace any of them: the secret too.
    document = {"client_secret": None, "jwks": None, "metadata": None, **wire(existing)}
    patched = json_patch.apply(document, operations)
    if patched.get("client_id") != existing.id:
        raise BadRequest("client_id is immutable and cannot be patched.")
    for name in ADMIN_READ_ONLY_FIELDS:
        if patched.get(name) != document.get(name):
            raise BadRequest(f"{name} is read-only and cannot be patched.")
    return _replace(caller, existing, patched)


def set_lifespans(caller: Credentials, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT ``.../lifespans``: the 13 lifespans replaced (a field left out or null: the server's)."""
    from pydantic import ValidationError

    from hydra_lambda.models.admin_client_bodies import OAuth2ClientTokenLifespans

    try:
        parsed = OAuth2ClientTokenLifespans.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(_describe(exc).replace("Invalid client", "Invalid lifespans")) from None
    existing = _existing(caller, client_id, "update")
    updated, _ = registry.update_existing(existing, {"lifespans": lifespans.from_wire(parsed.model_dump())})
    return wire(updated)


def delete(caller: Credentials, client_id: str) -> None:
    _existing(caller, client_id, "delete")
    registry.delete_client(client_id)


def _existing(caller: Credentials, client_id: str, action: str) -> Client:
    client = registry.get_client(client_id)
    # Authorize before answering 404, so callers without access learn nothing about which ids exist.
    client_access(caller, f"clients:{client_id}", action, client.owner if client else None)
    if client is None:
        raise NotFound(f"Client '{client_id[:200]}' not found")
    return client


def _replace(caller: Credentials, existing: Client, document: dict[str, Any]) -> dict[str, Any]:
    fields = _fields(document, existing)
    if fields.pop("id", existing.id) != existing.id:
        raise BadRequest("client_id is immutable: it must be left out or equal the client's id in the path.")
    check_owner_change(caller, existing, fields)
    return wire(*registry.update_existing(existing, fields))


# ---------------------------------------------------------------- paging


def _listed_id(last_id: str) -> bool:
    return bool(last_id) and len(last_id) <= 1000
