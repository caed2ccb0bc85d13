"""The whole code flow with PKCE and ``openid offline`` through the local server (real HTTP), driven
by real relying-party libraries: authlib's ``OAuth2Session`` and panva's ``openid-client`` v6. The
test plays the browser (keeping cookies) and the consent app (the admin API, root client token)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from jose import jwt

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer
from tests.support_flows import REDIRECT, make_client


def _admin_token(server: LocalServer) -> str:
    response = requests.post(f"{server.url}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                             data={"grant_type": "client_credentials", "scope": "hydra.consent"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _consent_app(server: LocalServer, consent_url: str, scopes: tuple[str, ...] = ("openid", "offline"),
                 **accept: Any) -> str:
    """What an operator's consent app does: read the request, accept it, return redirectUrl."""
    consent_id = requests.utils.urlparse(consent_url).query.split("consent=")[1].split("&")[0]
    headers = {"Authorization": f"Bearer {_admin_token(server)}"}
    url = f"{server.url}/oauth2/consent/requests/{consent_id}"
    request = requests.get(url, headers=headers, timeout=10)
    assert request.status_code == 200, request.text
    assert request.json()["requestedScopes"] == list(scopes)
    answer = {"subject": "alice", "grantScopes": list(scopes), **accept}
    assert requests.patch(url + "/accept", headers=headers, json=answer, timeout=10).status_code == 204
    return request.json()["redirectUrl"]


def test_authlib_code_flow_with_pkce_openid_offline(server: LocalServer) -> None:
    client_id, secret = make_client()
    session = OAuth2Session(client_id, secret, scope="openid offline", redirect_uri=REDIRECT,
                            code_challenge_method="S256")
    verifier = generate_token(48)
    nonce = generate_token(16)
    # email is not in the scope: the claims parameter asks for it by name (OIDC Core 5.5)
    asked = json.dumps({"id_token": {"email": None}, "userinfo": {"email": {"essential": True}}})
    url, state = session.create_authorization_url(f"{server.url}/oauth2/auth", code_verifier=verifier, nonce=nonce,
                                                  claims=asked)

    browser = requests.Session()
    first = browser.get(url, allow_redirects=False, timeout=10)
    assert first.status_code == 302, first.text
    assert browser.cookies, "the CSRF cookie must be set"
    redirect_url = _consent_app(server, first.headers["Location"], idTokenExtra={"email": "alice@example.com"})
    second = browser.get(redirect_url, allow_redirects=False, timeout=10)
    assert second.status_code == 302, second.text
    callback = second.headers["Location"]
    assert callback.startswith(REDIRECT + "?")
    assert f"iss={requests.utils.quote(server.url, safe='')}" in callback

    token = session.fetch_token(f"{server.url}/oauth2/token", authorization_response=callback,
                                code_verifier=verifier)
    assert token["scope"] == "openid offline" and token["refresh_token"]
    jwks = requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()
    claims = jwt.decode(token["id_token"], jwks, algorithms=["RS256", "ES256"], audience=client_id,
                        issuer=server.url, access_token=token["access_token"])  # checks at_hash too
    assert claims["nonce"] == nonce
    assert claims["sub"] == "alice" and claims["email"] == "alice@example.com"
    assert state in callback

    userinfo = session.get(f"{server.url}/userinfo", timeout=10)
    assert userinfo.json() == {"sub": "alice", "email": "alice@example.com"}

    refreshed = session.refresh_token(f"{server.url}/oauth2/token", refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert session.get(f"{server.url}/userinfo", timeout=10).status_code == 200
    # the rotated-out refresh token is dead, and presenting it revoked the grant
    reuse = requests.post(f"{server.url}/oauth2/token", auth=(client_id, secret), timeout=10,
                          data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert session.get(f"{server.url}/userinfo", timeout=10).status_code == 401


def test_openid_client_code_flow_with_pkce_openid_offline(server: LocalServer) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for the openid-client test"
    client_id, secret = make_client()
    result = subprocess.run(
        [node, str(ROOT / "tests" / "node" / "code_flow.mjs"), server.url, client_id, secret or "", REDIRECT,
         _admin_token(server)],
        capture_output=True, text=True, timeout=120, cwd=ROOT / "tests" / "node",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["requestedScopes"] == ["openid", "offline"]
    assert out["code"] == {"sub": "node-user", "nonce_ok": True, "email": "node@example.com",
                           "scope": "openid offline", "has_refresh": True}
    assert out["refresh"] == {"sub": "node-user", "rotated": True}
    assert out["userinfo"] == {"sub": "node-user", "email": "node@example.com"}
