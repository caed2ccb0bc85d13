"""A device login in a real headless Chromium (issue 26's "done when"): a client starts the device
flow and polls the token endpoint in a thread while the user opens the verification URI, enters the
user code on the bundled example app's device page, signs in and consents; the device then
receives its tokens."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, free_port

pytestmark = pytest.mark.e2e

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def stack(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[tuple[LocalServer, str]]:
    """The server with the current flow and the device flow on, every page served by the example app."""
    app_port = free_port()
    app = f"http://127.0.0.1:{app_port}"
    server = LocalServer({**aws, "POLICY_CACHE_SECONDS": "0",
                          "CONSENT_APP_PORT": str(app_port), "CONSENT_URL": f"{app}/consent",
                          "URLS_LOGIN": f"{app}/login", "URLS_CONSENT": f"{app}/consent",
                          "URLS_DEVICE_VERIFICATION": f"{app}/device", "URLS_DEVICE_SUCCESS": f"{app}/device/done"})
    yield server, app
    server.stop()


def public_device_client(api: str) -> str:
    token = requests.post(f"{api}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), timeout=10,
                          data={"grant_type": "client_credentials", "scope": "hydra.clients"}).json()["access_token"]
    body = {"id": f"tv-{uuid.uuid4().hex[:8]}", "client_name": "Living room TV", "public": True,
            "grant_types": [DEVICE_GRANT, "refresh_token"], "response_types": ["code"], "redirect_uris": [],
            "scope": "openid offline email"}
    answer = requests.post(f"{api}/clients", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 201, answer.text
    return body["id"]


class Device:
    """Polls as RFC 8628 section 3.4 says: every ``interval`` seconds, 5 more after slow_down."""

    def __init__(self, api: str, client_id: str, device_code: str, interval: int) -> None:
        self.answers: list[str] = []
        self.tokens: dict[str, Any] = {}
        self._args = (api, client_id, device_code, interval)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        api, client_id, device_code, interval = self._args
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answer = requests.post(f"{api}/oauth2/token", timeout=10, data={
                "grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id})
            if answer.status_code == 200:
                self.tokens = answer.json()
                return
            error = answer.json()["error"]
            self.answers.append(error)
            if error not in ("authorization_pending", "slow_down"):
                return
            interval += 5 if error == "slow_down" else 0
            time.sleep(interval)


def test_a_user_signs_a_device_in_while_it_polls(stack: tuple[LocalServer, str], chromium: Any) -> None:
    server, app = stack
    client_id = public_device_client(server.url)
    started = requests.post(f"{server.url}/oauth2/device/auth", timeout=10,
                            data={"client_id": client_id, "scope": "openid offline email"}).json()
    device = Device(server.url, client_id, started["device_code"], started["interval"])

    page = chromium.new_context().new_page()
    page.goto(started["verification_uri"])
    assert page.url.startswith(f"{app}/device?device_challenge="), page.url
    page.fill("#user_code", "BCDF-GHJK")  # a wrong code first: the form comes back with the error
    page.click("#accept")
    assert "attempts left" in page.locator("[role=alert]").inner_text()
    page.fill("#user_code", started["user_code"].lower())
    page.click("#accept")
    page.wait_for_url(f"{app}/login*")
    page.fill("#username", "alice")
    page.fill("#password", "alice-password")
    page.click("#accept")
    page.wait_for_url(f"{app}/consent*")
    page.click("#accept")
    page.wait_for_url(f"{app}/device/done")
    assert "Your device is signed in" in page.content()

    device.thread.join(timeout=30)
    assert device.answers and set(device.answers) <= {"authorization_pending", "slow_down"}, device.answers
    assert device.tokens.get("access_token") and device.tokens.get("id_token"), device.answers
    userinfo = requests.get(f"{server.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {device.tokens['access_token']}"}).json()
    assert userinfo["sub"] == "alice"
