"""Client authentication by JWT (issue 25 item 2, RFC 7523 section 2.2, OpenID Connect Core 9) at the
token, introspection and revocation endpoints, on DynamoDB Local: assertions built by authlib (a
relying party's library) and by hand, every hostile one a clean 401 invalid_client, the jti usable
once (a conditional put, raced), the sealed secret of client_secret_jwt clients, and the rule that
a client uses the method it registered."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from authlib.oauth2.rfc7523 import client_secret_jwt_sign, private_key_jwt_sign

from tests.support import basic, call, client_credentials_token, new_client, unique
from tests.support_admin import add_policy, admin, make_client, remove_policy
from tests.support_jose import assertion_claims, assertion_form, jwks, key_pair, sign, unsigned
from tests.unit.test_fetch import Handler, _send, loopback_allowed, serve  # noqa: F401 (fixtures)

ISSUER = "http://127.0.0.1:4444"
TOKEN_URL = f"{ISSUER}/oauth2/token"
RSA = key_pair("RS256")
EC = key_pair("ES256")


def _token(form: dict[str, str], **request: Any) -> Any:
    return call("POST", "/oauth2/token", form={"grant_type": "client_credentials", **form}, **request)


def _key_client(**fields: Any) -> str:
    client_id, _ = new_client("pkj", token_endpoint_auth_method="private_key_jwt", jwks=jwks(RSA, EC), **fields)
    return client_id


def _secret_jwt_client(**fields: Any) -> tuple[str, str]:
    client_id, secret = new_client("csj", token_endpoint_auth_method="client_secret_jwt", **fields)
    assert secret is not None
    return client_id, secret


def _refused(result: Any) -> None:
    assert result.status == 401, result.body
    assert result.json["error"] == "invalid_client"


def test_private_key_jwt_from_authlib_gets_a_token_and_the_same_assertion_is_refused_again() -> None:
    client_id = _key_client()
    assertion = private_key_jwt_sign(RSA.pem, client_id, TOKEN_URL, alg="RS256", header={"kid": RSA.public["kid"]})
    if isinstance(assertion, bytes):
        assertion = assertion.decode()
    first = _token(assertion_form(assertion))
    assert first.status == 200, first.body
    _refused(_token(assertion_form(assertion)))  # replayed jti
    ec_signed = sign(assertion_claims(client_id, TOKEN_URL), EC)
    assert _token(assertion_form(ec_signed, client_id=client_id)).status == 200  # client_id may accompany it


def test_client_secret_jwt_from_authlib_with_the_secret_stored_sealed() -> None:
    from hydra_lambda.storage.tables import ClientRecord

    client_id, secret = _secret_jwt_client()
    record = ClientRecord.get(client_id)
    assert record.secret_sealed.startswith("aesgcm1.") and secret not in record.secret_sealed
    assert record.secret_hash and secret not in record.secret_hash
    for alg in ("HS256", "HS384", "HS512"):
        assertion = client_secret_jwt_sign(secret, client_id, TOKEN_URL, alg=alg)
        result = _token(assertion_form(assertion.decode() if isinstance(assertion, bytes) else assertion))
        assert result.status == 200, (alg, result.body)
    _refused(_token(assertion_form(sign(assertion_claims(client_id, TOKEN_URL), secret="not-the-secret"))))
    other_id, _ = new_client("csp")  # a client_secret_basic client: hash only
    assert ClientRecord.get(other_id).secret_sealed is None


def test_hostile_assertions_are_a_clean_401() -> None:
    client_id = _key_client()
    secret_client, secret = _secret_jwt_client()
    stranger = key_pair("RS256")

    def claims(**overrides: Any) -> dict[str, Any]:
        return assertion_claims(client_id, TOKEN_URL, **overrides)

    hostile = {
        "garbage": "not-a-jwt",
        "garbage with dots": "a.b.c",
        "wrong aud": sign(claims(aud="https://elsewhere.example/token"), RSA),
        "expired": sign(claims(exp=1_000_000_000), RSA),
        "too long-lived": sign(claims(exp=4_000_000_000), RSA),
        "no jti": sign(claims(jti=None), RSA),
        "wrong key": sign(claims(), stranger, kid=RSA.public["kid"]),
        "unknown kid": sign(claims(), stranger),
        "alg none": unsigned(claims()),
        "HS with private_key_jwt": sign(claims(), secret="anything-at-all"),
        "iss is another client": sign(claims(iss=secret_client), RSA),
        "unknown client": sign(assertion_claims("no-such-client", TOKEN_URL), RSA),
        "HS keyed by the hash-only secret of another": sign(assertion_claims(secret_client, TOKEN_URL), RSA),
    }
    for name, assertion in hostile.items():
        result = _token(assertion_form(assertion))
        assert result.status == 401, (name, result.body)
        assert result.json["error"] == "invalid_client", name
        assert "WWW-Authenticate" in result.headers or "www-authenticate" in result.headers, name
    wrong_type = _token({"client_assertion_type": "urn:example:saml", "client_assertion": sign(claims(), RSA)})
    _refused(wrong_type)
    asymmetric_for_secret = sign(assertion_claims(secret_client, TOKEN_URL), RSA)
    _refused(_token(assertion_form(asymmetric_for_secret)))
    assert secret  # the secret client itself still works
    assert _token(assertion_form(sign(assertion_claims(secret_client, TOKEN_URL), secret=secret))).status == 200


def test_the_registered_signing_alg_is_the_only_one() -> None:
    client_id = _key_client(token_endpoint_auth_signing_alg="ES256")
    _refused(_token(assertion_form(sign(assertion_claims(client_id, TOKEN_URL), RSA))))
    assert _token(assertion_form(sign(assertion_claims(client_id, TOKEN_URL), EC))).status == 200


def test_a_client_uses_the_method_it_registered() -> None:
    key_client = _key_client()
    secret_client, secret = _secret_jwt_client()
    classic_id, classic_secret = new_client("cls")
    post_id, post_secret = new_client("pst", token_endpoint_auth_method="client_secret_post")
    # A JWT client may not fall back to its secret (a client_secret_jwt client has one).
    _refused(_token({}, headers=basic(secret_client, secret)))
    _refused(_token({"client_id": secret_client, "client_secret": secret}))
    _refused(_token({"client_id": key_client}))
    # A secret client may not send an assertion, even one signed with its secret.
    for client_id, plain in ((classic_id, classic_secret), (post_id, post_secret)):
        _refused(_token(assertion_form(sign(assertion_claims(client_id, TOKEN_URL), secret=plain))))
    # client_secret_basic and client_secret_post are interchangeable.
    assert _token({}, headers=basic(post_id, post_secret)).status == 200
    assert _token({"client_id": classic_id, "client_secret": classic_secret}).status == 200
    # Two methods in one request.
    mixed = _token(assertion_form(sign(assertion_claims(classic_id, TOKEN_URL), RSA)),
                   headers=basic(classic_id, classic_secret))
    assert mixed.status == 400 and mixed.json["error"] == "invalid_request"
    both = _token({**assertion_form(sign(assertion_claims(key_client, TOKEN_URL), RSA)), "client_secret": "x"})
    assert both.status == 400 and both.json["error"] == "invalid_request"


def test_a_get_then_put_echo_of_client_secret_basic_does_not_lock_out_a_post_user() -> None:
    headers = admin()
    created, _ = make_client(headers, grant_types=["client_credentials"])
    fetched = call("GET", f"/clients/{created['id']}", headers=headers).json
    assert fetched["token_endpoint_auth_method"] == "client_secret_basic"
    body = {k: v for k, v in fetched.items() if k not in ("client_secret", "created_at", "updated_at")}
    assert call("PUT", f"/clients/{created['id']}", headers=headers, json_body=body).status == 200
    form = {"client_id": created["id"], "client_secret": created["client_secret"]}
    assert _token(form).status == 200


def test_turning_a_client_to_client_secret_jwt_needs_its_secret_again() -> None:
    headers = admin()
    created, _ = make_client(headers, grant_types=["client_credentials"])
    path = f"/clients/{created['id']}"
    refused = call("PUT", path, headers=headers, json_body={"token_endpoint_auth_method": "client_secret_jwt"})
    assert refused.status == 400 and "client_secret" in refused.json["error"]["message"]
    assert call("GET", path, headers=headers).json["token_endpoint_auth_method"] == "client_secret_basic"
    turned = call("PUT", path, headers=headers,
                  json_body={"token_endpoint_auth_method": "client_secret_jwt", "client_secret": "a-new-secret-1234"})
    assert turned.status == 200 and "secret_sealed" not in turned.json
    claims = assertion_claims(created["id"], TOKEN_URL)
    assert _token(assertion_form(sign(claims, secret="a-new-secret-1234"))).status == 200
    # A later change that keeps the method keeps the sealed secret; leaving the method drops it.
    assert call("PUT", path, headers=headers, json_body={"client_name": "renamed"}).status == 200
    again = sign(assertion_claims(created["id"], TOKEN_URL), secret="a-new-secret-1234")
    assert _token(assertion_form(again)).status == 200
    from hydra_lambda.storage.tables import ClientRecord

    back = call("PUT", path, headers=headers, json_body={"token_endpoint_auth_method": "client_secret_post"})
    assert back.status == 200
    assert ClientRecord.get(created["id"]).secret_sealed is None
    assert _token({"client_id": created["id"], "client_secret": "a-new-secret-1234"}).status == 200


def test_introspection_and_revocation_take_assertions_aimed_at_them() -> None:
    client_id = _key_client(scope="photos")
    policy = add_policy(subjects=[client_id], resources=["rn:hydra:oauth2:tokens"], actions=["introspect"])
    try:
        token = _token(assertion_form(sign(assertion_claims(client_id, TOKEN_URL), RSA)), ).json["access_token"]
        for aud in (f"{ISSUER}/oauth2/introspect", ISSUER, TOKEN_URL):
            form = {**assertion_form(sign(assertion_claims(client_id, aud), RSA)), "token": token}
            result = call("POST", "/oauth2/introspect", form=form)
            assert result.status == 200 and result.json["active"] is True, (aud, result.body)
        wrong = {**assertion_form(sign(assertion_claims(client_id, f"{ISSUER}/oauth2/revoke"), RSA)), "token": token}
        _refused(call("POST", "/oauth2/introspect", form=wrong))
        replay = sign(assertion_claims(client_id, ISSUER), RSA)
        assert call("POST", "/oauth2/introspect", form={**assertion_form(replay), "token": token}).status == 200
        _refused(call("POST", "/oauth2/introspect", form={**assertion_form(replay), "token": token}))
        revoke = {**assertion_form(sign(assertion_claims(client_id, f"{ISSUER}/oauth2/revoke"), RSA)), "token": token}
        assert call("POST", "/oauth2/revoke", form=revoke).status == 200
        _refused(call("POST", "/oauth2/revoke", form={**assertion_form(unsigned(assertion_claims(client_id, ISSUER))),
                                                      "token": token}))
        check = call("POST", "/oauth2/introspect", form={"token": token},
                     headers={"Authorization": f"Bearer {client_credentials_token('hydra.introspect')}"})
        assert check.json == {"active": False}
    finally:
        remove_policy(policy)


def test_of_two_racing_uses_of_one_jti_exactly_one_wins() -> None:
    from hydra_lambda.storage import assertions

    for _ in range(5):
        client_id, jti = unique("race"), unique("jti")
        barrier = threading.Barrier(2)
        results: list[bool] = []

        def use(client_id: str, jti: str, barrier: threading.Barrier, results: list[bool]) -> None:
            barrier.wait()
            results.append(assertions.use_once(client_id, jti, 4_000_000_000))

        threads = [threading.Thread(target=use, args=(client_id, jti, barrier, results)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False, True]
    # Another client's same jti is its own; an expired row no longer counts as seen.
    assert assertions.use_once("other-client", jti, 4_000_000_000) is True
    assert assertions.use_once("gone", "j", 1_000_000_000) is True
    assert assertions.use_once("gone", "j", 4_000_000_000) is True
    assert assertions.use_once("gone", "j", 4_000_000_000) is False


def test_a_jwt_row_is_one_write_unit() -> None:
    from hydra_lambda.storage.assertions import row_key
    from hydra_lambda.storage.clients import _value_size
    from hydra_lambda.storage.tables import AssertionRecord

    shard, signature = row_key("c" * 255, "j" * 256)
    record = AssertionRecord(shard, signature, expires_at=4_000_000_000, written_by="x" * 16,
                             ttl=datetime.fromtimestamp(4_000_000_000, UTC))
    size = sum(len(name) + _value_size(value) for name, value in record.serialize().items())
    assert size < 1024


def test_a_hostile_jwks_uri_is_a_clean_401(loopback_allowed: None, serve: Callable[[Handler], str]) -> None:  # noqa: F811
    document = json.dumps(jwks(RSA)).encode()

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        _send(handler, 302, b"", Location="http://169.254.169.254/latest/meta-data/")

    def huge(handler: BaseHTTPRequestHandler) -> None:
        _send(handler, 200, b'{"keys":[' + b" " * (10 * 1024 * 1024) + b"]}")

    def hang(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(6)  # past fetch.py's 3-second deadline for the whole exchange
        _send(handler, 200, document, Content_Type="application/json")

    good = serve(lambda handler: _send(handler, 200, document, Content_Type="application/json"))
    for uri in (serve(hang) + "/jwks", serve(redirect) + "/jwks", serve(huge) + "/jwks", "https://169.254.169.254/jwks",
                "https://10.1.2.3/jwks", good + "/jwks"):
        client_id, _ = new_client("uri", token_endpoint_auth_method="private_key_jwt", jwks_uri=uri)
        result = _token(assertion_form(sign(assertion_claims(client_id, TOKEN_URL), RSA)))
        if uri.startswith(good):
            assert result.status == 200, result.body
        else:
            _refused(result)


@pytest.mark.parametrize("endpoint", ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"])
def test_an_assertion_without_its_type_is_a_400(endpoint: str) -> None:
    result = call("POST", endpoint, form={"grant_type": "client_credentials", "token": "x",
                                          "client_assertion": "a.b.c"})
    assert result.status in (400, 401) and result.json["error"] in ("invalid_request", "invalid_client")
