"""``/admin/oauth2/auth/sessions/consent``: the consent sessions of a subject (GET ``?subject=
[&login_session_id=]``, paged by ``page_size``/``page_token`` with a ``Link`` header as Ory Hydra) and
their revocation with the tokens of their grants (DELETE ``?subject=&client=`` or ``&all=true``,
204), guarded by the warden (scope ``hydra.consent``, resource
``rn:hydra:oauth2:auth:sessions:consent:<subject>``, actions list, delete)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from hydra_lambda import clock, warden
from hydra_lambda.clients.registry import get_client
from hydra_lambda.consent import remembered
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import client_body
from hydra_lambda.errors import BadRequest
from hydra_lambda.models.flow_answers import ConsentRequest, ConsentSession
from hydra_lambda.storage.sessions import ConsentSession as Session

SCOPE = "hydra.consent"
PATH = "/admin/oauth2/auth/sessions/consent"
DEFAULT_PAGE, MAX_PAGE = 250, 500  # Hydra's


def _require_access(caller: Credentials, subject: str, action: str) -> None:
    if not subject:
        raise BadRequest("The subject query parameter is required.")
    warden.require_access(caller, scope=SCOPE, resource=f"oauth2:auth:sessions:consent:{subject}", action=action)


def page(caller: Credentials, query: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page of the subject's consent sessions, newest first, and the ``Link`` header to the next."""
    subject = query.get("subject", "")
    _require_access(caller, subject, "list")
    size, start = _page_size(query.get("page_size", "")), _offset(query.get("page_token", ""))
    login_session_id = query.get("login_session_id") or None
    found = remembered.of_subject(subject, login_session_id=login_session_id)
    items = [_wire(session) for session in found[start:start + size]]
    headers = {"X-Total-Count": str(len(found))}
    if start + size < len(found):
        params = {"subject": subject, **({"login_session_id": login_session_id} if login_session_id else {}),
                  "page_size": str(size), "page_token": _token(start + size)}
        headers["Link"] = f'<{PATH}?{urlencode(params)}>; rel="next"'
    return items, headers


def delete(caller: Credentials, query: dict[str, str]) -> None:
    subject = query.get("subject", "")
    _require_access(caller, subject, "delete")
    client = query.get("client", "")
    everything = query.get("all", "") == "true"
    if not client and not everything:
        raise BadRequest("Name the client (client=) whose consent to revoke, or all=true for every client.")
    remembered.revoke(subject, client_id=None if everything else client)


def _page_size(raw: str) -> int:
    if not raw:
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"page_size must be a whole number from 1 to {MAX_PAGE}.")
    return int(raw)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).rstrip(b"=").decode()


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        kind, number = "", ""
    if kind != "o" or not number.isdigit() or len(number) > 6:
        raise BadRequest("page_token is not one this server gave.")
    return int(number)


def _wire(session: Session) -> dict[str, Any]:
    request = ConsentRequest(
        challenge=session.challenge, consent_request_id=session.challenge,
        client=client_body(get_client(session.client_id)), subject=session.subject, skip=False, request_url="",
        requested_scope=list(session.requested_scope), requested_access_token_audience=[], acr="", amr=[],
        login_challenge=session.challenge, login_session_id=session.login_session_id, oidc_context={},
        requested_at=clock.rfc3339(session.created_at),
    ).body()
    return ConsentSession(
        consent_request=request, grant_scope=list(session.grant_scope),
        grant_access_token_audience=list(session.grant_access_token_audience),
        session={"access_token": session.access_token_session, "id_token": session.id_token_session},
        remember=session.remember, remember_for=session.remember_for, handled_at=clock.rfc3339(session.handled_at),
        context=session.context, expires_at={},
    ).body()
