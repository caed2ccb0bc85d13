"""``/oauth2/sessions/logout`` at the edge: the parameters and cookies in (``LogoutCall``), the
outcome out (``logout.Outcome``): a redirect with the request's CSRF cookie, this server's
confirmation page, the front-channel logout page, or an error page (never a redirect to a URI that
was not checked)."""

from __future__ import annotations

import base64
import hashlib
import html
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from hydra_lambda.config import get_settings
from hydra_lambda.errors import HydraError
from hydra_lambda.http.forms import parse_urlencoded, require_form
from hydra_lambda.http.responses import HTML_HEADERS, html_page, redirect, render_layout
from hydra_lambda.http.session_cookie import clear_session_cookie, plain_http_loopback, read_session_cookie
from hydra_lambda.logout import (
    CHALLENGE_PARAM,
    VERIFIER_PARAM,
    Cancelled,
    Confirm,
    ErrorPage,
    GoTo,
    LogoutCall,
    Outcome,
    SignedOut,
)

COOKIE_PREFIX = "hl_logout_"
PATH = "/oauth2/sessions/logout"
FRAMES_TIMEOUT_MS = 5000
# Leaves when every frame loaded (the window's load event waits for them) or after the timeout.
_SCRIPT = ("(function(){var a=document.getElementById('next');function go(){if(a){location.replace(a.href)}}"
           f"window.addEventListener('load',go);setTimeout(go,{FRAMES_TIMEOUT_MS})}})();")
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()


def parse(method: str, raw_query: str, body: str | None, cookies: dict[str, str],
          content_type: str | None = None) -> LogoutCall:
    """The parameters of a GET (query) or POST (form body), without repeats; InvalidRequest else."""
    if method == "POST":
        require_form(content_type, body)
    params = parse_urlencoded(body if method == "POST" and body else raw_query)
    csrf = {name[len(COOKIE_PREFIX):]: value for name, value in cookies.items() if name.startswith(COOKIE_PREFIX)}
    request_url = f"{get_settings().issuer}{PATH}" + (f"?{raw_query}" if raw_query else "")
    return LogoutCall(params, read_session_cookie(cookies), csrf, request_url, method)


def render(outcome: Outcome) -> Response:
    if isinstance(outcome, ErrorPage):
        return error_page(outcome)
    if isinstance(outcome, GoTo):
        cookies = [_csrf_cookie(outcome.challenge, outcome.csrf)] if outcome.csrf else []
        return redirect(outcome.url, cookies=cookies)
    if isinstance(outcome, Confirm):
        return _confirm_page(outcome)
    if isinstance(outcome, Cancelled):
        return html_page(200, "You are still signed in", ["The logout was cancelled."],
                         cookies=[_csrf_cookie(outcome.challenge, "", 0)])
    return _signed_out(outcome)


def error_page(error: ErrorPage | HydraError) -> Response:
    if isinstance(error, HydraError):
        error = ErrorPage(error.status, "invalid_request", error.message)
    return html_page(error.status, "The logout request cannot be completed",
                     [error.description, f"Error: {error.error}. You were not redirected back to the application."])


def _csrf_cookie(challenge: str, value: str, max_age: int | None = None) -> Cookie:
    return Cookie(name=COOKIE_PREFIX + challenge, value=value, path=PATH,
                  secure=not plain_http_loopback(get_settings().issuer), http_only=True,
                  same_site=SameSite.LAX_MODE,
                  max_age=get_settings().challenge_token_lifespan if max_age is None else max_age)


def _confirm_page(outcome: Confirm) -> Response:
    who = (f" of <span class=\"client\">{html.escape(outcome.client_name)}</span>" if outcome.client_name else "")
    body = ("<h1>Sign out?</h1>"
            f"<p>Do you want to sign out{who} and of this server?</p>"
            f"<form method=\"post\" action=\"{PATH}\">"
            f"<input type=\"hidden\" name=\"{CHALLENGE_PARAM}\" value=\"{html.escape(outcome.challenge)}\">"
            f"<input type=\"hidden\" name=\"{VERIFIER_PARAM}\" value=\"{html.escape(outcome.verifier)}\">"
            "<button type=\"submit\">Sign out</button></form>")
    headers = {**HTML_HEADERS, "Content-Security-Policy":
               "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"}
    return Response(status_code=200, content_type="text/html; charset=utf-8",
                    body=render_layout("Sign out?", body), headers=headers,
                    cookies=[_csrf_cookie(outcome.challenge, outcome.csrf)])


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _signed_out(outcome: SignedOut) -> Response:
    cookies = [clear_session_cookie()]
    if outcome.challenge:
        cookies.append(_csrf_cookie(outcome.challenge, "", 0))
    if not outcome.frontchannel_uris and outcome.target:
        return redirect(outcome.target, cookies=cookies)
    frames = "".join(f"<iframe class=\"fc\" src=\"{html.escape(uri)}\" title=\"logout\" width=\"0\" height=\"0\" "
                     "style=\"border:0;visibility:hidden\"></iframe>" for uri in outcome.frontchannel_uris)
    if outcome.target:
        body = (f"<h1>Signing you out</h1>{frames}<p>You have been signed out.</p>"
                f"<p><a id=\"next\" href=\"{html.escape(outcome.target)}\">Continue</a></p>"
                f"<script>{_SCRIPT}</script>")
    else:
        body = f"<h1>You have been signed out</h1>{frames}<p>You may close this window.</p>"
    sources = " ".join(dict.fromkeys(_origin(uri) for uri in outcome.frontchannel_uris)) or "'none'"
    headers = {**HTML_HEADERS, "Content-Security-Policy":
               f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; "
               f"frame-src {sources}; frame-ancestors 'none'"}
    return Response(status_code=200, content_type="text/html; charset=utf-8",
                    body=render_layout("Signed out", body), headers=headers, cookies=cookies)
