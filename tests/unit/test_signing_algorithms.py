"""The three JWS algorithms of ID tokens and signed userinfo (RS256, PS256, ES256), in process (envelope
mode's signer, ``keys.jwk.sign_with``) and as KMS answers them (DER ECDSA): each verifies against the
JWK we publish, with ``cryptography`` alone (PSS salt checked strictly, as RFC 7518 3.5 says) and with
python-jose where it can (it has no PS256); the keys each set accepts."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hydra_lambda.keys.jwk import algorithm_for, jose_signature, public_jwk, sign_with, verify_with
from hydra_lambda.keys.jws import b64url, signing_input, unb64url
from hydra_lambda.tokens.id_tokens import half_hash
from jose import jwt

from tests.support_keys import jwk_public_key, jws_parts, verify_with_cryptography

CLAIMS = {"iss": "https://op.example", "sub": "alice", "aud": "rp", "iat": 1, "exp": 4_000_000_000}
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
KEYS = {"RS256": RSA_KEY, "PS256": RSA_KEY, "ES256": EC_KEY}


def token(alg: str, private: Any, claims: dict[str, Any] = CLAIMS) -> tuple[str, dict[str, str]]:
    """A compact JWS as keys.sign makes it, and the JWK the JWKS would publish for the key."""
    jwk = public_jwk(private.public_key(), alg)
    message = signing_input({"alg": alg, "kid": jwk["kid"], "typ": "JWT"}, claims)
    return f"{message.decode()}.{b64url(sign_with(private, alg, message))}", jwk


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_each_algorithm_verifies_against_the_published_jwk(alg: str) -> None:
    signed, jwk = token(alg, KEYS[alg])
    assert jwk["alg"] == alg and jwk["use"] == "sig"
    if alg == "ES256":
        assert (jwk["kty"], jwk["crv"]) == ("EC", "P-256") and {"x", "y"} <= set(jwk)
        assert len(jws_parts(signed)[3]) == 64  # raw r||s (RFC 7518 3.4), not DER
    else:
        assert jwk["kty"] == "RSA" and "crv" not in jwk and {"n", "e"} <= set(jwk)
    # An independent verifier, with nothing but the published JWK.
    assert verify_with_cryptography(signed, jwk_public_key(jwk)) == CLAIMS
    if alg != "PS256":  # python-jose has no PS*
        assert jwt.decode(signed, {"keys": [jwk]}, algorithms=[alg], audience="rp") == CLAIMS
    head, body, signature = signed.split(".")
    assert verify_with(jwk_public_key(jwk), alg, f"{head}.{body}".encode(), unb64url(signature))


def test_ps256_uses_a_salt_as_long_as_the_hash() -> None:
    signed, jwk = token("PS256", RSA_KEY)
    _, _, message, signature = jws_parts(signed)
    strict = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    jwk_public_key(jwk).verify(signature, message, strict, hashes.SHA256())
    # PSS is randomized: two signatures of one input differ, both verify.
    assert sign_with(RSA_KEY, "PS256", message) != sign_with(RSA_KEY, "PS256", message)


def test_kms_der_ecdsa_signatures_become_raw_r_s() -> None:
    message = signing_input({"alg": "ES256"}, CLAIMS)
    der = EC_KEY.sign(message, ec.ECDSA(hashes.SHA256()))  # what KMS's ECDSA_SHA_256 returns
    raw = jose_signature("ES256", der)
    assert len(raw) == 64 and raw != der
    assert verify_with(EC_KEY.public_key(), "ES256", message, raw)
    assert jose_signature("PS256", b"rsa") == b"rsa" and jose_signature("RS256", b"rsa") == b"rsa"


@pytest.mark.parametrize(("signed_as", "checked_as"), [("RS256", "PS256"), ("PS256", "RS256")])
def test_an_rsa_signature_of_one_scheme_never_verifies_as_the_other(signed_as: str, checked_as: str) -> None:
    message = b"header.payload"
    assert not verify_with(RSA_KEY.public_key(), checked_as, message, sign_with(RSA_KEY, signed_as, message))


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_a_tampered_token_does_not_verify(alg: str) -> None:
    signed, jwk = token(alg, KEYS[alg])
    head, _, signature = signed.split(".")
    forged_body = b64url(b'{"sub":"mallory"}')
    assert not verify_with(jwk_public_key(jwk), alg, f"{head}.{forged_body}".encode(), unb64url(signature))
    assert not verify_with(jwk_public_key(jwk), alg, f"{head}.{forged_body}".encode(), b"\0" * 64)


def test_each_set_takes_only_keys_of_its_algorithm() -> None:
    assert algorithm_for(RSA_KEY.public_key()) == "RS256"  # SIGNING_KEYS: by the key's type
    assert algorithm_for(EC_KEY.public_key()) == "ES256"
    assert algorithm_for(RSA_KEY.public_key(), "PS256") == "PS256"
    assert algorithm_for(EC_KEY.public_key(), "ES256") == "ES256"
    with pytest.raises(ValueError, match="an RSA key cannot sign ES256"):
        algorithm_for(RSA_KEY.public_key(), "ES256")
    with pytest.raises(ValueError, match="a P-256 key cannot sign PS256"):
        algorithm_for(EC_KEY.public_key(), "PS256")
    with pytest.raises(ValueError, match="at least 2048"):
        algorithm_for(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key(), "PS256")
    with pytest.raises(ValueError, match="unsupported"):
        algorithm_for(ec.generate_private_key(ec.SECP384R1()).public_key(), "ES256")


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_at_hash_uses_the_hash_of_the_algorithm(alg: str) -> None:
    digest = hashlib.sha256(b"hl_at_token").digest()
    assert half_hash("hl_at_token", alg) == b64url(digest[:16])


def test_unb64url_is_strict() -> None:
    assert unb64url(b64url(b"\xff\x00")) == b"\xff\x00"
    for bad in ("a+b", "a/b", "ab==", "a b"):
        with pytest.raises(ValueError):
            unb64url(bad)
