"""Consent fixation (issue #14): the second leg of /oauth2/auth needs both the cookie of the browser
that started the flow and a verifier only the consent app learns through the admin API.

End to end over HTTP: ``hydra-lambda serve`` and the example consent app, each party with its own
cookie jar. The attacker starts a flow and keeps everything the server gave them; the victim signs in
and allows in the consent app; the attacker then tries every way to finish it with what they hold."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from hydra_lambda_local import consent_app

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer
from tests.support_flows import NONCE, REDIRECT, STATE, make_client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app(server: LocalServer) -> Iterator[consent_app.ConsentApp]:
    api = consent_app.AdminApi(server.url, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    instance = consent_app.start("127.0.0.1", 0, api, consent_app.parse_users(consent_app.DEFAULT_USERS))
    yield instance
    instance.shutdown()
    instance.server_close()


def _qs(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _start(server: LocalServer, browser: requests.Session, client_id: str) -> tuple[str, dict[str, str]]:
    query = {"client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid offline",
             "state": STATE, "nonce": NONCE}
    first = browser.get(f"{server.url}/oauth2/auth", params=query, allow_redirects=False, timeout=10)
    assert first.status_code == 302, first.text
    return _qs(first.headers["Location"])["consent"], query


def _allow_in_consent_app(app: consent_app.ConsentApp, browser: requests.Session, consent_id: str) -> str:
    """The user signs in as alice and allows; returns where the consent app sends the browser."""
    import re

    page = browser.get(f"{app.url}/consent", params={"consent": consent_id}, timeout=10)
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
    assert csrf is not None
    answer = browser.post(f"{app.url}/consent", allow_redirects=False, timeout=10, data=[
        ("consent", consent_id), ("csrf", csrf.group(1)), ("username", "alice"), ("password", "alice-password"),
        ("scope", "openid"), ("scope", "offline"), ("action", "accept")])
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def _follow(browser: requests.Session, url: str) -> dict[str, str]:
    response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?"), location
    return _qs(location)


def test_an_attacker_cannot_finish_a_flow_the_victim_consented_to(
    server: LocalServer, app: consent_app.ConsentApp
) -> None:
    client_id, _ = make_client()
    attacker, victim = requests.Session(), requests.Session()
    consent_id, query = _start(server, attacker, client_id)
    (cookie_name,) = attacker.cookies.keys()
    cookie_value = attacker.cookies[cookie_name]

    # The victim opens the attacker's link, signs in and allows; their browser has no cookie, so the
    # second leg fails for them and they are sent back to the client with an error.
    back = _allow_in_consent_app(app, victim, consent_id)
    assert _follow(victim, back)["error"] == "invalid_request"

    # The attacker builds the second leg from everything they hold: the request, the consent id and
    # the cookie (the old scheme's consent_csrf was the cookie's value), in every combination.
    attempts = [
        {"consent": consent_id},
        {"consent": consent_id, "consent_csrf": cookie_value},
        {"consent": consent_id, "consent_verifier": cookie_value},
        {"consent": consent_id, "consent_verifier": hashlib.sha256(cookie_value.encode()).hexdigest()},
        {"consent": consent_id, "consent_csrf": cookie_value, "consent_verifier": consent_id},
    ]
    for extra in attempts:
        replay = requests.Session()  # a failed second leg clears the cookie; the attacker kept its value
        replay.cookies.set(cookie_name, cookie_value, domain="127.0.0.1", path="/oauth2/auth")
        got = _follow(replay, f"{server.url}/oauth2/auth?{urlencode({**query, **extra})}")
        assert "code" not in got, extra
        assert got["error"] in ("invalid_request", "access_denied"), got

    # The victim's browser brought the real verifier without the cookie: that spent the request, so
    # even a leaked verifier is worth nothing to the holder of the cookie afterwards.
    admin = consent_app.AdminApi(server.url, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    leaked = admin.get_request(consent_id).redirect_url
    assert _qs(leaked)["consent_verifier"] == _qs(back)["consent_verifier"]
    replay = requests.Session()
    replay.cookies.set(cookie_name, cookie_value, domain="127.0.0.1", path="/oauth2/auth")
    got = _follow(replay, leaked)
    assert "code" not in got and got["error"] == "invalid_request", got


def test_the_victims_own_flow_through_the_consent_app_still_works(
    server: LocalServer, app: consent_app.ConsentApp
) -> None:
    client_id, secret = make_client()
    victim = requests.Session()
    consent_id, _ = _start(server, victim, client_id)
    back = _allow_in_consent_app(app, victim, consent_id)
    got = _follow(victim, back)
    assert got["state"] == STATE
    token = requests.post(f"{server.url}/oauth2/token", auth=(client_id, secret), timeout=10,
                          data={"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT})
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "openid offline"
    # The redirect URL the consent app used is spent: replaying it in the same browser fails.
    again = victim.get(back, allow_redirects=False, timeout=10)
    assert "code=" not in again.headers["Location"]


def test_the_stored_row_holds_no_secret_of_the_flow(server: LocalServer) -> None:
    from hydra_lambda.storage.tables import ConsentRecord, bind

    client_id, _ = make_client()
    browser = requests.Session()
    consent_id, _ = _start(server, browser, client_id)
    (cookie_value,) = browser.cookies.values()
    admin = consent_app.AdminApi(server.url, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    verifier = _qs(admin.get_request(consent_id).redirect_url)["consent_verifier"]
    bind()
    row = str(ConsentRecord.get(consent_id, consistent_read=True).attribute_values)
    assert cookie_value not in row and verifier not in row
    assert verifier != cookie_value
