"""``/admin/oauth2/auth/requests/login`` (GET, ``/accept``, ``/reject``; ``?login_challenge=``): the
login requests of the current flow, as Ory Hydra serves them, guarded by the warden (scope
``hydra.consent``, resource ``rn:hydra:oauth2:auth:requests:login:<challenge>``, actions get, accept,
reject; the warden first, then the lookup). ``consent.flow`` checks and records the answers."""

from __future__ import annotations

from typing import Any

from hydra_lambda import clock, id_token_hints, warden
from hydra_lambda.clients.registry import get_client
from hydra_lambda.consent import flow
from hydra_lambda.consent.model import Consent
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import check_subject, client_body, parse_model
from hydra_lambda.models.flow_answers import LoginRequest, RedirectTo

SCOPE = "hydra.consent"


def _require_access(caller: Credentials, challenge: str, action: str) -> warden.AccessContext:
    return warden.require_access(caller, scope=SCOPE, resource=f"oauth2:auth:requests:login:{challenge}",
                                 action=action)


def get(caller: Credentials, challenge: str) -> dict[str, Any]:
    _require_access(caller, challenge, "get")
    found = flow.login_request(challenge)
    return LoginRequest(
        challenge=found.id,
        client=client_body(get_client(found.client_id)),
        request_url=found.redirect_url,
        requested_scope=list(found.requested_scopes),
        requested_access_token_audience=[],
        skip=bool((found.flow or {}).get("login_skip")),
        subject=found.subject if (found.flow or {}).get("login_skip") else "",
        session_id=(found.flow or {}).get("login_session_id") or None,
        oidc_context=oidc_context(found),
        requested_at=clock.rfc3339(found.created_at),
    ).body()


def oidc_context(found: Consent) -> dict[str, Any]:
    """What the relying party asked about the authentication (OpenID Connect Core 3.1.2.1); the
    ``id_token_hint``'s claims only for a hint this server signed for this client."""
    asked = found.asked
    out: dict[str, Any] = {
        "acr_values": asked.acr_values.split() or None,
        "display": asked.display or None,
        "id_token_hint_claims": id_token_hints.claims(asked.id_token_hint, found.client_id),
        "login_hint": asked.login_hint or None,
        "ui_locales": asked.ui_locales.split() or None,
    }
    return {name: value for name, value in out.items() if value is not None}


def accept(caller: Credentials, challenge: str, body: dict[str, Any]) -> dict[str, Any]:
    access = _require_access(caller, challenge, "accept")
    answer = parse_model("AcceptOAuth2LoginRequest", body, "login acceptance")
    redirect_to = flow.accept_login(challenge, answer, lambda subject: check_subject(access.subject, subject))
    return RedirectTo(redirect_to).body()


def reject(caller: Credentials, challenge: str, body: dict[str, Any]) -> dict[str, Any]:
    _require_access(caller, challenge, "reject")
    answer = parse_model("RejectOAuth2Request", body, "rejection")
    return RedirectTo(flow.reject_login(challenge, answer)).body()
