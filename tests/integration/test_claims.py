"""Issue 25 item 1: the standard scopes release their claims only when granted, and the ``claims``
parameter (OpenID Connect Core 5.5) asks for claims by name, for the ID token or ``/userinfo``. The
consent app supplies everything it knows about the user; only what the grant and the request cover
comes out."""

from __future__ import annotations

import json
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from jose import jwt

from tests.integration.test_code_flow import verify_id_token
from tests.support import LocalServer, call
from tests.support_flows import REDIRECT, Flow, make_client, qs, redeem

# Everything the consent app knows about alice, standard and custom.
EVERYTHING = {"name": "Alice", "given_name": "Alice", "email": "alice@example.com", "email_verified": True,
              "address": {"country": "FR"}, "phone_number": "+33 1 23 45 67 89", "birthdate": "1990-01-01",
              "tenant": "acme"}
# What the server sets itself: never the consent app's business.
SERVER_SET = {"iss", "sub", "aud", "exp", "iat", "auth_time", "rat", "nonce", "at_hash", "c_hash", "acr", "amr"}


def _user_claims(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k not in SERVER_SET}


def _finish(flow: Flow, secret: str | None, scopes: list[str], **accept: Any) -> dict[str, Any]:
    assert flow.accept(scopes=scopes, **accept).status == 204
    back = flow.back()
    assert back.status == 302, back.body
    landed = qs(back.headers["location"])
    assert "code" in landed, landed
    result = redeem(flow.client_id, secret, landed["code"])
    assert result.status == 200, result.body
    return result.json


def _userinfo(access_token: str) -> dict[str, Any]:
    result = call("GET", "/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert result.status == 200, result.body
    return result.json


def test_scopes_alone_release_only_their_claims() -> None:
    client_id, secret = make_client()
    flow = Flow(client_id)
    assert flow.start(scope="openid profile email").status == 302
    assert "requestedClaims" not in flow.consent_request()
    tokens = _finish(flow, secret, ["openid", "email"], idTokenExtra=EVERYTHING)  # profile unticked
    expected = {"email": "alice@example.com", "email_verified": True, "tenant": "acme"}
    assert _user_claims(verify_id_token(tokens["id_token"], client_id)) == expected
    assert _userinfo(tokens["access_token"]) == {"sub": "alice", **expected}


def test_the_claims_parameter_asks_per_target_and_a_refused_scope_still_wins() -> None:
    client_id, secret = make_client()
    flow = Flow(client_id)
    asked = {"id_token": {"name": {"essential": True}, "email": None},
             "userinfo": {"address": None, "given_name": {"value": "Alice", "extension": 1}}}
    assert flow.start(scope="openid email", claims=json.dumps(asked)).status == 302
    # The consent app sees the validated request (unknown members of a claim's object dropped).
    assert flow.consent_request()["requestedClaims"] == {
        "id_token": {"name": {"essential": True}, "email": None},
        "userinfo": {"address": None, "given_name": {"value": "Alice"}}}
    # The user unticks email: the claims parameter naming email does not bring it back.
    tokens = _finish(flow, secret, ["openid"], idTokenExtra=EVERYTHING)
    assert _user_claims(verify_id_token(tokens["id_token"], client_id)) == {"name": "Alice", "tenant": "acme"}
    assert _userinfo(tokens["access_token"]) == {"sub": "alice", "address": {"country": "FR"}, "given_name": "Alice",
                                                 "tenant": "acme"}


def _error(result: Any) -> dict[str, str]:
    assert result.status == 302, result.body
    location = result.headers["location"]
    assert location.startswith(REDIRECT), location
    return qs(location)


def test_a_malformed_claims_parameter_is_an_invalid_request_redirect() -> None:
    client_id, _secret = make_client()
    for raw in ("not json", "[]", '{"access_token": {}}', '{"userinfo": {"email": true}}', "[" * 1000 + "]" * 1000,
                '{"id_token": {"name": {"value": "' + "x" * 3000 + '"}}}'):
        landed = _error(Flow(client_id).start(claims=raw))
        assert landed["error"] == "invalid_request", landed
        assert "claims" in landed["error_description"]


def test_an_unmet_essential_acr_or_another_subject_is_access_denied() -> None:
    client_id, _secret = make_client()
    flow = Flow(client_id)
    flow.start(acr_values="gold", claims='{"id_token": {"acr": {"essential": true}}}')
    assert flow.accept(providedAcr="silver").status == 204
    assert _error(flow.back())["error"] == "access_denied"

    flow = Flow(client_id)
    flow.start(claims='{"id_token": {"sub": {"value": "bob"}}}')
    assert flow.accept(subject="alice").status == 204
    assert _error(flow.back())["error"] == "access_denied"


def test_an_essential_acr_that_is_met_is_released() -> None:
    client_id, secret = make_client()
    flow = Flow(client_id)
    flow.start(claims='{"id_token": {"acr": {"essential": true, "values": ["gold", "platinum"]}}}')
    tokens = _finish(flow, secret, ["openid"], providedAcr="gold")
    assert verify_id_token(tokens["id_token"], client_id)["acr"] == "gold"


def test_authlib_code_flow_with_email_scope_and_a_claims_parameter(server: LocalServer) -> None:
    """A real relying-party library against the local server over HTTP."""
    client_id, secret = make_client()
    asked = {"id_token": {"name": {"essential": True}}, "userinfo": {"phone_number": None}}
    session = OAuth2Session(client_id, secret, scope="openid email", redirect_uri=REDIRECT,
                            code_challenge_method="S256")
    verifier, nonce = generate_token(48), generate_token(16)
    url, _state = session.create_authorization_url(f"{server.url}/oauth2/auth", code_verifier=verifier,
                                                   nonce=nonce, claims=json.dumps(asked))
    browser = requests.Session()
    first = browser.get(url, allow_redirects=False, timeout=10)
    assert first.status_code == 302, first.text

    admin = requests.post(f"{server.url}/oauth2/token", timeout=10, auth=_root(),
                          data={"grant_type": "client_credentials", "scope": "hydra.consent"}).json()["access_token"]
    consent_id = qs(first.headers["Location"])["consent"]
    api = f"{server.url}/oauth2/consent/requests/{consent_id}"
    request = requests.get(api, headers={"Authorization": f"Bearer {admin}"}, timeout=10).json()
    assert request["requestedScopes"] == ["openid", "email"] and request["requestedClaims"] == asked
    answer = {"subject": "alice", "grantScopes": ["openid", "email"], "idTokenExtra": EVERYTHING}
    assert requests.patch(api + "/accept", headers={"Authorization": f"Bearer {admin}"}, json=answer,
                          timeout=10).status_code == 204
    second = browser.get(request["redirectUrl"], allow_redirects=False, timeout=10)
    assert second.status_code == 302, second.text

    token = session.fetch_token(f"{server.url}/oauth2/token", authorization_response=second.headers["Location"],
                                code_verifier=verifier)
    jwks = requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()
    claims = jwt.decode(token["id_token"], jwks, algorithms=["RS256", "ES256"], audience=client_id,
                        issuer=server.url, access_token=token["access_token"])
    assert claims["nonce"] == nonce and claims["sub"] == "alice"
    # exactly what was granted (email) and asked for the ID token (name), plus the custom claim
    assert _user_claims(claims) == {"email": "alice@example.com", "email_verified": True, "name": "Alice",
                                    "tenant": "acme"}
    userinfo = session.get(f"{server.url}/userinfo", timeout=10)
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json() == {"sub": "alice", "email": "alice@example.com", "email_verified": True,
                               "phone_number": "+33 1 23 45 67 89", "tenant": "acme"}


def _root() -> tuple[str, str]:
    from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET

    return ROOT_CLIENT_ID, ROOT_CLIENT_SECRET


def test_a_narrower_refresh_narrows_the_released_claims() -> None:
    from tests.support_flows import refresh

    client_id, secret = make_client()
    flow = Flow(client_id)
    flow.start(scope="openid offline profile email")
    first = _finish(flow, secret, ["openid", "offline", "profile", "email"], idTokenExtra=EVERYTHING)
    assert _userinfo(first["access_token"])["email"] == "alice@example.com"
    result = refresh(client_id, secret, first["refresh_token"], scope="openid profile")
    assert result.status == 200, result.body
    narrowed = {"name": "Alice", "given_name": "Alice", "birthdate": "1990-01-01", "tenant": "acme"}
    assert _user_claims(verify_id_token(result.json["id_token"], client_id)) == narrowed
    assert _userinfo(result.json["access_token"]) == {"sub": "alice", **narrowed}
