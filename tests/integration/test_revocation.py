"""POST /oauth2/revoke (RFC 7009): client authentication as at the token endpoint, a refresh token
revokes its grant, an access token only itself, and anything not the caller's changes nothing."""

from __future__ import annotations

import pytest
from hydra_lambda.storage import token_rows as token_store
from hydra_lambda.tokens import opaque as opaque_tokens

from tests.support import ROOT_CLIENT_ID, basic, call
from tests.support_lifecycle import ROOT_BASIC, grant, is_active, new_client, revoke, stored_code


def _assert_ok(result: object) -> None:
    assert result.status == 200, result.body  # type: ignore[attr-defined]
    assert result.body == ""  # type: ignore[attr-defined]


def test_revoking_an_access_token_revokes_only_that_token() -> None:
    g = grant()
    sibling = grant()
    _assert_ok(revoke(g.access))
    assert not is_active(g.access)
    assert is_active(g.refresh)  # the grant lives on: the client can still refresh
    assert is_active(sibling.access)


def test_revoking_a_refresh_token_revokes_every_token_of_its_grant() -> None:
    g = grant()
    other = grant()
    _assert_ok(revoke(g.refresh))
    assert not is_active(g.refresh)
    assert not is_active(g.access)
    assert list(token_store.signatures_of_request(g.request_id)) == []
    assert is_active(other.access) and is_active(other.refresh)


def test_revoking_a_rotated_refresh_token_still_ends_the_grant() -> None:
    g = grant()
    row = token_store.get(opaque_tokens.signature_of(g.refresh, "refresh") or "", "refresh")
    assert row is not None
    token_store.consume(row)  # as after a refresh: the row stays, marked used, same request id
    _assert_ok(revoke(g.refresh))
    assert not is_active(g.access)


def test_a_token_of_another_client_is_200_and_changes_nothing() -> None:
    owner_id, _ = new_client(scope="photos.read")
    g = grant(client_id=owner_id, scopes=("photos.read",))
    _assert_ok(revoke(g.access))  # the root client is not the owner
    _assert_ok(revoke(g.refresh))
    assert is_active(g.access) and is_active(g.refresh)


@pytest.mark.parametrize("value", [
    "garbage", "hl_at_x.y", "hl_rt_" + "A" * 43 + "." + "B" * 43, "hl_at_" + "A" * 300,
])
def test_malformed_or_forged_token_is_200(value: str) -> None:
    _assert_ok(revoke(value))


def test_unknown_token_is_200() -> None:
    _assert_ok(revoke(opaque_tokens.generate("refresh")[0]))


def test_expired_token_is_200() -> None:
    from hydra_lambda import clock

    g = grant(access_lifespan=10)
    clock.advance(11)
    _assert_ok(revoke(g.access))


def test_an_authorization_code_is_not_revoked_here() -> None:
    code = stored_code()
    _assert_ok(revoke(code))
    assert token_store.get(opaque_tokens.signature_of(code, "code") or "", "code") is not None


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "id_token", "nonsense", ""])
def test_token_type_hint_is_ignored_even_when_wrong_or_unsupported(hint: str) -> None:
    g = grant()
    _assert_ok(revoke(g.refresh, token_type_hint=hint))
    assert not is_active(g.access) and not is_active(g.refresh)


def test_missing_token_is_400_invalid_request() -> None:
    for form in ({}, {"token": ""}):
        result = call("POST", "/oauth2/revoke", headers=ROOT_BASIC, form=form)
        assert result.status == 400 and result.json["error"] == "invalid_request"


@pytest.mark.parametrize("headers", [
    {}, basic(ROOT_CLIENT_ID, "wrong-secret"), basic("no-such-client", "whatever-secret"),
    {"Authorization": "Basic !!!"},
])
def test_bad_client_authentication_is_401_invalid_client_and_revokes_nothing(headers: dict[str, str]) -> None:
    g = grant()
    result = revoke(g.access, headers=headers)
    assert result.status == 401, result.body
    assert result.json["error"] == "invalid_client"
    assert is_active(g.access)


def test_client_secret_post() -> None:
    client_id, secret = new_client(scope="photos.read")
    g = grant(client_id=client_id, scopes=("photos.read",))
    result = call("POST", "/oauth2/revoke", form={"token": g.refresh, "client_id": client_id,
                                                  "client_secret": secret or ""})
    _assert_ok(result)
    assert not is_active(g.access)


def test_public_client_revokes_its_own_token_with_client_id_only() -> None:
    client_id, _ = new_client(public=True, grant_types=["authorization_code", "refresh_token"],
                              response_types=["code"], redirect_uris=["https://app.example.com/cb"])
    g = grant(client_id=client_id)
    _assert_ok(call("POST", "/oauth2/revoke", form={"token": g.refresh, "client_id": client_id}))
    assert not is_active(g.refresh) and not is_active(g.access)


def test_revocation_answers_no_store_and_only_post() -> None:
    result = revoke(grant().access)
    assert result.headers.get("cache-control") == "no-store"
    assert call("GET", "/oauth2/revoke", headers=ROOT_BASIC).status == 405
