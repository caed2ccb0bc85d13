"""``/oauth2/auth`` (GET and POST) as one call: check the client and redirect URI, run the ordered checks, then the
first or the second consent leg. Every failure becomes an outcome: a page while the redirect URI is
not trusted, else an error response to the client (RFC 6749 4.1.2.1, with ``state`` and ``iss``,
RFC 9207)."""

from __future__ import annotations

from hydra_lambda.authorization import consent_legs, login_legs
from hydra_lambda.authorization.outcomes import (
    AuthorizationCall,
    ErrorPage,
    Outcome,
    ToClient,
    UntrustedRedirect,
)
from hydra_lambda.authorization.request import (
    MAX_PARAM,
    AuthorizeRequest,
    ObjectRefused,
    is_login_leg,
    is_second_leg,
    mode_for_errors,
    resolve,
    validate,
)
from hydra_lambda.clients.model import Client
from hydra_lambda.config import get_settings
from hydra_lambda.errors import HydraError, OAuth2Error


def serve(call: AuthorizationCall) -> Outcome:
    """The whole endpoint: what to answer the browser."""
    try:
        client, redirect_uri, sent, params = resolve(call.params)  # a request object merged in
    except ObjectRefused as exc:
        return error_response(exc.redirect_uri, exc.mode, exc.error, exc.state)
    except (UntrustedRedirect, HydraError) as exc:
        return ErrorPage.of(exc)
    mode = mode_for_errors(params)
    try:
        request = validate(params, client, redirect_uri, sent)
        return _leg(request, client, params, call)
    except consent_legs.BoundFlowError as exc:
        return error_response(redirect_uri, mode, exc.error, params.get("state", ""), exc.consent_id)
    except OAuth2Error as exc:
        return error_response(redirect_uri, mode, exc, params.get("state", ""))


def _leg(request: AuthorizeRequest, client: Client, params: dict[str, str], call: AuthorizationCall) -> Outcome:
    """The leg the browser is at: back from the consent app (both flows), back from the login app
    (current flow), or starting."""
    current = get_settings().current_flow
    if is_second_leg(params):
        return consent_legs.second_leg(request, client, params, call.csrf_cookies)
    if not current:
        return consent_legs.first_leg(request)
    if is_login_leg(params):
        return login_legs.login_leg(request, client, params, call.csrf_cookies, call.session_cookie)
    return login_legs.first_leg(request, client, call.session_cookie)


def error_response(redirect_uri: str, mode: str, error: OAuth2Error, state: str,
                   clear_consent: str | None = None) -> ToClient:
    params = error.redirect_params()
    if state:
        params["state"] = state[:MAX_PARAM]
    params["iss"] = get_settings().issuer
    return ToClient(redirect_uri, mode, params, clear_consent)
