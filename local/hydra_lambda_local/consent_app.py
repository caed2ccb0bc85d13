"""An example login-and-consent app: what an operator writes beside hydra-lambda.

hydra-lambda never sees a password. ``/oauth2/auth`` sends the browser to ``CONSENT_URL?consent=ID``;
this app fetches that consent request through the admin API, signs a (demo) user in, asks which
scopes to grant, answers with ``PATCH .../accept`` or ``PATCH .../reject`` and sends the browser back
to the request's ``redirectUrl``. It authenticates to the API with its own client-credentials client
(scope ``hydra.consent``), whose token it caches until shortly before it expires.

Only the standard library is used, so the file doubles as a readable template for a real app:
server-rendered HTML (every value escaped), a CSRF token per rendered form (cookie + hidden field,
bound to the consent request), and headers that forbid framing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from hydra_lambda import claims as user_claims
from hydra_lambda.config import ConfigError, get_settings
from hydra_lambda.http.responses import render_layout
from hydra_lambda.redaction import redact

from hydra_lambda_local.api import CliError, read_secret

log = logging.getLogger("hydra_lambda.consent_app")

DEFAULT_PORT = 3000
# Demo accounts (CONSENT_APP_USERS overrides them): "user:password" pairs, comma-separated.
DEFAULT_USERS = "alice:alice-password,bob:bob-password"
CONSENT_SCOPE = "hydra.consent"
# Read to show the client's name, logo and links on the consent page (get on rn:hydra:clients:<id>).
CLIENTS_SCOPE = "hydra.clients"
MAX_FORM_BYTES = 16 * 1024
DRAIN_LIMIT = 1024 * 1024  # larger bodies are not read at all: the connection is closed
MAX_ID_LENGTH = 128
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

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


@dataclass
class AdminApi:
    """Consent requests through the HTTP API, with a cached client-credentials token."""

    base_url: str
    client_id: str
    client_secret: str
    timeout: float = 10.0
    scope: str = CONSENT_SCOPE
    _token: str = field(default="", repr=False)
    _refresh_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _clients: AdminApi | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

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
        status, data = self._send("POST", "/oauth2/token", body, headers)
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
                                         CLIENTS_SCOPE)
        try:
            _, data = self._clients.call("GET", f"/clients/{quote(client_id, safe='')}")
        except ApiError:
            return None
        return data if isinstance(data, dict) else None

    def accept(self, consent_id: str, acceptance: dict[str, Any]) -> None:
        self._admin("PATCH", f"/oauth2/consent/requests/{quote(consent_id, safe='')}/accept", acceptance)

    def reject(self, consent_id: str, reason: str) -> None:
        self._admin("PATCH", f"/oauth2/consent/requests/{quote(consent_id, safe='')}/reject", {"reason": reason})

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """Any admin call with the Bearer token; ApiError unless 2xx."""
        return self._admin(method, path, body)

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
            if raw is not None:
                headers["Content-Type"] = "application/json"
            status, data = self._send(method, path, raw, headers)
            if status == 401 and attempt == 1:  # revoked or expired early: one fresh token, once
                self.forget_token()
                continue
            if status >= 300:
                raise ApiError(status, _error_message(data) or f"HTTP {status}")
            return status, data
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(0, f"The API at {self.base_url} cannot be reached ({exc}).") from exc
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


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
    return render_layout(title, body, "hydra-lambda example consent app: a sample of what an operator builds")


def _web_url(value: Any) -> str:
    """``value`` when it is an absolute http(s) URL, else "" (no javascript:, data: or relative links)."""
    if not isinstance(value, str) or len(value) > 2048:
        return ""
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


def _client_block(client_id: str, client: dict[str, Any] | None) -> tuple[str, str]:
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
             '<p>The application <span class="client" id="client-name">' + html.escape(name) + "</span> asks "
             "to access your account.</p>"]
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


# ---------------------------------------------------------------------------------------------
# CSRF: a fresh random token per rendered form in a cookie; the hidden field is an HMAC binding that
# token to the consent request. A forged cross-site POST has neither; a stolen field fits no cookie.


def _cookie_name(consent_id: str) -> str:
    # One cookie per consent request, so two tabs with two requests do not spoil each other.
    return "consent_csrf_" + hashlib.sha256(consent_id.encode()).hexdigest()[:12]


def _csrf_field(key: bytes, token: str, consent_id: str) -> str:
    return hmac.new(key, f"{token}\x00{consent_id}".encode(), hashlib.sha256).hexdigest()


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

    def __init__(self, status: int, body: str, cookies: list[str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.cookies = status, body, cookies or []


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
            self._reply(page.status, page.body, page.cookies)
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

    def _cookie(self, name: str, value: str, max_age: int) -> str:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        secure = "" if host in _LOOPBACK else "; Secure"  # plain http only on this machine
        return f"{name}={value}; Path=/consent; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"

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
        if url.path == "/":
            raise _Response(200, message_page(
                "Example consent app", "Applications send people here through hydra-lambda's /oauth2/auth."))
        if url.path != "/consent":
            raise _Response(404, message_page("Not found", "There is nothing at this address."))
        if "error" in query:  # the API sends errors it cannot redirect to a client here
            raise _Response(400, message_page(
                "The authorization request failed",
                f"{query['error'][0]}: {query.get('error_description', [''])[0]}".rstrip(": ")))
        consent_id = (query.get("consent") or [""])[0]
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
        if urlsplit(self.path).path != "/consent":
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


def _api_failure(exc: ApiError) -> tuple[int, str]:
    if exc.status == 404:
        return 404, message_page("Unknown consent request",
                                 "This sign-in request does not exist or has expired. Start again from the app.")
    if exc.status == 409:
        return 409, message_page("Already answered", "This sign-in request has already been answered.")
    if exc.status == 410:
        return 410, message_page("Sign-in request expired",
                                 "This sign-in request has expired. Start again from the application.")
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
    print(f"consent app listening on {app.url}/consent (API {api.base_url})", flush=True)
    try:
        app.serve_forever()
    except KeyboardInterrupt:
        print("\nconsent app: stopping", flush=True)
    finally:
        app.server_close()
    return 0


# ---------------------------------------------------------------------------------------------
# Inside ``hydra-lambda serve``: the app gets its own client, made with the root client's token


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
    """The Ladon policy that lets the app get, accept and reject consent requests (written straight to
    the policies table: the local server owns it)."""
    # Lazy: every `hydra-lambda` command loads this module (its parser); storage.policies would add
    # ~240 ms (pynamodb, re2; python -X importtime) to commands that only speak HTTP.
    from hydra_lambda.policies import Policy
    from hydra_lambda.storage import policies as policy_store

    prefix = get_settings().resource_name_prefix
    policy_store.put(Policy(
        id=client_id,
        description="Lets the example consent app read and answer consent requests.",
        subjects=[client_id],
        resources=[f"{prefix}:oauth2:consent:requests:<.*>"],
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


def add_parser(sub: Any) -> None:
    cmd = sub.add_parser("consent-app", help="run the example login-and-consent app against a hydra-lambda API",
                         description="The client needs grant type client_credentials, scope hydra.consent and a "
                         "policy allowing get, accept and reject on rn:hydra:oauth2:consent:requests:<.*>; with scope "
                         "hydra.clients and get on rn:hydra:clients:<.*> too, the page names clients by client_name.")
    cmd.add_argument("--api", default=os.environ.get("HYDRA_URL", "http://127.0.0.1:4444"),
                     help="the API's base URL (default: $HYDRA_URL or http://127.0.0.1:4444)")
    cmd.add_argument("--client-id", default=os.environ.get("CONSENT_APP_CLIENT_ID", ""),
                     help="default: $CONSENT_APP_CLIENT_ID")
    cmd.add_argument("--client-secret", default=os.environ.get("CONSENT_APP_CLIENT_SECRET", ""),
                     help="default: $CONSENT_APP_CLIENT_SECRET (prefer it or --client-secret-file: arguments show "
                          "in ps)")
    cmd.add_argument("--client-secret-file", default="", metavar="PATH",
                     help="read the client's secret from the first line of PATH ('-' for stdin)")
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
    if not args.client_id or not args.client_secret:
        print("hydra-lambda: consent-app needs --client-id and --client-secret", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    port = args.port if args.port is not None else settings.consent_app_port
    api = AdminApi(args.api, args.client_id, args.client_secret)
    problem = check_access(api)
    if problem:
        print(f"hydra-lambda: consent app: client '{args.client_id}' cannot read consent requests: {problem} It "
              f"needs grant type client_credentials, scope {CONSENT_SCOPE} and a policy allowing get, accept and "
              "reject on rn:hydra:oauth2:consent:requests:<.*>.", file=sys.stderr)
        return 1
    try:
        return run(args.host, port, api, users)
    except OSError as exc:
        print(f"hydra-lambda: consent app cannot listen on {args.host}:{port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
