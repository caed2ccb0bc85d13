"""``/admin/oauth2/auth/requests/consent`` (GET, ``/accept``, ``/reject``; ``?consent_challenge=``):
the consent requests of the current flow, as Ory Hydra serves them, guarded by the warden (scope
``hydra.consent``, resource ``rn:hydra:oauth2:auth:requests:consent:<challenge>``, actions get,
accept, reject; the warden first, then the lookup). ``consent.flow`` checks and records the answers."""

from __future__ import annotations

from typing import Any

from hydra_lambda import clock, id_token_hints, warden
from hydra_lambda.clients.registry import get_client
from hydra_lambda.consent import flow
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import client_body, parse_model
from hydra_lambda.models.flow_answers import ConsentRequest, RedirectTo

SCOPE = "hydra.consent"


def _require_access(caller: Credentials, challenge: str, action: str) -> warden.AccessContext:
    return warden.require_access(caller, scope=SCOPE, resource=f"oauth2:auth:requests:consent:{challenge}",
                                 action=action)


def get(caller: Credentials, challenge: str) -> dict[str, Any]:
    _require_access(caller, challenge, "get")
    found = flow.consent_request(challenge)
    data = found.flow or {}
    login = data.get("login") or {}
    asked = found.asked
    context = {
        "acr_values": asked.acr_values.split() or None,
        "display": asked.display or None,
        "id_token_hint_claims": id_token_hints.claims(asked.id_token_hint, found.client_id),
        "login_hint": asked.login_hint or None,
        "ui_locales": asked.ui_locales.split() or None,
    }
    return ConsentRequest(
        challenge=found.id,
        consent_request_id=found.id,
        client=client_body(get_client(found.client_id)),
        subject=found.subject,
        skip=bool(data.get("consent_skip")),
        request_url=found.redirect_url,
        requested_scope=list(found.requested_scopes),
        requested_access_token_audience=[],
        acr=found.authentication.acr,
        amr=list(found.authentication.amr),
        context=login.get("context"),
        login_challenge=found.id,
        login_session_id=str(data.get("login_session_id") or ""),
        oidc_context={name: value for name, value in context.items() if value is not None},
        requested_at=clock.rfc3339(found.created_at),
    ).body()


def accept(caller: Credentials, challenge: str, body: dict[str, Any]) -> dict[str, Any]:
    _require_access(caller, challenge, "accept")
    answer = parse_model("AcceptOAuth2ConsentRequest", body, "consent acceptance")
    return RedirectTo(flow.accept_consent(challenge, answer)).body()


def reject(caller: Credentials, challenge: str, body: dict[str, Any]) -> dict[str, Any]:
    _require_access(caller, challenge, "reject")
    answer = parse_model("RejectOAuth2Request", body, "rejection")
    return RedirectTo(flow.reject_consent(challenge, answer)).body()
