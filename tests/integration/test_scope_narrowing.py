"""Scope handling (issue #14): a refresh asking for a narrower scope gets an access token of exactly
that scope and a refresh token of the grant's (RFC 6749 section 6); /userinfo needs a token granted
with openid (OpenID Connect Core 5.3, RFC 6750 3.1)."""

from __future__ import annotations

from typing import Any

from tests.integration.test_refresh import _grant
from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, call
from tests.support_flows import refresh


def _introspect(token: str) -> dict[str, Any]:
    result = call("POST", "/oauth2/introspect", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                  form={"token": token})
    assert result.status == 200, result.body
    return result.json


def test_a_narrower_refresh_scope_narrows_the_access_token_and_keeps_the_refresh_tokens() -> None:
    """RFC 6749 section 6: the new access token carries exactly the scope asked; "if a new refresh
    token is issued, the refresh token scope MUST be identical to that of the refresh token included
    by the client in the request"."""
    client_id, secret, first = _grant(scopes=["openid", "offline", "email"])
    assert first["scope"] == "openid offline email"
    result = refresh(client_id, secret, first["refresh_token"], scope="offline email")
    assert result.status == 200, result.body
    second = result.json
    assert second["scope"] == "offline email"
    assert "id_token" not in second  # openid was left out
    assert _introspect(second["access_token"])["scope"] == "offline email"
    assert _introspect(second["refresh_token"])["scope"] == "openid offline email"
    # The grant is whole again at the next refresh; nothing beyond it is ever granted.
    wider = refresh(client_id, secret, second["refresh_token"], scope="openid offline email profile")
    assert wider.status == 400 and wider.json["error"] == "invalid_scope"
    third = refresh(client_id, secret, second["refresh_token"], scope="openid offline")
    assert third.status == 200 and third.json["scope"] == "openid offline" and "id_token" in third.json
    assert _introspect(third.json["access_token"])["scope"] == "openid offline"


def test_a_refresh_without_offline_in_its_scope_still_rotates_the_refresh_token() -> None:
    """Asking for an access token without offline must not end the grant: the old refresh token is used
    up, so the response carries its successor (with the grant's whole scope)."""
    client_id, secret, first = _grant(scopes=["openid", "offline"])
    result = refresh(client_id, secret, first["refresh_token"], scope="openid")
    assert result.status == 200, result.body
    assert result.json["scope"] == "openid" and result.json.get("refresh_token")
    assert _introspect(result.json["refresh_token"])["scope"] == "openid offline"
    assert refresh(client_id, secret, result.json["refresh_token"]).status == 200


def test_an_omitted_refresh_scope_keeps_the_grant() -> None:
    client_id, secret, first = _grant(scopes=["openid", "offline", "email"])
    result = refresh(client_id, secret, first["refresh_token"])
    assert result.status == 200 and result.json["scope"] == "openid offline email"
    assert _introspect(result.json["access_token"])["scope"] == "openid offline email"


def test_userinfo_refuses_a_token_granted_without_openid() -> None:
    _client, _secret, tokens = _grant(scopes=["offline", "email"], idTokenExtra={"email": "a@example.com"})
    result = call("GET", "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert result.status == 403, result.body
    assert result.json["error"] == "insufficient_scope"
    challenge = result.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="insufficient_scope"' in challenge
    assert 'scope="openid"' in challenge
