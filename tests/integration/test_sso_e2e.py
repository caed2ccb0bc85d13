"""Single sign-on, silent renew and logout in a real headless Chromium, with the current flow on:
two relying parties driven by panva's openid-client (tests/node/sso_rp.mjs) against the local server
and the bundled example app's login, consent and logout pages (issue 24's "done when")."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, free_port, wait_for

pytestmark = pytest.mark.e2e

NODE_DIR = ROOT / "tests" / "node"


def root_token(api: str, scope: str) -> str:
    answer = requests.post(f"{api}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                           data={"grant_type": "client_credentials", "scope": scope}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


@pytest.fixture(scope="module")
def stack(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[tuple[LocalServer, str]]:
    """The server with the current flow on, its login/consent/logout pages served by the example app."""
    app_port = free_port()
    app = f"http://127.0.0.1:{app_port}"
    server = LocalServer({**aws, "POLICY_CACHE_SECONDS": "0", "FETCH_ALLOW_LOOPBACK": "true",
                          "CONSENT_APP_PORT": str(app_port), "CONSENT_URL": f"{app}/consent",
                          "URLS_LOGIN": f"{app}/login", "URLS_CONSENT": f"{app}/consent",
                          "URLS_LOGOUT": f"{app}/logout"})
    yield server, app
    server.stop()


@pytest.fixture(scope="module")
def relying_parties(stack: tuple[LocalServer, str]) -> Iterator[str]:
    server, _app = stack
    port = free_port()
    rp = f"http://127.0.0.1:{port}"
    token = root_token(server.url, "hydra.clients")
    parties = []
    for name in ("rp1", "rp2"):
        body = {"id": f"{name}-{uuid.uuid4().hex[:8]}", "client_name": f"Relying party {name}",
                "redirect_uris": [f"{rp}/{name}/callback"], "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"], "scope": "openid offline email",
                "post_logout_redirect_uris": [f"{rp}/{name}/logged-out"],
                "frontchannel_logout_uri": f"{rp}/{name}/frontchannel", "frontchannel_logout_session_required": True,
                "backchannel_logout_uri": f"{rp}/{name}/backchannel", "backchannel_logout_session_required": True}
        answer = requests.post(f"{server.url}/clients", json=body, headers={"Authorization": f"Bearer {token}"},
                               timeout=10)
        assert answer.status_code == 201, answer.text
        parties.append({"name": name, "id": body["id"], "secret": answer.json()["client_secret"]})
    process = subprocess.Popen(["node", str(NODE_DIR / "sso_rp.mjs"), server.url, str(port), json.dumps(parties)],
                               cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield rp
    process.terminate()
    process.wait(timeout=10)


def result(page: Any) -> dict[str, Any]:
    return json.loads(page.locator("#result").inner_text())


def sign_in(page: Any, app: str, user: str = "alice") -> None:
    assert page.url.startswith(f"{app}/login"), page.url
    page.fill("#username", user)
    page.fill("#password", f"{user}-password")
    page.check("#remember")
    page.click("#accept")


def allow(page: Any, app: str) -> None:
    page.wait_for_url(f"{app}/consent*")
    page.check("#remember")
    page.click("#accept")


def _events(rp: str) -> dict[str, list[dict[str, Any]]]:
    page = requests.get(f"{rp}/events", timeout=10).text
    return json.loads(page.split("<pre id=result>", 1)[1].split("</pre>", 1)[0].replace("&lt;", "<")
                      .replace("&amp;", "&"))


def test_sso_silent_renew_and_logout(stack: tuple[LocalServer, str], relying_parties: str, chromium: Any) -> None:
    server, app = stack
    rp = relying_parties
    context = chromium.new_context()
    page = context.new_page()
    seen: list[str] = []
    page.on("framenavigated", lambda frame: seen.append(frame.url) if frame == page.main_frame else None)

    # 1. rp1: the login form, then the consent screen, then back with tokens.
    page.goto(f"{rp}/rp1/login")
    sign_in(page, app)
    allow(page, app)
    page.wait_for_url(f"{rp}/rp1/callback*")
    first = result(page)
    assert first["sub"] == "alice" and first["sid"] and first["auth_time"], first

    # 2. rp2 in the same browser: no login form (single sign-on), its own consent screen.
    seen.clear()
    page.goto(f"{rp}/rp2/login")
    allow(page, app)
    page.wait_for_url(f"{rp}/rp2/callback*")
    second = result(page)
    assert (second["sub"], second["sid"], second["auth_time"]) == ("alice", first["sid"], first["auth_time"])
    assert not any(url.startswith(f"{app}/login") for url in seen), seen  # a skipped login only redirects

    # 3. Silent renew: prompt=none answers at once with a fresh ID token of the same session.
    seen.clear()
    page.goto(f"{rp}/rp1/login?prompt=none")
    page.wait_for_url(f"{rp}/rp1/callback*")
    renewed = result(page)
    assert "error" not in renewed and renewed["sid"] == first["sid"], renewed
    assert not any(url.startswith(app) for url in seen), seen  # no page of the app was shown

    # 3b. A plain login again: the session and the remembered consent answer; no page of the app.
    seen.clear()
    page.goto(f"{rp}/rp1/login")
    page.wait_for_url(f"{rp}/rp1/callback*")
    assert result(page)["sid"] == first["sid"] and not any(url.startswith(app) for url in seen), seen

    # 4. A browser without the session: prompt=none ends in login_required, no page shown; bob then
    #    signs in there, and rp1 asks alice's browser silently with bob's ID token as its hint:
    #    the session is alice's, so login_required too.
    stranger = chromium.new_context().new_page()
    stranger.goto(f"{rp}/rp1/login?prompt=none")
    stranger.wait_for_url(f"{rp}/rp1/callback*")
    assert result(stranger)["error"] == "login_required"
    stranger.goto(f"{rp}/rp1/login")
    sign_in(stranger, app, "bob")
    allow(stranger, app)
    stranger.wait_for_url(f"{rp}/rp1/callback*")
    assert result(stranger)["sub"] == "bob"
    stranger.context.close()
    page.goto(f"{rp}/rp1/login?prompt=none&hint=yes")
    page.wait_for_url(f"{rp}/rp1/callback*")
    assert result(page)["error"] == "login_required"
    page.goto(f"{rp}/rp1/login?prompt=none")  # alice's own token back for rp1 (its logout hint below)
    page.wait_for_url(f"{rp}/rp1/callback*")
    assert result(page)["sub"] == "alice"

    # 5. max_age=0: the user must sign in again; auth_time moves, the session (sid) stays.
    time.sleep(1.1)
    page.goto(f"{rp}/rp1/login?max_age=0")
    sign_in(page, app)
    page.wait_for_url(f"{rp}/rp1/callback*")
    again = result(page)
    assert again.get("sid") == first["sid"] and again.get("auth_time", 0) > first["auth_time"], again

    # 6. RP-initiated logout from rp1: the logout app asks, front-channel frames for both parties,
    #    back to rp1 with its state; back-channel logout tokens reach both.
    page.goto(f"{rp}/rp1/logout")
    page.wait_for_url(f"{app}/logout*")
    page.click("#accept")
    page.wait_for_url(f"{rp}/rp1/logged-out*", timeout=15000)
    assert result(page) == {"logged_out": True, "state_ok": True}
    front = _events(rp)["frontchannel"]
    assert sorted(e["name"] for e in front) == ["rp1", "rp2"]
    assert all(e["iss"] == server.url and e["sid"] == first["sid"] for e in front), front
    wait_for(lambda: len(_events(rp)["backchannel"]) >= 2, 20, "back-channel logout of both parties")
    back = _events(rp)["backchannel"]
    assert sorted(e["name"] for e in back) == ["rp1", "rp2"], back
    for token in back:
        assert token["typ"] == "logout+jwt" and token["sid"] == first["sid"] and token["sub"] == "alice"
        assert "http://schemas.openid.net/event/backchannel-logout" in token["events"] and "nonce" not in token

    # 7. The session is gone: silent renew now needs a login.
    page.goto(f"{rp}/rp2/login?prompt=none")
    page.wait_for_url(f"{rp}/rp2/callback*")
    assert result(page)["error"] == "login_required"
    context.close()

