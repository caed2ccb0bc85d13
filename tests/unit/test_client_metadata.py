"""The OpenID registration metadata of a client (issue 25 item 7): what is accepted, what is refused
with a 400 naming the field, and how the fields agree with each other and with ``public``."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hydra_lambda.clients import metadata
from hydra_lambda.clients.model import Client
from hydra_lambda.endpoints import client_wire as wire
from hydra_lambda.endpoints.clients import _parse_body
from hydra_lambda.errors import BadRequest


def _b64(number: int, length: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(length, "big")).rstrip(b"=").decode()


def rsa_jwk(bits: int = 2048, **extra: Any) -> dict[str, Any]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    return {"kty": "RSA", "n": _b64(numbers.n, bits // 8), "e": _b64(numbers.e, 3), **extra}


def ec_jwk(**extra: Any) -> dict[str, Any]:
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x, 32), "y": _b64(numbers.y, 32), **extra}


def applied(fields: dict[str, Any], client: Client | None = None) -> Client:
    client = client or Client(id="rp")
    if "public" in fields:  # clients.registry applies the classic switch first
        client.public = fields["public"]
    metadata.apply(client, fields)
    return client


def refused(fields: dict[str, Any], match: str, client: Client | None = None) -> None:
    with pytest.raises(BadRequest, match=match):
        applied(fields, client)


def test_defaults_are_the_specs() -> None:
    client = Client(id="rp")
    assert (client.auth_method, client.id_token_alg, client.userinfo_alg, client.subject_type) == (
        "client_secret_basic", "RS256", None, "public")
    assert Client(id="spa", public=True).auth_method == "none"
    shown = wire(client)
    assert shown["token_endpoint_auth_method"] == "client_secret_basic"
    assert shown["id_token_signed_response_alg"] == "RS256"
    assert shown["userinfo_signed_response_alg"] == "none"
    assert shown["subject_type"] == "public"
    assert shown["request_uris"] == [] and "jwks" not in shown


def test_a_private_key_jwt_client_with_its_keys() -> None:
    keys = {"keys": [rsa_jwk(kid="r1", alg="RS256", use="sig"), ec_jwk(kid="e1")]}
    client = applied({"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256",
                      "jwks": keys, "request_uris": ["https://rp.example/request.jwt#abc"],
                      "request_object_signing_alg": "RS256", "id_token_signed_response_alg": "ES256",
                      "userinfo_signed_response_alg": "PS256", "subject_type": "pairwise",
                      "sector_identifier_uri": "https://rp.example/sector.json"})
    assert client.auth_method == "private_key_jwt" and client.jwks == keys
    assert client.id_token_alg == "ES256" and client.userinfo_alg == "PS256"
    assert wire(client)["jwks"] == keys


def test_the_same_through_the_admin_body_model() -> None:
    fields = _parse_body({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://rp.example/jwks",
                          "subject_type": "pairwise"})
    assert applied(fields).jwks_uri == "https://rp.example/jwks"
    with pytest.raises(BadRequest, match="jwks"):
        _parse_body({"jwks": "not an object"})
    with pytest.raises(BadRequest, match="request_uris"):
        _parse_body({"request_uris": "https://rp.example/r"})


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"token_endpoint_auth_method": "tls_client_auth"}, "token_endpoint_auth_method"),
        ({"token_endpoint_auth_signing_alg": "none"}, "token_endpoint_auth_signing_alg"),
        ({"id_token_signed_response_alg": "none"}, "id_token_signed_response_alg"),  # never unsigned
        ({"id_token_signed_response_alg": "HS256"}, "id_token_signed_response_alg"),
        ({"userinfo_signed_response_alg": "RS512"}, "userinfo_signed_response_alg"),
        ({"subject_type": "random"}, "subject_type"),
        ({"request_object_signing_alg": "XS256"}, "request_object_signing_alg"),
        ({"jwks_uri": "http://rp.example/jwks"}, "https"),
        ({"jwks_uri": "javascript:alert(1)"}, "https"),
        ({"jwks_uri": "https://rp.example/jwks#frag"}, "fragment"),
        ({"sector_identifier_uri": "https://rp example/"}, "not a valid URI"),
        ({"request_uris": ["http://rp.example/r"]}, "https"),
        ({"request_uris": [f"https://rp.example/{i}" for i in range(21)]}, "at most"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "register jwks or jwks_uri"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://rp.example/k",
          "token_endpoint_auth_signing_alg": "HS256"}, "asymmetric"),
        ({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"}, "HS256"),
        ({"token_endpoint_auth_method": "client_secret_basic", "token_endpoint_auth_signing_alg": "RS256"},
         "applies only"),
        ({"jwks_uri": "https://rp.example/k", "jwks": {"keys": [{"kty": "EC"}]}}, "jwks"),
        ({"request_object_signing_alg": "ES256"}, "register jwks or jwks_uri"),
    ],
)
def test_refused_metadata(fields: dict[str, Any], match: str) -> None:
    refused(fields, match)


@pytest.mark.parametrize(
    ("jwks", "match"),
    [
        ([rsa_jwk()], "JWK Set"),
        ({"keys": []}, "JWK Set"),
        ({"keys": [rsa_jwk()], "extra": 1}, "JWK Set"),
        ({"keys": ["nope"]}, "JSON object"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "kty"),
        ({"keys": [rsa_jwk(d="private")]}, "private key material"),
        ({"keys": [ec_jwk(d="private")]}, "private key material"),
        ({"keys": [rsa_jwk(bits=1024)]}, "2048 bits"),
        ({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}, "2048 bits|usable"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}, "usable"),
        ({"keys": [ec_jwk(alg="HS256")]}, "alg"),
        ({"keys": [ec_jwk(use="other")]}, "use"),
        ({"keys": [ec_jwk(kid="a"), ec_jwk(kid="a")]}, "same kid"),
        ({"keys": [ec_jwk() for _ in range(21)]}, "at most"),
    ],
)
def test_refused_key_sets(jwks: Any, match: str) -> None:
    refused({"jwks": jwks}, match)


def test_none_is_the_openid_name_of_a_public_client() -> None:
    client = applied({"token_endpoint_auth_method": "none"})
    assert client.public and client.auth_method == "none"
    refused({"token_endpoint_auth_method": "none", "public": False}, "disagree")
    refused({"token_endpoint_auth_method": "client_secret_post", "public": True}, "disagree")
    confidential = applied({"token_endpoint_auth_method": "client_secret_post"}, Client(id="rp", public=True))
    assert not confidential.public
    # The classic switch alone turns a client public and drops its now stale method.
    switched = applied({"public": True}, applied({"token_endpoint_auth_method": "client_secret_post"}))
    assert switched.public and switched.auth_method == "none"


def test_null_clears_a_field() -> None:
    client = applied({"jwks": {"keys": [ec_jwk()]}, "subject_type": "pairwise", "request_uris": ["https://rp.example/r"]})
    cleared = applied({"jwks": None, "subject_type": None, "request_uris": None}, client)
    assert cleared.jwks is None and cleared.request_uris == []
    cleared.__post_init__()
    assert cleared.subject_type == "public"
