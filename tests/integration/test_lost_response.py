"""Writes that COMMIT but whose response is lost on the way back (tests/support_proxy.py forwards the
request to DynamoDB Local, then closes the connection instead of answering). botocore retries the
request; the retry must be harmless. Driven through the real handlers: the caller still gets the
right answer, and nothing is revoked or lost.

- Transactions (code exchange, refresh rotation) carry botocore's automatic ``ClientRequestToken``,
  so DynamoDB answers the resent transaction with the first one's success instead of failing its
  conditions (before, a resend without it read as a replay and revoked the grant).
- Single-row writes are made so that a resend finds what the first one wrote and agrees with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, call, client_credentials_token
from tests.support_flows import Flow, code_flow, make_client, qs, redeem, refresh
from tests.support_proxy import LossyProxy


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def proxy(lossy_proxy: LossyProxy) -> Iterator[LossyProxy]:
    yield lossy_proxy


def active(token: str) -> bool:
    headers = {"Authorization": f"Bearer {client_credentials_token('hydra.introspect')}"}
    result = call("POST", "/oauth2/introspect", headers=headers, form={"token": token})
    assert result.status == 200, result.body
    return bool(result.json["active"])


def _tokens(scopes: list[str] | None = None) -> tuple[str, str | None, dict[str, Any]]:
    client_id, secret = make_client()
    _, callback = code_flow(client_id, scopes=scopes or ["openid", "offline"])
    result = redeem(client_id, secret, callback["code"])
    assert result.status == 200, result.body
    return client_id, secret, result.json


def test_code_exchange_whose_transaction_response_is_lost(proxy: LossyProxy) -> None:
    client_id, secret = make_client()
    _, callback = code_flow(client_id, scopes=["openid", "offline"])
    with proxy.lose_responses("TransactWriteItems") as rule:
        result = redeem(client_id, secret, callback["code"])
    assert rule.lost == ["TransactWriteItems"], "the exchange made no transaction through the proxy"
    assert result.status == 200, result.body
    assert active(result.json["access_token"]) and active(result.json["refresh_token"])
    again = refresh(client_id, secret, result.json["refresh_token"])
    assert again.status == 200, again.body  # nothing was revoked: the grant lives on
    assert redeem(client_id, secret, callback["code"]).status == 400  # still single use


def test_refresh_whose_transaction_response_is_lost(proxy: LossyProxy) -> None:
    client_id, secret, first = _tokens()
    with proxy.lose_responses("TransactWriteItems") as rule:
        result = refresh(client_id, secret, first["refresh_token"])
    assert rule.lost == ["TransactWriteItems"]
    assert result.status == 200, result.body
    assert active(result.json["access_token"]) and active(result.json["refresh_token"])
    assert not active(first["access_token"]) and not active(first["refresh_token"])  # rotated
    assert refresh(client_id, secret, result.json["refresh_token"]).status == 200


def test_consent_accept_whose_response_is_lost(proxy: LossyProxy) -> None:
    client_id, secret = make_client()
    flow = Flow(client_id)
    assert flow.start().status == 302
    with proxy.lose_responses("UpdateItem") as rule:
        accepted = flow.accept(subject="alice", scopes=["openid", "offline"])
    assert rule.lost == ["UpdateItem"]
    assert accepted.status == 204, accepted.body
    back = flow.back()
    assert back.status == 302, back.body
    result = redeem(client_id, secret, qs(back.headers["location"])["code"])
    assert result.status == 200, result.body
    assert active(result.json["access_token"])


def test_consent_reject_whose_response_is_lost(proxy: LossyProxy) -> None:
    client_id, _ = make_client()
    flow = Flow(client_id)
    assert flow.start().status == 302
    with proxy.lose_responses("UpdateItem") as rule:
        rejected = flow.reject("not today")
    assert rule.lost == ["UpdateItem"]
    assert rejected.status == 204, rejected.body
    back = flow.back()
    assert back.status == 302 and qs(back.headers["location"])["error"] == "access_denied"


def test_revoking_a_grant_whose_delete_response_is_lost(proxy: LossyProxy) -> None:
    client_id, secret, grant = _tokens()
    assert secret is not None
    with proxy.lose_responses({"BatchWriteItem", "DeleteItem", "TransactWriteItems"}) as rule:
        result = call("POST", "/oauth2/revoke", headers=basic(client_id, secret),
                      form={"token": grant["refresh_token"]})
    assert rule.lost, "the revocation wrote nothing through the proxy"
    assert result.status == 200, result.body
    assert not active(grant["access_token"]) and not active(grant["refresh_token"])
    assert refresh(client_id, secret, grant["refresh_token"]).status == 400


@pytest.mark.parametrize("mark", [0, 1, 2])
def test_revoking_a_grant_whose_mark_response_is_lost(proxy: LossyProxy, mark: int) -> None:
    """Revoking a grant first marks each code and refresh token that may still issue (an UpdateItem
    that returns the row): logging out with the newest refresh token of a rotated grant marks it, the
    refresh token before it and the code. The ``mark``-th of them commits and loses its answer;
    botocore resends it, the resend changes nothing more and returns the row all the same, and the
    revocation completes: nothing of the grant is left."""
    client_id, secret, first = _tokens()
    assert secret is not None
    second = refresh(client_id, secret, first["refresh_token"]).json
    with proxy.lose_responses("UpdateItem", skip=mark) as rule:
        result = call("POST", "/oauth2/revoke", headers=basic(client_id, secret),
                      form={"token": second["refresh_token"]})
    assert rule.lost == ["UpdateItem"], "the revocation marked fewer rows than expected"
    assert result.status == 200, result.body
    for token in (second["access_token"], second["refresh_token"], first["refresh_token"]):
        assert not active(token)
    assert refresh(client_id, secret, second["refresh_token"]).status == 400
    assert refresh(client_id, secret, first["refresh_token"]).status == 400


def test_revoking_an_access_token_whose_delete_response_is_lost(proxy: LossyProxy) -> None:
    client_id, secret, grant = _tokens()
    assert secret is not None
    with proxy.lose_responses({"DeleteItem", "UpdateItem", "PutItem"}) as rule:
        result = call("POST", "/oauth2/revoke", headers=basic(client_id, secret),
                      form={"token": grant["access_token"]})
    assert rule.lost
    assert result.status == 200, result.body
    assert not active(grant["access_token"])
    assert refresh(client_id, secret, grant["refresh_token"]).status == 200  # only that token went


def test_client_credentials_token_whose_put_response_is_lost(proxy: LossyProxy) -> None:
    with proxy.lose_responses("PutItem") as rule:
        result = call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                      form={"grant_type": "client_credentials"})
    assert rule.lost == ["PutItem"]
    assert result.status == 200, result.body
    assert active(result.json["access_token"])


def test_authorization_legs_whose_write_responses_are_lost(proxy: LossyProxy) -> None:
    """First leg: the consent request's PutItem; second leg: the transaction consuming the answer and
    writing the code. Both resent by botocore; the browser still ends with a code that works."""
    client_id, secret = make_client()
    flow = Flow(client_id)
    with proxy.lose_responses("PutItem") as first:
        started = flow.start()
    assert first.lost == ["PutItem"]
    assert started.status == 302 and flow.consent_id, started.body
    assert flow.accept().status == 204
    request = flow.consent_request()
    with proxy.lose_responses("TransactWriteItems") as second:
        back = flow.get(request["redirectUrl"])
    assert second.lost == ["TransactWriteItems"]
    assert back.status == 302, back.body
    result = redeem(client_id, secret, qs(back.headers["location"])["code"])
    assert result.status == 200, result.body


@pytest.fixture
def first_start(fresh_install: pytest.MonkeyPatch) -> Iterator[None]:
    """Empty tables and random root credentials (a new installation); afterwards the session's forced
    root client again."""
    from hydra_lambda.config import reset_settings

    fresh_install.setenv("FORCE_ROOT_CLIENT_CREDENTIALS", "")
    reset_settings()
    yield


def test_first_start_whose_transaction_response_is_lost(proxy: LossyProxy, first_start: None) -> None:
    """The root client and its policies are one transaction: resent, it still hands out the root
    credentials once (before, the resend failed its condition and read as "another container won":
    no credentials were ever published)."""
    from hydra_lambda import bootstrap

    with proxy.lose_responses("TransactWriteItems") as rule:
        created = bootstrap.ensure_root_client()
    assert rule.lost == ["TransactWriteItems"]
    assert created is not None
    client_id, secret = created
    result = call("POST", "/oauth2/token", headers=basic(client_id, secret),
                  form={"grant_type": "client_credentials", "scope": "hydra.clients"})
    assert result.status == 200, result.body
    assert bootstrap.ensure_root_client() is None  # handed out once


@pytest.mark.parametrize("kind", ["policy", "group"])
def test_admin_create_whose_response_is_lost(proxy: LossyProxy, kind: str) -> None:
    """A policy or warden group whose conditional PutItem commits, then loses its answer: botocore's
    resend finds the row it wrote, and the caller gets 201, not 409 for its own create."""
    from tests.support import admin_headers
    from tests.support_admin import unique

    headers = admin_headers("hydra.policies hydra.warden.groups")
    path, body = (("/policies", {"id": unique("lost"), "subjects": ["alice"], "effect": "allow",
                                 "resources": ["rn:x"], "actions": ["get"]})
                  if kind == "policy" else ("/warden/groups", {"id": unique("lost"), "members": ["alice"]}))
    with proxy.lose_responses("PutItem") as rule:
        created = call("POST", path, headers=headers, json_body=body)
    assert rule.lost == ["PutItem"]
    assert created.status == 201, created.body
    assert call("GET", f"{path}/{body['id']}", headers=headers).status == 200
    assert call("POST", path, headers=headers, json_body=body).status == 409  # a second create is still refused
    assert call("DELETE", f"{path}/{body['id']}", headers=headers).status == 204
