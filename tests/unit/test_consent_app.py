"""The example consent app against a FAKE admin API (a tiny HTTP server in the test that hands out
canned consent requests and records the PATCH calls), so the app is tested on the wire contract."""

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

    def do_GET(self) -> None:
        if not self._authorized():
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
