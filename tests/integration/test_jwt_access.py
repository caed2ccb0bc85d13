"""RFC 9068 JWT access tokens (``tokens.jwt_access``): a client whose effective strategy is ``jwt`` gets
a signed ``at+jwt`` access token a resource server validates offline from the JWKS; the token is
still recorded (hashed), so introspection, revocation (one token, a refresh family, a deleted client)
and the warden judge it, and a forged or altered one is inactive without a database read."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hydra_lambda.config import reset_settings
from jose import jwt

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, bearer, call, dynamodb_calls, new_client
from tests.support_flows import Flow, make_client, qs, redeem, refresh
from tests.support_lifecycle import introspect, is_active, revoke

ISSUER = "http://127.0.0.1:4444"


@pytest.fixture
def jwt_by_default() -> Iterator[None]:
    os.environ["ACCESS_TOKEN_STRATEGY"] = "jwt"
    reset_settings()
    yield
    os.environ.pop("ACCESS_TOKEN_STRATEGY", None)
    reset_settings()


def _cc_token(client_id: str, secret: str, scope: str = "") -> dict[str, Any]:
    result = call("POST", "/oauth2/token", headers=basic(client_id, secret),
                  form={"grant_type": "client_credentials", "scope": scope})
    assert result.status == 200, result.body
    return result.json


def resource_server_validates(token: str, audience: str) -> dict[str, Any]:
    """What a resource server does offline: the JWKS once, then the signature, typ, iss, aud, exp."""
    jwks = call("GET", "/.well-known/jwks.json").json
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"  # RFC 9068 section 4: never an ID token taken for an access token
    return jwt.decode(token, jwks, algorithms=[header["alg"]], audience=audience, issuer=ISSUER)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _reencoded(token: str, **changes: Any) -> str:
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


def test_a_jwt_client_gets_an_at_jwt_a_resource_server_validates_offline_then_revocation_shows() -> None:
    client_id, secret = new_client("rs", scope="read write", access_token_strategy="jwt")
    body = _cc_token(client_id, secret, "read")
    token = body["access_token"]
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and not token.startswith("hl_")
    claims = resource_server_validates(token, audience=client_id)
    assert claims["iss"] == ISSUER and claims["sub"] == client_id and claims["client_id"] == client_id
    assert claims["aud"] == [client_id] and claims["scope"] == "read" and claims["scp"] == ["read"]
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"] and len(claims["jti"]) == 36
    assert "ext" not in claims
    # Recorded hashed: the row's key is the expiry and the SHA-256 of the token, never the token.
    from hydra_lambda.storage import token_rows

    digest = _b64(hashlib.sha256(token.encode()).digest())
    row = token_rows.get(f"{claims['exp']:010d}{digest}", "access")
    assert row is not None and row.client_id == client_id and token not in str(row.__dict__)
    active = introspect(token).json
    assert active["active"] is True and active["client_id"] == client_id and active["scope"] == "read"
    assert active["exp"] == claims["exp"] and active["token_type"] == "access_token"
    assert revoke(token, basic(client_id, secret)).status == 200
    assert introspect(token).json == {"active": False}
    # What a resource server that only checks signatures misses: the revoked token still verifies.
    assert resource_server_validates(token, audience=client_id)["jti"] == claims["jti"]


def test_forged_and_altered_jwts_are_inactive_without_a_database_read() -> None:
    client_id, secret = new_client("rs", scope="read admin", access_token_strategy="jwt")
    token = _cc_token(client_id, secret, "read")["access_token"]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    header = jwt.get_unverified_header(token)
    claims = jwt.get_unverified_claims(token)
    forged = [
        _reencoded(token, scope="read admin"),  # altered claims, the original signature
        _reencoded(token, exp=claims["exp"] + 86400),  # a longer life
        jwt.encode(claims, pem, algorithm="RS256", headers={"kid": header["kid"], "typ": "at+jwt"}),  # another key
        f"{_b64(json.dumps({'alg': 'none', 'typ': 'at+jwt'}).encode())}.{token.split('.')[1]}.",  # alg none
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),  # a damaged signature
        "a.b.c", token + ".x",
    ]
    from hydra_lambda.tokens import lookup

    for value in forged:
        assert introspect(value, basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)).json == {"active": False}
        assert call("GET", "/userinfo", headers=bearer(value)).status == 401
        with dynamodb_calls() as seen:
            assert lookup.live(value) is None
        assert seen == [], value  # refused by its signature, before any read
    assert is_active(token)


def test_an_id_token_is_no_access_token() -> None:
    # Same keys, same issuer: only typ at+jwt (RFC 9068 section 4) tells them apart, and the row.
    client_id, secret = make_client(access_token_strategy="jwt")
    flow = Flow(client_id)
    flow.start(scope="openid", nonce="n-0123456789")
    assert flow.accept(scopes=["openid"]).status == 204
    tokens = redeem(client_id, secret, qs(flow.back().headers["location"])["code"]).json
    assert is_active(tokens["access_token"])
    assert not is_active(tokens["id_token"])
    assert call("GET", "/userinfo", headers=bearer(tokens["id_token"])).status == 401


def test_code_flow_jwt_carries_the_consent_claims_as_ext_and_refresh_revocation_reaches_it(
        jwt_by_default: None) -> None:
    client_id, secret = make_client()  # no strategy of its own: the server's (jwt)
    flow = Flow(client_id)
    flow.start(scope="openid offline", nonce="n-0123456789")
    assert flow.accept(scopes=["openid", "offline"], accessTokenExtra={"tenant": "acme"}).status == 204
    first = redeem(client_id, secret, qs(flow.back().headers["location"])["code"]).json
    claims = resource_server_validates(first["access_token"], audience=client_id)
    assert claims["sub"] == "alice" and claims["ext"] == {"tenant": "acme"} and claims["scope"] == "openid offline"
    assert "auth_time" in claims
    assert first["refresh_token"].startswith("hl_rt_")  # refresh tokens stay opaque
    id_claims = jwt.get_unverified_claims(first["id_token"])
    from hydra_lambda.tokens.id_tokens import half_hash

    assert id_claims["at_hash"] == half_hash(first["access_token"], "RS256")
    assert call("GET", "/userinfo", headers=bearer(first["access_token"])).status == 200
    second = refresh(client_id, secret, first["refresh_token"]).json
    assert not is_active(first["access_token"]) and is_active(second["access_token"])  # rotation
    assert jwt.get_unverified_claims(second["access_token"])["ext"] == {"tenant": "acme"}
    assert revoke(second["refresh_token"], basic(client_id, secret)).status == 200  # the whole family
    assert not is_active(second["access_token"])


def test_a_client_choosing_opaque_keeps_opaque_tokens_under_a_jwt_default(jwt_by_default: None) -> None:
    client_id, secret = new_client("op", scope="read", access_token_strategy="opaque")
    assert _cc_token(client_id, secret, "read")["access_token"].startswith("hl_at_")
    other, other_secret = new_client("df", scope="read")
    assert _cc_token(other, other_secret, "read")["access_token"].count(".") == 2


def test_deleting_the_client_revokes_its_jwts_and_the_warden_honours_live_ones(jwt_by_default: None) -> None:
    from hydra_lambda.clients.registry import delete_client

    admin = _cc_token(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, "hydra.clients")["access_token"]
    assert admin.count(".") == 2
    assert call("GET", "/clients", headers=bearer(admin)).status == 200  # the warden's decision, on a JWT
    client_id, secret = new_client("gone", scope="read")
    token = _cc_token(client_id, secret, "read")["access_token"]
    assert is_active(token)
    assert delete_client(client_id)
    assert not is_active(token)
    assert revoke(admin, basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)).status == 200
    assert call("GET", "/clients", headers=bearer(admin)).status == 401


def test_key_rotation_waits_for_jwt_access_tokens_signed_by_the_retired_key_to_expire(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda.keys import rotation

    monkeypatch.setenv("ACCESS_TOKEN_LIFESPAN", "5h")
    monkeypatch.setenv("SIGNING_KEYS_CACHE_SECONDS", "0")
    reset_settings()
    try:
        assert rotation.minimum_interval() == 5 * 3600  # beyond the 1h ID tokens and the JWKS max-age
    finally:
        monkeypatch.undo()
        reset_settings()
