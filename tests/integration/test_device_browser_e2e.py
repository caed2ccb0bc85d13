"""A device login in a real headless Chromium (issue 26's "done when"): the CLI starts the device flow
and polls the token endpoint while the user opens the verification URI, enters the user code on the
bundled example app's device page, signs in and consents; the CLI then prints the tokens."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, free_port

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


def cli(*args: str, server: LocalServer, client_id: str) -> subprocess.Popen[str]:
    """``hydra-lambda ARGS`` as a user's shell runs it: HYDRA_URL and a public client's id only."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env |= {"HYDRA_URL": server.url, "HYDRA_CLIENT_ID": client_id}
    return subprocess.Popen([sys.executable, "-m", "hydra_lambda_local.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_user_signs_a_device_in_while_it_polls(stack: tuple[LocalServer, str], chromium: Any) -> None:
    """The device is the CLI (``perform device-code``, Ory's habit): it prints where to go and the
    code, and polls while the user works in the browser."""
    server, app = stack
    client_id = public_device_client(server.url)
    device = cli("perform", "device-code", "--scope", "openid offline email", server=server, client_id=client_id)
    try:
        assert device.stderr is not None
        told = device.stderr.readline()
        found = re.search(r"open (\S+) and enter the code: ([A-Z]{4}-[A-Z]{4})$", told.strip())
        assert found, told
        verification_uri, user_code = found.groups()
        assert verification_uri == f"{server.url}/oauth2/device/verify"

        page = chromium.new_context().new_page()
        page.goto(verification_uri)
        assert page.url.startswith(f"{app}/device?device_challenge="), page.url
        page.fill("#user_code", "BCDF-GHJK")  # a wrong code first: the form comes back with the error
        page.click("#accept")
        assert "attempts left" in page.locator("[role=alert]").inner_text()
        page.fill("#user_code", user_code.lower())
        page.click("#accept")
        page.wait_for_url(f"{app}/login*")
        page.fill("#username", "alice")
        page.fill("#password", "alice-password")
        page.click("#accept")
        page.wait_for_url(f"{app}/consent*")
        page.click("#accept")
        page.wait_for_url(f"{app}/device/done")
        assert "Your device is signed in" in page.content()
        out, err = device.communicate(timeout=60)
    finally:
        device.kill()
    assert device.returncode == 0, err
    tokens = json.loads(out)
    assert tokens["access_token"] and tokens["refresh_token"] and tokens["id_token"]
    userinfo = requests.get(f"{server.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert userinfo["sub"] == "alice"


def test_token_device_reports_a_refusal_in_one_line(stack: tuple[LocalServer, str]) -> None:
    server, _app = stack
    out, err = cli("token", "device", server=server, client_id="no-such-client").communicate(timeout=60)
    assert out == "" and err.count("\n") == 1 and err.startswith("hydra-lambda: POST /oauth2/device/auth: HTTP 401")
