"""A real headless Chromium through the whole code flow: the application's authorize URL (PKCE), the
example consent app started by ``hydra-lambda serve`` (sign in, untick a scope, allow or deny), back
through the API to the application's callback, then the code exchanged by authlib and the tokens
checked (ID token signature against the JWKS, /userinfo)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hydra_lambda_local.consent_app import allow_consent_requests, provision_client

from tests.support import (
    ROOT,
    ROOT_CLIENT_ID,
    ROOT_CLIENT_SECRET,
    LocalServer,
    free_port,
    serve_with_consent_app,
    wait_for,
)

pytestmark = pytest.mark.e2e

SCREENSHOT = "/tmp/consent.png"


class _Callback(BaseHTTPRequestHandler):
    """The application's redirect URI: it only shows that the browser arrived."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b"<!doctype html><title>callback</title><p id=done>back at the application</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def callback() -> Iterator[str]:
    app = ThreadingHTTPServer(("127.0.0.1", 0), _Callback)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{app.server_address[1]}/callback"
    app.shutdown()
    app.server_close()


@pytest.fixture(scope="module")
def stack(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[tuple[LocalServer, str]]:
    """``hydra-lambda serve`` with the consent app on a free port (CONSENT_URL its local default)."""
    # POLICY_CACHE_SECONDS=0: the server sees policies this test process writes at once.
    server, consent_url = serve_with_consent_app(aws, POLICY_CACHE_SECONDS="0")
    yield server, consent_url
    server.stop()


def root_token(api: str, scope: str) -> str:
    answer = requests.post(f"{api}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                           data={"grant_type": "client_credentials", "scope": scope}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def register(api: str, redirect_uri: str) -> tuple[str, str]:
    """An application, registered through POST /clients as an operator would."""
    body = {"id": f"web-{uuid.uuid4().hex[:10]}", "client_name": "Photo printer", "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "scope": "openid offline profile email photos.read"}
    answer = requests.post(f"{api}/clients", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {root_token(api, 'hydra.clients')}"})
    assert answer.status_code == 201, answer.text
    return body["id"], answer.json()["client_secret"]


def session(api: str, client: tuple[str, str], redirect_uri: str) -> Any:
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(client[0], client[1], scope="openid offline profile email photos.read",
                         redirect_uri=redirect_uri, code_challenge_method="S256")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_sign_in_and_allow_with_pkce(stack: tuple[LocalServer, str], callback: str, chromium: Any) -> None:
    from authlib.common.security import generate_token
    from jose import jwt

    server, consent_url = stack
    client = register(server.url, callback)
    oauth = session(server.url, client, callback)
    verifier, nonce = generate_token(48), generate_token(16)
    auth_url, state = oauth.create_authorization_url(f"{server.url}/oauth2/auth", code_verifier=verifier, nonce=nonce)
    assert "code_challenge=" in auth_url and "code_challenge_method=S256" in auth_url

    page = chromium.new_page()
    page.goto(auth_url)
    assert page.url.startswith(consent_url + "?consent=")
    assert page.locator("#client-id").inner_text() == client[0]
    assert page.locator("#client-name").inner_text() == "Photo printer"  # client_name, not the id
    assert page.locator("input[name=scope]").evaluate_all("els => els.map(e => e.value)") == [
        "openid", "offline", "profile", "email", "photos.read"]
    page.screenshot(path=SCREENSHOT, full_page=True)

    # A wrong password first: the form comes back with a message and nothing is answered.
    page.fill("#username", "alice")
    page.fill("#password", "not-the-password")
    page.click("#accept")
    assert page.locator("[role=alert]").inner_text() == "Wrong username or password."
    assert page.url.startswith(consent_url)

    page.fill("#password", "alice-password")
    page.uncheck("input[name=scope][value='photos.read']")
    page.uncheck("input[name=scope][value='profile']")  # so no name may reach the application (issue 25)
    with page.expect_navigation(url=lambda url: url.startswith(callback)):
        page.press("#password", "Enter")  # Enter submits with the first button: Allow, never Deny
    callback_url = page.url
    landed = query(callback_url)
    assert page.locator("#done").inner_text() == "back at the application"
    page.close()
    assert landed["state"] == state
    assert landed["iss"] == server.url
    assert "error" not in landed and landed["code"]

    token = oauth.fetch_token(f"{server.url}/oauth2/token", authorization_response=callback_url,
                              code_verifier=verifier)
    assert set(token["scope"].split()) == {"openid", "offline", "email"}  # photos.read and profile were unticked
    assert token["refresh_token"] and token["access_token"]

    jwks = requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()
    claims = jwt.decode(token["id_token"], jwks, algorithms=["RS256", "ES256"], audience=client[0],
                        issuer=server.url, access_token=token["access_token"])
    assert claims["sub"] == "alice" and claims["nonce"] == nonce
    assert claims["email"] == "alice@example.com" and "name" not in claims  # profile unticked: no name

    userinfo = requests.get(f"{server.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json() == {"sub": "alice", "email": "alice@example.com"}

    # The code was single use: a second redemption fails.
    again = requests.post(f"{server.url}/oauth2/token", auth=client, timeout=10,
                          data={"grant_type": "authorization_code", "code": landed["code"],
                                "redirect_uri": callback, "code_verifier": verifier})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_deny_returns_access_denied(stack: tuple[LocalServer, str], callback: str, chromium: Any) -> None:
    server, consent_url = stack
    client = register(server.url, callback)
    oauth = session(server.url, client, callback)
    from authlib.common.security import generate_token

    auth_url, state = oauth.create_authorization_url(f"{server.url}/oauth2/auth", code_verifier=generate_token(48),
                                                     nonce=generate_token(16))
    page = chromium.new_page()
    page.goto(auth_url)
    assert page.url.startswith(consent_url)
    with page.expect_navigation(url=lambda url: url.startswith(callback)):
        page.click("#deny")  # no sign-in needed to say no
    landed = query(page.url)
    page.close()
    assert landed["error"] == "access_denied"
    assert landed["state"] == state
    assert "code" not in landed


def test_the_consent_page_cannot_be_framed(stack: tuple[LocalServer, str], chromium: Any) -> None:
    """Chromium itself refuses to show the consent app inside a frame (clickjacking)."""
    server, consent_url = stack
    page = chromium.new_page()
    page.goto(f"{server.url}/health/status")
    with page.expect_event("framenavigated", predicate=lambda frame: frame != page.main_frame):
        page.evaluate("""url => { const f = document.createElement('iframe'); f.src = url;
                                 document.body.appendChild(f); }""", f"{consent_url}?consent=x")
    child = next(frame for frame in page.frames if frame != page.main_frame)
    assert child.url.startswith("chrome-error://")  # blocked: Chromium shows its error page instead
    page.close()


def test_provisioning_replaces_a_leftover_client(stack: tuple[LocalServer, str]) -> None:
    server, _ = stack
    client_id = f"consent-app-{uuid.uuid4().hex[:8]}"
    first = provision_client(server.url, (ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), client_id)
    second = provision_client(server.url, (ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), client_id)  # 409, then anew
    assert first[0] == second[0] == client_id and first[1] != second[1]

    def grant(secret: str, scope: str) -> requests.Response:
        return requests.post(f"{server.url}/oauth2/token", auth=(client_id, secret), timeout=10,
                             data={"grant_type": "client_credentials", "scope": scope})

    assert grant(second[1], "hydra.consent").status_code == 200
    assert grant(first[1], "hydra.consent").status_code == 401
    assert grant(second[1], "hydra.clients").status_code == 200  # read clients, to name them on the page
    assert grant(second[1], "hydra.policies").status_code == 400  # it holds hydra.consent and hydra.clients only


def test_standalone_consent_app_answers_through_the_real_api(stack: tuple[LocalServer, str], callback: str) -> None:
    """``hydra-lambda consent-app`` with an operator-made client and policy, against the real API."""
    server, _ = stack
    app_client = provision_client(server.url, (ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), f"op-{uuid.uuid4().hex[:8]}")
    allow_consent_requests(app_client[0])
    port = free_port()
    env = {**os.environ, "CONSENT_APP_CLIENT_SECRET": app_client[1]}
    process = subprocess.Popen(
        [sys.executable, "-m", "hydra_lambda_local.cli", "consent-app", "--api", server.url,
         "--client-id", app_client[0], "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    app = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(app + "/", timeout=2).status_code == 200, 30, "consent-app")
        client = register(server.url, callback)
        first = requests.get(f"{server.url}/oauth2/auth", allow_redirects=False, timeout=10, params={
            "client_id": client[0], "response_type": "code", "redirect_uri": callback, "scope": "openid",
            "state": "state-standalone"})
        assert first.status_code == 302, first.text
        consent_id = query(first.headers["Location"])["consent"]
        with requests.Session() as browser:
            page = browser.get(f"{app}/consent", params={"consent": consent_id}, timeout=10)
            assert page.status_code == 200 and client[0] in page.text
            csrf = re.search(r'name="csrf" value="([^"]*)"', page.text).group(1)
            answer = browser.post(f"{app}/consent", allow_redirects=False, timeout=10,
                                  data={"consent": consent_id, "csrf": csrf, "action": "deny"})
        assert answer.status_code == 302
        back = requests.get(answer.headers["Location"], cookies=first.cookies, allow_redirects=False, timeout=10)
        assert back.status_code == 302 and query(back.headers["Location"])["error"] == "access_denied"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert f"consent app listening on {app}/consent" in output
    assert app_client[1] not in output
