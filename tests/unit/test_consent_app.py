"""The example consent app against a FAKE admin API (a tiny HTTP server in the test that hands out
canned consent requests and records the PATCH calls, and the current flow's login, consent and logout
requests with their PUT calls), so the app is tested on the wire contract."""

from __future__ import annotations

import base64
import json
import re
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from hydra_lambda_local import consent_app
from hydra_lambda_local.consent_app import AdminApi, parse_users

APP_CLIENT = ("consent-app", "consent-app-secret")
XSS_CLIENT = '<script>alert("x")</script>'


class FakeAdmin(ThreadingHTTPServer):
    """Speaks the seed's consent endpoints and client_credentials at /oauth2/token."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FakeHandler)
        self.requests: dict[str, dict[str, Any]] = {}
        self.answered: set[str] = set()
        self.patches: list[tuple[str, str, Any]] = []
        self.token_grants: list[dict[str, list[str]]] = []
        self.valid_tokens: set[str] = set()
        self.expires_in = 3600
        self.expired: set[str] = set()
        self.clients: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        # The current flow: (kind, challenge) -> request; handled ones answer 410 with their redirect_to.
        self.flows: dict[tuple[str, str], dict[str, Any]] = {}
        self.handled: dict[tuple[str, str], str] = {}
        self.puts: list[tuple[str, str, str, Any]] = []  # (kind, accept|reject, challenge, body)
        self.flow_status: int = 0  # when set, every current-flow call answers it
        self.tokenless = False  # the operator-only admin address: no token expected, none accepted
        self.authorizations: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, consent_id: str, client_id: str = "my-app", scopes: list[str] | None = None) -> dict[str, Any]:
        body = {
            "id": consent_id,
            "clientId": client_id,
            "requestedScopes": ["openid", "offline", "photos.read"] if scopes is None else scopes,
            "expiresAt": "2030-01-01T00:10:00Z",
            "redirectUrl": f"http://127.0.0.1:4444/oauth2/auth?client_id=x&consent={consent_id}&consent_verifier=abc",
        }
        self.requests[consent_id] = body
        return body


    def add_flow(self, kind: str, challenge: str, **fields: Any) -> dict[str, Any]:
        """A login, consent or logout request as Hydra v2 shapes it."""
        client = {"client_id": "my-app", "client_name": "", "redirect_uris": ["http://127.0.0.1:5555/cb"]}
        body: dict[str, Any] = {"challenge": challenge, "client": client, "subject": "", "skip": False,
                                "request_url": "http://127.0.0.1:4444/oauth2/auth?client_id=my-app"}
        if kind == "login":
            body.update(requested_scope=["openid", "offline"], requested_access_token_audience=[],
                        oidc_context={"login_hint": "", "ui_locales": [], "acr_values": []}, session_id="sid-1")
        elif kind == "consent":
            body.update(subject="alice", requested_scope=["openid", "offline", "email", "profile"],
                        requested_access_token_audience=["https://api.example"], oidc_context={}, context={})
        else:
            body.update(subject="alice", sid="sid-1", rp_initiated=True)
        body.update(fields)
        self.flows[(kind, challenge)] = body
        return body


def verifier_url(kind: str, challenge: str) -> str:
    return f"http://127.0.0.1:4444/oauth2/auth?client_id=my-app&{kind}_verifier=v-{challenge}"


class _FakeHandler(BaseHTTPRequestHandler):
    server: FakeAdmin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any = None) -> None:
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorized(self) -> bool:
        self.server.authorizations.append(self.headers.get("Authorization") or "")
        if self.server.tokenless:
            if self.headers.get("Authorization"):
                self._send(400, {"error": "invalid_request", "error_description": "no token here"})
                return False
            return True
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token not in self.server.valid_tokens:
            self._send(401, {"error": {"code": 401, "status": "Unauthorized", "message": "bad token"}})
            return False
        return True

    def do_POST(self) -> None:
        form = parse_qs(self._body().decode())
        expected = "Basic " + base64.b64encode(":".join(APP_CLIENT).encode()).decode()
        if self.path != "/oauth2/token" or self.headers.get("Authorization") != expected:
            self._send(401, {"error": "invalid_client"})
            return
        with self.server.lock:
            self.server.token_grants.append(form)
            token = f"token-{len(self.server.token_grants)}"
            self.server.valid_tokens.add(token)
        self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": self.server.expires_in})

    def _flow(self, method: str) -> None:
        """/admin/oauth2/auth/requests/<kind>[/accept|/reject]?<kind>_challenge=..."""
        url = urlsplit(self.path)
        match = re.fullmatch(r"/admin/oauth2/auth/requests/(login|consent|logout)(/accept|/reject)?", url.path)
        if not match or (method == "GET") != (match.group(2) is None):
            self._send(404, {"error": "not_found", "error_description": "no route", "status_code": 404})
            return
        kind, action = match.group(1), (match.group(2) or "").lstrip("/")
        challenge = (parse_qs(url.query).get(f"{kind}_challenge") or [""])[0]
        body = json.loads(self._body() or b"null") if method == "PUT" else None
        if self.server.flow_status:
            self._send(self.server.flow_status, {"error": "server_error", "error_description": "boom"})
            return
        key = (kind, challenge)
        with self.server.lock:
            if key in self.server.handled:
                self._send(410, {"redirect_to": self.server.handled[key]})
                return
            if key not in self.server.flows:
                self._send(404, {"error": "not_found", "error_description": "Unable to locate the resource",
                                 "status_code": 404})
                return
            if method == "GET":
                self._send(200, self.server.flows[key])
                return
            self.server.puts.append((kind, action, challenge, body))
            self.server.handled[key] = verifier_url(kind, challenge)
        if kind == "logout" and action == "reject":
            self._send(204)
        else:
            self._send(200, {"redirect_to": verifier_url(kind, challenge)})

    def do_PUT(self) -> None:
        if self._authorized():
            self._flow("PUT")

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path.startswith("/admin/"):
            self._flow("GET")
            return
        if self.path.startswith("/clients/"):
            client = self.server.clients.get(unquote(self.path.removeprefix("/clients/")))
            self._send(200, client) if client else self._send(404, {"error": {"code": 404, "message": "not found"}})
            return
        consent_id = unquote(self.path.removeprefix("/oauth2/consent/requests/"))
        if consent_id in self.server.expired:
            self._send(410, {"error": {"code": 410, "message": "expired"}})
            return
        found = self.server.requests.get(consent_id)
        self._send(200, found) if found else self._send(404, {"error": {"code": 404, "message": "not found"}})

    def do_PATCH(self) -> None:
        body = json.loads(self._body() or b"null")
        if not self._authorized():
            return
        match = re.fullmatch(r"/oauth2/consent/requests/([^/]+)/(accept|reject)", self.path)
        if not match or unquote(match.group(1)) not in self.server.requests:
            self._send(404, {"error": {"code": 404, "message": "not found"}})
            return
        consent_id = unquote(match.group(1))
        with self.server.lock:
            if consent_id in self.server.answered:
                self._send(409, {"error": {"code": 409, "message": "already answered"}})
                return
            self.server.answered.add(consent_id)
            self.server.patches.append((consent_id, match.group(2), body))
        self._send(204)


@pytest.fixture
def admin() -> Iterator[FakeAdmin]:
    fake = FakeAdmin()
    threading.Thread(target=fake.serve_forever, args=(0.05,), daemon=True).start()
    yield fake
    fake.shutdown()
    fake.server_close()


@pytest.fixture
def app(admin: FakeAdmin) -> Iterator[consent_app.ConsentApp]:
    api = AdminApi(admin.url, *APP_CLIENT)
    instance = consent_app.start("127.0.0.1", 0, api, parse_users(consent_app.DEFAULT_USERS))
    yield instance
    instance.shutdown()
    instance.server_close()


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return match.group(1)


def open_form(browser: requests.Session, app: consent_app.ConsentApp, consent_id: str) -> dict[str, str]:
    page = browser.get(f"{app.url}/consent", params={"consent": consent_id})
    assert page.status_code == 200, page.text
    return {"consent": hidden(page.text, "consent"), "csrf": hidden(page.text, "csrf")}


def post(browser: requests.Session, app: consent_app.ConsentApp, fields: list[tuple[str, str]]) -> requests.Response:
    return browser.post(f"{app.url}/consent", data=fields, allow_redirects=False)


def test_page_shows_client_and_scopes_escaped_with_protective_headers(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add("c1", client_id=XSS_CLIENT, scopes=["openid", '"><img src=x onerror=alert(1)>'])
    page = browser.get(f"{app.url}/consent", params={"consent": "c1"})
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img" not in page.text
    assert html_escaped(XSS_CLIENT) in page.text
    assert 'value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in page.text
    assert 'name="scope" value="openid" checked' in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none' covers scripts
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/consent" in cookie
    assert "Secure" not in cookie  # plain http is fine on loopback only
    # The app asked for the consent scope, then hydra.clients (to name the client), with its own credentials.
    assert admin.token_grants == [{"grant_type": ["client_credentials"], "scope": ["hydra.consent"]},
                                  {"grant_type": ["client_credentials"], "scope": ["hydra.clients"]}]


def test_page_names_the_client_with_its_links_escaped_and_http_only(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.clients["named"] = {"id": "named", "client_name": '<b>Photo</b> "printer"',
                              "logo_uri": "https://cdn.example/logo.png?a=1&b=2",
                              "policy_uri": "javascript:alert(1)", "tos_uri": "https://example.com/tos"}
    admin.add("c-named", client_id="named")
    page = browser.get(f"{app.url}/consent", params={"consent": "c-named"}).text
    assert '<span class="client" id="client-name">&lt;b&gt;Photo&lt;/b&gt; &quot;printer&quot;</span>' in page
    assert "<title>Authorize &lt;b&gt;Photo&lt;/b&gt; &quot;printer&quot;</title>" in page
    assert '<span id="client-id">named</span>' in page
    assert 'src="https://cdn.example/logo.png?a=1&amp;b=2"' in page
    assert 'id="client-terms" href="https://example.com/tos"' in page
    assert "javascript:" not in page and "client-privacy" not in page  # only http(s) links
    # A client the app may not read (or that has no name) is named by its id, and nothing else shows.
    admin.add("c-unknown", client_id="not-readable")
    page = browser.get(f"{app.url}/consent", params={"consent": "c-unknown"}).text
    assert '<span class="client" id="client-name">not-readable</span>' in page
    assert "client-logo" not in page.split("</style>")[1] and "client-links" not in page.split("</style>")[1]


def consent_grants(admin: FakeAdmin) -> list[dict[str, list[str]]]:
    """The token requests for the consent scope (the app also asks for hydra.clients to name clients)."""
    return [grant for grant in admin.token_grants if grant["scope"] == ["hydra.consent"]]


def html_escaped(text: str) -> str:
    import html

    return html.escape(text)


def test_accept_sends_acceptance_and_redirects_to_the_requests_redirect_url(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    request = admin.add("c2")
    fields = open_form(browser, app, "c2")
    answer = post(browser, app, [*fields.items(), ("username", "alice"), ("password", "alice-password"),
                                 ("scope", "openid"), ("scope", "photos.read"), ("scope", "admin.everything"),
                                 ("redirectUrl", "https://evil.example/"), ("action", "accept")])
    assert answer.status_code == 302
    assert answer.headers["Location"] == request["redirectUrl"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "Max-Age=0" in answer.headers["Set-Cookie"]  # the form's CSRF cookie is spent
    assert admin.patches == [("c2", "accept", {
        "subject": "alice",
        "grantScopes": ["openid", "photos.read"],  # unticked offline left out, unrequested scope ignored
        "accessTokenExtra": {},
        "idTokenExtra": {},  # neither profile nor email granted: no name, no email (issue 25)
    })]
    # One token for the GET and both calls of the POST.
    assert len(consent_grants(admin)) == 1


def test_accept_releases_only_the_claims_of_ticked_scopes_and_the_claims_request(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    request = admin.add("c5", scopes=["openid", "email", "profile"])
    fields = open_form(browser, app, "c5")
    post(browser, app, [*fields.items(), ("username", "alice"), ("password", "alice-password"),
                        ("scope", "openid"), ("scope", "email"), ("action", "accept")])
    assert admin.patches[-1][2]["grantScopes"] == ["openid", "email"]
    assert admin.patches[-1][2]["idTokenExtra"] == {"email": "alice@example.com"}  # profile unticked: no name

    request = admin.add("c6", scopes=["openid"])
    request["requestedClaims"] = {"userinfo": {"name": {"essential": True}}}
    fields = open_form(browser, app, "c6")
    post(browser, app, [*fields.items(), ("username", "alice"), ("password", "alice-password"),
                        ("scope", "openid"), ("action", "accept")])
    assert admin.patches[-1][2]["idTokenExtra"] == {"name": "Alice"}  # asked for by name, no email


def test_wrong_password_shows_the_form_again_and_answers_nothing(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add("c3")
    fields = open_form(browser, app, "c3")
    answer = post(browser, app, [*fields.items(), ("username", "<b>alice</b>"), ("password", "alice-password"),
                                 ("scope", "openid"), ("action", "accept")])
    assert answer.status_code == 401
    assert "Wrong username or password." in answer.text
    assert 'value="&lt;b&gt;alice&lt;/b&gt;"' in answer.text and "<b>alice" not in answer.text
    assert 'value="openid" checked' in answer.text and 'value="offline">' in answer.text  # the ticks are kept
    wrong = post(browser, app, [*fields.items(), ("username", "alice"), ("password", "bob-password"),
                                ("action", "accept")])
    assert wrong.status_code in (401, 403)  # the old form's CSRF token was replaced by the re-render
    assert admin.patches == []
    # The re-rendered form works with the right password.
    retry = {"consent": hidden(answer.text, "consent"), "csrf": hidden(answer.text, "csrf")}
    ok = post(browser, app, [*retry.items(), ("username", "bob"), ("password", "bob-password"),
                             ("scope", "openid"), ("action", "accept")])
    assert ok.status_code == 302
    assert admin.patches[0][2]["subject"] == "bob"


def test_csrf_token_must_come_from_this_browser_and_this_request(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add("c4")
    admin.add("c5")
    fields = open_form(browser, app, "c4")
    login = [("username", "alice"), ("password", "alice-password"), ("action", "accept")]
    # A cross-site POST carries no cookie.
    forged = requests.post(f"{app.url}/consent", data=[*fields.items(), *login], allow_redirects=False)
    assert forged.status_code == 403
    assert "This form has expired" in forged.text
    # A tampered hidden field.
    tampered = post(browser, app, [("consent", "c4"), ("csrf", "0" * 64), *login])
    assert tampered.status_code == 403
    # The field of one request does not answer another.
    open_form(browser, app, "c5")
    crossed = post(browser, app, [("consent", "c5"), ("csrf", fields["csrf"]), *login])
    assert crossed.status_code == 403
    # Missing field.
    assert post(browser, app, [("consent", "c4"), *login]).status_code == 403
    assert admin.patches == []
    # Two open forms (two tabs) do not spoil each other.
    assert post(browser, app, [*fields.items(), *login]).status_code == 302


def test_deny_sends_a_rejection_without_login(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    request = admin.add("c6")
    fields = open_form(browser, app, "c6")
    answer = post(browser, app, [*fields.items(), ("username", ""), ("password", ""), ("action", "deny")])
    assert answer.status_code == 302
    assert answer.headers["Location"] == request["redirectUrl"]
    assert admin.patches == [("c6", "reject", {"reason": "The user denied the request."})]


def test_api_failures_are_pages_never_tracebacks(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    missing = browser.get(f"{app.url}/consent", params={"consent": "nope"})
    assert missing.status_code == 404 and "Unknown consent request" in missing.text
    no_id = browser.get(f"{app.url}/consent")
    assert no_id.status_code == 400 and "No consent request" in no_id.text
    odd_id = browser.get(f"{app.url}/consent", params={"consent": "../../clients"})
    assert odd_id.status_code == 400
    # Answered elsewhere in the meantime: 409 from the API.
    admin.add("c7")
    fields = open_form(browser, app, "c7")
    admin.answered.add("c7")
    late = post(browser, app, [*fields.items(), ("action", "deny")])
    assert late.status_code == 409 and "already been answered" in late.text
    admin.add("c10")
    admin.expired.add("c10")
    expired = browser.get(f"{app.url}/consent", params={"consent": "c10"})
    assert expired.status_code == 410 and "has expired" in expired.text
    # The error redirect the API sends when it cannot redirect to a client.
    error = browser.get(f"{app.url}/consent", params={"error": "invalid_client",
                                                       "error_description": "<i>Unknown client</i>"})
    assert error.status_code == 400 and "&lt;i&gt;Unknown client&lt;/i&gt;" in error.text
    # Unknown path and method.
    assert browser.get(f"{app.url}/admin").status_code == 404
    put = browser.put(f"{app.url}/consent", data="x")
    assert put.status_code == 501 and put.headers["X-Frame-Options"] == "DENY"
    for text in (missing.text, late.text, put.text):
        assert "Traceback" not in text


def test_unreachable_api_is_a_502_page(browser: requests.Session) -> None:
    from tests.support import free_port

    api = AdminApi(f"http://127.0.0.1:{free_port()}", *APP_CLIENT, timeout=2)
    app = consent_app.start("127.0.0.1", 0, api, parse_users(consent_app.DEFAULT_USERS))
    try:
        page = browser.get(f"{app.url}/consent", params={"consent": "c8"})
        assert page.status_code == 502
        assert "could not talk to the authorization server" in page.text
        assert "Traceback" not in page.text and "127.0.0.1" not in page.text
    finally:
        app.shutdown()
        app.server_close()


def test_bad_forms_are_refused(admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session) -> None:
    admin.add("c9")
    fields = open_form(browser, app, "c9")
    twice = post(browser, app, [*fields.items(), ("action", "accept"), ("action", "deny")])
    assert twice.status_code == 400
    json_body = browser.post(f"{app.url}/consent", json=fields, allow_redirects=False)
    assert json_body.status_code == 400
    huge = browser.post(f"{app.url}/consent", data={"x": "y" * 20000}, allow_redirects=False)
    assert huge.status_code == 400
    unknown_action = post(browser, app, [*fields.items(), ("action", "maybe")])
    assert unknown_action.status_code == 400
    assert admin.patches == []


def test_token_is_cached_until_near_expiry_and_renewed_after_a_401(
    admin: FakeAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(consent_app, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    admin.add("t1")
    admin.expires_in = 300
    api = AdminApi(admin.url, *APP_CLIENT)
    for _ in range(3):
        api.get_request("t1")
    assert len(consent_grants(admin)) == 1
    now[0] += 269  # renewal is due 30 s (a tenth of 300 s) before expiry
    api.get_request("t1")
    assert len(consent_grants(admin)) == 1
    now[0] += 2
    api.get_request("t1")
    assert len(consent_grants(admin)) == 2
    admin.valid_tokens.clear()  # revoked server-side: one fresh token, then success
    assert api.get_request("t1").client_id == "my-app"
    assert len(consent_grants(admin)) == 3


def test_bad_client_credentials_are_a_clear_error(admin: FakeAdmin) -> None:
    api = AdminApi(admin.url, "consent-app", "wrong")
    admin.add("t2")
    with pytest.raises(consent_app.ApiError) as caught:
        api.get_request("t2")
    assert caught.value.status == 502 and "access token" in caught.value.message


def test_parse_users() -> None:
    users = parse_users(" alice:a:b , bob:pw ")
    assert users["alice"].password == "a:b" and users["bob"].password == "pw"
    assert consent_app.check_login(users, "alice", "a:b") == users["alice"]
    assert consent_app.check_login(users, "alice", "pw") is None
    assert consent_app.check_login(users, "carol", "pw") is None
    for bad in ("", "alice", "alice:", ":pw"):
        with pytest.raises(ValueError):
            parse_users(bad)


def test_secure_cookie_off_loopback(admin: FakeAdmin, app: consent_app.ConsentApp) -> None:
    admin.add("s1")
    page = requests.get(f"{app.url}/consent", params={"consent": "s1"}, headers={"Host": "consent.example.com"})
    assert page.status_code == 200
    assert "; Secure" in page.headers["Set-Cookie"]
    assert urlsplit(app.url).hostname == "127.0.0.1"


def test_serve_starts_the_app_only_for_its_local_default_and_never_fails(admin: FakeAdmin) -> None:
    import socket

    from tests.support import free_port

    assert consent_app.is_local_default("http://127.0.0.1:3000/consent", 3000)
    assert consent_app.is_local_default("http://localhost:3100/consent/", 3100)
    assert not consent_app.is_local_default("http://127.0.0.1:3000/consent", 3100)
    assert not consent_app.is_local_default("https://consent.example.com/consent", 3000)
    users = consent_app.DEFAULT_USERS
    root = ("root", "secret")
    app, line = consent_app.start_for_serve(admin.url, "https://consent.example.com/consent", 3000, users, root)
    assert app is None and "not started (CONSENT_URL is https://consent.example.com/consent)" in line
    app, line = consent_app.start_for_serve(admin.url, "http://127.0.0.1:3000/consent", 3000, users, None)
    assert app is None and "FORCE_ROOT_CLIENT_CREDENTIALS" in line
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app, line = consent_app.start_for_serve(admin.url, f"http://127.0.0.1:{port}/consent", port, users, root)
    assert app is None and "port in use" in line and "CONSENT_APP_PORT" in line
    # Provisioning fails (the fake has no /clients): the app explains itself instead of hanging.
    port = free_port()
    app, line = consent_app.start_for_serve(admin.url, f"http://127.0.0.1:{port}/consent", port, users, root)
    assert app is not None
    try:
        page = requests.get(f"{app.url}/consent", params={"consent": "x"}, timeout=30)
        assert page.status_code == 503 and "could not create its API client" in page.text
    finally:
        app.shutdown()
        app.server_close()


def test_standalone_command_needs_credentials() -> None:
    from hydra_lambda_local.cli import main

    assert main(["consent-app", "--api", "http://127.0.0.1:1", "--client-id", "x", "--client-secret", ""]) == 2


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "http://ok.example/\r\nSet-Cookie: x=1", "/relative"])
def test_only_http_redirect_urls_from_the_api_are_followed(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session, bad: str
) -> None:
    admin.add("r1")["redirectUrl"] = bad
    fields = open_form(browser, app, "r1")
    answer = post(browser, app, [*fields.items(), ("action", "deny")])
    assert answer.status_code == 502 and "Location" not in answer.headers
    assert admin.patches == []


# ---------------------------------------------------------------------------------------------
# The current flow: /login, /consent and /logout with their challenges (Ory Hydra v2's admin API)

LOGIN = [("username", "alice"), ("password", "alice-password"), ("action", "accept")]


def open_flow(browser: requests.Session, app: consent_app.ConsentApp, kind: str, challenge: str) -> dict[str, str]:
    page = browser.get(f"{app.url}/{kind}", params={f"{kind}_challenge": challenge}, allow_redirects=False)
    assert page.status_code == 200, page.text
    return {f"{kind}_challenge": hidden(page.text, f"{kind}_challenge"), "csrf": hidden(page.text, "csrf")}


def post_flow(browser: requests.Session, app: consent_app.ConsentApp, kind: str,
              fields: list[tuple[str, str]]) -> requests.Response:
    return browser.post(f"{app.url}/{kind}", data=fields, allow_redirects=False)


def test_login_page_is_a_form_prefilled_from_login_hint_with_the_client_escaped(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add_flow("login", "L1", oidc_context={"login_hint": "bob"},
                   client={"client_id": "photos", "client_name": '<b>Photo</b> "printer"',
                           "logo_uri": "https://cdn.example/logo.png", "tos_uri": "javascript:alert(1)"})
    page = browser.get(f"{app.url}/login", params={"login_challenge": "L1"})
    assert page.status_code == 200
    text = page.text
    assert '<form method="post" action="/login"' in text
    assert 'name="username" value="bob"' in text and 'type="password"' in text
    assert 'name="remember" value="1">' in text  # "remember me", unticked
    assert '<span class="client" id="client-name">&lt;b&gt;Photo&lt;/b&gt; &quot;printer&quot;</span>' in text
    assert "<b>Photo" not in text and "javascript:" not in text
    assert 'src="https://cdn.example/logo.png"' in text
    assert "<title>Sign in to &lt;b&gt;Photo&lt;/b&gt; &quot;printer&quot;</title>" in text
    assert "Demo accounts: alice / alice-password" in text
    assert page.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page.headers[
        "Content-Security-Policy"]
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("login_challenge_csrf_") and "Path=/login" in cookie and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert admin.puts == []
    # The app asked for the consent scope only: the request carries the client, no /clients read.
    assert admin.token_grants == [{"grant_type": ["client_credentials"], "scope": ["hydra.consent"]}]


@pytest.mark.parametrize("hint", ["x" * 5000, "alice\r\nSet-Cookie: a=b", '"><script>alert(1)</script>'])
def test_a_hostile_login_hint_is_bounded_or_escaped(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session, hint: str
) -> None:
    admin.add_flow("login", "L-hint", oidc_context={"login_hint": hint})
    page = browser.get(f"{app.url}/login", params={"login_challenge": "L-hint"})
    assert page.status_code == 200
    assert "<script>" not in page.text and "xxxxxxxxxx" not in page.text and "Set-Cookie" not in page.text
    assert len(page.text) < 10_000
    if hint.startswith('"'):
        assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page.text
    else:
        assert 'name="username" value=""' in page.text


@pytest.mark.parametrize("remember", [True, False])
def test_login_accepts_with_the_user_and_the_remember_box(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session, remember: bool
) -> None:
    admin.add_flow("login", "L2")
    fields = open_flow(browser, app, "login", "L2")
    extra = [("remember", "1")] if remember else []
    answer = post_flow(browser, app, "login", [*fields.items(), *LOGIN, *extra, ("subject", "mallory")])
    assert answer.status_code == 302
    assert answer.headers["Location"] == verifier_url("login", "L2")
    assert "Max-Age=0" in answer.headers["Set-Cookie"] and "Path=/login" in answer.headers["Set-Cookie"]
    assert admin.puts == [("login", "accept", "L2", {
        "subject": "alice",  # the signed-in user, never a form field
        "remember": remember,
        "remember_for": consent_app.REMEMBER_LOGIN_FOR if remember else 0,
        "acr": "0",
        "amr": ["pwd"],
    })]


def test_a_bad_password_or_user_says_neither_which_and_answers_nothing(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add_flow("login", "L3")
    fields = open_flow(browser, app, "login", "L3")
    wrong_password = post_flow(browser, app, "login", [*fields.items(), ("username", "<i>alice</i>"),
                                                       ("password", "nope"), ("remember", "1"), ("action", "accept")])
    assert wrong_password.status_code == 401
    assert "Wrong username or password." in wrong_password.text
    assert 'value="&lt;i&gt;alice&lt;/i&gt;"' in wrong_password.text and "<i>alice" not in wrong_password.text
    assert 'name="remember" value="1" checked>' in wrong_password.text  # the tick is kept
    retry = {"login_challenge": "L3", "csrf": hidden(wrong_password.text, "csrf")}
    unknown_user = post_flow(browser, app, "login", [*retry.items(), ("username", "carol"),
                                                     ("password", "alice-password"), ("action", "accept")])
    assert unknown_user.status_code == 401
    assert _alert(unknown_user.text) == _alert(wrong_password.text) == "Wrong username or password."
    assert admin.puts == []
    retry = {"login_challenge": "L3", "csrf": hidden(unknown_user.text, "csrf")}
    assert post_flow(browser, app, "login", [*retry.items(), *LOGIN]).status_code == 302
    assert admin.puts[0][3]["subject"] == "alice"


def _alert(page: str) -> str:
    match = re.search(r'<p class="alert" role="alert">([^<]*)</p>', page)
    return match.group(1) if match else ""


@pytest.mark.parametrize("kind", ["login", "consent", "logout"])
def test_flow_forms_refuse_a_missing_or_forged_csrf_token(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session, kind: str
) -> None:
    admin.add_flow(kind, "F1")
    admin.add_flow(kind, "F2")
    fields = open_flow(browser, app, kind, "F1")
    answer = [*LOGIN, ("scope", "openid")]
    name = f"{kind}_challenge"
    # A cross-site POST carries no cookie.
    forged = requests.post(f"{app.url}/{kind}", data=[*fields.items(), *answer], allow_redirects=False)
    assert forged.status_code == 403 and "This form has expired" in forged.text
    # A tampered field, a missing field, and the field of one request sent for another.
    assert post_flow(browser, app, kind, [(name, "F1"), ("csrf", "0" * 64), *answer]).status_code == 403
    assert post_flow(browser, app, kind, [(name, "F1"), *answer]).status_code == 403
    open_flow(browser, app, kind, "F2")
    assert post_flow(browser, app, kind, [(name, "F2"), ("csrf", fields["csrf"]), *answer]).status_code == 403
    # A classic consent form's token is no current-flow token either (and the reverse).
    if kind == "consent":
        admin.add("F1")
        classic = open_form(browser, app, "F1")
        assert post_flow(browser, app, kind, [(name, "F1"), ("csrf", classic["csrf"]), *answer]).status_code == 403
        assert post(browser, app, [("consent", "F1"), ("csrf", fields["csrf"]), *answer]).status_code == 403
    assert admin.puts == [] and admin.patches == []
    # The real form still works.
    accepted = post_flow(browser, app, kind, [*fields.items(), *answer])
    assert accepted.status_code == 302 and accepted.headers["Location"] == verifier_url(kind, "F1")


def test_login_skip_accepts_at_once_with_the_sessions_subject(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add_flow("login", "L4", skip=True, subject="bob")
    answer = browser.get(f"{app.url}/login", params={"login_challenge": "L4"}, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"] == verifier_url("login", "L4")
    assert answer.text == ""  # no form shown
    assert admin.puts == [("login", "accept", "L4", {"subject": "bob"})]


@pytest.mark.parametrize("kind", ["login", "consent", "logout"])
def test_a_request_handled_already_follows_its_redirect_to(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session, kind: str
) -> None:
    admin.handled[(kind, "H1")] = "http://127.0.0.1:4444/oauth2/auth?client_id=my-app&state=again"
    answer = browser.get(f"{app.url}/{kind}", params={f"{kind}_challenge": "H1"}, allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "http://127.0.0.1:4444/oauth2/auth?client_id=my-app&state=again"
    # Answered in another tab between the page and the POST: the answer's 410 is followed too.
    admin.add_flow(kind, "H2")
    fields = open_flow(browser, app, kind, "H2")
    admin.handled[(kind, "H2")] = verifier_url(kind, "elsewhere")
    late = post_flow(browser, app, kind, [*fields.items(), *LOGIN, ("scope", "openid")])
    assert late.status_code in (302, 303) and late.headers["Location"] == verifier_url(kind, "elsewhere")
    # A redirect_to that is no http(s) URL is never followed.
    admin.handled[(kind, "H3")] = "javascript:alert(1)"
    bad = browser.get(f"{app.url}/{kind}", params={f"{kind}_challenge": "H3"}, allow_redirects=False)
    assert bad.status_code == 502 and "Location" not in bad.headers
    assert admin.puts == []


def test_login_cancel_rejects_with_access_denied(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add_flow("login", "L5")
    fields = open_flow(browser, app, "login", "L5")
    answer = post_flow(browser, app, "login", [*fields.items(), ("username", ""), ("password", ""), ("action", "deny")])
    assert answer.status_code == 302 and answer.headers["Location"] == verifier_url("login", "L5")
    assert admin.puts == [("login", "reject", "L5", {"error": "access_denied",
                                                     "error_description": "The user cancelled the sign-in."})]


def test_consent_page_lists_the_client_and_each_scope_with_a_checkbox(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add_flow("consent", "C1", requested_scope=["openid", '"><img src=x onerror=alert(1)>'],
                   client={"client_id": XSS_CLIENT, "client_name": XSS_CLIENT,
                           "policy_uri": "https://example.com/privacy"})
    page = browser.get(f"{app.url}/consent", params={"consent_challenge": "C1"})
    assert page.status_code == 200
    text = page.text
    assert "<script>" not in text and "<img" not in text
    assert html_escaped(XSS_CLIENT) in text
    assert 'name="scope" value="openid" checked' in text
    assert 'value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" checked' in text
    assert 'name="remember" value="1">' in text  # "remember this decision", unticked
    assert '<strong id="subject">alice</strong>' in text
    assert 'id="client-privacy" href="https://example.com/privacy"' in text
    assert "For use at: https://api.example" in text
    assert 'name="consent_challenge" value="C1"' in text and 'name="consent"' not in text
    assert "Path=/consent" in page.headers["Set-Cookie"]


def test_consent_accept_grants_the_ticked_scopes_with_the_claims_they_release(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add_flow("consent", "C2")
    fields = open_flow(browser, app, "consent", "C2")
    answer = post_flow(browser, app, "consent", [
        *fields.items(), ("scope", "email"), ("scope", "openid"), ("scope", "admin.everything"), ("remember", "1"),
        ("subject", "bob"), ("grant_scope", "profile"), ("action", "accept")])
    assert answer.status_code == 302 and answer.headers["Location"] == verifier_url("consent", "C2")
    assert admin.puts == [("consent", "accept", "C2", {
        "grant_scope": ["openid", "email"],  # in the requested order; unrequested scopes ignored
        "grant_access_token_audience": ["https://api.example"],
        "remember": True,
        "remember_for": consent_app.REMEMBER_CONSENT_FOR,
        "session": {"access_token": {}, "id_token": {"email": "alice@example.com"}},  # no profile: no name
    })]


def test_consent_without_remember_and_deny(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add_flow("consent", "C3")
    fields = open_flow(browser, app, "consent", "C3")
    post_flow(browser, app, "consent", [*fields.items(), ("scope", "profile"), ("action", "accept")])
    assert admin.puts[-1][3]["remember"] is False and admin.puts[-1][3]["remember_for"] == 0
    assert admin.puts[-1][3]["session"]["id_token"] == {"name": "Alice"}
    admin.add_flow("consent", "C4")
    fields = open_flow(browser, app, "consent", "C4")
    denied = post_flow(browser, app, "consent", [*fields.items(), ("scope", "openid"), ("action", "deny")])
    assert denied.status_code == 302 and denied.headers["Location"] == verifier_url("consent", "C4")
    assert admin.puts[-1] == ("consent", "reject", "C4", {"error": "access_denied",
                                                           "error_description": "The user denied the request."})
    admin.add_flow("consent", "C5")
    fields = open_flow(browser, app, "consent", "C5")
    assert post_flow(browser, app, "consent", [*fields.items(), ("action", "maybe")]).status_code == 400


@pytest.mark.parametrize("why", [{"skip": True}, {"client": {"client_id": "first-party", "skip_consent": True}}])
def test_consent_skip_accepts_every_requested_scope_at_once_remembered(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session, why: dict[str, Any]
) -> None:
    admin.add_flow("consent", "C6", subject="bob", requested_scope=["openid", "profile"], **why)
    answer = browser.get(f"{app.url}/consent", params={"consent_challenge": "C6"}, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"] == verifier_url("consent", "C6")
    assert admin.puts == [("consent", "accept", "C6", {
        "grant_scope": ["openid", "profile"],
        "grant_access_token_audience": ["https://api.example"],
        "remember": True,
        "remember_for": consent_app.REMEMBER_CONSENT_FOR,
        "session": {"access_token": {}, "id_token": {"name": "Bob"}},
    })]
    # A subject this app does not know (another user list) gets no claims, and no error.
    admin.add_flow("consent", "C7", subject="someone-else", skip=True)
    assert browser.get(f"{app.url}/consent", params={"consent_challenge": "C7"},
                       allow_redirects=False).status_code == 302
    assert admin.puts[-1][3]["session"]["id_token"] == {}


def test_logout_confirmation_yes_accepts_and_no_rejects(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add_flow("logout", "O1", client={"client_id": "my-app", "client_name": "<b>Photos</b>"})
    page = browser.get(f"{app.url}/logout", params={"logout_challenge": "O1"})
    assert page.status_code == 200
    assert "Yes, sign me out" in page.text and "No, stay signed in" in page.text
    assert '<strong id="subject">alice</strong>' in page.text and "&lt;b&gt;Photos&lt;/b&gt;" in page.text
    assert "Path=/logout" in page.headers["Set-Cookie"]
    fields = {"logout_challenge": "O1", "csrf": hidden(page.text, "csrf")}
    yes = post_flow(browser, app, "logout", [*fields.items(), ("action", "accept")])
    assert yes.status_code == 302 and yes.headers["Location"] == verifier_url("logout", "O1")
    assert admin.puts == [("logout", "accept", "O1", None)]
    # Not RP-initiated (no client): the page still renders; No rejects (204) and says so.
    admin.add_flow("logout", "O2", client=None, rp_initiated=False)
    fields = open_flow(browser, app, "logout", "O2")
    no = post_flow(browser, app, "logout", [*fields.items(), ("action", "deny")])
    assert no.status_code == 303 and no.headers["Location"] == "/logout-cancelled"
    assert "Max-Age=0" in no.headers["Set-Cookie"]
    assert admin.puts[-1] == ("logout", "reject", "O2", None)
    cancelled = browser.get(f"{app.url}/logout-cancelled")
    assert cancelled.status_code == 200 and "still signed in" in cancelled.text
    admin.add_flow("logout", "O3")
    fields = open_flow(browser, app, "logout", "O3")
    assert post_flow(browser, app, "logout", [*fields.items(), ("action", "maybe")]).status_code == 400


def test_logged_out_and_error_pages_escape_and_bound_what_they_show(
    app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    done = browser.get(f"{app.url}/logged-out")
    assert done.status_code == 200 and "You are signed out" in done.text
    error = browser.get(f"{app.url}/error", params={"error": "<b>invalid_request</b>",
                                                     "error_description": "<script>x</script>" + "y" * 5000,
                                                     "error_hint": "<i>hint</i>"})
    assert error.status_code == 400
    assert "<script>" not in error.text and "&lt;script&gt;x&lt;/script&gt;" in error.text
    assert "&lt;b&gt;invalid_request&lt;/b&gt;" in error.text and "&lt;i&gt;hint&lt;/i&gt;" in error.text
    assert "y" * 600 not in error.text and len(error.text) < 10_000
    assert error.headers["X-Frame-Options"] == "DENY"
    bare = browser.get(f"{app.url}/error")
    assert bare.status_code == 400 and "Start again from the application" in bare.text


def test_current_flow_failures_are_pages_never_tracebacks(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    missing = browser.get(f"{app.url}/login", params={"login_challenge": "nope"})
    assert missing.status_code == 404 and "Unknown sign-in request" in missing.text
    gone = browser.get(f"{app.url}/logout", params={"logout_challenge": "nope"})
    assert gone.status_code == 404 and "sign-out request does not exist" in gone.text
    for bad in ("", "<script>", "a" * 5000, "a b"):
        page = browser.get(f"{app.url}/login", params={"login_challenge": bad})
        assert page.status_code == 400 and "No sign-in request" in page.text and "<script>" not in page.text
    assert browser.get(f"{app.url}/login").status_code == 400
    twice = browser.get(f"{app.url}/consent?consent_challenge=a&consent_challenge=b")
    assert twice.status_code == 400
    admin.add_flow("consent", "E1")
    admin.flow_status = 500
    broken = browser.get(f"{app.url}/consent", params={"consent_challenge": "E1"})
    assert broken.status_code == 502 and "could not talk to the authorization server" in broken.text
    admin.flow_status = 400
    refused = browser.get(f"{app.url}/consent", params={"consent_challenge": "E1"})
    assert refused.status_code == 400 and "boom" in refused.text
    for text in (missing.text, gone.text, broken.text, refused.text):
        assert "Traceback" not in text


def test_current_flow_with_an_unreachable_api_is_a_502_page(browser: requests.Session) -> None:
    from tests.support import free_port

    api = AdminApi(f"http://127.0.0.1:{free_port()}", *APP_CLIENT, timeout=2)
    app = consent_app.start("127.0.0.1", 0, api, parse_users(consent_app.DEFAULT_USERS))
    try:
        page = browser.get(f"{app.url}/login", params={"login_challenge": "L9"})
        assert page.status_code == 502 and "could not talk to the authorization server" in page.text
        assert "Traceback" not in page.text and "127.0.0.1" not in page.text
    finally:
        app.shutdown()
        app.server_close()


def test_the_operator_only_admin_address_gets_no_token(admin: FakeAdmin, browser: requests.Session) -> None:
    admin.tokenless = True
    admin.add_flow("login", "T1")
    api = AdminApi("http://127.0.0.1:1", "", "", admin_url=admin.url + "/")
    app = consent_app.start("127.0.0.1", 0, api, parse_users(consent_app.DEFAULT_USERS))
    try:
        fields = open_flow(browser, app, "login", "T1")
        assert post_flow(browser, app, "login", [*fields.items(), *LOGIN]).status_code == 302
    finally:
        app.shutdown()
        app.server_close()
    assert admin.token_grants == [] and set(admin.authorizations) == {""}
    assert admin.puts[0][:3] == ("login", "accept", "T1")
    # And the classic consent requests go there too.
    admin.add("T2")
    assert api.get_request("T2").id == "T2"


def test_the_app_client_policy_covers_the_current_flows_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda.storage import policies as policy_store

    written: list[Any] = []
    monkeypatch.setattr(policy_store, "put", written.append)
    consent_app.allow_consent_requests("app-x")
    requests_policy = next(policy for policy in written if policy.id == "app-x")
    assert requests_policy.resources == ["rn:hydra:oauth2:consent:requests:<.*>", "rn:hydra:oauth2:auth:requests:<.*>"]
    assert requests_policy.actions == ["get", "accept", "reject"] and requests_policy.subjects == ["app-x"]
    assert requests_policy.effect == "allow"


def test_the_classic_consent_page_is_unchanged_beside_the_current_flow(
    admin: FakeAdmin, app: consent_app.ConsentApp, browser: requests.Session
) -> None:
    admin.add("classic-1")
    admin.add_flow("consent", "classic-1")  # the same string as a challenge: two different requests
    page = browser.get(f"{app.url}/consent", params={"consent": "classic-1"})
    assert 'name="consent" value="classic-1"' in page.text and 'name="password"' in page.text
    assert "consent_challenge" not in page.text
    assert page.headers["Set-Cookie"].startswith("consent_csrf_")
    fields = {"consent": "classic-1", "csrf": hidden(page.text, "csrf")}
    answer = post(browser, app, [*fields.items(), *LOGIN, ("scope", "openid")])
    assert answer.status_code == 302 and admin.patches[0][:2] == ("classic-1", "accept") and admin.puts == []


def test_index_names_the_app(app: consent_app.ConsentApp, browser: requests.Session) -> None:
    page = browser.get(f"{app.url}/")
    assert page.status_code == 200 and "Example login and consent app" in page.text


# ---------------------------------------------------------------------------------------------
# `make run FLOW=current` (hydra-lambda serve --flow current): URLS_* point at this app's pages


@pytest.fixture
def environment() -> Iterator[dict[str, str]]:
    """The process environment, restored (and the settings forgotten) afterwards; no URLS_* or
    CONSENT_URL to start with."""
    import os

    from hydra_lambda.config import reset_settings

    saved = dict(os.environ)
    for name in [name for name, _ in consent_app.FLOW_PAGES] + ["CONSENT_URL", "CONSENT_APP_PORT"]:
        os.environ.pop(name, None)
    reset_settings()
    try:
        yield os.environ  # type: ignore[misc]
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()


def test_flow_current_points_the_current_flow_at_the_example_app(environment: dict[str, str]) -> None:
    from hydra_lambda.config import get_settings
    from hydra_lambda_local import serve

    assert "flow: classic" in serve.flow_line() and "make run FLOW=current" in serve.flow_line()
    assert serve.choose_flow("") == "" and serve.choose_flow("classic") == ""
    assert not any(name.startswith("URLS_") for name in environment)
    environment["CONSENT_APP_PORT"] = "3456"
    environment["URLS_LOGOUT"] = "https://operator.example/logout"  # one the operator set is kept
    assert serve.choose_flow("current") == ""
    assert {name: environment[name] for name, _ in consent_app.FLOW_PAGES} == {
        "URLS_LOGIN": "http://127.0.0.1:3456/login",
        "URLS_CONSENT": "http://127.0.0.1:3456/consent",
        "URLS_LOGOUT": "https://operator.example/logout",
        "URLS_POST_LOGOUT_REDIRECT": "http://127.0.0.1:3456/logged-out",
        "URLS_ERROR": "http://127.0.0.1:3456/error",
        "URLS_DEVICE_VERIFICATION": "http://127.0.0.1:3456/device",
        "URLS_DEVICE_SUCCESS": "http://127.0.0.1:3456/device/done",
    }
    assert get_settings().consent_app_port == 3456  # the settings are made again from the new environment
    assert serve.flow_line() == ("  flow: current (login http://127.0.0.1:3456/login, consent "
                                 "http://127.0.0.1:3456/consent, logout https://operator.example/logout)")
    # --flow classic with the current flow's settings in the environment is refused, not ignored.
    refusal = serve.choose_flow("classic")
    assert "URLS_LOGIN and URLS_CONSENT" in refusal and "unset them" in refusal


def test_flow_current_needs_the_example_app_or_the_operators_own_pages(environment: dict[str, str]) -> None:
    from hydra_lambda_local import serve

    environment["CONSENT_URL"] = "https://consent.example.com/consent"
    refusal = serve.choose_flow("current")
    assert "runs only when CONSENT_URL is unset" in refusal and "URLS_LOGIN" not in environment
    environment["URLS_LOGIN"] = "https://login.example.com/login"
    environment["URLS_CONSENT"] = "https://login.example.com/consent"
    assert serve.choose_flow("current") == ""
    assert environment["URLS_LOGIN"] == "https://login.example.com/login" and "URLS_ERROR" not in environment


def test_serve_and_make_run_take_the_flow() -> None:
    from pathlib import Path

    from hydra_lambda_local.cli import parser

    assert parser().parse_args(["serve"]).flow == ""
    assert parser().parse_args(["serve", "--flow", "current"]).flow == "current"
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--flow", "newest"])
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "$(if $(FLOW),--flow $(FLOW))" in makefile


def test_standalone_command_with_the_admin_address_needs_no_client(capsys: pytest.CaptureFixture[str]) -> None:
    from hydra_lambda_local.cli import main

    assert main(["consent-app", "--api", "http://127.0.0.1:1", "--admin-url", "http://127.0.0.1:1/"]) == 1
    err = capsys.readouterr().err
    assert "the admin API at http://127.0.0.1:1 does not answer" in err and "--client-id" not in err
