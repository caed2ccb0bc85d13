"""The device authorization grant (RFC 8628) against the local server, with the current flow on and a
device page, login and consent app written only against Ory's generated SDK (``ory-hydra-client``:
``accept_user_code_request`` and the login/consent calls; its ``DeviceAuthorization`` model reads
``/oauth2/device/auth``'s answer). The browser is a ``requests`` session following redirects one by
one; the device polls the token endpoint with plain requests. One server for the module."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from jose import jwt

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, free_port, unique

pytestmark = pytest.mark.e2e

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def sdk_api(host: str, token: str | None = None) -> Any:
    import ory_hydra_client
    from ory_hydra_client.api.o_auth2_api import OAuth2Api

    configuration = ory_hydra_client.Configuration(host=host)
    if token is None:
        return OAuth2Api(ory_hydra_client.ApiClient(configuration))
    return OAuth2Api(ory_hydra_client.ApiClient(configuration, header_name="Authorization",
                                                 header_value=f"Bearer {token}"))


class SdkApp:
    """GET /device (enters ``user_code``), /login, /consent: each answered by redirecting to what the
    SDK returns. ``reject`` makes the consent app refuse."""

    def __init__(self) -> None:
        self.api: Any = None
        self.user_code = ""
        self.subject = "device-user"
        self.reject = False
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
                except Exception as exc:
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

    def device(self, query: dict[str, str]) -> str:
        from ory_hydra_client.models import AcceptDeviceUserCodeRequest

        self.seen.append(("device", query))
        done = self.api.accept_user_code_request(
            query["device_challenge"], accept_device_user_code_request=AcceptDeviceUserCodeRequest(
                user_code=query.get("user_code") or self.user_code))
        return done.redirect_to

    def login(self, query: dict[str, str]) -> str:
        from ory_hydra_client.models import AcceptOAuth2LoginRequest

        request = self.api.get_o_auth2_login_request(query["login_challenge"])
        self.seen.append(("login", request))
        subject = request.subject if request.skip else self.subject
        return self.api.accept_o_auth2_login_request(
            request.challenge, accept_o_auth2_login_request=AcceptOAuth2LoginRequest(
                subject=subject, remember=True, remember_for=3600)).redirect_to

    def consent(self, query: dict[str, str]) -> str:
        from ory_hydra_client.models import (
            AcceptOAuth2ConsentRequest,
            AcceptOAuth2ConsentRequestSession,
            RejectOAuth2Request,
        )

        request = self.api.get_o_auth2_consent_request(query["consent_challenge"])
        self.seen.append(("consent", request))
        if self.reject:
            return self.api.reject_o_auth2_consent_request(
                request.challenge, reject_o_auth2_request=RejectOAuth2Request(
                    error="access_denied", error_description="The user said no.")).redirect_to
        return self.api.accept_o_auth2_consent_request(
            request.challenge, accept_o_auth2_consent_request=AcceptOAuth2ConsentRequest(
                grant_scope=request.requested_scope,
                session=AcceptOAuth2ConsentRequestSession(id_token={"email": "device@example.com"}))).redirect_to

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
                          "URLS_DEVICE_VERIFICATION": f"{app.url}/device",
                          "URLS_DEVICE_SUCCESS": f"{app.url}/done"})
    app.api = sdk_api(f"http://127.0.0.1:{admin_port}")
    yield server, f"http://127.0.0.1:{admin_port}"
    server.stop()


def root_token(api: str, scope: str) -> str:
    answer = requests.post(f"{api}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                           data={"grant_type": "client_credentials", "scope": scope}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def register(api: str, grant_types: list[str] | None = None, public: bool = False) -> tuple[str, str | None]:
    body: dict[str, Any] = {"id": unique("device"), "client_name": "A TV", "response_types": ["code"],
                            "grant_types": grant_types or [DEVICE_GRANT, "refresh_token"],
                            "scope": "openid offline email", "redirect_uris": []}
    if public:
        body["public"] = True
    answer = requests.post(f"{api}/clients", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {root_token(api, 'hydra.clients')}"})
    assert answer.status_code == 201, answer.text
    return body["id"], answer.json().get("client_secret")


def device_authorization(server: LocalServer, client: tuple[str, str | None], scope: str = "openid offline email"):
    from ory_hydra_client.models import DeviceAuthorization

    answer = requests.post(f"{server.url}/oauth2/device/auth", data={"scope": scope, "client_id": client[0]},
                           auth=(client[0], client[1]) if client[1] else None, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    return DeviceAuthorization.from_json(answer.text)


def poll(server: LocalServer, client: tuple[str, str | None], device_code: str) -> requests.Response:
    data = {"grant_type": DEVICE_GRANT, "device_code": device_code}
    if client[1] is None:
        data["client_id"] = client[0]
    return requests.post(f"{server.url}/oauth2/token", data=data, timeout=10,
                         auth=(client[0], client[1]) if client[1] else None)


def browse(browser: requests.Session, url: str, stop: str) -> str:
    for _ in range(14):
        if url.startswith(stop):
            return url
        answer = browser.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), (url, answer.status_code, answer.text[:500])
        url = requests.compat.urljoin(url, answer.headers["Location"])
    raise AssertionError(f"too many redirects, last {url}")


def approve(server: LocalServer, app: SdkApp, user_code: str, via_complete: str = "") -> None:
    app.user_code, app.seen, app.reject = user_code, [], False
    landed = browse(requests.Session(), via_complete or f"{server.url}/oauth2/device/verify", f"{app.url}/done")
    assert landed == f"{app.url}/done"


def test_discovery_names_the_device_endpoint_and_grant(stack: tuple[LocalServer, str]) -> None:
    server, _admin = stack
    document = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    assert document["device_authorization_endpoint"] == f"{server.url}/oauth2/device/auth"
    assert DEVICE_GRANT in document["grant_types_supported"]


def test_a_device_login_polls_then_gets_tokens_once(stack: tuple[LocalServer, str], app: SdkApp) -> None:
    server, admin = stack
    client = register(server.url)
    started = device_authorization(server, client)
    assert started.verification_uri == f"{server.url}/oauth2/device/verify"
    assert started.verification_uri_complete == f"{server.url}/oauth2/device/verify?user_code={started.user_code}"
    assert started.interval == 5 and started.expires_in == 600
    assert len(started.user_code) == 9 and started.user_code[4] == "-"

    pending = poll(server, client, started.device_code)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    too_fast = poll(server, client, started.device_code)
    assert too_fast.status_code == 400 and too_fast.json()["error"] == "slow_down"

    app.subject = unique("tv-user")
    approve(server, app, started.user_code.lower().replace("-", " "))  # case and separators do not matter
    assert [kind for kind, _ in app.seen] == ["device", "login", "consent"], app.seen
    login = app.seen[1][1]
    assert login.client.client_id == client[0] and login.requested_scope == ["openid", "offline", "email"]

    tokens = poll(server, client, started.device_code)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "bearer" and body["refresh_token"] and body["scope"] == "openid offline email"
    jwks = requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()
    claims = jwt.decode(body["id_token"], jwks, algorithms=["RS256"], audience=client[0], issuer=server.url,
                        access_token=body["access_token"])
    assert claims["sub"] == app.subject and claims["email"] == "device@example.com" and claims["sid"]
    introspected = requests.post(f"{admin}/oauth2/introspect", data={"token": body["access_token"]}, timeout=10)
    assert introspected.json()["active"] is True and introspected.json()["sub"] == app.subject

    again = poll(server, client, started.device_code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    refreshed = requests.post(f"{server.url}/oauth2/token", auth=client, timeout=10,
                              data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


def test_the_clients_device_lifespans_apply(stack: tuple[LocalServer, str], app: SdkApp) -> None:
    from hydra_lambda.storage.tables import ClientRecord, connection

    server, _admin = stack
    client = register(server.url)
    connection().update(ClientRecord(client[0]), actions=[ClientRecord.lifespans.set({
        "device_authorization_grant_access_token_lifespan": 120,
        "device_authorization_grant_refresh_token_lifespan": 7200})])
    started = device_authorization(server, client, scope="offline")
    approve(server, app, started.user_code)
    tokens = poll(server, client, started.device_code).json()
    assert tokens["expires_in"] == 120
    introspected = requests.post(f"{server.url}/oauth2/introspect", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                                 data={"token": tokens["refresh_token"]}, timeout=10).json()
    assert 7100 < introspected["exp"] - introspected["iat"] <= 7200


def test_two_racing_polls_get_the_tokens_once(stack: tuple[LocalServer, str], app: SdkApp) -> None:
    server, _admin = stack
    client = register(server.url, public=True)
    started = device_authorization(server, (client[0], None), scope="openid")
    approve(server, app, "", via_complete=started.verification_uri_complete)  # the code rides the URL
    assert app.seen[0][1]["user_code"] == started.user_code
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: poll(server, (client[0], None), started.device_code), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400], [a.text for a in answers]
    assert {a.json()["error"] for a in answers if a.status_code == 400} == {"invalid_grant"}


def test_wrong_user_codes_are_limited_per_challenge(stack: tuple[LocalServer, str], app: SdkApp) -> None:
    from ory_hydra_client.exceptions import ApiException
    from ory_hydra_client.models import AcceptDeviceUserCodeRequest

    server, _admin = stack
    client = register(server.url)
    started = device_authorization(server, client)
    browser = requests.Session()
    start = browser.get(f"{server.url}/oauth2/device/verify", allow_redirects=False, timeout=10)
    assert start.status_code == 302 and start.headers["Location"].startswith(f"{app.url}/device?")
    challenge = parse_qs(urlsplit(start.headers["Location"]).query)["device_challenge"][0]

    def enter(code: str) -> Any:
        return app.api.accept_user_code_request(challenge, accept_device_user_code_request=AcceptDeviceUserCodeRequest(
            user_code=code))

    for attempt in range(5):
        with pytest.raises(ApiException) as wrong:
            enter("BCDF-GHJK" if attempt % 2 else "not a code")
        assert wrong.value.status == 400 and "attempts left" in wrong.value.body
    with pytest.raises(ApiException) as exhausted:
        enter(started.user_code)  # the right code, too late: the challenge is spent
    assert exhausted.value.status == 410
    with pytest.raises(ApiException) as unknown:
        app.api.accept_user_code_request(unique("nochallenge"), accept_device_user_code_request=(
            AcceptDeviceUserCodeRequest(user_code=started.user_code)))
    assert unknown.value.status == 404 and "error" in unknown.value.body

    # The user code itself still works from a new visit, once; then it is used.
    app.subject = unique("tv-user")
    approve(server, app, started.user_code)
    assert poll(server, client, started.device_code).status_code == 200
    with pytest.raises(ApiException) as used:
        second = browser.get(f"{server.url}/oauth2/device/verify", allow_redirects=False, timeout=10)
        fresh = parse_qs(urlsplit(second.headers["Location"]).query)["device_challenge"][0]
        app.api.accept_user_code_request(fresh, accept_device_user_code_request=AcceptDeviceUserCodeRequest(
            user_code=started.user_code))
    assert used.value.status == 400


def test_a_rejected_consent_gives_the_device_access_denied(stack: tuple[LocalServer, str], app: SdkApp) -> None:
    server, _admin = stack
    client = register(server.url)
    started = device_authorization(server, client)
    app.user_code, app.seen, app.reject = started.user_code, [], True
    try:
        page = requests.Session()
        url = f"{server.url}/oauth2/device/verify"
        for _ in range(10):
            answer = page.get(url, allow_redirects=False, timeout=10)
            if answer.status_code != 302:
                break
            url = requests.compat.urljoin(url, answer.headers["Location"])
    finally:
        app.reject = False
    assert answer.status_code == 400 and "access_denied" in answer.text
    denied = poll(server, client, started.device_code)
    assert denied.status_code == 400 and denied.json()["error"] == "access_denied"


def test_the_device_endpoints_refuse_bad_requests(stack: tuple[LocalServer, str], app: SdkApp) -> None:
    server, _admin = stack
    device_client = register(server.url)
    code_client = register(server.url, grant_types=["client_credentials"])

    not_allowed = requests.post(f"{server.url}/oauth2/device/auth", auth=code_client, data={"scope": "openid"},
                                timeout=10)
    assert not_allowed.status_code == 400 and not_allowed.json()["error"] == "unauthorized_client"
    bad_scope = requests.post(f"{server.url}/oauth2/device/auth", auth=device_client, data={"scope": "admin"},
                              timeout=10)
    assert bad_scope.status_code == 400 and bad_scope.json()["error"] == "invalid_scope"
    no_client = requests.post(f"{server.url}/oauth2/device/auth", data={"scope": "openid"}, timeout=10)
    assert no_client.status_code == 401 and no_client.json()["error"] == "invalid_client"

    unknown = poll(server, device_client, "no-such-device-code")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    missing = requests.post(f"{server.url}/oauth2/token", auth=device_client, data={"grant_type": DEVICE_GRANT},
                            timeout=10)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    started = device_authorization(server, device_client)
    other = register(server.url)
    stolen = poll(server, other, started.device_code)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"

    _expire(started.device_code)
    expired = poll(server, device_client, started.device_code)
    assert expired.status_code == 400 and expired.json()["error"] == "expired_token"


def test_the_browser_legs_are_bound_to_the_browser_that_started(stack: tuple[LocalServer, str],
                                                                app: SdkApp) -> None:
    from ory_hydra_client.models import AcceptDeviceUserCodeRequest

    server, _admin = stack
    client = register(server.url)
    started = device_authorization(server, client)
    browser = requests.Session()
    start = browser.get(f"{server.url}/oauth2/device/verify", allow_redirects=False, timeout=10)
    challenge = parse_qs(urlsplit(start.headers["Location"]).query)["device_challenge"][0]
    done = app.api.accept_user_code_request(challenge, accept_device_user_code_request=AcceptDeviceUserCodeRequest(
        user_code=started.user_code))
    assert done.redirect_to.startswith(f"{server.url}/oauth2/device/verify?device_challenge={challenge}&")

    elsewhere = requests.get(done.redirect_to, allow_redirects=False, timeout=10)  # no binding cookie
    assert elsewhere.status_code == 400 and "CSRF" in elsewhere.text
    forged = browser.get(done.redirect_to[:-4] + "AAAA", allow_redirects=False, timeout=10)
    assert forged.status_code == 400 and "verifier" in forged.text
    onward = browser.get(done.redirect_to, allow_redirects=False, timeout=10)
    assert onward.status_code == 302 and onward.headers["Location"].startswith(f"{app.url}/login?login_challenge=")
    replay = browser.get(done.redirect_to, allow_redirects=False, timeout=10)
    assert replay.status_code == 400  # the device verifier is used once


def test_a_login_of_the_authorization_endpoint_is_not_redeemed_at_the_device_verify(
        stack: tuple[LocalServer, str], app: SdkApp) -> None:
    server, _admin = stack
    redirect = "http://127.0.0.1:9/callback"
    client = register(server.url, grant_types=["authorization_code"])
    requests.put(f"{server.url}/clients/{client[0]}", timeout=10, json={
        "id": client[0], "redirect_uris": [redirect], "grant_types": ["authorization_code"],
        "response_types": ["code"], "scope": "openid"},
        headers={"Authorization": f"Bearer {root_token(server.url, 'hydra.clients')}"}).raise_for_status()
    browser = requests.Session()
    to_login = browser.get(f"{server.url}/oauth2/auth", allow_redirects=False, timeout=10, params={
        "client_id": client[0], "redirect_uri": redirect, "response_type": "code", "scope": "openid",
        "state": "state-of-the-rp"})
    back = browser.get(to_login.headers["Location"], allow_redirects=False, timeout=10)  # the app accepts
    assert back.headers["Location"].startswith(f"{server.url}/oauth2/auth?"), back.headers
    query = urlsplit(back.headers["Location"]).query
    elsewhere = browser.get(f"{server.url}/oauth2/device/verify?{query}", allow_redirects=False, timeout=10)
    assert elsewhere.status_code == 400 and "login request is unknown" in elsewhere.text


def test_the_accept_route_on_the_public_api_needs_a_token(stack: tuple[LocalServer, str]) -> None:
    from ory_hydra_client.exceptions import ApiException
    from ory_hydra_client.models import AcceptDeviceUserCodeRequest

    server, _admin = stack
    body = AcceptDeviceUserCodeRequest(user_code="BCDF-GHJK")
    with pytest.raises(ApiException) as refused:
        sdk_api(server.url).accept_user_code_request("abc", accept_device_user_code_request=body)
    assert refused.value.status == 401
    with pytest.raises(ApiException) as unknown:
        sdk_api(server.url, root_token(server.url, "hydra.consent")).accept_user_code_request(
            "abc", accept_device_user_code_request=body)
    assert unknown.value.status == 404


def _expire(device_code: str) -> None:
    """Age the device row past its expiry (DynamoDB's TTL has not removed it yet)."""
    from hydra_lambda.authorization.device import device_signature
    from hydra_lambda.storage import device as store
    from hydra_lambda.storage.tables import DeviceRecord, connection

    signature = device_signature(device_code)
    record = DeviceRecord(store._shard("device", signature), signature)
    connection().update(record, actions=[DeviceRecord.expires_at.set(1)])
