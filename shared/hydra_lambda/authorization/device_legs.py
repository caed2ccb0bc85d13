"""``GET /oauth2/device/verify``: the browser's side of the device flow (RFC 8628 section 3.3), as Ory
Hydra runs it, riding the current login and consent flow. Each visit is one of four legs:

1. start (no flow parameters): a device challenge, bound to this browser by a cookie (its hash is
   stored); the browser goes to ``URLS_DEVICE_VERIFICATION?device_challenge=`` (with the
   ``user_code`` of ``verification_uri_complete``), where the user enters the code and the device
   page accepts it (``PUT /admin/oauth2/auth/requests/device/accept``: ``redirect_to`` carries the
   device verifier);
2. device verifier: the accepted challenge is used once, and the device grant's login request is
   made (``login_legs.first_leg``): the browser goes to the login app;
3. login verifier: ``login_legs.login_leg`` (the same checks as ``/oauth2/auth``), to the consent app;
4. consent verifier: the consent is checked as at ``/oauth2/auth`` (verifier, cookie, expiry) and
   consumed in the transaction that writes the grant's authorization code (``consent_legs.issue``);
   the device row is approved with that code, sealed, and the browser goes to ``URLS_DEVICE_SUCCESS``.
   A rejected login or consent denies the device row (the device then gets ``access_denied``).

Requests of this flow are never redeemed at ``/oauth2/auth`` and the reverse (``flow.device``).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from hydra_lambda import clock
from hydra_lambda.authorization import consent_legs, device, login_legs
from hydra_lambda.authorization.outcomes import ErrorPage, ToConsentApp, with_query
from hydra_lambda.authorization.request import AuthorizeRequest
from hydra_lambda.clients.model import DEVICE_CODE_GRANT, Client
from hydra_lambda.clients.registry import get_client
from hydra_lambda.config import get_settings
from hydra_lambda.consent import requests as consent
from hydra_lambda.consent.model import Consent
from hydra_lambda.errors import AccessDenied, FlowRejected, InvalidRequest, OAuth2Error
from hydra_lambda.storage import consent as consent_store
from hydra_lambda.storage import device as store

PATH = "/oauth2/device/verify"


@dataclass(frozen=True)
class DeviceCall:
    """The parsed visit: its query, the binding cookies by challenge, the login session cookie."""

    params: dict[str, str]
    csrf_cookies: dict[str, str]
    session_cookie: str = ""


@dataclass(frozen=True)
class DeviceDone:
    """The device login ended well: to ``URLS_DEVICE_SUCCESS`` (or the server's page), the binding
    cookie of ``consent_id`` cleared."""

    location: str
    consent_id: str


DeviceOutcome = ErrorPage | ToConsentApp | DeviceDone


def serve(call: DeviceCall) -> DeviceOutcome:
    if not get_settings().device_flow:
        return ErrorPage("invalid_request", "The device flow is not enabled on this server.")
    params = call.params
    try:
        if params.get("consent") or params.get(consent.VERIFIER_PARAM):
            return consent_leg(params, call.csrf_cookies)
        if params.get("login_challenge") or params.get(consent.LOGIN_VERIFIER_PARAM):
            return _login_leg(call)
        if params.get("device_challenge") or params.get("device_verifier"):
            return device_leg(call)
        return start(params.get("user_code", ""))
    except consent_legs.BoundFlowError as exc:
        _deny_on_rejection(exc)
        return ErrorPage.of(exc.error)
    except OAuth2Error as exc:
        return ErrorPage.of(exc)


# ---------------------------------------------------------------------------------------------
# 1. start


def start(user_code: str) -> ToConsentApp:
    settings = get_settings()
    challenge_id, csrf = uuid.uuid4().hex, secrets.token_urlsafe(32)
    lifespan = settings.challenge_token_lifespan
    store.create_challenge(store.Challenge(id=challenge_id, csrf_hash=consent.hash_csrf(csrf),
                                           expires_at=clock.now_int() + lifespan))
    query = {"device_challenge": challenge_id}
    normalized = device.normalize_user_code(user_code) if user_code else None
    if normalized:  # verification_uri_complete: the page may fill the code in (never accepts it alone)
        query["user_code"] = f"{normalized[:4]}-{normalized[4:]}"
    return ToConsentApp(location=with_query(settings.urls_device_verification, query), consent_id=challenge_id,
                        csrf=csrf, lifespan=lifespan)


# ---------------------------------------------------------------------------------------------
# 2. device verifier


def device_leg(call: DeviceCall) -> ToConsentApp:
    challenge_id, verifier = call.params.get("device_challenge", ""), call.params.get("device_verifier", "")
    if not device.device_verifier_matches(challenge_id, verifier):
        raise InvalidRequest("The device request could not be verified: the device verifier does not match.")
    challenge = store.get_challenge(challenge_id)
    if challenge is None:
        raise InvalidRequest("The device request is unknown or has expired; start again.")
    csrf = call.csrf_cookies.get(challenge_id, "")
    if not csrf or not consent.csrf_matches(csrf, challenge.csrf_hash):
        raise InvalidRequest("The device request could not be verified: this browser did not start it "
                             "(the CSRF cookie does not match).")
    try:
        store.use_challenge(challenge_id)
    except store.ConditionFailed:
        raise InvalidRequest("The device request was already used or has expired.") from None
    grant = store.get_grant(challenge.target)
    if grant is None or grant.expired or grant.state != store.PENDING:
        raise InvalidRequest("The device code has expired or was already used; start again on the device.")
    client = get_client(grant.client_id)
    if client is None or not client.has_grant_type(DEVICE_CODE_GRANT):
        raise InvalidRequest("The client of this device code no longer exists or may no longer use the device flow.")
    request = device_request(client, grant.scopes)
    base = with_query(get_settings().url(PATH), {"client_id": client.id})
    return login_legs.first_leg(request, client, call.session_cookie, base_redirect=base, device=grant.signature)


def device_request(client: Client, scopes: list[str]) -> AuthorizeRequest:
    """The request a device grant stands for: a code for no redirect URI (never one ``/oauth2/auth``
    accepts), the scopes the device asked."""
    return AuthorizeRequest(client_id=client.id, redirect_uri="", redirect_uri_sent=False, response_types=("code",),
                            response_mode="query", scopes=tuple(scopes), state="")


# ---------------------------------------------------------------------------------------------
# 3. login verifier


def _login_leg(call: DeviceCall) -> ToConsentApp:
    found = consent_store.get(call.params.get("login_challenge", ""))
    if found is None or not (found.flow or {}).get("device"):
        raise InvalidRequest("The login request is unknown.")
    client = _client(found)
    request = AuthorizeRequest.from_dict(found.request)
    return login_legs.login_leg(request, client, call.params, call.csrf_cookies, call.session_cookie, device=True)


def _client(found: Consent) -> Client:
    client = get_client(found.client_id)
    if client is None:
        raise InvalidRequest("The client of this request no longer exists.")
    return client


# ---------------------------------------------------------------------------------------------
# 4. consent verifier


def consent_leg(params: dict[str, str], csrf_cookies: dict[str, str]) -> DeviceDone:
    consent_id, verifier = params.get("consent", ""), params.get(consent.VERIFIER_PARAM, "")
    found = consent_store.get(consent_id) if consent_id and verifier else None
    if found is None or not found.current or not (found.flow or {}).get("device"):
        raise InvalidRequest("The consent request is unknown.")
    consent_legs.check_binding(found, verifier, csrf_cookies.get(found.id, ""))
    try:
        return _bound_consent_leg(found)
    except OAuth2Error as exc:
        raise consent_legs.BoundFlowError(exc, found.id) from exc


def _bound_consent_leg(found: Consent) -> DeviceDone:
    if found.expired:
        raise InvalidRequest("The consent request has expired; start again on the device.")
    client = _client(found)
    request = AuthorizeRequest.from_dict(found.request)
    if found.state == consent_store.REJECTED:
        consent_legs.spend(found.id, found.state)
        error = (found.flow or {}).get("error") or {}
        raise FlowRejected(error.get("error", ""), error.get("error_description", ""), hint=error.get("error_hint", ""))
    if found.state == consent_store.PENDING:
        raise AccessDenied("The consent request has not been accepted.")
    if found.state != consent_store.ACCEPTED:
        raise InvalidRequest("The consent request was already used.")
    signature = str((found.flow or {}).get("device"))
    grant = store.get_grant(signature)
    if grant is None or grant.expired or grant.state != store.PENDING:
        consent_legs.spend(found.id, found.state)
        raise InvalidRequest("The device code has expired or was already used; start again on the device.")
    response = consent_legs.issue(request, client, found)  # the consent consumed with the code's row
    try:
        device.approve(signature, response["code"])
    except store.ConditionFailed:
        raise InvalidRequest("The device code expired meanwhile; start again on the device.") from None
    return DeviceDone(location=get_settings().urls_device_success, consent_id=found.id)


def _deny_on_rejection(exc: consent_legs.BoundFlowError) -> None:
    """A login or consent the app rejected ends the device grant: the device gets ``access_denied``
    at its next poll."""
    if not isinstance(exc.error, FlowRejected):
        return
    found = consent_store.get(exc.consent_id)
    signature = str((found.flow or {}).get("device") or "") if found is not None else ""
    if signature:
        store.deny(signature)
