"""A login, consent and logout app written only against Ory Hydra's published API, through Ory's own
generated Python SDK (``ory-hydra-client``), runs unchanged against the local server with the current
flow on: first on the token-less admin port (as Hydra's admin port 4445, where the SDK sends no
token), then on the public API with the SDK's default ``Authorization`` header. The relying party is
authlib; the browser is a ``requests`` session that follows redirects one by one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from jose import jwt

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, free_port, unique

pytestmark = pytest.mark.e2e

REDIRECT = "http://127.0.0.1:9/callback"  # never fetched: the browser stops at the client's redirect URI


def sdk_api(host: str, token: str | None = None) -> Any:
    """Ory's OAuth2Api as its README shows it; with ``token``, the default Authorization header."""
    import ory_hydra_client
    from ory_hydra_client.api.o_auth2_api import OAuth2Api

    configuration = ory_hydra_client.Configuration(host=host)
    if token is None:
        return OAuth2Api(ory_hydra_client.ApiClient(configuration))
    return OAuth2Api(ory_hydra_client.ApiClient(configuration, header_name="Authorization",
                                                 header_value=f"Bearer {token}"))


class SdkApp:
    """The app: GET /login, /consent, /logout, each answered by redirecting to what the SDK returns."""

    def __init__(self) -> None:
        self.api: Any = None
        self.subject = "sdk-user"
        self.seen: list[tuple[str, Any]] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                try:
                    location = getattr(app, url.path.strip("/"))(query)
                except Exception as exc:  # shown to the test, as a real app would log it
                    app.seen.append(("error", repr(exc)))
                    self.send_response(500)
                    self.end_headers()
                    return
                self.send_response(302)
                self.send_header("Location", location)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def login(self, query: dict[str, str]) -> str:
        from ory_hydra_client.models import AcceptOAuth2LoginRequest

        request = self.api.get_o_auth2_login_request(query["login_challenge"])
        self.seen.append(("login", request))
        subject = request.subject if request.skip else self.subject
        done = self.api.accept_o_auth2_login_request(
            request.challenge, accept_o_auth2_login_request=AcceptOAuth2LoginRequest(
                subject=subject, remember=True, remember_for=3600, acr="urn:example:pwd", amr=["pwd"]))
        return done.redirect_to

    def consent(self, query: dict[str, str]) -> str:
        from ory_hydra_client.models import AcceptOAuth2ConsentRequest, AcceptOAuth2ConsentRequestSession

        request = self.api.get_o_auth2_consent_request(query["consent_challenge"])
        self.seen.append(("consent", request))
        done = self.api.accept_o_auth2_consent_request(
            request.challenge, accept_o_auth2_consent_request=AcceptOAuth2ConsentRequest(
                grant_scope=request.requested_scope,
                grant_access_token_audience=request.requested_access_token_audience,
                remember=True, remember_for=3600,
                session=AcceptOAuth2ConsentRequestSession(id_token={"email": "sdk@example.com"})))
        return done.redirect_to

    def logout(self, query: dict[str, str]) -> str:
        request = self.api.get_o_auth2_logout_request(query["logout_challenge"])
        self.seen.append(("logout", request))
        return self.api.accept_o_auth2_logout_request(request.challenge).redirect_to

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def app() -> Iterator[SdkApp]:
    running = SdkApp()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stack(aws: dict[str, str], root_client: tuple[str, str], app: SdkApp) -> Iterator[tuple[LocalServer, str]]:
    admin_port = free_port()
    server = LocalServer({**aws, "POLICY_CACHE_SECONDS": "0", "ADMIN_PORT": str(admin_port),
                          "URLS_LOGIN": f"{app.url}/login", "URLS_CONSENT": f"{app.url}/consent",
                          "URLS_LOGOUT": f"{app.url}/logout"})
    yield server, f"http://127.0.0.1:{admin_port}"
    server.stop()


def root_token(api: str, scope: str) -> str:
    answer = requests.post(f"{api}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                           data={"grant_type": "client_credentials", "scope": scope}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def register(api: str) -> tuple[str, str]:
    body = {"id": unique("sdk-rp"), "client_name": "SDK relying party", "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "scope": "openid offline email", "post_logout_redirect_uris": [REDIRECT + "/out"]}
    answer = requests.post(f"{api}/clients", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {root_token(api, 'hydra.clients')}"})
    assert answer.status_code == 201, answer.text
    return body["id"], answer.json()["client_secret"]


def browse(browser: requests.Session, url: str, stop: str = REDIRECT) -> str:
    """Follow redirects as a browser does until one leads to ``stop``; that URL."""
    for _ in range(12):
        if url.startswith(stop):
            return url
        answer = browser.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), (url, answer.status_code, answer.text[:500])
        url = requests.compat.urljoin(url, answer.headers["Location"])
    raise AssertionError(f"too many redirects, last {url}")


def authorize(server: LocalServer, client: tuple[str, str], browser: requests.Session,
              **extra: str) -> tuple[Any, str, str]:
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session

    oauth = OAuth2Session(client[0], client[1], scope="openid offline email", redirect_uri=REDIRECT,
                          code_challenge_method="S256")
    verifier = generate_token(48)
    url, _state = oauth.create_authorization_url(f"{server.url}/oauth2/auth", code_verifier=verifier,
                                                 nonce=generate_token(16), **extra)
    landed = browse(browser, url)
    return oauth, landed, verifier


def id_token_claims(server: LocalServer, token: dict[str, Any], client_id: str) -> dict[str, Any]:
    jwks = requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()
    return jwt.decode(token["id_token"], jwks, algorithms=["RS256"], audience=client_id, issuer=server.url,
                      access_token=token["access_token"])


def test_an_ory_sdk_app_runs_the_flow_on_the_admin_port_without_a_token(
        stack: tuple[LocalServer, str], app: SdkApp) -> None:
    server, admin = stack
    app.api, app.subject, app.seen = sdk_api(admin), unique("sdk-user"), []
    client = register(server.url)
    browser = requests.Session()

    oauth, landed, verifier = authorize(server, client, browser)
    assert [kind for kind, _ in app.seen] == ["login", "consent"], app.seen
    login = app.seen[0][1]
    assert login.skip is False and login.client.client_id == client[0]
    assert login.requested_scope == ["openid", "offline", "email"]
    token = oauth.fetch_token(f"{server.url}/oauth2/token", authorization_response=landed, code_verifier=verifier)
    claims = id_token_claims(server, token, client[0])
    assert claims["sub"] == app.subject and claims["email"] == "sdk@example.com"
    assert claims["acr"] == "urn:example:pwd" and claims["amr"] == ["pwd"] and claims["sid"]

    # Again in the same browser: the login is skipped (same session, same sid), the consent remembered.
    app.seen = []
    oauth, landed, verifier = authorize(server, client, browser)
    (_, login), (_, consent) = app.seen
    assert login.skip is True and login.subject == app.subject and consent.skip is True
    again = id_token_claims(server, oauth.fetch_token(f"{server.url}/oauth2/token", authorization_response=landed,
                                                      code_verifier=verifier), client[0])
    assert again["sid"] == claims["sid"] and again["auth_time"] == claims["auth_time"]

    # The SDK's session routes: the consent session is listed, then revoked with its tokens.
    sessions = app.api.list_o_auth2_consent_sessions(app.subject)
    assert {s.consent_request.client.client_id for s in sessions} == {client[0]}
    live = requests.post(f"{admin}/oauth2/introspect", timeout=10, data={"token": token["access_token"]}).json()
    assert live["active"] is True and live["sub"] == app.subject
    app.api.revoke_o_auth2_consent_sessions(app.subject, client=client[0])
    introspected = requests.post(f"{admin}/oauth2/introspect", timeout=10, data={"token": token["access_token"]})
    assert introspected.json() == {"active": False}
    assert app.api.list_o_auth2_consent_sessions(app.subject) == []

    # Ending the login session: a silent renew now answers login_required.
    app.api.revoke_o_auth2_login_sessions(subject=app.subject)
    app.seen = []
    _oauth, landed, _verifier = authorize(server, client, browser, prompt="none")
    assert parse_qs(urlsplit(landed).query)["error"] == ["login_required"] and app.seen == []


def test_the_sdk_on_the_public_api_needs_its_bearer_header(stack: tuple[LocalServer, str], app: SdkApp) -> None:
    from ory_hydra_client.exceptions import ApiException

    server, _admin = stack
    with pytest.raises(ApiException) as refused:
        sdk_api(server.url).get_o_auth2_login_request("anything")
    assert refused.value.status == 401

    app.api = sdk_api(server.url, root_token(server.url, "hydra.consent"))
    app.subject, app.seen = unique("sdk-user"), []
    client = register(server.url)
    oauth, landed, verifier = authorize(server, client, requests.Session())
    token = oauth.fetch_token(f"{server.url}/oauth2/token", authorization_response=landed, code_verifier=verifier)
    assert id_token_claims(server, token, client[0])["sub"] == app.subject


def test_a_handled_login_request_answers_410_with_redirect_to(stack: tuple[LocalServer, str], app: SdkApp) -> None:
    from ory_hydra_client.exceptions import ApiException

    server, admin = stack
    app.api, app.subject, app.seen = sdk_api(admin), unique("sdk-user"), []
    authorize(server, register(server.url), requests.Session())
    challenge = app.seen[0][1].challenge
    with pytest.raises(ApiException) as gone:
        app.api.get_o_auth2_login_request(challenge)
    assert gone.value.status == 410 and "redirect_to" in gone.value.body
