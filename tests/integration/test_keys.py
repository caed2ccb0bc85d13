"""ID-token signing: KMS (moto) and envelope mode, RS256 and ES256, verified independently
(python-jose and ``cryptography``, never KMS Verify); JWKS shape; rotation; AWS calls when warm."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from hydra_lambda import keys
from hydra_lambda.keys.jwk import b64url
from jose import jwt
from joserfc.jwk import JWKRegistry

from tests.support_keys import (
    count_calls,
    create_envelope_secret,
    create_kms_key,
    jws_parts,
    kms,
    kms_public_key,
    signing_keys,
    verify_against_jwks,
    verify_with_cryptography,
)

PUBLIC_MEMBERS = {"RSA": {"kty", "kid", "alg", "use", "n", "e"}, "EC": {"kty", "kid", "alg", "use", "crv", "x", "y"}}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
ALG = {"RSA_2048": "RS256", "RSA_4096": "RS256", "ECC_NIST_P256": "ES256"}


@pytest.fixture(scope="module")
def kms_keys() -> dict[str, str]:
    """One KMS signing key per supported spec (RSA_4096 generation is slow: make it once)."""
    return {spec: create_kms_key(spec) for spec in ALG}


@pytest.fixture(scope="module")
def wrapping_key() -> str:
    return kms().create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]


@pytest.fixture(scope="module")
def envelope_keys(wrapping_key: str) -> dict[str, tuple[str, Any]]:
    run = uuid.uuid4().hex[:8]
    return {spec: create_envelope_secret(spec, f"test/{run}/id-token/{spec}", wrapping_key) for spec in ALG}


@pytest.fixture(autouse=True)
def _cold_container() -> Iterator[None]:
    keys.forget()
    yield
    keys.forget()


def claims() -> dict[str, Any]:
    return {"iss": "http://127.0.0.1:4444", "sub": "alice", "aud": "app", "iat": 1, "exp": 4_000_000_000,
            "nonce": "n-0S6_WzA2Mj", "name": "Zoë ☃"}


@pytest.mark.parametrize("spec", list(ALG))
def test_kms_signatures_verify_independently(kms_keys: dict[str, str], spec: str) -> None:
    key_id = kms_keys[spec]
    with signing_keys([key_id]):
        token = keys.sign(claims())
        published = keys.jwks()
        assert keys.signing_algorithm() == ALG[spec]
    header, _, _, signature = jws_parts(token)
    assert header == {"alg": ALG[spec], "kid": published["keys"][0]["kid"], "typ": "JWT"}
    if spec == "ECC_NIST_P256":
        assert len(signature) == 64  # r||s, not KMS's DER
    # cryptography with the public key as KMS returns it, python-jose with the published JWK.
    assert verify_with_cryptography(token, kms_public_key(key_id)) == claims()
    assert jwt.decode(token, published, algorithms=[ALG[spec]], audience="app") == claims()


@pytest.mark.parametrize("spec", list(ALG))
def test_envelope_signatures_verify_independently(envelope_keys: dict[str, tuple[str, Any]], spec: str) -> None:
    arn, private = envelope_keys[spec]
    with signing_keys([arn], mode="envelope"):
        token = keys.sign(claims())
        published = keys.jwks()
    assert jws_parts(token)[0]["alg"] == ALG[spec]
    assert verify_with_cryptography(token, private.public_key()) == claims()
    assert jwt.decode(token, published, algorithms=[ALG[spec]], audience="app") == claims()


def test_a_tampered_token_fails_verification(kms_keys: dict[str, str]) -> None:
    with signing_keys([kms_keys["ECC_NIST_P256"]]):
        token = keys.sign(claims())
    header, payload, signature = token.split(".")
    forged = jws_parts(f"{header}.{payload}.{signature}")[1] | {"sub": "mallory"}
    tampered = f"{header}.{b64url(json.dumps(forged).encode())}.{signature}"
    with pytest.raises(InvalidSignature):
        verify_with_cryptography(tampered, kms_public_key(kms_keys["ECC_NIST_P256"]))


def test_jwks_has_public_members_only_and_rfc7638_kids(
    kms_keys: dict[str, str], envelope_keys: dict[str, tuple[str, Any]]
) -> None:
    for mode, refs in (("kms", list(kms_keys.values())), ("envelope", [a for a, _ in envelope_keys.values()])):
        with signing_keys(refs, mode=mode):
            published = keys.jwks()
            assert keys.algorithms() == ["RS256", "ES256"]
        assert len(published["keys"]) == 3
        for jwk in published["keys"]:
            assert set(jwk) == PUBLIC_MEMBERS[jwk["kty"]]
            assert not set(jwk) & PRIVATE_MEMBERS
            assert jwk["use"] == "sig"
            # joserfc computes the RFC 7638 thumbprint on its own.
            assert jwk["kid"] == JWKRegistry.import_key(jwk).thumbprint()
        assert [k["alg"] for k in published["keys"]] == ["RS256", "RS256", "ES256"]
    ec_jwk = published["keys"][2]
    assert ec_jwk["crv"] == "P-256" and len(ec_jwk["x"]) == 43 and len(ec_jwk["y"]) == 43


def test_kid_is_stable_across_containers(kms_keys: dict[str, str]) -> None:
    with signing_keys([kms_keys["RSA_2048"]]):
        first = keys.jwks()
        keys.forget()
        assert keys.jwks() == first


def test_an_alias_and_its_key_id_are_one_key(kms_keys: dict[str, str]) -> None:
    alias = f"alias/test-{uuid.uuid4().hex[:8]}"
    kms().create_alias(AliasName=alias, TargetKeyId=kms_keys["RSA_2048"])
    with signing_keys([alias, kms_keys["RSA_2048"]]):
        assert len(keys.jwks()["keys"]) == 1
        token = keys.sign(claims())
    assert verify_with_cryptography(token, kms_public_key(kms_keys["RSA_2048"]))["sub"] == "alice"


def test_kms_calls_when_warm(kms_keys: dict[str, str]) -> None:
    with signing_keys([kms_keys["RSA_2048"], kms_keys["ECC_NIST_P256"]]):
        with count_calls("kms") as cold:
            keys.jwks()
        assert cold == {"GetPublicKey": 2}
        with count_calls("kms") as warm:
            for _ in range(3):
                keys.jwks()
                keys.algorithms()
                keys.signing_algorithm()
        assert sum(warm.values()) == 0
        with count_calls("kms") as signing:
            keys.sign(claims())
            keys.sign(claims())
        assert signing == {"Sign": 2}  # the private key never leaves KMS


def test_envelope_mode_decrypts_once_then_signs_without_aws(envelope_keys: dict[str, tuple[str, Any]]) -> None:
    refs = [envelope_keys["ECC_NIST_P256"][0], envelope_keys["RSA_2048"][0]]
    with signing_keys(refs, mode="envelope"):
        with count_calls("secretsmanager") as sm, count_calls("kms") as cold:
            keys.jwks()
        assert sm == {"GetSecretValue": 2} and sum(cold.values()) == 0  # the JWKS needs no KMS at all
        with count_calls("kms") as first:
            keys.sign(claims())
        assert first == {"Decrypt": 1}
        with count_calls("secretsmanager") as sm, count_calls("kms") as warm:
            for _ in range(5):
                keys.sign(claims())
            keys.jwks()
        assert sum(warm.values()) == 0 and sum(sm.values()) == 0


def test_envelope_secret_bound_to_its_kid(envelope_keys: dict[str, tuple[str, Any]], wrapping_key: str) -> None:
    """A secret whose ciphertext was swapped for another key's fails instead of signing with the wrong key."""
    from tests.support_keys import secrets

    rsa_doc = json.loads(secrets().get_secret_value(SecretId=envelope_keys["RSA_2048"][0])["SecretString"])
    ec_doc = json.loads(secrets().get_secret_value(SecretId=envelope_keys["ECC_NIST_P256"][0])["SecretString"])
    swapped = {**ec_doc, "encrypted_private_key": rsa_doc["encrypted_private_key"]}
    arn = secrets().create_secret(Name=f"test/{uuid.uuid4().hex[:8]}/swapped", SecretString=json.dumps(swapped))["ARN"]
    with signing_keys([arn], mode="envelope"), pytest.raises(Exception) as raised:
        keys.sign(claims())
    assert "InvalidCiphertext" in repr(raised.value) or "does not match" in str(raised.value)


def test_kms_and_envelope_tokens_have_the_same_shape(
    kms_keys: dict[str, str], envelope_keys: dict[str, tuple[str, Any]]
) -> None:
    with signing_keys([kms_keys["ECC_NIST_P256"]]):
        from_kms = keys.sign(claims())
    with signing_keys([envelope_keys["ECC_NIST_P256"][0]], mode="envelope"):
        from_envelope = keys.sign(claims())
    (h1, c1, _, s1), (h2, c2, _, s2) = jws_parts(from_kms), jws_parts(from_envelope)
    assert set(h1) == set(h2) == {"alg", "kid", "typ"} and c1 == c2 and len(s1) == len(s2) == 64


def test_rotation_never_breaks_verification(kms_keys: dict[str, str]) -> None:
    """Publish, switch, retire: every token verifies against the JWKS served at every later step
    until its key is retired (after the tokens it signed have expired)."""
    from hydra_lambda.keys.rotation import create_kms_key

    old = kms_keys["RSA_2048"]
    tokens: list[str] = []
    with signing_keys([old]):
        tokens.append(keys.sign(claims()))
        step0 = keys.jwks()
    new = create_kms_key("ECC_NIST_P256")
    steps = [[old, new], [new, old]]
    served = [step0]
    for refs in steps:
        with signing_keys(refs):
            jwks = keys.jwks()
            served.append(jwks)
            for token in tokens:  # tokens from before still verify
                verify_against_jwks(token, jwks)
            tokens.append(keys.sign(claims()))
            verify_against_jwks(tokens[-1], jwks)
    # During the publish step the old key still signed; after the switch the new one does.
    assert [jws_parts(t)[0]["alg"] for t in tokens] == ["RS256", "RS256", "ES256"]
    # A verifier still holding the JWKS cached at the publish step verifies the new key's tokens.
    verify_against_jwks(tokens[-1], served[1])
    with signing_keys([new]):
        retired = keys.jwks()
        tokens.append(keys.sign(claims()))
    assert [k["alg"] for k in retired["keys"]] == ["ES256"]
    verify_against_jwks(tokens[2], retired)
    verify_against_jwks(tokens[3], retired)
    with pytest.raises(AssertionError, match="not in the JWKS"):
        verify_against_jwks(tokens[0], retired)  # the old key's tokens must have expired by now


def test_a_new_key_and_its_rotation_runbook(kms_keys: dict[str, str]) -> None:
    from hydra_lambda.keys.rotation import create_kms_key, runbook

    new = create_kms_key("ECC_NIST_P256", "test-stack")
    meta = kms().describe_key(KeyId=new)["KeyMetadata"]
    assert meta["KeySpec"] == "ECC_NIST_P256" and meta["KeyUsage"] == "SIGN_VERIFY"
    assert kms().list_resource_tags(KeyId=new)["Tags"] == [{"TagKey": "hydra-lambda:stack", "TagValue": "test-stack"}]
    old = kms_keys["RSA_2048"]
    text = runbook([old], new, 3600) + "\n"
    assert f"SIGNING_KEYS={old},{new}\n" in text
    assert f"SIGNING_KEYS={new},{old}\n" in text
    assert text.rstrip().splitlines()[-2].endswith(f"SIGNING_KEYS={new}")


def test_a_new_envelope_key_is_a_usable_secret(wrapping_key: str) -> None:
    from hydra_lambda.keys.rotation import create_envelope_key

    arn = create_envelope_key("RSA_2048", wrapping_key, f"test/{uuid.uuid4().hex[:8]}/id-token/new")
    with signing_keys([arn], mode="envelope"):
        token = keys.sign(claims())
        verify_against_jwks(token, keys.jwks())


def test_unusable_key_sets_are_configuration_errors(wrapping_key: str) -> None:
    from hydra_lambda.config import ConfigError

    with signing_keys([]), pytest.raises(ConfigError, match="SIGNING_KEYS"):
        keys.jwks()
    with signing_keys([wrapping_key]), pytest.raises(ConfigError, match="SIGN_VERIFY"):
        keys.jwks()


def test_scheduled_rotation_steps_keep_every_token_verifiable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each scheduled run is one pipelined step; containers that still hold the previous view (up to
    SIGNING_KEYS_CACHE_SECONDS) and fresh ones always verify each other's tokens."""
    from hydra_lambda import clock
    from hydra_lambda.config import reset_settings
    from hydra_lambda.keys.rotation import create_kms_key, scheduled_step

    alias = f"alias/test-{uuid.uuid4().hex[:8]}-id-token"
    stack_key = create_kms_key("RSA_2048", "test-stack")
    kms().create_alias(AliasName=alias, TargetKeyId=stack_key)
    monkeypatch.setenv("SIGNING_KEYS_CACHE_SECONDS", "3600")
    tokens: list[str] = []

    def fresh_view() -> dict[str, Any]:
        keys.forget()  # a new container
        tokens.append(keys.sign(claims()))
        return keys.jwks()

    try:
        with signing_keys([alias, f"{alias}-next", f"{alias}-previous"]):
            assert len(fresh_view()["keys"]) == 1  # -next and -previous do not exist yet
            with count_calls("kms") as warm:
                keys.jwks()
            assert sum(warm.values()) == 0  # absent aliases are remembered too

            first = scheduled_step(alias, "ECC_NIST_P256", "test-stack")
            assert first["current"] == kms().describe_key(KeyId=stack_key)["KeyMetadata"]["KeyId"]
            assert keys.jwks() == keys.jwks() and len(keys.jwks()["keys"]) == 1  # warm: the old view
            clock.advance(3601)
            published = keys.jwks()
            assert [k["alg"] for k in published["keys"]] == ["RS256", "ES256"]  # the new key is published
            assert jws_parts(keys.sign(claims()))[0]["alg"] == "RS256"  # ... but does not sign yet

            stale = published
            second = scheduled_step(alias, "ECC_NIST_P256", "test-stack")
            assert second["current"] == first["next"] and second["disabled"] is None
            fresh = fresh_view()
            assert [k["alg"] for k in fresh["keys"]] == ["ES256", "ES256", "RS256"]
            for token in tokens:
                verify_against_jwks(token, fresh)
            verify_against_jwks(tokens[-1], stale)  # a stale container verifies the new signer's tokens

            scheduled_step(alias, "ECC_NIST_P256", "test-stack")  # the stack's own key is never disabled
            assert kms().describe_key(KeyId=stack_key)["KeyMetadata"]["Enabled"] is True
            fourth = scheduled_step(alias, "ECC_NIST_P256", "test-stack")
            assert fourth["disabled"] == first["next"]
            assert kms().describe_key(KeyId=first["next"])["KeyMetadata"]["Enabled"] is False
            assert len(fresh_view()["keys"]) == 3
    finally:
        monkeypatch.delenv("SIGNING_KEYS_CACHE_SECONDS")
        reset_settings()


def test_scheduled_rotation_handler_imports() -> None:
    import importlib.util

    from tests.support import ROOT

    spec = importlib.util.spec_from_file_location("keyrotation_app", ROOT / "functions" / "keyrotation" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.lambda_handler)


def test_envelope_mode_refuses_kms_aliases() -> None:
    from hydra_lambda.config import ConfigError

    with signing_keys(["alias/hydra-lambda-id-token"], mode="envelope"), pytest.raises(ConfigError, match="secrets"):
        keys.sign(claims())


def test_signing_inputs_over_4096_bytes_are_sent_as_a_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """KMS signs RAW messages up to 4096 bytes; longer ones go as a SHA-256 DIGEST. moto hashes a DIGEST
    again (tooling notes), so this path runs against a stand-in KMS that signs like AWS does."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils
    from hydra_lambda.keys import kms as kms_module

    private = ec.generate_private_key(ec.SECP256R1())
    sent: list[dict[str, Any]] = []

    class StandInKms:
        def get_public_key(self, KeyId: str) -> dict[str, Any]:
            der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
            return {"KeyId": f"arn:aws:kms:us-east-1:000000000000:key/{KeyId}", "KeyUsage": "SIGN_VERIFY",
                    "PublicKey": der}

        def sign(self, **params: Any) -> dict[str, Any]:
            sent.append(params)
            assert params["MessageType"] == "DIGEST" and len(params["Message"]) == 32
            return {"Signature": private.sign(params["Message"], ec.ECDSA(utils.Prehashed(hashes.SHA256())))}

    monkeypatch.setattr(kms_module, "client", lambda service: StandInKms())
    big = claims() | {"groups": ["g" * 40] * 120}
    with signing_keys(["stand-in"]):
        token = keys.sign(big)
    assert len(token.rsplit(".", 1)[0]) > 4096 and len(sent) == 1
    assert verify_with_cryptography(token, private.public_key()) == big
