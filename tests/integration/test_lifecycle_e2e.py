"""The token lifecycle over HTTP with a real client library (authlib): tokens from the token endpoint,
introspection (RFC 7662) and revocation (RFC 7009) through the local server, and the flush route."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer
from tests.support_lifecycle import grant, new_client

pytestmark = pytest.mark.e2e


def _session(server: LocalServer, client_id: str = ROOT_CLIENT_ID, secret: str | None = ROOT_CLIENT_SECRET,
             **kwargs: Any) -> OAuth2Session:
    return OAuth2Session(client_id, secret, **kwargs)


def _fetch(server: LocalServer, scope: str, client_id: str = ROOT_CLIENT_ID,
           secret: str = ROOT_CLIENT_SECRET) -> dict[str, Any]:
    session = _session(server, client_id, secret, scope=scope)
    return dict(session.fetch_token(f"{server.url}/oauth2/token", grant_type="client_credentials"))


def _introspect(server: LocalServer, token: str, session: OAuth2Session | None = None,
                **kwargs: Any) -> requests.Response:
    response = (session or _session(server)).introspect_token(f"{server.url}/oauth2/introspect", token=token,
                                                              **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response


def test_introspect_and_revoke_a_client_credentials_token_with_authlib(server: LocalServer) -> None:
    issued = _fetch(server, "hydra.clients hydra.introspect")
    body = _introspect(server, issued["access_token"]).json()
    assert body["active"] is True
    assert body["client_id"] == ROOT_CLIENT_ID and body["sub"] == ROOT_CLIENT_ID
    assert body["scope"] == "hydra.clients hydra.introspect"
    assert body["token_type"] == "access_token" and body["iss"] == server.url
    assert body["exp"] - body["iat"] == issued["expires_in"]

    revoked = _session(server).revoke_token(f"{server.url}/oauth2/revoke", token=issued["access_token"],
                                            token_type_hint="access_token")
    assert revoked.status_code == 200 and revoked.text == ""
    assert _introspect(server, issued["access_token"]).json() == {"active": False}


def test_revoking_a_refresh_token_with_authlib_ends_the_grant(server: LocalServer) -> None:
    g = grant(scopes=("photos.read", "offline"), extra={"tenant": "acme"})
    refresh = _introspect(server, g.refresh).json()
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    assert _introspect(server, g.access).json()["ext"] == {"tenant": "acme"}

    response = _session(server).revoke_token(f"{server.url}/oauth2/revoke", token=g.refresh,
                                             token_type_hint="refresh_token")
    assert response.status_code == 200
    assert _introspect(server, g.refresh).json() == {"active": False}
    assert _introspect(server, g.access).json() == {"active": False}


def test_scope_parameter_with_wildcards_through_authlib(server: LocalServer) -> None:
    g = grant(scopes=("hydra.*", "photos.read"))
    session = _session(server)
    assert _introspect(server, g.access, session, body="scope=hydra.keys.get+photos.read").json()["active"]
    assert _introspect(server, g.access, session, body="scope=hydra").json() == {"active": False}
    assert _introspect(server, g.access, session, body="scope=photos.write").json() == {"active": False}


def test_a_client_is_checked_by_secret_then_by_policy(server: LocalServer) -> None:
    """Basic credentials are verified (the classic server skipped that), then the policies must allow
    the client ``introspect`` (the in-process tests show it succeeding once a policy does)."""
    client_id, secret = new_client(scope="photos.read")
    url = f"{server.url}/oauth2/introspect"
    wrong = _session(server, client_id, "not-the-secret").introspect_token(url, token=grant().access)
    assert wrong.status_code == 401
    no_policy = _session(server, client_id, secret).introspect_token(url, token=grant().access)
    assert no_policy.status_code == 403


def test_revoking_another_clients_token_changes_nothing(server: LocalServer) -> None:
    client_id, secret = new_client(scope="photos.read")
    theirs = grant()  # issued to the root client
    response = _session(server, client_id, secret).revoke_token(f"{server.url}/oauth2/revoke",
                                                                token=theirs.refresh)
    assert response.status_code == 200
    assert _introspect(server, theirs.refresh).json()["active"] is True


def test_public_client_revokes_with_authlib(server: LocalServer) -> None:
    client_id, _ = new_client(public=True, grant_types=["authorization_code", "refresh_token"],
                              response_types=["code"], redirect_uris=["https://app.example.com/cb"])
    g = grant(client_id=client_id)
    public = OAuth2Session(client_id, None, token_endpoint_auth_method="none")
    response = public.revoke_token(f"{server.url}/oauth2/revoke", token=g.refresh)
    assert response.status_code == 200
    assert _introspect(server, g.access).json() == {"active": False}


def test_bearer_caller_and_missing_credentials_over_http(server: LocalServer) -> None:
    caller = _fetch(server, "hydra.introspect")["access_token"]
    value = grant().access
    ok = requests.post(f"{server.url}/oauth2/introspect", data={"token": value},
                       headers={"Authorization": f"Bearer {caller}"}, timeout=10)
    assert ok.status_code == 200 and ok.json()["active"] is True
    anonymous = requests.post(f"{server.url}/oauth2/introspect", data={"token": value}, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"


def test_flush_route_over_http(server: LocalServer) -> None:
    admin = {"Authorization": f"Bearer {_fetch(server, 'hydra.oauth2.flush')['access_token']}"}
    url = f"{server.url}/oauth2/flush"
    assert requests.post(url, headers=admin, timeout=30).status_code == 204
    assert requests.post(url, headers=admin, json={"notAfter": "2026-01-01T00:00:00Z"}, timeout=30).status_code == 204
    bad = requests.post(url, headers=admin, json={"notAfter": "next tuesday"}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 400
    assert requests.post(url, timeout=30).status_code == 401
