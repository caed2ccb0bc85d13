"""The current login/consent flow's requests, as the operator's login and consent apps read and answer
them (``endpoints.login_requests``, ``endpoints.flow_consent_requests``, which ask the warden first).

One row per authorization (``consent.model.Consent`` with ``flow`` set), its challenge the row id, in
two stages: login (login_pending -> login_accepted | login_rejected) and, after the login verifier
leg of ``/oauth2/auth``, consent (pending -> accepted | rejected -> used). Each answer is one
conditional write: of two racing answers exactly one wins (the other is 409). A request already
handled is 410 with where the browser goes next (``Handled``), as Hydra answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from hydra_lambda import clock, subjects
from hydra_lambda.clients.registry import get_client
from hydra_lambda.config import MAX_SECONDS
from hydra_lambda.consent import requests
from hydra_lambda.consent.model import Consent
from hydra_lambda.errors import BadRequest, Conflict, Gone, Handled, NotFound
from hydra_lambda.storage import consent as store

if TYPE_CHECKING:  # pydantic only on the answering routes
    from hydra_lambda.models.flow import (
        AcceptOAuth2ConsentRequest,
        AcceptOAuth2LoginRequest,
        RejectOAuth2Request,
    )

LOGIN_STAGE = (store.LOGIN_PENDING, store.LOGIN_ACCEPTED, store.LOGIN_REJECTED)
MAX_TEXT = 255
MAX_AMR = 16
MAX_AUDIENCE = 20
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# ---------------------------------------------------------------------------------------------
# Where the browser goes


def login_redirect(found: Consent) -> str:
    """``/oauth2/auth?<the request>&login_challenge=&login_verifier=``: the login verifier leg."""
    params = {"login_challenge": found.id, requests.LOGIN_VERIFIER_PARAM: requests.login_verifier(found.id)}
    return f"{found.redirect_url}&{urlencode(params)}"


def consent_redirect(found: Consent) -> str:
    """``/oauth2/auth?<the request>&consent=&consent_verifier=``: the second leg, which issues."""
    params = {"consent": found.id, requests.VERIFIER_PARAM: requests.verifier(found.id)}
    return f"{found.redirect_url}&{urlencode(params)}"


# ---------------------------------------------------------------------------------------------
# Login requests


def login_request(challenge: str) -> Consent:
    """A login request still to answer; Handled (410) once answered, Gone when expired."""
    found = requests.load(challenge, current=True)
    if found.state != store.LOGIN_PENDING:
        raise Handled(login_redirect(found))
    if found.expired:
        raise Gone("The login request has expired; the user must start the authorization again.")
    return found


def accept_login(challenge: str, answer: AcceptOAuth2LoginRequest, may_sign_in: Callable[[str], None]) -> str:
    """Record the login app's acceptance; returns ``redirect_to``. A skipped login (a remembered
    session) must be accepted with that session's subject."""
    found = login_request(challenge)
    flow = dict(found.flow or {})
    subject = _subject(answer.subject)
    if flow.get("login_skip") and subject != found.subject:
        raise BadRequest("The login request was skipped (a remembered login session): subject must be that "
                         f"session's subject, '{found.subject[:80]}'.")
    remember_for = _seconds(answer.remember_for, "remember_for")
    acr, amr = _acr_amr(answer.acr, answer.amr)
    context = _bounded_json(answer.context, "context")
    forced = _text(answer.force_subject_identifier, "force_subject_identifier")
    idp_session = _text(answer.identity_provider_session_id, "identity_provider_session_id")
    client = get_client(found.client_id)
    if client is None:
        raise Gone("The client of this login request no longer exists.")
    if forced and client.subject_type != subjects.PAIRWISE:
        raise BadRequest("force_subject_identifier applies only to clients with subject_type pairwise.")
    may_sign_in(subject)
    requests.claim_for_user(subject)
    flow["login"] = {"remember": bool(answer.remember), "remember_for": remember_for, "acr": acr, "amr": amr,
                     "context": context, "force_subject_identifier": forced,
                     "identity_provider_session_id": idp_session,
                     "extend_session_lifespan": bool(answer.extend_session_lifespan),
                     "auth_time": clock.now_int()}
    _advance(found, store.LOGIN_PENDING, store.LOGIN_ACCEPTED, store.Advance(flow=flow, subject=subject))
    return login_redirect(found)


def reject_login(challenge: str, answer: RejectOAuth2Request) -> str:
    found = login_request(challenge)
    flow = {**(found.flow or {}), "error": _rejection(answer)}
    _advance(found, store.LOGIN_PENDING, store.LOGIN_REJECTED, store.Advance(flow=flow))
    return login_redirect(found)


# ---------------------------------------------------------------------------------------------
# Consent requests


def consent_request(challenge: str) -> Consent:
    """A consent request still to answer (the login stage passed); Handled (410) once answered, Gone
    when expired; NotFound while the request is still at its login stage (no consent request yet)."""
    found = requests.load(challenge, current=True)
    if found.state in LOGIN_STAGE:
        raise NotFound(f"The consent request '{challenge[:64]}' does not exist.")
    if found.state != store.PENDING:
        raise Handled(consent_redirect(found))
    if found.expired:
        raise Gone("The consent request has expired; the user must start the authorization again.")
    return found


def accept_consent(challenge: str, answer: AcceptOAuth2ConsentRequest) -> str:
    found = consent_request(challenge)
    granted = requests.granted_scopes(answer.grant_scope or [], "grant_scope")
    client = get_client(found.client_id)
    if client is None:
        raise Gone("The client of this consent request no longer exists.")
    denied = [scope for scope in granted if not client.allows_scopes([scope])]
    if denied:
        raise BadRequest(f"The client is not allowed the scope '{denied[0][:80]}'.")
    audience = _audience(answer.grant_access_token_audience or [])
    session = answer.session
    access_extra = _bounded_json(session.access_token if session else None, "session.access_token") or {}
    id_extra = _bounded_json(session.id_token if session else None, "session.id_token") or {}
    flow = dict(found.flow or {})
    flow["consent"] = {"remember": bool(answer.remember), "remember_for": _seconds(answer.remember_for, "remember_for"),
                       "grant_access_token_audience": audience, "context": _bounded_json(answer.context, "context"),
                       "handled_at": clock.now_int()}
    change = store.Advance(flow=flow, grant_scopes=granted, access_token_extra=access_extra, id_token_extra=id_extra)
    _advance(found, store.PENDING, store.ACCEPTED, change)
    return consent_redirect(found)


def reject_consent(challenge: str, answer: RejectOAuth2Request) -> str:
    found = consent_request(challenge)
    flow = {**(found.flow or {}), "error": _rejection(answer)}
    _advance(found, store.PENDING, store.REJECTED, store.Advance(flow=flow))
    return consent_redirect(found)


# ---------------------------------------------------------------------------------------------
# Checks of the answers


def _advance(found: Consent, expected: str, state: str, change: store.Advance) -> None:
    try:
        store.advance(found.id, expected, state, change)
    except store.ConditionFailed:
        again = store.get(found.id)
        if again is None:
            raise NotFound(f"The request '{found.id[:64]}' does not exist.") from None
        if again.state != expected:
            raise Conflict("The request was already answered.") from None
        raise Gone("The request has expired; the user must start the authorization again.") from None


def _subject(value: str | None) -> str:
    subject = value or ""
    if not subject.strip():
        raise BadRequest("subject is required: it identifies the user who signed in.")
    if len(subject) > MAX_TEXT or _CONTROL.search(subject):
        raise BadRequest(f"subject must be at most {MAX_TEXT} characters, without control characters.")
    return subject


def _text(value: str | None, name: str) -> str:
    text = value or ""
    if len(text) > MAX_TEXT or _CONTROL.search(text):
        raise BadRequest(f"{name} must be at most {MAX_TEXT} characters, without control characters.")
    return text


def _seconds(value: int | None, name: str) -> int:
    seconds = value or 0
    if seconds < 0 or seconds > MAX_SECONDS:
        raise BadRequest(f"{name} must be between 0 and {MAX_SECONDS} seconds (0: no limit).")
    return seconds


def _acr_amr(acr: str | None, amr: list[str] | None) -> tuple[str, list[str]]:
    methods = list(amr or [])
    if len(methods) > MAX_AMR or any(not m or len(m) > 64 or _CONTROL.search(m) for m in methods):
        raise BadRequest(f"amr must hold at most {MAX_AMR} values of at most 64 characters.")
    return _text(acr, "acr"), methods


def _audience(values: list[str]) -> list[str]:
    audience = list(dict.fromkeys(values))
    if len(audience) > MAX_AUDIENCE or any(not a or len(a) > MAX_TEXT or _CONTROL.search(a) for a in audience):
        raise BadRequest(f"grant_access_token_audience must hold at most {MAX_AUDIENCE} values of at most "
                         f"{MAX_TEXT} characters.")
    return audience


def _bounded_json(value: Any, name: str) -> Any:
    if value is not None and len(json.dumps(value)) > requests.MAX_EXTRA_BYTES:
        raise BadRequest(f"{name} must serialize to at most {requests.MAX_EXTRA_BYTES} bytes.")
    return value


def _rejection(answer: RejectOAuth2Request) -> dict[str, str]:
    """What the client is told (``error_debug`` never leaves: Hydra sends it only in debug mode)."""
    error = answer.error or "access_denied"
    if not _ERROR_CODE.fullmatch(error):
        raise BadRequest("error must be an OAuth 2.0 error code (letters, digits, '_', '.', '-'; at most 64).")
    out = {"error": error}
    for name in ("error_description", "error_hint"):
        text = getattr(answer, name) or ""
        if len(text) > requests.MAX_REASON or _CONTROL.search(text):
            raise BadRequest(f"{name} must be at most {requests.MAX_REASON} characters, without control characters.")
        if text:
            out[name] = text
    return out
