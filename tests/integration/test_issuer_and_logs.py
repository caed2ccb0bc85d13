"""The issuer is configuration, never a request's Host; no log line holds a secret-bearing query
parameter (issue #14). The logs are those of complete flows through ``serve --verbose``'s server."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from hydra_lambda.config import ConfigError, Settings

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, TEMPLATE, call, free_port
from tests.support_flows import NONCE, REDIRECT, STATE, make_client


def test_an_empty_issuer_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="ISSUER"):
        Settings.from_env({"ISSUER": ""})


def test_the_request_host_never_becomes_the_issuer() -> None:
    from hydra_lambda_local.routes import load_routes, routed_event
    from hydra_lambda_local.server import invoke

    route, event = routed_event(load_routes(TEMPLATE), "GET", "/.well-known/openid-configuration",
                                headers={"Host": "evil.example.com"})
    event["requestContext"]["domainName"] = "evil.example.com"
    out = invoke(route, event)
    assert out["statusCode"] == 200
    assert "evil.example.com" not in out["body"]
    assert call("GET", "/.well-known/openid-configuration").json["issuer"] == "http://127.0.0.1:4444"


@pytest.fixture
def verbose_server() -> Iterator[str]:
    from hydra_lambda_local.server import LocalServer

    server = LocalServer("127.0.0.1", free_port(), TEMPLATE, verbose=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _on(base: str, url: str) -> str:
    """The same path and query on the test server (the issuer in the tests is :4444)."""
    parts = urlsplit(url)
    return f"{base}{parts.path}?{parts.query}"


def test_logs_of_complete_flows_hold_no_secret(verbose_server: str, capfd: pytest.CaptureFixture[str]) -> None:
    base = verbose_server
    client_id, secret = make_client(scope="openid offline")
    assert secret is not None
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    browser = requests.Session()
    query = {"client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid offline",
             "state": STATE, "nonce": NONCE, "code_challenge": challenge, "code_challenge_method": "S256"}
    first = browser.get(f"{base}/oauth2/auth", params=query, allow_redirects=False, timeout=10)
    consent_id = parse_qs(urlsplit(first.headers["Location"]).query)["consent"][0]
    cookie = next(iter(browser.cookies.values()))
    admin_token = requests.post(f"{base}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), timeout=10,
                                data={"grant_type": "client_credentials", "scope": "hydra.consent"}).json()
    bearer = {"Authorization": f"Bearer {admin_token['access_token']}"}
    request = requests.get(f"{base}/oauth2/consent/requests/{consent_id}", headers=bearer, timeout=10).json()
    consent_verifier = parse_qs(urlsplit(request["redirectUrl"]).query)["consent_verifier"][0]
    assert requests.patch(f"{base}/oauth2/consent/requests/{consent_id}/accept", headers=bearer, timeout=10,
                          json={"subject": "alice", "grantScopes": ["openid", "offline"]}).status_code == 204
    second = browser.get(_on(base, request["redirectUrl"]), allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(second.headers["Location"]).query)["code"][0]
    tokens = requests.post(f"{base}/oauth2/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
        "client_id": client_id, "client_secret": secret}).json()
    refreshed = requests.post(f"{base}/oauth2/token", auth=(client_id, secret), timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
    assert requests.get(f"{base}/userinfo", headers={"Authorization": f"Bearer {refreshed['access_token']}"},
                        timeout=10).status_code == 200
    # A careless client puts every secret in query strings; the server refuses, and logs none of them.
    leaked = {"code": code, "consent_csrf": cookie, "consent_verifier": consent_verifier,
              "access_token": refreshed["access_token"], "refresh_token": refreshed["refresh_token"],
              "client_secret": secret, "code_verifier": verifier}
    requests.get(f"{base}/oauth2/auth?{urlencode({**query, **leaked})}", allow_redirects=False, timeout=10)
    requests.get(f"{base}/userinfo?{urlencode(leaked)}", timeout=10)
    requests.post(f"{base}/oauth2/revoke?{urlencode(leaked)}", auth=(client_id, secret), timeout=10,
                  data={"token": refreshed["refresh_token"]})
    out, err = capfd.readouterr()
    logs = out + err
    assert "/oauth2/consent/requests/{id}" in logs  # the access log was captured (route templates only)
    assert "consent_verifier=[redacted]" in logs and "code=[redacted]" in logs
    for name, value in {**leaked, "id_token": tokens["id_token"], "first_access_token": tokens["access_token"],
                        "first_refresh_token": tokens["refresh_token"]}.items():
        assert value not in logs, name


@pytest.mark.parametrize(("text", "expected"), [
    ("GET /cb?code=abc&state=s1", "GET /cb?code=[redacted]&state=s1"),
    ("x?code_challenge=c&code_verifier=v", "x?code_challenge=c&code_verifier=[redacted]"),
    ("next=%2Fcb%3Fcode%3Dabc%26state%3Ds", "next=%2Fcb%3Fcode%3D[redacted]%26state%3Ds"),
    ("a=1&client_secret=p%2Bq&b=2", "a=1&client_secret=[redacted]&b=2"),
    ("barcode=1&mycode=2", "barcode=1&mycode=2"),
    ("/oauth2/auth?client_id=c&login_verifier=lv1", "/oauth2/auth?client_id=c&login_verifier=[redacted]"),
    ("/oauth2/sessions/logout?logout_verifier=v2&x=1", "/oauth2/sessions/logout?logout_verifier=[redacted]&x=1"),
    ("device_code=d3&user_code=BCDF-GHJK", "device_code=[redacted]&user_code=[redacted]"),
])
def test_redaction(text: str, expected: str) -> None:
    from hydra_lambda.redaction import redact

    assert redact(text) == expected


def test_logger_lines_are_redacted() -> None:
    import io
    import logging

    from hydra_lambda.observability import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    underlying = logging.getLogger(logger.name)
    underlying.addHandler(handler)
    try:
        logger.warning("redirect to %s", "https://app/cb?code=hl_ac_secret1&state=x", extra={"url": "/?token=secret2"})
    finally:
        underlying.removeHandler(handler)
    out = buffer.getvalue()
    assert '"url"' in out
    assert "hl_ac_secret1" not in out and "secret2" not in out and "code=[redacted]" in out


def test_on_lambda_an_empty_issuer_is_the_apis_own_url_from_its_id_never_the_domain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hydra_lambda.config import get_settings, reset_settings
    from hydra_lambda_local.routes import load_routes, routed_event
    from hydra_lambda_local.server import invoke

    monkeypatch.setenv("ISSUER", "")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "DiscoveryFunction")
    reset_settings()
    region = get_settings().aws_region
    try:
        route, event = routed_event(load_routes(TEMPLATE), "GET", "/.well-known/openid-configuration",
                                    headers={"Host": "evil.example.com"})
        event["requestContext"].update(domainName="evil.example.com", apiId="a1b2c3d4e5")
        out = invoke(route, event)
        assert out["statusCode"] == 200
        expected = f"https://a1b2c3d4e5.execute-api.{region}.amazonaws.com"
        assert json.loads(out["body"])["issuer"] == expected
        assert "evil.example.com" not in out["body"]
        assert get_settings().issuer == expected
    finally:
        monkeypatch.undo()
        reset_settings()
