"""The authorization code grant: PKCE, redirect_uri binding, single use (with revocation on replay),
refresh and ID tokens as granted, and two racing redemptions on DynamoDB Local."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hydra_lambda import clock
from hydra_lambda.http.forms import credentials

from tests.support import call
from tests.support_flows import NONCE, REDIRECT, code_flow, make_client, pkce_pair, redeem


def verify_id_token(id_token: str, client_id: str) -> dict[str, Any]:
    from hydra_lambda import keys
    from jose import jwt

    header = jwt.get_unverified_header(id_token)
    (key,) = [k for k in keys.jwks()["keys"] if k["kid"] == header["kid"]]
    return jwt.decode(id_token, key, algorithms=[header["alg"]], audience=client_id,
                      issuer="http://127.0.0.1:4444", options={"verify_at_hash": False})


def userinfo_status(access_token: str) -> int:
    return call("GET", "/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status


def _code(client_id: str, **params: str) -> str:
    return code_flow(client_id, **params)[1]["code"]


def test_code_with_pkce_s256_yields_access_refresh_and_id_token() -> None:
    from hydra_lambda.tokens.id_tokens import half_hash

    client_id, secret = make_client()
    verifier, challenge = pkce_pair()
    before = int(time.time())
    _flow, callback = code_flow(client_id, code_challenge=challenge, code_challenge_method="S256")
    result = redeem(client_id, secret, callback["code"], code_verifier=verifier)
    assert result.status == 200, result.body
    assert result.headers["cache-control"] == "no-store"
    body = result.json
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["scope"] == "openid offline"
    assert body["access_token"].startswith("hl_at_") and body["refresh_token"].startswith("hl_rt_")
    claims = verify_id_token(body["id_token"], client_id)
    assert claims["sub"] == "alice" and claims["nonce"] == NONCE
    assert claims["exp"] - claims["iat"] == 3600
    assert before - 1 <= claims["auth_time"] <= claims["iat"]
    assert claims["at_hash"] == half_hash(body["access_token"], "RS256")
    assert "c_hash" not in claims


def test_id_token_extra_claims_and_standard_claims_win() -> None:
    client_id, secret = make_client()
    from tests.support_flows import Flow, qs

    flow = Flow(client_id)
    flow.start()
    assert flow.accept(scopes=["openid", "offline", "email"],
                       idTokenExtra={"email": "alice@example.com", "sub": "mallory", "iss": "evil"},
                       accessTokenExtra={"tenant": "acme"}).status == 204
    code = qs(flow.back().headers["location"])["code"]
    body = redeem(client_id, secret, code).json
    claims = verify_id_token(body["id_token"], client_id)
    assert claims["email"] == "alice@example.com"
    assert claims["sub"] == "alice" and claims["iss"] == "http://127.0.0.1:4444"


def test_plain_pkce_works() -> None:
    client_id, secret = make_client()
    verifier = "v" * 50
    code = _code(client_id, code_challenge=verifier, code_challenge_method="plain")
    assert redeem(client_id, secret, code, code_verifier=verifier).status == 200


def test_public_client_redeems_with_pkce_and_no_secret() -> None:
    client_id, _ = make_client(public=True)
    verifier, challenge = pkce_pair()
    code = _code(client_id, code_challenge=challenge, code_challenge_method="S256")
    assert redeem(client_id, None, code, code_verifier=verifier).status == 200


@pytest.mark.parametrize("attempt", ["missing", "wrong", "challenge-as-plain-verifier"])
def test_pkce_downgrade_and_mismatch_fail(attempt: str) -> None:
    client_id, secret = make_client()
    verifier, challenge = pkce_pair()
    code = _code(client_id, code_challenge=challenge, code_challenge_method="S256")
    sent = {"missing": None, "wrong": pkce_pair()[0], "challenge-as-plain-verifier": challenge}[attempt]
    form = {"code_verifier": sent} if sent else {}
    result = redeem(client_id, secret, code, **form)
    assert result.status == 400
    assert result.json["error"] == "invalid_grant"
    # the failed attempt did not burn the code: the genuine holder still redeems it
    assert redeem(client_id, secret, code, code_verifier=verifier).status == 200


def test_verifier_without_challenge_is_rejected() -> None:
    client_id, secret = make_client()
    code = _code(client_id)
    result = redeem(client_id, secret, code, code_verifier=pkce_pair()[0])
    assert result.status == 400 and result.json["error"] == "invalid_grant"


def test_redirect_uri_must_match_the_authorize_request() -> None:
    client_id, secret = make_client(redirect_uris=[REDIRECT, "http://127.0.0.1:9999/other"])
    code = _code(client_id)
    for uri in ("http://127.0.0.1:9999/other", ""):
        result = redeem(client_id, secret, code, redirect_uri=uri)
        assert result.status == 400 and result.json["error"] == "invalid_grant", uri
    assert redeem(client_id, secret, code).status == 200


def test_another_client_cannot_redeem_the_code() -> None:
    client_id, secret = make_client()
    other_id, other_secret = make_client()
    code = _code(client_id)
    result = redeem(other_id, other_secret, code)
    assert result.status == 400 and result.json["error"] == "invalid_grant"
    assert redeem(client_id, secret, code).status == 200


def test_second_redemption_fails_and_revokes_the_tokens_of_the_first() -> None:
    client_id, secret = make_client()
    code = _code(client_id)
    first = redeem(client_id, secret, code)
    assert first.status == 200
    assert userinfo_status(first.json["access_token"]) == 200
    second = redeem(client_id, secret, code)
    assert second.status == 400 and second.json["error"] == "invalid_grant"
    assert "refresh_token" not in second.json and "access_token" not in second.json
    assert userinfo_status(first.json["access_token"]) == 401
    refreshed = call("POST", "/oauth2/token", headers=_basic(client_id, secret),
                     form={"grant_type": "refresh_token", "refresh_token": first.json["refresh_token"]})
    assert refreshed.status == 400 and refreshed.json["error"] == "invalid_grant"


def _basic(client_id: str, secret: str | None) -> dict[str, str]:
    from tests.support import basic

    return basic(client_id, secret or "")


def test_expired_code_is_invalid() -> None:
    client_id, secret = make_client()
    code = _code(client_id)
    clock.advance(601)
    result = redeem(client_id, secret, code)
    assert result.status == 400 and result.json["error"] == "invalid_grant"


def test_forged_or_missing_code() -> None:
    client_id, secret = make_client()
    assert redeem(client_id, secret, "hl_ac_" + "A" * 43 + "." + "B" * 43).json["error"] == "invalid_grant"
    missing = redeem(client_id, secret, "")
    assert missing.status == 400 and missing.json["error"] == "invalid_request"


def test_refresh_and_id_token_only_when_granted() -> None:
    client_id, secret = make_client()
    code = code_flow(client_id, scopes=["profile"])[1]["code"]
    body = redeem(client_id, secret, code).json
    assert body["scope"] == "profile"
    assert "refresh_token" not in body and "id_token" not in body
    code = code_flow(client_id, scopes=["openid", "offline_access"])[1]["code"]
    body = redeem(client_id, secret, code).json
    assert "refresh_token" in body and "id_token" in body


def test_client_without_refresh_grant_gets_no_refresh_token() -> None:
    client_id, secret = make_client(grant_types=["authorization_code"])
    body = redeem(client_id, secret, _code(client_id)).json
    assert "refresh_token" not in body and "id_token" in body


def race(form: dict[str, str], client_id: str, secret: str | None) -> list[str]:
    """Two threads run the token endpoint (client authentication, grant dispatch, the grant) at once,
    as two Lambda containers would; returns the sorted outcomes."""
    from hydra_lambda.endpoints import token as token_endpoint
    from hydra_lambda.errors import OAuth2Error

    from tests.support import basic

    authorization = credentials(basic(client_id, secret or "")["Authorization"])
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def attempt() -> None:
        barrier.wait()
        try:
            token_endpoint.serve(authorization, dict(form))
            outcomes.append("ok")
        except OAuth2Error as exc:
            outcomes.append(exc.error)
        except Exception as exc:  # anything else is a failure of the test, recorded as such
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_racing_redemptions_exactly_one_succeeds() -> None:
    client_id, secret = make_client()
    for _round in range(3):
        code = _code(client_id)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        assert race(form, client_id, secret) == ["invalid_grant", "ok"]


def test_a_stale_read_cannot_consume_a_code_twice() -> None:
    """The transaction's condition, not the read before it, is what makes a code single use."""
    from hydra_lambda.storage import token_rows as token_store
    from hydra_lambda.tokens import issuer
    from hydra_lambda.tokens import opaque as opaque_tokens

    client_id, _ = make_client()
    code = _code(client_id)
    stale = token_store.get(opaque_tokens.signature_of(code, "code"), "code")
    assert stale is not None and stale.used_at is None
    first = issuer.mint("access", client_id=client_id, request_id=stale.request_id, subject="alice",
                          scopes=[], lifespan=60)[1]
    second = issuer.mint("access", client_id=client_id, request_id=stale.request_id, subject="alice",
                           scopes=[], lifespan=60)[1]
    assert token_store.redeem(stale, [first]) is True
    assert token_store.redeem(stale, [second]) is False
    assert token_store.get(first.signature, "access") is not None
    assert token_store.get(second.signature, "access") is None  # nothing of the losing write landed


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    from hydra_lambda import pkce

    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    pkce.verify(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256")


def test_half_hash_uses_the_hash_of_the_algorithm() -> None:
    import base64
    import hashlib

    from hydra_lambda.tokens.id_tokens import half_hash

    value = "hl_at_example"
    for alg, hasher in (("RS256", hashlib.sha256), ("ES256", hashlib.sha256), ("RS384", hashlib.sha384)):
        digest = hasher(value.encode()).digest()
        expected = base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
        assert half_hash(value, alg) == expected
