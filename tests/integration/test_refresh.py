"""The refresh token grant: rotation in one transaction, reuse detection revoking the grant, the
grace period, same client only, and two racing refreshes on DynamoDB Local."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hydra_lambda.config import reset_settings
from hydra_lambda.tokens import opaque as opaque_tokens

from tests.integration.test_code_flow import race, userinfo_status, verify_id_token
from tests.support import basic, call
from tests.support_flows import Flow, make_client, qs, redeem, refresh
from tests.support_lifecycle import introspect


def _grant(**accept: Any) -> tuple[str, str | None, dict[str, Any]]:
    client_id, secret = make_client()
    flow = Flow(client_id)
    flow.start()
    assert flow.accept(**accept).status == 204
    code = qs(flow.back().headers["location"])["code"]
    result = redeem(client_id, secret, code)
    assert result.status == 200, result.body
    return client_id, secret, result.json


def _row(token: str) -> Any:
    from hydra_lambda.storage import token_rows as token_store
    from hydra_lambda.tokens import opaque as opaque_tokens

    return token_store.get(opaque_tokens.signature_of(token, "access"), "access")


@pytest.fixture
def grace_period() -> Iterator[None]:
    os.environ["REFRESH_TOKEN_GRACE_PERIOD"] = "30s"
    reset_settings()
    yield
    os.environ.pop("REFRESH_TOKEN_GRACE_PERIOD", None)
    reset_settings()


def test_rotation_issues_a_new_pair_and_revokes_the_old_access_token() -> None:
    # email granted: a standard claim is released only for its scope (issue 25)
    client_id, secret, first = _grant(scopes=["openid", "offline", "email"], idTokenExtra={"email": "a@example.com"},
                                      accessTokenExtra={"tenant": "acme"})
    result = refresh(client_id, secret, first["refresh_token"])
    assert result.status == 200, result.body
    second = result.json
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == "openid offline email"
    assert userinfo_status(first["access_token"]) == 401
    assert userinfo_status(second["access_token"]) == 200
    old, new = verify_id_token(first["id_token"], client_id), verify_id_token(second["id_token"], client_id)
    assert new["sub"] == "alice" and new["email"] == "a@example.com"
    assert new["auth_time"] == old["auth_time"]
    assert "nonce" not in new
    row = _row(second["access_token"])
    assert row.subject == "alice" and row.extra == {"tenant": "acme"} and row.scopes == ["openid", "offline", "email"]
    assert row.request_id == _refresh_request_id(first["refresh_token"])


def _refresh_request_id(token: str) -> str:
    from hydra_lambda.storage import token_rows as token_store
    from hydra_lambda.tokens import opaque as opaque_tokens

    return token_store.get(opaque_tokens.signature_of(token, "refresh"), "refresh", include_used=True).request_id


def test_reuse_of_a_rotated_refresh_token_revokes_the_whole_grant() -> None:
    client_id, secret, first = _grant()
    second = refresh(client_id, secret, first["refresh_token"]).json
    third = refresh(client_id, secret, second["refresh_token"]).json
    reuse = refresh(client_id, secret, first["refresh_token"])
    assert reuse.status == 400 and reuse.json["error"] == "invalid_grant"
    assert userinfo_status(third["access_token"]) == 401
    latest = refresh(client_id, secret, third["refresh_token"])
    assert latest.status == 400 and latest.json["error"] == "invalid_grant"


def test_grace_period_lets_a_concurrent_refresh_through(grace_period: None) -> None:
    client_id, secret, first = _grant()
    second = refresh(client_id, secret, first["refresh_token"])
    again = refresh(client_id, secret, first["refresh_token"])
    assert second.status == 200 and again.status == 200, again.body
    assert userinfo_status(second.json["access_token"]) == 200
    assert userinfo_status(again.json["access_token"]) == 200


def test_grace_period_ends(grace_period: None) -> None:
    from hydra_lambda import clock

    client_id, secret, first = _grant()
    assert refresh(client_id, secret, first["refresh_token"]).status == 200
    clock.advance(31)
    reuse = refresh(client_id, secret, first["refresh_token"])
    assert reuse.status == 400 and reuse.json["error"] == "invalid_grant"


def test_another_client_cannot_refresh() -> None:
    client_id, secret, first = _grant()
    other_id, other_secret = make_client()
    result = refresh(other_id, other_secret, first["refresh_token"])
    assert result.status == 400 and result.json["error"] == "invalid_grant"
    assert refresh(client_id, secret, first["refresh_token"]).status == 200


def test_scope_may_not_grow() -> None:
    client_id, secret, first = _grant()
    result = refresh(client_id, secret, first["refresh_token"], scope="openid offline email")
    assert result.status == 400 and result.json["error"] == "invalid_scope"
    assert refresh(client_id, secret, first["refresh_token"], scope="openid").status == 200


def test_access_token_is_not_a_refresh_token() -> None:
    client_id, secret, first = _grant()
    result = refresh(client_id, secret, first["access_token"])
    assert result.status == 400 and result.json["error"] == "invalid_grant"
    assert call("POST", "/oauth2/token", form={"grant_type": "refresh_token", "client_id": client_id}).status in (
        400, 401)


def test_two_racing_refreshes_exactly_one_succeeds() -> None:
    for _round in range(2):
        client_id, secret, first = _grant()
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        assert race(form, client_id, secret) == ["invalid_grant", "ok"]


# ------------------------------------------------- revocation while the by_request index lags
# DynamoDB's global secondary indexes are eventually consistent; DynamoDB Local updates them at
# once, so these hide the newest rows from the index query as a lagging index would.


def _hide_from_index(monkeypatch: pytest.MonkeyPatch, signatures: set[str]) -> None:
    from hydra_lambda.storage import token_rows

    real = token_rows.keys_of_request
    monkeypatch.setattr(token_rows, "keys_of_request",
                        lambda request_id: (k for k in list(real(request_id)) if k.signature not in signatures))


def _granted(client_id: str, secret: str) -> dict[str, Any]:
    flow = Flow(client_id)
    flow.start()
    assert flow.accept().status == 204
    return redeem(client_id, secret, qs(flow.back().headers["location"])["code"]).json


def test_reuse_detection_ends_the_newest_link_of_the_chain_even_before_the_index_has_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 9700 4.14.2: an attacker holding RT1 rotates it (RT2, then RT3 a moment ago); the victim then
    presents RT1. The whole chain goes, including RT3 and its access token, which the index does not
    list yet: the revocation follows what each refresh token's consuming write recorded."""
    client_id, secret = make_client()
    rt1 = _granted(client_id, secret)["refresh_token"]
    rt2 = refresh(client_id, secret, rt1).json["refresh_token"]
    third = refresh(client_id, secret, rt2).json
    _hide_from_index(monkeypatch, {opaque_tokens.signature_of(third["refresh_token"], "refresh"),
                                   opaque_tokens.signature_of(third["access_token"], "access")})
    reuse = refresh(client_id, secret, rt1)
    assert reuse.status == 400, reuse.body
    monkeypatch.undo()
    assert refresh(client_id, secret, third["refresh_token"]).status == 400
    assert introspect(third["access_token"]).json["active"] is False


def test_revoking_a_refresh_token_ends_it_even_before_the_index_lists_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 7009 2.1: a client that refreshes and logs out at once must not leave the new refresh token
    (or its access token) alive because the index has not caught up."""
    client_id, secret = make_client()
    second = refresh(client_id, secret, _granted(client_id, secret)["refresh_token"]).json
    _hide_from_index(monkeypatch, {opaque_tokens.signature_of(second[name], name.split("_")[0])
                                   for name in ("refresh_token", "access_token")})
    revoked = call("POST", "/oauth2/revoke", headers=basic(client_id, secret), form={"token": second["refresh_token"]})
    assert revoked.status == 200
    monkeypatch.undo()
    assert refresh(client_id, secret, second["refresh_token"]).status == 400
    assert introspect(second["access_token"]).json["active"] is False


def test_a_pair_reissued_in_the_grace_period_is_revoked_with_its_grant_before_the_index_has_it(
        grace_period: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A grace-period pair is recorded on the refresh token it was reissued from, so the chain walk of
    a later reuse finds it even while the index lags."""
    from hydra_lambda import clock

    client_id, secret, first = _grant()
    assert refresh(client_id, secret, first["refresh_token"]).status == 200
    reissued = refresh(client_id, secret, first["refresh_token"]).json  # within the grace period
    _hide_from_index(monkeypatch, {opaque_tokens.signature_of(reissued["refresh_token"], "refresh"),
                                   opaque_tokens.signature_of(reissued["access_token"], "access")})
    clock.advance(31)
    assert refresh(client_id, secret, first["refresh_token"]).status == 400  # reuse: the grant is revoked
    monkeypatch.undo()
    assert refresh(client_id, secret, reissued["refresh_token"]).status == 400
    assert introspect(reissued["access_token"]).json["active"] is False


def test_logging_out_with_the_newest_token_ends_a_sibling_pair_the_index_does_not_list_yet(
        grace_period: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two concurrent refreshes of RT1 within the grace period: one rotates it (RT2), the other gets a
    sibling pair (RT2') recorded on RT1. Logging out with RT2 a moment later revokes the grant, RT2'
    too, although the chain down from RT2 does not reach it and the lagging index does not list it:
    the walk climbs to the parent a sibling can still come from (issue 22). The index here lists
    none of the grant's refresh tokens, as for a chain rotated within the index's lag."""
    client_id, secret, first = _grant()
    second = refresh(client_id, secret, first["refresh_token"]).json
    sibling = refresh(client_id, secret, first["refresh_token"]).json  # within the grace period
    assert sibling["refresh_token"] != second["refresh_token"]
    _hide_from_index(monkeypatch, {opaque_tokens.signature_of(sibling["refresh_token"], "refresh"),
                                   opaque_tokens.signature_of(sibling["access_token"], "access"),
                                   opaque_tokens.signature_of(first["refresh_token"], "refresh")})
    revoked = call("POST", "/oauth2/revoke", headers=basic(client_id, secret), form={"token": second["refresh_token"]})
    assert revoked.status == 200
    monkeypatch.undo()
    assert introspect(sibling["access_token"]).json["active"] is False
    assert introspect(sibling["refresh_token"]).json["active"] is False
    assert refresh(client_id, secret, sibling["refresh_token"]).status == 400
