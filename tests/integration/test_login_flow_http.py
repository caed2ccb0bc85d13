"""The current login/consent flow over HTTP against the local server (`hydra-lambda serve` with
URLS_LOGIN and URLS_CONSENT): a `requests` session is the browser (its cookie jar keeps hl_session
and the CSRF cookie), the test plays the login and consent apps through Hydra's admin paths."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from jose import jwt

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, new_client
from tests.support_flows import NONCE, REDIRECT, STATE, qs

LOGIN_APP = "http://127.0.0.1:9/login"
CONSENT_APP = "http://127.0.0.1:9/consent"


@pytest.fixture(scope="module")
def server(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    instance = LocalServer({**aws, "URLS_LOGIN": LOGIN_APP, "URLS_CONSENT": CONSENT_APP})
    yield instance
    instance.stop()


def _token(server: LocalServer, scope: str) -> str:
    answer = requests.post(f"{server.url}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                           data={"grant_type": "client_credentials", "scope": scope}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


class App:
    """The login and consent apps, on Hydra's admin API."""

    def __init__(self, server: LocalServer) -> None:
        self.url = server.url + "/admin/oauth2/auth"
        self.headers = {"Authorization": f"Bearer {_token(server, 'hydra.consent')}"}

    def get(self, kind: str, challenge: str) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/requests/{kind}", params={f"{kind}_challenge": challenge},
                              headers=self.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def accept(self, kind: str, challenge: str, body: dict[str, Any]) -> str:
        answer = requests.put(f"{self.url}/requests/{kind}/accept", params={f"{kind}_challenge": challenge},
                              json=body, headers=self.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["redirect_to"]


def _hop(browser: requests.Session, url: str) -> str:
    answer = browser.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def _authorize(server: LocalServer, browser: requests.Session, client_id: str, **params: str) -> str:
    query = {"client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid offline",
             "state": STATE, "nonce": NONCE, **params}
    return _hop(browser, f"{server.url}/oauth2/auth?{urlencode(query)}")


def test_sso_silent_renew_and_consent_revocation_over_http(server: LocalServer) -> None:
    client_id, secret = new_client("app", redirect_uris=[REDIRECT], grant_types=["authorization_code", "refresh_token"],
                                   response_types=["code"], scope="openid offline")
    app, browser = App(server), requests.Session()
    to_login = _authorize(server, browser, client_id)
    assert to_login.startswith(LOGIN_APP)
    challenge = qs(to_login)["login_challenge"]
    assert app.get("login", challenge)["skip"] is False
    to_consent = _hop(browser, app.accept("login", challenge, {"subject": "erin", "remember": True,
                                                               "remember_for": 3600, "amr": ["pwd"]}))
    assert to_consent.startswith(CONSENT_APP) and "hl_session" in browser.cookies.get_dict()
    consent = app.get("consent", qs(to_consent)["consent_challenge"])
    callback = _hop(browser, app.accept("consent", consent["challenge"], {"grant_scope": ["openid", "offline"],
                                                                          "remember": True}))
    assert callback.startswith(REDIRECT) and qs(callback)["state"] == STATE
    tokens = requests.post(f"{server.url}/oauth2/token", auth=(client_id, secret or ""), timeout=10,
                           data={"grant_type": "authorization_code", "code": qs(callback)["code"],
                                 "redirect_uri": REDIRECT}).json()
    claims = jwt.get_unverified_claims(tokens["id_token"])
    assert claims["sid"] == consent["login_session_id"] and claims["amr"] == ["pwd"]

    # Silent renew: prompt=none with the session and the remembered consent, both skipped.
    to_login = _authorize(server, browser, client_id, prompt="none")
    challenge = qs(to_login)["login_challenge"]
    login = app.get("login", challenge)
    assert login["skip"] is True and login["subject"] == "erin"
    to_consent = _hop(browser, app.accept("login", challenge, {"subject": "erin"}))
    assert app.get("consent", challenge)["skip"] is True
    callback = _hop(browser, app.accept("consent", challenge, {"grant_scope": ["openid", "offline"]}))
    assert qs(callback)["code"]

    # Another browser: no session, prompt=none is login_required at the client.
    assert qs(_authorize(server, requests.Session(), client_id, prompt="none"))["error"] == "login_required"

    # Revoking the consent sessions revokes the tokens.
    revoked = requests.delete(f"{app.url}/sessions/consent", params={"subject": "erin", "all": "true"},
                              headers=app.headers, timeout=10)
    assert revoked.status_code == 204
    introspected = requests.post(f"{server.url}/oauth2/introspect", data={"token": tokens["access_token"]},
                                 headers={"Authorization": f"Bearer {_token(server, 'hydra.introspect')}"}, timeout=10)
    assert introspected.json() == {"active": False}
