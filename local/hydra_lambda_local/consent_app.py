"""An example login, consent and logout app: what an operator writes beside hydra-lambda.

hydra-lambda never sees a password. It serves two flows, and this app answers both:

- **the classic flow** (the default): ``/oauth2/auth`` sends the browser to ``CONSENT_URL?consent=ID``;
  the app fetches that consent request, signs a (demo) user in, asks which scopes to grant, answers
  with ``PATCH /oauth2/consent/requests/ID/accept`` or ``.../reject`` and sends the browser back to the
  request's ``redirectUrl``;
- **the current flow** (``URLS_LOGIN`` and ``URLS_CONSENT`` set, Ory Hydra v2's API): ``/login?login_challenge=``
  shows a login form (or accepts at once when the server says ``skip``), ``/consent?consent_challenge=``
  asks which scopes to grant (or accepts at once on ``skip``), ``/logout?logout_challenge=`` asks
  whether to sign out; every answer is a ``PUT /admin/oauth2/auth/requests/<kind>/accept|reject`` whose
  ``redirect_to`` the browser follows. ``/logged-out`` and ``/error`` are the pages URLS_POST_LOGOUT_REDIRECT
  and URLS_ERROR point at. ``/device?device_challenge=`` (URLS_DEVICE_VERIFICATION, RFC 8628) asks for the
  code a device shows and sends it with ``PUT /admin/oauth2/auth/requests/device/accept``; the sign-in and
  consent then run as above and end at ``/device/done`` (URLS_DEVICE_SUCCESS).

It authenticates to the API with its own client-credentials client (scope ``hydra.consent``), whose
token it caches until shortly before it expires; given the operator-only admin address instead
(``--admin-url``), it sends no token, as apps built on Ory's SDKs do.

Only the standard library is used, so the file doubles as a readable template for a real app:
server-rendered HTML (every value escaped), a CSRF token per rendered form (cookie + hidden field,
bound to the request it answers), and headers that forbid framing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from string import Template
from typing import Any, NoReturn, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from hydra_lambda import claims as user_claims
from hydra_lambda.config import ConfigError, get_settings
from hydra_lambda.http.responses import render_layout
from hydra_lambda.redaction import redact

from hydra_lambda_local.api import CliError, read_secret

log = logging.getLogger("hydra_lambda.consent_app")
T = TypeVar("T")

DEFAULT_PORT = 3000
# Demo accounts (CONSENT_APP_USERS overrides them): "user:password" pairs, comma-separated.
DEFAULT_USERS = "alice:alice-password,bob:bob-password"
CONSENT_SCOPE = "hydra.consent"
# Read to show the client's name, logo and links on the consent page (get on rn:hydra:clients:<id>).
CLIENTS_SCOPE = "hydra.clients"
MAX_FORM_BYTES = 16 * 1024
DRAIN_LIMIT = 1024 * 1024  # larger bodies are not read at all: the connection is closed
MAX_ID_LENGTH = 128
# The current flow's challenges are opaque strings of the server's making (Ory Hydra's are long
# encrypted blobs): URL-safe characters only, bounded.
CHALLENGE = re.compile(r"[A-Za-z0-9._~=-]{1,4096}")
FLOW_KINDS = ("login", "consent", "logout", "device")
# A login_hint longer than this (or with control characters) does not prefill the form.
MAX_HINT_LENGTH = 254
MAX_SHOWN_TEXT = 500  # error texts from a query string are cut here before they are shown
# "Remember me" on the login form, and "remember this decision" on the consent form (seconds).
REMEMBER_LOGIN_FOR = 7 * 24 * 3600
REMEMBER_CONSENT_FOR = 30 * 24 * 3600
# How long a rendered form stays valid (the consent request itself lives CHALLENGE_TOKEN_LIFESPAN).
FORM_LIFETIME = 900
STARTUP_WAIT = 20.0
APP_CLIENT_ID = "hydra-lambda-consent-app"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    # No form-action: the answer is a redirect chain through the API to the client's redirect URI,
    # and browsers apply form-action to every hop of it.
    # img-src: the client's logo_uri (http(s) only, and no referrer is sent with it).
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src http: https:; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
SCOPE_TEXT = {
    "openid": "Know who you are (sign you in with an ID token)",
    "offline": "Stay connected when you are not using it (refresh token)",
    "offline_access": "Stay connected when you are not using it (refresh token)",
    "profile": "See your name",
    "email": "See your email address",
}
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


# ---------------------------------------------------------------------------------------------
# Demo users


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str

    @property
    def claims(self) -> dict[str, Any]:
        """Everything the demo knows about this user."""
        return {"name": self.username.capitalize(), "email": f"{self.username}@example.com"}

    def released(self, granted: list[str], requested: dict[str, Any]) -> dict[str, Any]:
        """What the ID token and /userinfo may say (idTokenExtra): only the claims of the scopes the
        user ticked, plus those the relying party named in its claims request (the server drops any of
        a scope the user unticked)."""
        allowed = user_claims.scope_claims(granted)
        for members in requested.values():
            if isinstance(members, dict):
                allowed.update(members)
        return {name: value for name, value in self.claims.items() if name in allowed}


def parse_users(text: str) -> dict[str, DemoUser]:
    """``"alice:secret,bob:other"`` into users; the first ``:`` splits name from password."""
    users: dict[str, DemoUser] = {}
    for entry in (text or "").split(","):
        name, sep, password = entry.strip().partition(":")
        if not entry.strip():
            continue
        if not sep or not name or not password:
            raise ValueError(f"CONSENT_APP_USERS entries are user:password, got {entry.strip()!r}")
        users[name] = DemoUser(name, password)
    if not users:
        raise ValueError("CONSENT_APP_USERS names no user")
    return users


def check_login(users: dict[str, DemoUser], username: str, password: str) -> DemoUser | None:
    """The user when the password matches; compared in constant time, also for unknown names."""
    user = users.get(username)
    expected = user.password if user else secrets.token_urlsafe(16)
    ok = hmac.compare_digest(password.encode(), expected.encode())
    return user if ok and user else None


# ---------------------------------------------------------------------------------------------
# The admin API, as any operator's app would call it


class ApiError(Exception):
    """The admin API answered with an error (or could not be reached: status 0)."""

    def __init__(self, status: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data

    @property
    def redirect_to(self) -> str:
        """The ``redirect_to`` of a 410 answer (the current flow's request was already handled)."""
        value = self.data.get("redirect_to") if self.status == 410 and isinstance(self.data, dict) else ""
        return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class ConsentRequest:
    id: str
    client_id: str
    requested_scopes: list[str]
    redirect_url: str
    expires_at: str
    requested_claims: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ConsentRequest:
        scopes = body.get("requestedScopes") or []
        if not isinstance(scopes, list):
            raise ApiError(502, "The consent request has no valid requestedScopes.")
        return cls(
            id=str(body.get("id") or ""),
            client_id=str(body.get("clientId") or ""),
            requested_scopes=[str(s) for s in scopes],
            redirect_url=str(body.get("redirectUrl") or ""),
            expires_at=str(body.get("expiresAt") or ""),
            requested_claims=claims if isinstance(claims := body.get("requestedClaims"), dict) else {},
        )


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class FlowRequest:
    """A login, consent or logout request of the current flow (``oAuth2LoginRequest``,
    ``oAuth2ConsentRequest``, ``oAuth2LogoutRequest``): the fields this app uses."""

    challenge: str
    client: dict[str, Any]
    subject: str = ""
    skip: bool = False
    requested_scope: list[str] = field(default_factory=list)
    requested_audience: list[str] = field(default_factory=list)
    login_hint: str = ""
    requested_claims: dict[str, Any] = field(default_factory=dict)
    rp_initiated: bool = False  # a logout request's: a relying party asked for it (with an id_token_hint)

    @classmethod
    def from_json(cls, challenge: str, body: Any) -> FlowRequest:
        if not isinstance(body, dict):
            raise ApiError(502, "The request could not be read.")
        oidc = _object(body.get("oidc_context"))
        hint = oidc.get("login_hint")
        return cls(
            challenge=challenge,  # the one this app was given (and bound its form to)
            client=_object(body.get("client")),
            subject=str(body.get("subject") or ""),
            skip=body.get("skip") is True,
            requested_scope=_strings(body.get("requested_scope")),
            requested_audience=_strings(body.get("requested_access_token_audience")),
            login_hint=hint if isinstance(hint, str) else "",
            # Not in Hydra's API: the claims request parameter, should the server pass it on.
            requested_claims=_object(body.get("requested_claims")),
            rp_initiated=body.get("rp_initiated") is True,
        )

    @property
    def client_id(self) -> str:
        value = self.client.get("client_id") or self.client.get("id") or ""
        return value if isinstance(value, str) else ""


@dataclass
class AdminApi:
    """Consent requests (and the current flow's requests) through the HTTP API, with a cached
    client-credentials token; with ``admin_url`` (the operator-only admin address, Hydra's port 4445),
    admin calls go there and carry no token."""

    base_url: str
    client_id: str
    client_secret: str
    timeout: float = 10.0
    scope: str = CONSENT_SCOPE
    admin_url: str = ""
    _token: str = field(default="", repr=False)
    _refresh_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _clients: AdminApi | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.admin_url = self.admin_url.rstrip("/")

    # -- token cache
    def token(self) -> str:
        with self._lock:
            if not self._token or time.monotonic() >= self._refresh_at:
                self._token, lifetime = self._fetch_token()
                # Renew a little early: a minute, or a tenth of short lifetimes.
                self._refresh_at = time.monotonic() + lifetime - min(60.0, lifetime / 10)
            return self._token

    def forget_token(self) -> None:
        with self._lock:
            self._token = ""

    def _fetch_token(self) -> tuple[str, float]:
        credentials = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
        headers = {
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        body = f"grant_type=client_credentials&scope={quote(self.scope)}".encode()
        status, data = self._send("POST", self.base_url + "/oauth2/token", body, headers)
        if status != 200 or not isinstance(data, dict) or not data.get("access_token"):
            detail = _error_message(data)
            raise ApiError(502, f"The consent app could not get an access token (HTTP {status}"
                           + (f": {detail})." if detail else ")."))
        return str(data["access_token"]), float(data.get("expires_in") or 60)

    # -- consent requests
    def get_request(self, consent_id: str) -> ConsentRequest:
        _, data = self._admin("GET", f"/oauth2/consent/requests/{quote(consent_id, safe='')}")
        if not isinstance(data, dict):
            raise ApiError(502, "The consent request could not be read.")
        return ConsentRequest.from_json(data)

    def client_info(self, client_id: str) -> dict[str, Any] | None:
        """The client's public metadata (``GET /clients/{id}`` with a token for ``hydra.clients``), or
        None when it cannot be read (this app's client may lack that scope or policy: the page then
        names the client by its id)."""
        with self._lock:
            if self._clients is None or self._clients.client_id != self.client_id:
                self._clients = AdminApi(self.base_url, self.client_id, self.client_secret, self.timeout,
                                         CLIENTS_SCOPE, self.admin_url)
        try:
            _, data = self._clients.call("GET", f"/clients/{quote(client_id, safe='')}")
        except ApiError:
            return None
        return data if isinstance(data, dict) else None

    def accept(self, consent_id: str, acceptance: dict[str, Any]) -> None:
        self._admin("PATCH", f"/oauth2/consent/requests/{quote(consent_id, safe='')}/accept", acceptance)

    def reject(self, consent_id: str, reason: str) -> None:
        self._admin("PATCH", f"/oauth2/consent/requests/{quote(consent_id, safe='')}/reject", {"reason": reason})

    # -- the current flow's login, consent and logout requests (Ory Hydra v2's admin API)
    def flow_request(self, kind: str, challenge: str) -> FlowRequest:
        """GET the request; ApiError 410 (with ``redirect_to``) when it was already handled."""
        _, data = self._admin("GET", self._flow_path(kind, "", challenge))
        return FlowRequest.from_json(challenge, data)

    def flow_accept(self, kind: str, challenge: str, body: dict[str, Any] | None = None) -> str:
        """PUT .../accept; the ``redirect_to`` to send the browser to."""
        _, data = self._admin("PUT", self._flow_path(kind, "/accept", challenge), body)
        return _redirect_to(data)

    def flow_reject(self, kind: str, challenge: str, body: dict[str, Any] | None = None) -> str:
        """PUT .../reject; the ``redirect_to`` ("" for a logout request: its rejection answers 204)."""
        _, data = self._admin("PUT", self._flow_path(kind, "/reject", challenge), body)
        return "" if kind == "logout" else _redirect_to(data)

    @staticmethod
    def _flow_path(kind: str, action: str, challenge: str) -> str:
        if kind not in FLOW_KINDS:
            raise ValueError(kind)
        return f"/admin/oauth2/auth/requests/{kind}{action}?{kind}_challenge={quote(challenge, safe='')}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """Any admin call with the Bearer token; ApiError unless 2xx."""
        return self._admin(method, path, body)

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            headers = {"Accept": "application/json"}
            if not self.admin_url:  # the operator-only admin address takes no token
                headers["Authorization"] = f"Bearer {self.token()}"
            if raw is not None:
                headers["Content-Type"] = "application/json"
            status, data = self._send(method, (self.admin_url or self.base_url) + path, raw, headers)
            if status == 401 and attempt == 1 and not self.admin_url:  # revoked or expired early: once more
                self.forget_token()
                continue
            if status >= 300:
                raise ApiError(status, _error_message(data) or f"HTTP {status}", data)
            return status, data
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            base = self.admin_url if self.admin_url and url.startswith(self.admin_url) else self.base_url
            raise ApiError(0, f"The API at {base} cannot be reached ({exc}).") from exc
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def _redirect_to(data: Any) -> str:
    value = data.get("redirect_to") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise ApiError(502, "The API's answer has no redirect_to.")
    return value


def _error_message(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):  # the admin error shape
        message, reason = str(error.get("message") or ""), str(error.get("reason") or "")
        return f"{message} ({reason})" if message and reason and reason != message else message or reason
    return str(data.get("error_description") or error or "")


def check_access(api: AdminApi) -> str:
    """"" when the app's client can get a token and read consent requests (an unknown id is then a
    404); else why not, in one sentence, so a misconfigured app stops at start, not at the first user."""
    try:
        api.get_request(f"start-check-{secrets.token_hex(8)}")
    except ApiError as exc:
        if exc.status == 404:
            return ""
        return exc.message
    return ""


# ---------------------------------------------------------------------------------------------
# Rendering


def _template(name: str) -> Template:
    return Template(resources.files("hydra_lambda_local").joinpath("templates", name).read_text("utf-8"))


def _page(title: str, body: str) -> str:
    """The layout the API's own pages use (hydra_lambda/http/templates/layout.html)."""
    return render_layout(title, body, "hydra-lambda example login and consent app: a sample of what an operator builds")


def _web_url(value: Any) -> str:
    """``value`` when it is an absolute http(s) URL, else "" (no javascript:, data: or relative links)."""
    if not isinstance(value, str) or len(value) > 2048:
        return ""
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


def _client_block(
    client_id: str, client: dict[str, Any] | None, asks: str = "asks to access your account."
) -> tuple[str, str]:
    """(the client's display name, the HTML that presents it): client_name, logo_uri, policy_uri and
    tos_uri when the client has them, every value escaped and only http(s) URLs used."""
    info = client or {}
    name = info.get("client_name") if isinstance(info.get("client_name"), str) else ""
    name = name.strip() or client_id
    logo = _web_url(info.get("logo_uri"))
    links = [(label, _web_url(info.get(key))) for key, label in (("policy_uri", "Privacy policy"),
                                                                  ("tos_uri", "Terms of service"))]
    parts = [f'<img class="client-logo" id="client-logo" src="{html.escape(logo)}" alt="" '
             'referrerpolicy="no-referrer">' if logo else "",
             '<p>The application <span class="client" id="client-name">' + html.escape(name) + "</span> "
             + html.escape(asks) + "</p>"]
    if name != client_id:
        parts.append(f'<p class="muted">Client id <span id="client-id">{html.escape(client_id)}</span></p>')
    anchors = [f'<a id="client-{label.split()[0].lower()}" href="{html.escape(url)}" rel="noopener noreferrer" '
               f'target="_blank">{html.escape(label)}</a>' for label, url in links if url]
    if anchors:
        parts.append('<p class="client-links">' + "".join(anchors) + "</p>")
    return name, "\n".join(part for part in parts if part)


def message_page(heading: str, message: str, extra: str = "") -> str:
    body = _template("message.html").substitute(heading=html.escape(heading), message=html.escape(message),
                                                extra=extra)
    return _page(heading, body)


def _scope_list(requested: list[str], checked: set[str] | None) -> str:
    if not requested:
        return '<p class="muted">No particular permissions were requested.</p>'
    items = []
    for index, scope in enumerate(requested):
        mark = " checked" if checked is None or scope in checked else ""
        text = SCOPE_TEXT.get(scope, "")
        items.append(
            f'<li><label for="scope-{index}"><input type="checkbox" id="scope-{index}" name="scope" '
            f'value="{html.escape(scope)}"{mark}><span><span class="scope-name">{html.escape(scope)}</span>'
            + (f'<span class="scope-text">{html.escape(text)}</span>' if text else "")
            + "</span></label></li>"
        )
    return '<ul class="scopes">' + "".join(items) + "</ul>"


def consent_page(
    request: ConsentRequest,
    csrf: str,
    hint: str = "",
    *,
    username: str = "",
    checked: set[str] | None = None,
    alert: str = "",
    client: dict[str, Any] | None = None,
) -> str:
    name, presented = _client_block(request.client_id, client)
    body = _template("consent.html").substitute(
        client=presented,
        consent=html.escape(request.id),
        csrf=html.escape(csrf),
        username=html.escape(username),
        users_hint=html.escape(hint),
        scopes=_scope_list(request.requested_scopes, checked),
        expires_at=html.escape(request.expires_at or "(unknown)"),
        alert=f'<p class="alert" role="alert">{html.escape(alert)}</p>' if alert else "",
    )
    return _page(f"Authorize {name}", body)


def _shown_hint(hint: str) -> str:
    """A login_hint fit to prefill the username: bounded, printable; else nothing."""
    if len(hint) > MAX_HINT_LENGTH or not hint.isprintable():
        return ""
    return hint.strip()


def login_page(
    request: FlowRequest, csrf: str, hint: str = "", *, username: str | None = None, remember: bool = False,
    alert: str = "",
) -> str:
    """The current flow's login form; the username is prefilled from ``login_hint`` (bounded)."""
    name, presented = _client_block(request.client_id, request.client, "asks you to sign in.")
    shown = _shown_hint(request.login_hint) if username is None else username[:MAX_HINT_LENGTH]
    body = _template("login.html").substitute(
        client=presented,
        alert=f'<p class="alert" role="alert">{html.escape(alert)}</p>' if alert else "",
        challenge=html.escape(request.challenge),
        csrf=html.escape(csrf),
        username=html.escape(shown),
        focus_username="" if shown else " autofocus",
        focus_password=" autofocus" if shown else "",
        remember=" checked" if remember else "",
        users_hint=html.escape(hint),
    )
    return _page(f"Sign in to {name}", body)


def device_page(challenge: str, csrf: str, user_code: str = "", alert: str = "") -> str:
    """The device page (RFC 8628): the code the device shows, prefilled from ``verification_uri_complete``."""
    body = _template("device.html").substitute(
        alert=f'<p class="alert" role="alert">{html.escape(alert)}</p>' if alert else "",
        challenge=html.escape(challenge),
        csrf=html.escape(csrf),
        user_code=html.escape(user_code[:MAX_HINT_LENGTH]),
    )
    return _page("Sign in a device", body)


def grant_page(request: FlowRequest, csrf: str) -> str:
    """The current flow's consent screen: the client, each requested scope with a checkbox, and
    "remember this decision"."""
    name, presented = _client_block(request.client_id, request.client)
    audience = ""
    if request.requested_audience:
        audience = ('<p class="muted" id="audience">For use at: '
                    + ", ".join(html.escape(aud) for aud in request.requested_audience) + "</p>")
    body = _template("grant.html").substitute(
        client_name=html.escape(name),
        client=presented,
        subject=html.escape(request.subject),
        challenge=html.escape(request.challenge),
        csrf=html.escape(csrf),
        scopes=_scope_list(request.requested_scope, None),
        audience=audience,
    )
    return _page(f"Authorize {name}", body)


def logout_page(request: FlowRequest, csrf: str) -> str:
    """The current flow's logout confirmation (Yes / No)."""
    presented = ""
    if request.client_id:
        _, presented = _client_block(request.client_id, request.client, "asks you to sign out.")
    who = (f'You are signed in as <strong id="subject">{html.escape(request.subject)}</strong>.'
           if request.subject else "")
    body = _template("logout.html").substitute(
        client=presented,
        signed_in=(who + " Signing out ends your session here and in the applications you used it with.").strip(),
        challenge=html.escape(request.challenge),
        csrf=html.escape(csrf),
    )
    return _page("Sign out", body)


def _bounded(value: str) -> str:
    return value if len(value) <= MAX_SHOWN_TEXT else value[:MAX_SHOWN_TEXT] + "..."


def error_page(query: dict[str, list[str]]) -> str:
    """The page ``URLS_ERROR`` points at: the server's ``error`` and ``error_description`` (and
    ``error_hint``), escaped and bounded."""
    def first(name: str) -> str:
        return _bounded((query.get(name) or [""])[0])

    error, description, hint = first("error"), first("error_description"), first("error_hint")
    extra = f'<p class="muted" id="error-hint">{html.escape(hint)}</p>' if hint else ""
    extra += f'<p class="muted">Error code: <span id="error-code">{html.escape(error)}</span></p>' if error else ""
    return message_page("The request could not be completed",
                        description or "Something went wrong. Start again from the application.", extra)


# ---------------------------------------------------------------------------------------------
# CSRF: a fresh random token per rendered form in a cookie; the hidden field is an HMAC binding that
# token to the consent request. A forged cross-site POST has neither; a stolen field fits no cookie.


def _cookie_name(consent_id: str) -> str:
    # One cookie per consent request, so two tabs with two requests do not spoil each other.
    return "consent_csrf_" + hashlib.sha256(consent_id.encode()).hexdigest()[:12]


def _csrf_field(key: bytes, token: str, consent_id: str) -> str:
    return hmac.new(key, f"{token}\x00{consent_id}".encode(), hashlib.sha256).hexdigest()


def _flow_cookie_name(kind: str, challenge: str) -> str:
    # One cookie per request and kind, Path-scoped to its page (/login, /consent, /logout); never the
    # name of a classic consent form's cookie, whose Path is /consent too.
    return f"{kind}_challenge_csrf_" + hashlib.sha256(challenge.encode()).hexdigest()[:12]


def _flow_csrf_field(key: bytes, token: str, kind: str, challenge: str) -> str:
    return _csrf_field(key, token, f"{kind}\x00{challenge}")


def _valid_challenge(challenge: str) -> bool:
    return CHALLENGE.fullmatch(challenge) is not None


def _valid_id(consent_id: str) -> bool:
    return 0 < len(consent_id) <= MAX_ID_LENGTH and all(c.isalnum() or c in "-_." for c in consent_id)


def _safe_redirect(url: str) -> bool:
    if any(ord(c) < 0x21 or c == "\x7f" for c in url):  # no header splitting through Location
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# ---------------------------------------------------------------------------------------------
# The web app


class ConsentApp(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: AdminApi, users: dict[str, DemoUser]) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.users = users
        # The built-in demo accounts are shown on the page; accounts you configure are not.
        default = parse_users(DEFAULT_USERS)
        shown = ", ".join(f"{u.username} / {u.password}" for u in default.values())
        self.hint = f"Demo accounts: {shown}" if users == default else ""
        self.csrf_key = secrets.token_bytes(32)
        # Set once the app has credentials (inside ``hydra-lambda serve`` they are made after binding).
        self.ready = threading.Event()
        self.unavailable = ""

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _Response(Exception):
    """A finished page, raised from deep inside a request to end it."""

    def __init__(
        self, status: int, body: str, cookies: list[str] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status, self.body, self.cookies, self.headers = status, body, cookies or [], headers or {}


def _go(location: str, cookies: list[str] | None = None) -> _Response:
    """A redirect to an address the API gave (never one from the browser)."""
    if not _safe_redirect(location):
        return _Response(502, message_page("Something went wrong", "The request has no valid return address."))
    return _Response(302, "", cookies, {"Location": location})


class _Handler(BaseHTTPRequestHandler):
    server: ConsentApp
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "consent-app"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), redact(format % args))

    def do_GET(self) -> None:
        self._guard(self._get)

    def do_POST(self) -> None:
        self._guard(self._post)

    def do_HEAD(self) -> None:
        self._reply(405, message_page("Method not allowed", "Use GET or POST."), extra={"Allow": "GET, POST"})

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed requests and unknown methods get our page, not the library's.
        self.close_connection = True
        self._reply(code, message_page("Request not understood", message or "The request was not understood."))

    # -- plumbing
    def _guard(self, handler: Any) -> None:
        try:
            if not self.server.ready.wait(STARTUP_WAIT) or self.server.unavailable:
                self.close_connection = True  # any body was not read
                raise _Response(503, message_page(
                    "Consent app unavailable", self.server.unavailable or "It is still starting. Try again."))
            handler()
        except _Response as page:
            self._reply(page.status, page.body, page.cookies, page.headers)
        except Exception:  # the person gets a page; the operator gets the traceback in the log
            log.exception("consent app: request failed")
            self.close_connection = True
            self._reply(500, message_page("Something went wrong", "The consent app failed. Please try again."))

    def _reply(
        self, status: int, body: str, cookies: list[str] | None = None, extra: dict[str, str] | None = None
    ) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        for cookie in cookies or []:
            self.send_header("Set-Cookie", cookie)
        if data:
            self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _redirect(self, location: str, cookies: list[str]) -> None:
        self._reply(302, "", cookies, {"Location": location})

    def _cookie(self, name: str, value: str, max_age: int, path: str = "/consent") -> str:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        secure = "" if host in _LOOPBACK else "; Secure"  # plain http only on this machine
        return f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"

    def _cookies(self) -> SimpleCookie:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except CookieError:
            pass
        return jar

    # -- routes
    def _get(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        pages = {
            "/": (200, "Example login and consent app",
                  "Applications send people here through hydra-lambda's /oauth2/auth."),
            "/logged-out": (200, "You are signed out", "You can close this window, or go back to the application."),
            "/logout-cancelled": (200, "You are still signed in", "Nothing was changed. You can close this window."),
            "/device/done": (200, "Your device is signed in", "You can close this window and go back to your device."),
        }
        if url.path in pages:
            status, heading, text = pages[url.path]
            raise _Response(status, message_page(heading, text))
        if url.path == "/error":  # URLS_ERROR: the server shows its errors here
            raise _Response(400, error_page(query))
        if url.path == "/login":
            self._login_get(self._challenge(query, "login"))
        if url.path == "/logout":
            self._logout_get(self._challenge(query, "logout"))
        if url.path == "/device":
            self._device_form(self._challenge(query, "device"), (query.get("user_code") or [""])[0])
        if url.path != "/consent":
            raise _Response(404, message_page("Not found", "There is nothing at this address."))
        if "error" in query:  # the API sends errors it cannot redirect to a client here
            raise _Response(400, message_page(
                "The authorization request failed",
                f"{query['error'][0]}: {query.get('error_description', [''])[0]}".rstrip(": ")))
        if "consent_challenge" in query:  # the current flow
            self._grant_get(self._challenge(query, "consent"))
        consent_id = (query.get("consent") or [""])[0]  # the classic flow
        request = self._load(consent_id)
        self._render(request)

    def _load(self, consent_id: str) -> ConsentRequest:
        if not _valid_id(consent_id):
            raise _Response(400, message_page(
                "No consent request", "Open this page through an application's sign-in link."))
        try:
            return self.server.api.get_request(consent_id)
        except ApiError as exc:
            raise _Response(*_api_failure(exc)) from exc

    def _render(self, request: ConsentRequest, status: int = 200, **kwargs: Any) -> None:
        token = secrets.token_urlsafe(32)
        csrf = _csrf_field(self.server.csrf_key, token, request.id)
        client = self.server.api.client_info(request.client_id)
        page = consent_page(request, csrf, self.server.hint, client=client, **kwargs)
        raise _Response(status, page, [self._cookie(_cookie_name(request.id), token, FORM_LIFETIME)])

    def _form(self) -> dict[str, list[str]]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= DRAIN_LIMIT or self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # the body cannot be skipped safely: drop the connection
            raise _Response(400, message_page("Bad form", "The form could not be read."))
        raw = self.rfile.read(length)  # read in full, so a kept-alive connection stays in step
        if urlsplit(self.path).path not in ("/consent", "/login", "/logout", "/device"):
            raise _Response(404, message_page("Not found", "There is nothing at this address."))
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded" or length > MAX_FORM_BYTES:
            raise _Response(400, message_page("Bad form", "The form could not be read."))
        try:
            return parse_qs(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Response(400, message_page("Bad form", "The form could not be read.")) from exc

    def _post(self) -> None:
        form = self._form()

        def one(name: str) -> str:
            values = form.get(name) or [""]
            if len(values) != 1:
                raise _Response(400, message_page("Bad form", f"The field {name} was sent more than once."))
            return values[0]

        path = urlsplit(self.path).path
        if path == "/login":
            self._login_post(form, one)
        if path == "/logout":
            self._logout_post(form, one)
        if path == "/device":
            self._device_post(form, one)
        if "consent_challenge" in form:
            self._grant_post(form, one)
        self._classic_post(form, one)

    def _classic_post(self, form: dict[str, list[str]], one: Any) -> None:
        consent_id, action = one("consent"), one("action")
        if not _valid_id(consent_id):
            raise _Response(400, message_page("Bad form", "The form names no consent request."))
        cookie = self._cookies().get(_cookie_name(consent_id))
        expected = _csrf_field(self.server.csrf_key, cookie.value, consent_id) if cookie else ""
        if not expected or not hmac.compare_digest(expected, one("csrf")):
            reload = f'<p><a href="/consent?consent={quote(consent_id, safe="")}">Reload the consent page</a></p>'
            raise _Response(403, message_page(
                "This form has expired",
                "The form was not sent from this page, or it is too old. Reload it and try again.", reload))
        request = self._load(consent_id)  # the redirect target always comes from the API, never the form
        if not _safe_redirect(request.redirect_url):
            raise _Response(502, message_page("Something went wrong", "The request has no valid return address."))
        done = [self._cookie(_cookie_name(consent_id), "", 0)]
        if action == "deny":
            self._answer(lambda: self.server.api.reject(consent_id, "The user denied the request."))
            self._redirect(request.redirect_url, done)
        elif action == "accept":
            self._accept(request, form, one("username"), one("password"))
            self._redirect(request.redirect_url, done)
        else:
            raise _Response(400, message_page("Bad form", "Choose Allow access or Deny."))

    def _accept(self, request: ConsentRequest, form: dict[str, list[str]], username: str, password: str) -> None:
        checked = set(form.get("scope") or [])
        user = check_login(self.server.users, username, password)
        if user is None:
            self._render(request, 401, username=username, checked=checked, alert="Wrong username or password.")
            return
        # Only what was asked for and ticked, in the order it was asked for.
        granted = [s for s in request.requested_scopes if s in checked]
        acceptance = {
            "subject": user.username,
            "grantScopes": granted,
            "accessTokenExtra": {},
            "idTokenExtra": user.released(granted, request.requested_claims),
        }
        self._answer(lambda: self.server.api.accept(request.id, acceptance))

    def _answer(self, call: Any) -> None:
        try:
            call()
        except ApiError as exc:
            raise _Response(*_api_failure(exc)) from exc

    # -- the current flow: login, consent and logout requests (each handler ends by raising its page)
    def _challenge(self, source: dict[str, list[str]], kind: str) -> str:
        values = source.get(f"{kind}_challenge") or [""]
        if len(values) != 1 or not _valid_challenge(values[0]):
            what = {"login": "sign-in", "consent": "consent", "logout": "sign-out", "device": "device sign-in"}[kind]
            raise _Response(400, message_page(
                f"No {what} request", "Open this page through an application's sign-in or sign-out link."))
        return values[0]

    def _flow(self, kind: str, challenge: str, call: Callable[[], T]) -> T:
        """An admin call of the current flow; a request handled already (410 with ``redirect_to``) sends
        the browser on, as Hydra's reference app does; any other failure is a page."""
        try:
            return call()
        except ApiError as exc:
            if exc.redirect_to:
                raise _go(exc.redirect_to, [self._spent(kind, challenge)]) from exc
            what = {"login": "sign-in request", "consent": "consent request", "logout": "sign-out request",
                    "device": "device sign-in"}[kind]
            request = "sign-out request" if kind == "logout" else "sign-in request"
            raise _Response(*_api_failure(exc, what, request)) from exc

    def _fetch(self, kind: str, challenge: str) -> FlowRequest:
        return self._flow(kind, challenge, lambda: self.server.api.flow_request(kind, challenge))

    def _accepted(self, kind: str, challenge: str, body: dict[str, Any] | None = None) -> NoReturn:
        """Accept, then send the browser to the ``redirect_to`` of the answer."""
        location = self._flow(kind, challenge, lambda: self.server.api.flow_accept(kind, challenge, body))
        raise _go(location, [self._spent(kind, challenge)])

    def _rejected(self, kind: str, challenge: str, body: dict[str, Any] | None = None) -> NoReturn:
        location = self._flow(kind, challenge, lambda: self.server.api.flow_reject(kind, challenge, body))
        if kind == "logout":  # answered 204: the user stays signed in, and is told so here
            raise _Response(303, "", [self._spent(kind, challenge)], {"Location": "/logout-cancelled"})
        raise _go(location, [self._spent(kind, challenge)])

    def _form_token(self, kind: str, challenge: str) -> tuple[str, str]:
        """(the hidden field, the cookie) of a fresh form answering this request."""
        token = secrets.token_urlsafe(32)
        field_value = _flow_csrf_field(self.server.csrf_key, token, kind, challenge)
        return field_value, self._cookie(_flow_cookie_name(kind, challenge), token, FORM_LIFETIME, f"/{kind}")

    def _spent(self, kind: str, challenge: str) -> str:
        return self._cookie(_flow_cookie_name(kind, challenge), "", 0, f"/{kind}")

    def _posted(self, kind: str, form: dict[str, list[str]], one: Callable[[str], str]) -> tuple[str, str]:
        """(challenge, action) of a form whose CSRF field fits this browser's cookie for that request."""
        challenge = self._challenge(form, kind)
        cookie = self._cookies().get(_flow_cookie_name(kind, challenge))
        expected = _flow_csrf_field(self.server.csrf_key, cookie.value, kind, challenge) if cookie else ""
        if not expected or not hmac.compare_digest(expected, one("csrf")):
            again = f"/{kind}?{kind}_challenge={quote(challenge, safe='')}"
            reload = f'<p><a href="{html.escape(again)}">Reload the page</a></p>'
            raise _Response(403, message_page(
                "This form has expired",
                "The form was not sent from this page, or it is too old. Reload it and try again.", reload))
        return challenge, one("action")

    # login
    def _login_get(self, challenge: str) -> NoReturn:
        request = self._fetch("login", challenge)
        if request.skip:  # a remembered login session: accept with its subject, show nothing
            if not request.subject:
                raise _Response(502, message_page("Something went wrong", "The sign-in request names no user."))
            self._accepted("login", challenge, {"subject": request.subject})
        self._login_form(request)

    def _login_form(self, request: FlowRequest, status: int = 200, **kwargs: Any) -> NoReturn:
        csrf, cookie = self._form_token("login", request.challenge)
        raise _Response(status, login_page(request, csrf, self.server.hint, **kwargs), [cookie])

    def _login_post(self, form: dict[str, list[str]], one: Callable[[str], str]) -> NoReturn:
        challenge, action = self._posted("login", form, one)
        if action == "deny":
            self._rejected("login", challenge, {"error": "access_denied",
                                                "error_description": "The user cancelled the sign-in."})
        if action != "accept":
            raise _Response(400, message_page("Bad form", "Choose Sign in or Cancel."))
        username, remember = one("username"), one("remember") == "1"
        user = check_login(self.server.users, username, one("password"))
        if user is None:  # the same words whichever half was wrong
            self._login_form(self._fetch("login", challenge), 401, username=username, remember=remember,
                             alert="Wrong username or password.")
        self._accepted("login", challenge, {
            "subject": user.username,
            "remember": remember,
            "remember_for": REMEMBER_LOGIN_FOR if remember else 0,
            "acr": "0",  # a password alone (OpenID Connect Core 2: "0" meets no assurance level)
            "amr": ["pwd"],
        })

    # consent
    def _grant_get(self, challenge: str) -> NoReturn:
        request = self._fetch("consent", challenge)
        if request.skip or request.client.get("skip_consent") is True:  # remembered, or a first-party client
            self._accepted("consent", challenge, self._grant(request, request.requested_scope, remember=True))
        csrf, cookie = self._form_token("consent", challenge)
        raise _Response(200, grant_page(request, csrf), [cookie])

    def _grant(self, request: FlowRequest, scopes: list[str], remember: bool) -> dict[str, Any]:
        """The consent acceptance: the user's claims that the granted scopes release go in the ID token
        (and /userinfo), as the classic flow's idTokenExtra."""
        user = self.server.users.get(request.subject)
        claims = user.released(scopes, request.requested_claims) if user else {}
        return {
            "grant_scope": scopes,
            "grant_access_token_audience": request.requested_audience,
            "remember": remember,
            "remember_for": REMEMBER_CONSENT_FOR if remember else 0,
            "session": {"access_token": {}, "id_token": claims},
        }

    def _grant_post(self, form: dict[str, list[str]], one: Callable[[str], str]) -> NoReturn:
        challenge, action = self._posted("consent", form, one)
        if action == "deny":
            self._rejected("consent", challenge, {"error": "access_denied",
                                                  "error_description": "The user denied the request."})
        if action != "accept":
            raise _Response(400, message_page("Bad form", "Choose Allow access or Deny."))
        # What was asked for comes from the API, never the form: only requested scopes that were ticked.
        request = self._fetch("consent", challenge)
        checked = set(form.get("scope") or [])
        granted = [scope for scope in request.requested_scope if scope in checked]
        self._accepted("consent", challenge, self._grant(request, granted, one("remember") == "1"))

    # device (RFC 8628): the code the device shows; a wrong one shows the form again
    def _device_form(self, challenge: str, user_code: str = "", status: int = 200, alert: str = "") -> NoReturn:
        csrf, cookie = self._form_token("device", challenge)
        raise _Response(status, device_page(challenge, csrf, user_code, alert), [cookie])

    def _device_post(self, form: dict[str, list[str]], one: Callable[[str], str]) -> NoReturn:
        challenge, action = self._posted("device", form, one)
        if action != "accept":
            raise _Response(400, message_page("Bad form", "Enter the code and choose Continue."))
        user_code = one("user_code")
        try:
            location = self.server.api.flow_accept("device", challenge, {"user_code": user_code})
        except ApiError as exc:
            if exc.status == 400:  # a wrong code (the server counts the guesses)
                self._device_form(challenge, user_code, 400, exc.message)
            raise _Response(*_api_failure(exc, "device sign-in", "device sign-in")) from exc
        raise _go(location, [self._spent("device", challenge)])

    # logout
    def _logout_get(self, challenge: str) -> NoReturn:
        request = self._fetch("logout", challenge)
        if request.rp_initiated and request.client.get("skip_logout_consent") is True:  # a trusted client
            self._accepted("logout", challenge)
        csrf, cookie = self._form_token("logout", challenge)
        raise _Response(200, logout_page(request, csrf), [cookie])

    def _logout_post(self, form: dict[str, list[str]], one: Callable[[str], str]) -> NoReturn:
        challenge, action = self._posted("logout", form, one)
        if action == "accept":
            self._accepted("logout", challenge)
        if action == "deny":
            self._rejected("logout", challenge)
        raise _Response(400, message_page("Bad form", "Choose Yes or No."))


def _api_failure(exc: ApiError, what: str = "consent request", request: str = "sign-in request") -> tuple[int, str]:
    if exc.status == 404:
        return 404, message_page(f"Unknown {what}",
                                 f"This {request} does not exist or has expired. Start again from the app.")
    if exc.status == 409:
        return 409, message_page("Already answered", f"This {request} has already been answered.")
    if exc.status == 410:
        return 410, message_page(f"{request.capitalize()} expired",
                                 f"This {request} has expired. Start again from the application.")
    if exc.status in (400, 422):
        return 400, message_page("Request refused", exc.message)
    log.warning("consent app: admin API error %s: %s", exc.status, exc.message)
    return 502, message_page("Something went wrong",
                             "The consent app could not talk to the authorization server. Please try again.")


# ---------------------------------------------------------------------------------------------
# Starting it


def start(host: str, port: int, api: AdminApi, users: dict[str, DemoUser], ready: bool = True) -> ConsentApp:
    """Bind and serve in a background (daemon) thread; raises OSError when the port is taken.
    With ``ready=False`` requests wait until ``app.ready`` is set (credentials still being made)."""
    app = ConsentApp((host, port), api, users)
    if ready:
        app.ready.set()
    threading.Thread(target=app.serve_forever, args=(0.2,), name="consent-app", daemon=True).start()
    return app


def run(host: str, port: int, api: AdminApi, users: dict[str, DemoUser]) -> int:
    """Serve in the foreground until Ctrl-C (``hydra-lambda consent-app``)."""
    app = ConsentApp((host, port), api, users)
    app.ready.set()
    print(f"consent app listening on {app.url}/consent (and /login, /logout; API {api.admin_url or api.base_url})",
          flush=True)
    try:
        app.serve_forever()
    except KeyboardInterrupt:
        print("\nconsent app: stopping", flush=True)
    finally:
        app.server_close()
    return 0


# ---------------------------------------------------------------------------------------------
# Inside ``hydra-lambda serve``: the app gets its own client, made with the root client's token


# The current flow's settings (Ory Hydra's urls.*) and the page of this app each points at.
FLOW_PAGES = (("URLS_LOGIN", "/login"), ("URLS_CONSENT", "/consent"), ("URLS_LOGOUT", "/logout"),
              ("URLS_POST_LOGOUT_REDIRECT", "/logged-out"), ("URLS_ERROR", "/error"),
              ("URLS_DEVICE_VERIFICATION", "/device"), ("URLS_DEVICE_SUCCESS", "/device/done"))


def flow_urls(consent_url: str) -> dict[str, str]:
    """The URLS_* values that send the current flow to this app, served where ``consent_url`` is."""
    parts = urlsplit(consent_url)
    return {name: f"{parts.scheme}://{parts.netloc}{path}" for name, path in FLOW_PAGES}


def is_local_default(consent_url: str, port: int) -> bool:
    """Is CONSENT_URL this app's own local address (so ``serve`` should run the app)?"""
    parts = urlsplit(consent_url)
    return (parts.scheme, parts.hostname, parts.port, parts.path.rstrip("/")) in {
        ("http", "127.0.0.1", port, "/consent"),
        ("http", "localhost", port, "/consent"),
    }


def provision_client(api_url: str, root: tuple[str, str], client_id: str = APP_CLIENT_ID) -> tuple[str, str]:
    """(Re)create the app's client with ``POST /clients`` as an operator would, and return its
    credentials: client_credentials only, scope ``hydra.consent``, a server-generated secret."""
    admin = AdminApi(api_url, *root, scope="hydra.clients")
    body = {
        "id": client_id,
        "client_name": "hydra-lambda example consent app",
        "grant_types": ["client_credentials"],
        "response_types": ["token"],
        "scope": f"{CONSENT_SCOPE} {CLIENTS_SCOPE}",
    }
    try:
        _, created = admin.call("POST", "/clients", body)
    except ApiError as exc:
        if exc.status != 409:
            raise
        # Left from an earlier run on persistent tables: its secret is unknown, so make it anew.
        admin.call("DELETE", f"/clients/{quote(client_id, safe='')}")
        _, created = admin.call("POST", "/clients", body)
    if not isinstance(created, dict) or not created.get("client_secret"):
        raise ApiError(502, "POST /clients returned no client_secret")
    return client_id, str(created["client_secret"])


def allow_consent_requests(client_id: str) -> None:
    """The Ladon policy that lets the app get, accept and reject consent requests, and the current
    flow's login, consent and logout requests (written straight to the policies table: the local server
    owns it)."""
    # Lazy: every `hydra-lambda` command loads this module (its parser); storage.policies would add
    # ~240 ms (pynamodb, re2; python -X importtime) to commands that only speak HTTP.
    from hydra_lambda.policies import Policy
    from hydra_lambda.storage import policies as policy_store

    prefix = get_settings().resource_name_prefix
    policy_store.put(Policy(
        id=client_id,
        description="Lets the example consent app read and answer consent requests (the classic flow) and "
                    "login, consent and logout requests (the current flow).",
        subjects=[client_id],
        resources=[f"{prefix}:oauth2:consent:requests:<.*>", f"{prefix}:oauth2:auth:requests:<.*>"],
        actions=["get", "accept", "reject"],
        effect="allow",
    ))
    policy_store.put(Policy(
        id=f"{client_id}-clients",
        description="Lets the example consent app read clients, to name them on the consent page.",
        subjects=[client_id],
        resources=[f"{prefix}:clients:<.*>"],
        actions=["get"],
        effect="allow",
    ))


def start_for_serve(
    api_url: str, consent_url: str, port: int, users_text: str, root: tuple[str, str] | None
) -> tuple[ConsentApp | None, str]:
    """Start the app for ``hydra-lambda serve`` when CONSENT_URL is its local default. Returns the app
    (or None) and one line for the console. Never raises: the API runs regardless."""
    if not is_local_default(consent_url, port):
        return None, f"  consent app: not started (CONSENT_URL is {consent_url})"
    if root is None:
        return None, ("  consent app: not started (the root client's secret is unknown: set "
                      "FORCE_ROOT_CLIENT_CREDENTIALS, or run `hydra-lambda consent-app` with a client of your own)")
    try:
        users = parse_users(users_text)
        api = AdminApi(api_url, "", "")
        app = start(urlsplit(consent_url).hostname or "127.0.0.1", port, api, users, ready=False)
    except (ValueError, OSError) as exc:
        reason = "port in use" if isinstance(exc, OSError) else str(exc)
        return None, f"  consent app: not started on port {port} ({reason}; set CONSENT_APP_PORT)"

    def provision() -> None:
        try:
            # One client per port: two local servers on one database must not replace each other's.
            api.client_id, api.client_secret = provision_client(api_url, root, f"{APP_CLIENT_ID}-{port}")
            allow_consent_requests(api.client_id)
        except Exception as exc:  # the API keeps running; the app explains itself on every page
            log.warning("consent app: could not create its client: %s", exc)
            app.unavailable = "The consent app could not create its API client; see the server log."
            print(f"hydra-lambda: consent app could not create its client ({exc})", flush=True)
        finally:
            app.ready.set()

    threading.Thread(target=provision, name="consent-app-provision", daemon=True).start()
    return app, f"  consent app: {consent_url} ({len(users)} demo users; CONSENT_APP_USERS sets them)"


# ---------------------------------------------------------------------------------------------
# ``hydra-lambda consent-app``: the app on its own, with a client you created


POLICY_ADVICE = (f"It needs grant type client_credentials, scope {CONSENT_SCOPE} and a policy allowing get, accept "
                 "and reject on rn:hydra:oauth2:consent:requests:<.*> (the classic flow) and "
                 "rn:hydra:oauth2:auth:requests:<.*> (the current flow's login, consent and logout requests).")


def add_parser(sub: Any) -> None:
    cmd = sub.add_parser("consent-app", help="run the example login, consent and logout app against a hydra-lambda API",
                         description="It answers the classic flow (/consent?consent=) and the current one (/login, "
                         "/consent, /logout with their challenges; /logged-out and /error). The client needs grant "
                         "type client_credentials, scope hydra.consent and a policy allowing get, accept and reject on "
                         "rn:hydra:oauth2:consent:requests:<.*> and rn:hydra:oauth2:auth:requests:<.*>; with scope "
                         "hydra.clients and get on rn:hydra:clients:<.*> too, the classic page names clients by "
                         "client_name. With --admin-url (the operator-only admin address) no client is needed: "
                         "admin calls go there without a token.")
    cmd.add_argument("--api", default=os.environ.get("HYDRA_URL", "http://127.0.0.1:4444"),
                     help="the API's base URL (default: $HYDRA_URL or http://127.0.0.1:4444)")
    cmd.add_argument("--client-id", default=os.environ.get("CONSENT_APP_CLIENT_ID", ""),
                     help="default: $CONSENT_APP_CLIENT_ID")
    cmd.add_argument("--client-secret", default=os.environ.get("CONSENT_APP_CLIENT_SECRET", ""),
                     help="default: $CONSENT_APP_CLIENT_SECRET (prefer it or --client-secret-file: arguments show "
                          "in ps)")
    cmd.add_argument("--client-secret-file", default="", metavar="PATH",
                     help="read the client's secret from the first line of PATH ('-' for stdin)")
    cmd.add_argument("--admin-url", default=os.environ.get("HYDRA_ADMIN_URL", ""),
                     help="the token-less admin API on the operator's network (Hydra's admin port, e.g. "
                          "http://127.0.0.1:4445); admin calls then go there and carry no token (default: "
                          "$HYDRA_ADMIN_URL; unset: the API's admin routes with a Bearer token)")
    cmd.add_argument("--host", default="127.0.0.1")
    cmd.add_argument("--port", type=int, default=None, help="default: $CONSENT_APP_PORT or 3000")


def run_cli(args: Any) -> int:
    try:
        settings = get_settings()
        users = parse_users(settings.consent_app_users)
    except (ConfigError, ValueError) as exc:
        print(f"hydra-lambda: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.client_secret_file:
        try:
            args.client_secret = read_secret(args.client_secret_file, "--client-secret-file")
        except CliError as exc:
            print(f"hydra-lambda: {exc.message}", file=sys.stderr)
            return 2
    if not args.admin_url and (not args.client_id or not args.client_secret):
        print("hydra-lambda: consent-app needs --client-id and --client-secret (or --admin-url)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    port = args.port if args.port is not None else settings.consent_app_port
    api = AdminApi(args.api, args.client_id, args.client_secret, admin_url=args.admin_url)
    problem = check_access(api)
    if problem and args.admin_url:
        print(f"hydra-lambda: consent app: the admin API at {api.admin_url} does not answer: {problem}",
              file=sys.stderr)
        return 1
    if problem:
        print(f"hydra-lambda: consent app: client '{args.client_id}' cannot read consent requests: {problem} "
              + POLICY_ADVICE, file=sys.stderr)
        return 1
    try:
        return run(args.host, port, api, users)
    except OSError as exc:
        print(f"hydra-lambda: consent app cannot listen on {args.host}:{port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
