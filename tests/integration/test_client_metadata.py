"""The OpenID registration metadata on the classic ``/clients`` API (issue 25 item 7): stored in
DynamoDB, read back with the same values, cleared by null, refused with a 400 that changes nothing."""

from __future__ import annotations

import pytest

from tests.support import call
from tests.support_admin import admin, make_client
from tests.support_keys import create_kms_key, signing_sets
from tests.unit.test_client_metadata import ec_jwk, rsa_jwk


@pytest.fixture(scope="module")
def headers() -> dict[str, str]:
    return admin()


def test_openid_metadata_round_trips_through_the_store(headers: dict[str, str]) -> None:
    keys = {"keys": [ec_jwk(kid="e1", use="sig"), rsa_jwk(kid="r1", alg="RS384")]}
    fields = {
        "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256", "jwks": keys,
        "request_uris": ["https://rp.example/r.jwt#h1"], "request_object_signing_alg": "ES256",
        "id_token_signed_response_alg": "ES256", "userinfo_signed_response_alg": "RS256",
        "redirect_uris": ["https://rp.example/cb"],
    }
    with signing_sets(SIGNING_KEYS_ES256=create_kms_key("ECC_NIST_P256")):  # ES256 is registered only then
        created, _ = make_client(headers, **fields)
    fetched = call("GET", f"/clients/{created['id']}", headers=headers).json
    for name, value in fields.items():
        assert created[name] == value and fetched[name] == value, name
    # Every other field survives a PUT of one field; null clears.
    updated = call("PUT", f"/clients/{created['id']}", headers=headers,
                   json_body={"userinfo_signed_response_alg": None, "subject_type": None}).json
    assert updated["userinfo_signed_response_alg"] == "none" and updated["subject_type"] == "public"
    assert updated["jwks"] == keys and updated["token_endpoint_auth_method"] == "private_key_jwt"


def test_a_client_written_before_the_metadata_existed_reads_with_the_defaults(headers: dict[str, str]) -> None:
    from hydra_lambda.storage.tables import ClientRecord

    created, _ = make_client(headers)
    record = ClientRecord.get(created["id"])
    record.update(actions=[ClientRecord.token_endpoint_auth_method.remove(), ClientRecord.subject_type.remove(),
                           ClientRecord.id_token_signed_response_alg.remove(), ClientRecord.request_uris.remove()])
    fetched = call("GET", f"/clients/{created['id']}", headers=headers).json
    assert fetched["token_endpoint_auth_method"] == "client_secret_basic"
    assert fetched["subject_type"] == "public" and fetched["id_token_signed_response_alg"] == "RS256"


def test_none_makes_a_public_client_without_a_secret(headers: dict[str, str]) -> None:
    created, _ = make_client(headers, token_endpoint_auth_method="none", redirect_uris=["https://spa.example/cb"])
    assert created["public"] is True and "client_secret" not in created


@pytest.mark.parametrize(
    "body",
    [
        {"jwks": {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB", "d": "secret"}]}},
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"jwks_uri": "http://rp.example/keys"},
        {"id_token_signed_response_alg": "none"},
        {"subject_type": 7},
        {"request_uris": ["https://rp.example/a", 3]},
    ],
)
def test_bad_metadata_is_a_400_that_changes_nothing(headers: dict[str, str], body: dict[str, object]) -> None:
    created, _ = make_client(headers, client_name="before")
    for method, path in (("POST", "/clients"), ("PUT", f"/clients/{created['id']}")):
        result = call(method, path, headers=headers, json_body={"client_name": "after", **body})
        assert result.status == 400, result.body
        assert result.json["error"]["code"] == 400
    assert call("GET", f"/clients/{created['id']}", headers=headers).json["client_name"] == "before"
