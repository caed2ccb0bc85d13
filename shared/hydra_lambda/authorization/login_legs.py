"""The current flow's legs of ``/oauth2/auth`` before the consent app (the second leg, which issues,
is ``consent_legs.second_leg`` for both flows).

First leg: the validated request becomes a login request (``consent.requests.create`` with ``flow``),
bound to the browser by the CSRF cookie of the classic flow (only its hash is stored), and the browser
goes to ``URLS_LOGIN?login_challenge=``. A live login session (the ``hl_session`` cookie) makes it
``skip`` unless ``prompt=login``, ``max_age`` or an ``id_token_hint`` naming another subject forbids
reuse; ``prompt=none`` without a usable session ends at the client in ``login_required``.

Login verifier leg: the browser is back with ``login_challenge`` and ``login_verifier``; the
answered login stage must carry the verifier, this browser's CSRF value and the unchanged request,
and is consumed once (a conditional write, in one transaction with the new login session): the
browser goes to ``URLS_CONSENT?consent_challenge=``, with the session cookie when remembered.
"""

from __future__ import annotations

from typing import Any

from hydra_lambda import clock, id_token_hints, login_sessions, subjects
from hydra_lambda.authorization.consent_legs import BoundFlowError, spend
from hydra_lambda.authorization.outcomes import SessionCookie, ToConsentApp, with_query
from hydra_lambda.authorization.request import AuthorizeRequest
from hydra_lambda.clients.model import Client
from hydra_lambda.config import get_settings
from hydra_lambda.consent import remembered
from hydra_lambda.consent import requests as consent
from hydra_lambda.consent.model import Authentication, Consent
from hydra_lambda.errors import (
    AccessDenied,
    ConsentRequired,
    FlowRejected,
    InvalidRequest,
    LoginRequired,
    OAuth2Error,
)
from hydra_lambda.storage import consent as store
from hydra_lambda.storage import sessions as session_store
from hydra_lambda.storage.sessions import LoginSession

# ---------------------------------------------------------------------------------------------
# First leg


def first_leg(request: AuthorizeRequest, client: Client, cookie: str, *, base_redirect: str = "",
              device: str = "") -> ToConsentApp:
    """Store the login request and send the browser to the login app. The device flow (RFC 8628)
    passes where the browser comes back (``base_redirect``) and its device row (``device``)."""
    settings = get_settings()
    session = reusable_session(request, client, login_sessions.from_cookie(cookie))
    if session is None and "none" in request.prompt.split():
        raise LoginRequired("No login session can be used for this request, and prompt=none forbids asking the user.")
    flow: dict[str, Any] = {"login_skip": session is not None, "login_session_id": session.sid if session else ""}
    if device:
        flow["device"] = device
    stored, csrf = consent.create(
        client_id=request.client_id,
        requested_scopes=list(request.scopes),
        request=request.to_dict(),
        base_redirect=base_redirect or with_query(settings.url("/oauth2/auth"), request.to_query()),
        flow=flow,
        subject=session.subject if session else "",
    )
    return ToConsentApp(location=with_query(settings.urls_login, {"login_challenge": stored.id}),
                        consent_id=stored.id, csrf=csrf, lifespan=settings.challenge_token_lifespan)


def reusable_session(request: AuthorizeRequest, client: Client, session: LoginSession | None) -> LoginSession | None:
    """``session`` if this request may skip the login with it: not ``prompt=login``, authenticated
    within ``max_age``, and the subject of a genuine ``id_token_hint`` (a forged or foreign hint is
    ignored, as if absent)."""
    if session is None or "login" in request.prompt.split():
        return None
    if request.max_age is not None and clock.now_int() - session.auth_time > request.max_age:
        return None
    hint = id_token_hints.claims(request.id_token_hint, client.id)
    if hint is not None and hint.get("sub") not in _subjects_of(client, session.subject):
        return None
    return session


def _subjects_of(client: Client, subject: str) -> set[str]:
    """The ``sub`` values this client's ID tokens of ``subject`` carry."""
    try:
        return {subject, subjects.pairwise_subject(client, subject) or subject}
    except subjects.PairwiseUnavailable:
        return {subject}


# ---------------------------------------------------------------------------------------------
# Login verifier leg


def login_leg(request: AuthorizeRequest, client: Client, params: dict[str, str],
              csrf_cookies: dict[str, str], cookie: str, *, device: bool = False) -> ToConsentApp:
    """``device``: the device flow's leg (``/oauth2/device/verify``); each redeems only its own requests."""
    challenge, verifier = params.get("login_challenge", ""), params.get(consent.LOGIN_VERIFIER_PARAM, "")
    found = store.get(challenge) if challenge and verifier else None
    if found is None or not found.current or bool((found.flow or {}).get("device")) != device:
        raise InvalidRequest("The login request is unknown.")
    if found.client_id != client.id:
        raise InvalidRequest("The login request was made for another client.")
    csrf = csrf_cookies.get(found.id, "")
    _check_binding(found, verifier, csrf)
    try:
        return _bound_login_leg(request, client, found, csrf, cookie)
    except OAuth2Error as exc:
        raise BoundFlowError(exc, found.id) from exc


def _check_binding(found: Consent, verifier: str, csrf: str) -> None:
    """Both the login verifier (only the login app learns it) and the cookie of the browser that
    started the flow; with the verifier but not the cookie, the answered login request is spent."""
    if not consent.login_verifier_matches(found.id, verifier):
        raise InvalidRequest("The login request could not be verified: the login verifier does not match.")
    if not csrf or not consent.csrf_matches(csrf, found.csrf_hash):
        if found.state in (store.LOGIN_ACCEPTED, store.LOGIN_REJECTED):
            spend(found.id, found.state)
        raise InvalidRequest("The login request could not be verified: this browser did not start it "
                             "(the CSRF cookie does not match).")


def _bound_login_leg(request: AuthorizeRequest, client: Client, found: Consent, csrf: str,
                     cookie: str) -> ToConsentApp:
    if found.expired:
        raise InvalidRequest("The login request has expired; start the authorization again.")
    if AuthorizeRequest.from_dict(found.request) != request:
        raise InvalidRequest("The authorization request was changed after the login request was made.")
    flow = dict(found.flow or {})
    if found.state == store.LOGIN_REJECTED:
        _consume(found.id, store.LOGIN_REJECTED)
        error = flow.get("error") or {}
        raise FlowRejected(error.get("error", ""), error.get("error_description", ""), hint=error.get("error_hint", ""))
    if found.state == store.LOGIN_PENDING:
        raise AccessDenied("The login request has not been accepted.")
    if found.state != store.LOGIN_ACCEPTED:
        raise InvalidRequest("The login request was already used.")
    login: dict[str, Any] = dict(flow.get("login") or {})
    session, new_cookie = _login_session(found, flow, login, cookie)
    skip = _consent_skip(request, found, client)
    if "none" in request.prompt.split() and not skip:
        spend(found.id, store.LOGIN_ACCEPTED)
        raise ConsentRequired("The user has not given consent to this client for these scopes, and prompt=none "
                              "forbids asking.")
    flow.update({"login_session_id": session.sid, "consent_skip": skip})
    settings = get_settings()
    change = store.Advance(flow=flow, authentication=_authentication(session, login),
                           expires_at=clock.now_int() + settings.challenge_token_lifespan)
    try:
        if new_cookie is not None:
            store.advance_with_login_session(found.id, store.LOGIN_ACCEPTED, store.PENDING, change, session)
        else:
            store.advance(found.id, store.LOGIN_ACCEPTED, store.PENDING, change)
    except store.ConditionFailed:
        raise InvalidRequest("The login request was already used or has expired.") from None
    return ToConsentApp(location=with_query(settings.urls_consent, {"consent_challenge": found.id}),
                        consent_id=found.id, csrf=csrf, lifespan=settings.challenge_token_lifespan,
                        session=_cookie_for(login, new_cookie, cookie))


def _login_session(found: Consent, flow: dict[str, Any], login: dict[str, Any],
                   cookie: str) -> tuple[LoginSession, str | None]:
    """The login session of this authorization: the remembered one a skipped login reused; the
    browser's own session of the same subject, authenticated again (same sid, new time and cookie
    secret: Hydra's way, so logout still reaches every client of the session); else a new one. Not
    stored yet (the caller writes it with the stage change); with its cookie value (None when reused)."""
    if flow.get("login_skip"):
        session = session_store.get_login_session(str(flow.get("login_session_id") or ""))
        if session is None or session.subject != found.subject:
            raise LoginRequired("The login session ended meanwhile; start the authorization again.")
        return session, None
    remember, remember_for = bool(login.get("remember")), int(login.get("remember_for") or 0)
    lifespan = remember_for if remember and remember_for > 0 else get_settings().refresh_token_lifespan
    details = {"auth_time": int(login.get("auth_time") or clock.now_int()), "lifespan": lifespan,
               "acr": str(login.get("acr") or ""), "amr": list(login.get("amr") or []), "remember": remember,
               "remember_for": remember_for,
               "identity_provider_session_id": str(login.get("identity_provider_session_id") or "")}
    current = login_sessions.from_cookie(cookie)
    if current is not None and current.subject == found.subject:
        return login_sessions.renew_session(current, **details)
    return login_sessions.make_session(found.subject, **details)


def _cookie_for(login: dict[str, Any], new_cookie: str | None, old_cookie: str) -> SessionCookie | None:
    """The session cookie to set: a remembered new session's (Max-Age remember_for; 0: a
    browser-session cookie); a new session not remembered clears a cookie the browser still holds
    (it would name another login); a reused session changes nothing."""
    if new_cookie is None:
        return None
    if login.get("remember"):
        remember_for = int(login.get("remember_for") or 0)
        return SessionCookie(new_cookie, remember_for or None)
    return SessionCookie("") if old_cookie else None


def _authentication(session: LoginSession, login: dict[str, Any]) -> Authentication:
    """The ID token's ``auth_time`` (the session's: a skipped login keeps the time of the real one),
    ``acr`` and ``amr`` (the login acceptance's, else the session's)."""
    return Authentication(auth_time=session.auth_time, acr=str(login.get("acr") or session.acr),
                          amr=list(login.get("amr") or session.amr))


def _consent_skip(request: AuthorizeRequest, found: Consent, client: Client) -> bool:
    """The consent request's ``skip``: the client is trusted to skip the screen (its ``skip_consent``,
    set by an admin only) or a remembered consent of this subject and client covers the request;
    never when ``prompt=consent`` asks for the screen. The consent app is asked either way and must
    accept (``skip`` tells it to do so without asking the user)."""
    if "consent" in request.prompt.split():
        return False
    if client.skip_consent:
        return True
    return remembered.covering(found.subject, found.client_id, request.scopes) is not None


def _consume(challenge: str, state: str) -> None:
    try:
        store.consume(challenge, state)
    except store.ConditionFailed:
        raise InvalidRequest("The login request was already used or has expired.") from None
