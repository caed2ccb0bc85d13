"""``/admin/oauth2/auth/requests/logout`` (GET, and PUT ``/accept``, ``/reject``): the logout requests
the operator's logout app reads and answers (Ory Hydra's shapes: ``oAuth2LogoutRequest``, accept
answers ``{redirect_to}``, reject 204, a handled request 410 ``{redirect_to}``), guarded by the warden
(scope ``hydra.consent``, resource ``rn:hydra:oauth2:auth:requests:logout:<challenge>``, actions get,
accept, reject; the warden first, then the lookup)."""

from __future__ import annotations

from typing import Any

from hydra_lambda import clock, logout, warden
from hydra_lambda.clients.model import Client
from hydra_lambda.clients.registry import get_client
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest, Gone, Handled, HydraError, NotFound
from hydra_lambda.models.responses import OAuth2Client

SCOPE = "hydra.consent"


def _require_access(caller: Credentials, challenge: str, action: str) -> None:
    if not challenge:
        raise BadRequest("The logout_challenge query parameter is required.")
    warden.require_access(caller, scope=SCOPE, resource=f"oauth2:auth:requests:logout:{challenge}", action=action)


def _raised(error: logout.AnswerError) -> HydraError:
    if error.redirect_to:
        return Handled(error.redirect_to)
    return NotFound(error.message) if error.status == 404 else Gone(error.message)


def get(caller: Credentials, challenge: str) -> dict[str, Any]:
    _require_access(caller, challenge, "get")
    try:
        found = logout.answerable(challenge)
    except logout.AnswerError as exc:
        raise _raised(exc) from None
    client = get_client(found.client_id) if found.client_id else None
    return {"challenge": found.challenge, "subject": found.subject, "sid": found.sid,
            "client": _client(client) if client else None, "request_url": found.request_url,
            "rp_initiated": found.rp_initiated, "requested_at": clock.rfc3339(found.requested_at),
            "expires_at": clock.rfc3339(found.expires_at)}


def accept(caller: Credentials, challenge: str) -> dict[str, str]:
    _require_access(caller, challenge, "accept")
    try:
        return {"redirect_to": logout.accept(challenge)}
    except logout.AnswerError as exc:
        raise _raised(exc) from None


def reject(caller: Credentials, challenge: str) -> None:
    _require_access(caller, challenge, "reject")
    try:
        logout.reject(challenge)
    except logout.AnswerError as exc:
        raise _raised(exc) from None


def _client(client: Client) -> dict[str, Any]:
    """The client as the admin API shows it (no secret)."""
    return OAuth2Client(
        id=client.id, client_id=client.id,
        **{**client.attributes(), "token_endpoint_auth_method": client.auth_method,
           "id_token_signed_response_alg": client.id_token_alg,
           "userinfo_signed_response_alg": client.userinfo_alg or "none"},  # type: ignore[arg-type]
        created_at=clock.rfc3339(client.created_at), updated_at=clock.rfc3339(client.updated_at),
    ).body()
