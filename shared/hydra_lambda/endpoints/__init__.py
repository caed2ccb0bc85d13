"""The endpoints wing: one module per route group, named after its routes in template.yaml (``/oauth2/
token`` is ``token``, ``/warden/groups`` is ``warden_groups``, ``/.well-known/*`` is ``well_known``).

Each says who may call (the warden), what they sent and what they get back (the wire shapes), and
leaves the rest to the concepts (``clients``, ``consent``, ``tokens``, ``grants``, ``policies``...),
which never import this package. Entry points are named after the operation: a route group of one
operation exposes ``serve``; a resource exposes its verbs (``page``, ``get``, ``create``,
``update``, ``delete``, ...). Endpoint modules do not import each other (this package holds what several share).
"""

from __future__ import annotations

from typing import Any

from hydra_lambda import clock
from hydra_lambda.clients.model import Client
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest, Forbidden
from hydra_lambda.models.responses import OAuth2Client

# ---------------------------------------------------------------------------------------------
# Shared by the current flow's admin routes (login_requests, flow_consent_requests, consent_sessions)


def client_wire(client: Client, secret: str | None = None) -> dict[str, Any]:
    """A client in the API's ``OAuth2Client`` shape (``/clients``, and inside login and consent
    requests); the cleartext secret only when the caller just set it."""
    return OAuth2Client(
        id=client.id,
        client_id=client.id,
        client_secret=secret,
        **{
            **client.attributes(),
            # The effective values (what the server does), so a GET answers what a client must use.
            "token_endpoint_auth_method": client.auth_method,
            "id_token_signed_response_alg": client.id_token_alg,
            "userinfo_signed_response_alg": client.userinfo_alg or "none",
        },  # type: ignore[arg-type]
        created_at=clock.rfc3339(client.created_at),
        updated_at=clock.rfc3339(client.updated_at),
    ).body()


# ---------------------------------------------------------------------------------------------
# Shared by both client APIs (clients: /clients, admin_clients: /admin/clients): one store, one guard


def client_access(caller: Credentials, resource: str, action: str, owner: str | None = None) -> Any:
    """The warden's decision for a client route (scope ``hydra.clients``, ``rn:hydra:<resource>``,
    the client's owner as the ``owner`` context); its ``AccessContext``, or Unauthorized/Forbidden."""
    from hydra_lambda import warden  # lazy: the token endpoint imports this package, never the warden

    context = {"owner": owner} if owner is not None else None
    return warden.require_access(caller, scope="hydra.clients", resource=resource, action=action, context=context)


def check_new_client_id(answerer: str, chosen: str | None) -> None:
    """A client acts as its id (its tokens' subject): an id the policies or groups single out hands
    out their rights, which only someone allowed to write policies may do."""
    from hydra_lambda import warden

    if chosen and warden.singles_out(chosen) and not warden.is_allowed(answerer, "policies", "create"):
        raise Forbidden(f"The id '{chosen}' is named by policies or warden groups; only a caller allowed to "
                        "create policies may give it to a client.")


def check_owner_change(caller: Credentials, existing: Client, fields: dict[str, Any]) -> None:
    """Handing a client to another owner needs the right to update it as that owner too."""
    new_owner = fields.get("owner") or ""
    if "owner" in fields and new_owner != existing.owner:
        client_access(caller, f"clients:{existing.id}", "update", new_owner)


def client_body(client: Client | None) -> dict[str, Any]:
    """A client inside a login or consent request (never its secret); {} when it is gone."""
    return {} if client is None else client_wire(client)


def check_subject(answerer: str, subject: str) -> None:
    """The subject a login or consent app signs in must never be an admin identity unless the app may
    act as one itself: the right to answer login or consent requests must not be the right to become
    root (the classic consent requests and the current flow's login requests alike)."""
    from hydra_lambda import warden  # lazy: the token endpoint imports this package, never the warden

    if warden.holds_admin_rights(subject) and not warden.holds_admin_rights(answerer):
        raise Forbidden(f"The subject '{subject[:80]}' holds admin rights (it may manage policies, warden groups or "
                        "clients): only an app that holds them itself may sign it in.")


def parse_model(model: str, body: dict[str, Any], what: str) -> Any:
    """``body`` read by its pydantic wire model (``models.flow``, by name); 400 naming the first problem."""
    # Lazy: pydantic only on the answering routes (tests/integration/test_perf_coldstart.py).
    from pydantic import ValidationError

    from hydra_lambda.models import flow

    try:
        return getattr(flow, model).model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        raise BadRequest(f"The {what} is invalid: {where}: {error.get('msg', 'invalid')}") from None
