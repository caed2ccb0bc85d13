"""Authentication time and context (issue #14): the consent request shows what the relying party
asked (prompt, max_age, acr_values, login_hint, ui_locales, a valid id_token_hint); the acceptance
may carry when and how the user really authenticated, which the ID token then carries; max_age is
enforced against that time; unknown acceptance fields are refused."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hydra_lambda import clock
from jose import jwt

from tests.support_flows import Flow, make_client, qs, redeem


def _finish(flow: Flow, secret: str | None, **accept: Any) -> dict[str, Any]:
    """Accept, come back, redeem: the token response."""
    answer = flow.accept(**accept)
    assert answer.status == 204, answer.body
    code = qs(flow.back().headers["location"])["code"]
    result = redeem(flow.client_id, secret, code)
    assert result.status == 200, result.body
    return result.json


def test_the_consent_request_shows_what_the_relying_party_asked() -> None:
    client_id, secret = make_client()
    first = Flow(client_id)
    first.start()
    assert set(first.consent_request()) == {"id", "requestedScopes", "clientId", "expiresAt", "redirectUrl"}
    hint = _finish(first, secret)["id_token"]
    flow = Flow(client_id)
    assert flow.start(prompt="login consent", max_age="300", acr_values="urn:mace:incommon:iap:silver gold",
                      login_hint="alice@example.com", ui_locales="fr-CA en", id_token_hint=hint,
                      display="popup").status == 302
    body = flow.consent_request()
    assert body["requestedPrompt"] == "login consent"
    assert body["requestedMaxAge"] == 300
    assert body["requestedAcr"] == ["urn:mace:incommon:iap:silver", "gold"]
    assert body["loginHint"] == "alice@example.com"
    assert body["uiLocales"] == ["fr-CA", "en"]
    assert body["display"] == "popup"
    assert body["idTokenHintClaims"]["sub"] == "alice"
    assert body["idTokenHintClaims"]["aud"] == client_id


def test_display_must_be_one_the_spec_names_and_then_reaches_the_consent_app() -> None:
    from tests.support import call
    from tests.support_flows import REDIRECT

    client_id, _ = make_client()
    refused = Flow(client_id).start(display="fullscreen").headers["location"]
    assert refused.startswith(REDIRECT) and qs(refused)["error"] == "invalid_request"
    assert "display" in qs(refused)["error_description"]
    flow = Flow(client_id)
    assert "consent=" in flow.start(display="touch").headers["location"]
    assert flow.consent_request()["display"] == "touch"
    listed = call("GET", "/.well-known/openid-configuration").json["display_values_supported"]
    assert listed == ["page", "popup", "touch", "wap"]


def test_a_forged_id_token_hint_is_not_shown() -> None:
    client_id, _ = make_client()
    forged = jwt.encode({"iss": "http://127.0.0.1:4444", "sub": "mallory", "aud": client_id}, "k" * 32)
    flow = Flow(client_id)
    assert flow.start(id_token_hint=forged).status == 302
    assert "idTokenHintClaims" not in flow.consent_request()


def test_the_id_token_carries_the_real_authentication_time_acr_and_amr() -> None:
    client_id, secret = make_client()
    flow = Flow(client_id)
    flow.start()
    signed_in = int(time.time()) - 120
    claims = jwt.get_unverified_claims(_finish(flow, secret, authTime=signed_in, providedAcr="gold",
                                               amr=["pwd", "otp"])["id_token"])
    assert claims["auth_time"] == signed_in
    assert claims["acr"] == "gold"
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["iat"] >= signed_in + 120


def test_without_auth_time_it_is_the_acceptance_not_the_code() -> None:
    client_id, secret = make_client()
    flow = Flow(client_id)
    flow.start()
    accepted = clock.now_int()
    assert flow.accept().status == 204
    clock.advance(100)
    code = qs(flow.back().headers["location"])["code"]
    claims = jwt.get_unverified_claims(redeem(client_id, secret, code).json["id_token"])
    assert abs(claims["auth_time"] - accepted) <= 1


def test_max_age_is_enforced_against_the_authentication_time() -> None:
    client_id, secret = make_client()
    flow = Flow(client_id)
    flow.start(max_age="60")
    stale = flow.accept(authTime=int(time.time()) - 600)
    assert stale.status == 400 and "max_age" in stale.body
    fresh = int(time.time()) - 10
    assert jwt.get_unverified_claims(_finish(flow, secret, authTime=fresh)["id_token"])["auth_time"] == fresh


@pytest.mark.parametrize("body", [
    {"subject": "alice", "grantScopes": ["openid"], "unknown": 1},
    {"subject": "alice", "authTime": int(time.time()) + 3600},
    {"subject": "alice", "amr": "pwd"},
    {"subject": "alice", "providedAcr": 5},
    {"subject": "alice", "authTime": "0001-01-01"},  # a date without a time zone
    {"subject": "alice\ud800"},  # a lone surrogate
    {"subject": "alice", "grantScopes": ["openid"], "accessTokenExtra": {"x": float("nan")}},  # NaN is not JSON
    {"subject": "alice", "grantScopes": ["openid"], "idTokenExtra": {"x": float("inf")}},
])
def test_unknown_or_bad_acceptance_fields_are_refused(body: dict[str, Any]) -> None:
    from tests.support import call
    from tests.support_flows import bearer

    client_id, _ = make_client()
    flow = Flow(client_id)
    flow.start()
    result = call("PATCH", f"/oauth2/consent/requests/{flow.consent_id}/accept", headers=bearer(), json_body=body)
    assert result.status == 400, result.body
    assert flow.consent_request()  # still pending and readable
    assert flow.accept().status == 204
