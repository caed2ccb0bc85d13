"""``/userinfo``: Bearer header or form token, sub + idTokenExtra, 401 invalid_token otherwise."""

from __future__ import annotations

from tests.integration.test_refresh import _grant
from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, call


def test_get_and_post_return_sub_and_id_token_extra() -> None:
    _client, _secret, tokens = _grant(scopes=["openid", "email", "profile"],
                                      idTokenExtra={"email": "a@example.com", "sub": "mallory", "name": "Alice"})
    header = {"Authorization": f"Bearer {tokens['access_token']}"}
    expected = {"sub": "alice", "email": "a@example.com", "name": "Alice"}
    got = call("GET", "/userinfo", headers=header)
    assert got.status == 200 and got.json == expected
    assert got.headers["cache-control"] == "no-store"
    assert call("POST", "/userinfo", headers=header).json == expected
    assert call("POST", "/userinfo", form={"access_token": tokens["access_token"]}).json == expected


def _assert_invalid_token(result: object) -> None:
    assert result.status == 401, result.body
    assert result.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert result.json["error"] == "invalid_token"


def test_missing_forged_and_refresh_tokens_are_refused() -> None:
    _client, _secret, tokens = _grant()
    _assert_invalid_token(call("GET", "/userinfo", headers={"Authorization": "Bearer hl_at_nope.nope"}))
    _assert_invalid_token(call("GET", "/userinfo", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}))


def test_a_request_without_a_bearer_token_gets_a_challenge_without_an_error_code() -> None:
    """RFC 6750 3.1: when the request carries no authentication information (none at all, or another
    scheme), the challenge SHOULD NOT include an error code."""
    _client, _secret, tokens = _grant()
    for headers in ({}, {"Authorization": f"Basic {tokens['access_token']}"}):
        result = call("GET", "/userinfo", headers=headers)
        assert result.status == 401, result.body
        assert result.headers["www-authenticate"] == "Bearer", result.headers


def test_client_credentials_token_has_no_user() -> None:
    result = call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                  form={"grant_type": "client_credentials"})
    token = result.json["access_token"]
    _assert_invalid_token(call("GET", "/userinfo", headers={"Authorization": f"Bearer {token}"}))


def test_expired_access_token_is_refused() -> None:
    from hydra_lambda import clock

    _client, _secret, tokens = _grant()
    clock.advance(3601)
    _assert_invalid_token(call("GET", "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}))
