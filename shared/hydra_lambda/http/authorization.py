"""``/oauth2/auth`` at the edge: the request parsed into an
:class:`~hydra_lambda.authorization.outcomes.AuthorizationCall` (parameters from the query or the form
body, the CSRF cookies), and each outcome rendered: an error page, the redirect to the consent app
with its CSRF cookie, or the authorization response (query, fragment or form_post)."""

from __future__ import annotations

import base64
import hashlib
import html
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from hydra_lambda.authorization.outcomes import (
    AuthorizationCall,
    ErrorPage,
    Outcome,
    ToClient,
    ToConsentApp,
    with_query,
)
from hydra_lambda.config import get_settings
from hydra_lambda.errors import HydraError
from hydra_lambda.http.forms import parse_urlencoded, require_form
from hydra_lambda.http.responses import HTML_HEADERS, html_page, redirect
from hydra_lambda.http.session_cookie import (
    clear_session_cookie,
    plain_http_loopback,
    read_session_cookie,
    session_cookie,
)

COOKIE_PREFIX = "hl_consent_"
COOKIE_PATH = "/oauth2/auth"
_AUTO_SUBMIT = "document.forms[0].submit()"
_AUTO_SUBMIT_HASH = base64.b64encode(hashlib.sha256(_AUTO_SUBMIT.encode()).digest()).decode()


def parse(method: str, raw_query: str, body: str | None, cookies: dict[str, str],
          content_type: str | None = None) -> AuthorizationCall:
    """The parameters of a GET (query) or POST (form body, OpenID Connect Core 3.1.2.1), without
    repeats; InvalidRequest else."""
    if method == "POST":
        require_form(content_type, body)
    params = parse_urlencoded(body if method == "POST" and body else raw_query)
    csrf = {name[len(COOKIE_PREFIX):]: value for name, value in cookies.items() if name.startswith(COOKIE_PREFIX)}
    return AuthorizationCall(params, csrf, read_session_cookie(cookies))


def render(outcome: Outcome, cookie_path: str = COOKIE_PATH) -> Response:
    """``cookie_path``: where the binding cookie is sent back (the device flow's ``/oauth2/device/verify``)."""
    if isinstance(outcome, ErrorPage):
        settings = get_settings()
        if settings.current_flow and settings.urls_error:  # Hydra's urls.error: the operator's error page
            return redirect(with_query(settings.urls_error, {"error": outcome.error,
                                                             "error_description": outcome.description}))
        return error_page(outcome)
    if isinstance(outcome, ToConsentApp):
        cookies = [_csrf_cookie(outcome.consent_id, outcome.csrf, outcome.lifespan, cookie_path)]
        if outcome.session is not None:
            cookies.append(session_cookie(outcome.session.value, outcome.session.max_age) if outcome.session.value
                           else clear_session_cookie())
        return redirect(outcome.location, cookies=cookies)
    return _deliver(outcome)


def error_page(error: ErrorPage | HydraError) -> Response:
    page = error if isinstance(error, ErrorPage) else ErrorPage.of(error)
    return html_page(
        400,
        "The authorization request cannot be completed",
        [page.description, f"Error: {page.error}. The application that sent you here is misconfigured or the "
                           "link is broken; you were not redirected back to it."],
    )


def _csrf_cookie(consent_id: str, value: str, max_age: int, path: str = COOKIE_PATH) -> Cookie:
    return Cookie(
        name=COOKIE_PREFIX + consent_id,
        value=value,
        path=path,
        secure=not plain_http_loopback(get_settings().issuer),
        http_only=True,
        same_site=SameSite.LAX_MODE,
        max_age=max_age,
    )


def clear_cookie(consent_id: str, path: str = COOKIE_PATH) -> Cookie:
    safe_id = consent_id if consent_id.isalnum() and len(consent_id) <= 64 else "invalid"
    return _csrf_cookie(safe_id, "", 0, path)


def _deliver(outcome: ToClient) -> Response:
    cookies = [] if outcome.clear_consent is None else [clear_cookie(outcome.clear_consent)]
    if outcome.mode == "form_post":
        return _form_post(outcome.redirect_uri, outcome.params, cookies)
    if outcome.mode == "fragment":
        return redirect(f"{outcome.redirect_uri}#{urlencode(outcome.params)}", cookies=cookies)
    return redirect(with_query(outcome.redirect_uri, outcome.params), cookies=cookies)


def _form_post(redirect_uri: str, params: dict[str, str], cookies: list[Cookie]) -> Response:
    """OAuth 2.0 Form Post Response Mode: a page that POSTs the parameters to the client at once."""
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
    )
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Submitting...</title></head>"
        f'<body><form method="post" action="{html.escape(redirect_uri)}">{fields}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        f"<script>{_AUTO_SUBMIT}</script></body></html>"
    )
    headers = {
        **HTML_HEADERS,
        "Content-Security-Policy": f"default-src 'none'; script-src 'sha256-{_AUTO_SUBMIT_HASH}'; "
                                   "frame-ancestors 'none'",
    }
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=document, headers=headers,
                    cookies=cookies)
