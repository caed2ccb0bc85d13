"""The two legs of ``/oauth2/auth`` around the consent app.

First leg: store the validated request as a consent request and send the browser to the consent app,
bound to it by a CSRF value (a cookie at the edge; only its hash is stored).

Second leg: the browser comes back with ``consent`` and ``consent_verifier``; the answered consent
request must be this client's, carry the verifier and this browser's CSRF value, be unexpired and
unchanged, and is then consumed once, in the same transaction that writes the code or tokens (the
issuer's ``authorize``).
"""

from __future__ import annotations

from typing import Any

from hydra_lambda import claims, clock, subjects
from hydra_lambda.authorization.outcomes import ToClient, ToConsentApp, with_query
from hydra_lambda.authorization.request import AuthorizeRequest
from hydra_lambda.clients.model import Client
from hydra_lambda.config import get_settings
from hydra_lambda.consent import remembered
from hydra_lambda.consent import requests as consent
from hydra_lambda.consent.model import Consent
from hydra_lambda.errors import (
    AccessDenied,
    FlowRejected,
    InvalidRequest,
    LoginRequired,
    OAuth2Error,
    UnauthorizedClient,
)
from hydra_lambda.storage import consent as store
from hydra_lambda.tokens import issuer
from hydra_lambda.tokens.model import CodeBinding, IdentityContext

# ---------------------------------------------------------------------------------------------
# First leg


def first_leg(request: AuthorizeRequest) -> ToConsentApp:
    """Only the validated request is stored and sent on (the consent app's ``redirectUrl`` is rebuilt
    from it): an anonymous request padded with parameters nobody reads costs what a plain one does."""
    settings = get_settings()
    stored, csrf = consent.create(
        client_id=request.client_id,
        requested_scopes=list(request.scopes),
        request=request.to_dict(),
        base_redirect=with_query(settings.url("/oauth2/auth"), request.to_query()),
    )
    return ToConsentApp(location=with_query(settings.consent_url, {"consent": stored.id}), consent_id=stored.id,
                        csrf=csrf, lifespan=settings.challenge_token_lifespan)


# ---------------------------------------------------------------------------------------------
# Second leg


class BoundFlowError(Exception):
    """An OAuth error of a second leg that came from the browser holding the flow (verifier and
    cookie both matched), so its binding cookie may be cleared; before that check nobody may clear
    it, or a link naming someone else's consent id would end their flow."""

    def __init__(self, error: OAuth2Error, consent_id: str) -> None:
        super().__init__(str(error))
        self.error, self.consent_id = error, consent_id


def second_leg(request: AuthorizeRequest, client: Client, params: dict[str, str],
               csrf_cookies: dict[str, str]) -> ToClient:
    consent_id, verifier = params.get("consent", ""), params.get("consent_verifier", "")
    found = store.get(consent_id) if consent_id and verifier else None
    # Each flow redeems only its own requests: a classic answer never stands for a login.
    # Each flow redeems only its own requests: a device flow's consent neither (``device_legs``).
    if found is None or found.current != get_settings().current_flow or (found.flow or {}).get("device"):
        raise InvalidRequest("The consent request is unknown.")
    if found.client_id != client.id:
        raise InvalidRequest("The consent request was made for another client.")
    check_binding(found, verifier, csrf_cookies.get(found.id, ""))
    try:
        return _bound_second_leg(request, client, found)
    except OAuth2Error as exc:
        raise BoundFlowError(exc, found.id) from exc


def _bound_second_leg(request: AuthorizeRequest, client: Client, found: Consent) -> ToClient:
    if found.expired:
        raise InvalidRequest("The consent request has expired; start the authorization again.")
    if AuthorizeRequest.from_dict(found.request) != request:
        raise InvalidRequest("The authorization request was changed after the consent request was made.")
    if found.state == store.REJECTED:
        _consume(found.id, store.REJECTED)
        if found.current:
            error = (found.flow or {}).get("error") or {}
            raise FlowRejected(error.get("error", ""), error.get("error_description", ""),
                               hint=error.get("error_hint", ""))
        raise AccessDenied(found.deny_reason or "The user denied the request.")
    if found.state == store.PENDING:
        raise AccessDenied("The consent request has not been accepted.")
    if found.state != store.ACCEPTED:
        raise InvalidRequest("The consent request was already used.")
    if "id_token" in request.response_types and "openid" not in found.grant_scopes:
        raise AccessDenied("The openid scope was not granted, so no ID token can be issued.")
    response = issue(request, client, found)
    params = {**response, "state": request.state, "iss": get_settings().issuer}
    return ToClient(request.redirect_uri, request.response_mode, params, clear_consent=found.id)


def check_binding(found: Consent, verifier: str, cookie: str) -> None:
    """The second leg needs BOTH the verifier (only the consent app learns it, from the admin API) and
    the cookie of the browser that started the flow (only its hash is stored). With the verifier but
    not the cookie, the consent app sent someone else's browser here (a fixation attempt, or a lost
    cookie): the answered request is spent so that nobody can redeem it later."""
    if not consent.verifier_matches(found.id, verifier):
        raise InvalidRequest("The consent request could not be verified: the consent verifier does not match.")
    if not cookie or not consent.csrf_matches(cookie, found.csrf_hash):
        if found.state in (store.ACCEPTED, store.REJECTED):
            spend(found.id, found.state)
        raise InvalidRequest("The consent request could not be verified: this browser did not start it "
                             "(the CSRF cookie does not match).")


def spend(consent_id: str, state: str) -> None:
    """Mark an answered request used so nobody can redeem it (already used or gone: nothing to do)."""
    try:
        store.consume(consent_id, state)
    except store.ConditionFailed:
        pass  # already used, expired or gone: nothing left to redeem either way


def _consume(consent_id: str, state: str) -> None:
    try:
        store.consume(consent_id, state)
    except store.ConditionFailed:
        raise InvalidRequest("The consent request was already used or has expired.") from None


def issue(request: AuthorizeRequest, client: Client, found: Consent) -> dict[str, str]:
    """What the response types ask for, issued by the issuer with the consent's consumption (one
    transaction: a failure anywhere leaves the consent redeemable, so the browser can simply retry);
    returns the response parameters."""
    authentication = found.authentication
    # Rows answered before authentication was recorded: the time of the second leg, as before.
    auth_time = authentication.auth_time or clock.now_int()
    if request.max_age is not None and clock.now_int() - auth_time > request.max_age:
        raise LoginRequired("The user authenticated longer ago than max_age allows; start again.")
    flow = found.flow or {}
    pairwise = _forced_subject(client, flow) or _pairwise_subject(client, found.subject)
    asked_claims = claims.load(request.claims)
    why = claims.unmet(asked_claims, subject=pairwise or found.subject, acr=authentication.acr,
                       acr_values=request.acr_values)
    if why:
        raise AccessDenied(why)
    identity = IdentityContext(
        subject=found.subject, auth_time=auth_time, nonce=request.nonce, extra=found.id_token_extra,
        acr=authentication.acr, amr=list(authentication.amr),
        requested_at=found.created_at,
        claims_request=claims.for_grant(asked_claims, request.scopes, found.grant_scopes),
        pairwise_subject=pairwise,
        sid=str(flow.get("login_session_id") or ""),
    )
    binding = CodeBinding(redirect_uri=request.redirect_uri, redirect_uri_sent=request.redirect_uri_sent,
                          code_challenge=request.code_challenge, code_challenge_method=request.code_challenge_method)
    try:
        return issuer.authorize(identity, consent_id=found.id, client_id=request.client_id,
                                granted=list(found.grant_scopes), extra=found.access_token_extra,
                                response_types=request.response_types, binding=binding,
                                id_token_alg=client.id_token_signed_response_alg or None,
                                consent_session=remembered.session_for(found) if found.current else None)
    except store.ConditionFailed:
        raise InvalidRequest("The consent request was already used or has expired.") from None


def _forced_subject(client: Client, flow: dict[str, Any]) -> str:
    """The login acceptance's ``force_subject_identifier``: a pairwise client's ``sub`` as the login
    app set it (current flow; ``consent.flow`` accepts it for pairwise clients only)."""
    login = flow.get("login") or {}
    forced = str(login.get("force_subject_identifier") or "")
    return forced if forced and client.subject_type == subjects.PAIRWISE else ""


def _pairwise_subject(client: Client, subject: str) -> str:
    """The grant's pairwise ``sub`` (OpenID Connect Core 8), fixed here for its whole life; a pairwise
    client the server cannot serve one to gets no subject at all, never the local one."""
    try:
        return subjects.pairwise_subject(client, subject)
    except subjects.PairwiseUnavailable as exc:
        raise UnauthorizedClient(str(exc)) from None
