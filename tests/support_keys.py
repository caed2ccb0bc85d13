"""Helpers for the signing-key and discovery tests: KMS keys on moto, key-set switching, AWS call
counters (botocore event hooks) and independent JWS verification with ``cryptography``."""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support import count_aws_calls


def kms() -> Any:
    import boto3

    return boto3.client("kms", endpoint_url=os.environ["KMS_ENDPOINT"], region_name="us-east-1")


def secrets() -> Any:
    import boto3

    return boto3.client("secretsmanager", endpoint_url=os.environ["SECRETSMANAGER_ENDPOINT"], region_name="us-east-1")


def create_kms_key(spec: str) -> str:
    return kms().create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]


def kms_public_key(key_id: str) -> Any:
    """The public key straight from KMS (not through our JWK code)."""
    return serialization.load_der_public_key(kms().get_public_key(KeyId=key_id)["PublicKey"])


def create_envelope_secret(spec: str, name: str, wrapping_key: str) -> tuple[str, Any]:
    """An envelope-mode key made by the layer's own sealing code; returns (secret ARN, private key)."""
    from hydra_lambda.keys.envelope import generate, seal

    private = generate(spec)
    arn = secrets().create_secret(Name=name, SecretString=seal(private, wrapping_key))["ARN"]
    return arn, private


@contextmanager
def signing_keys(refs: list[str], mode: str = "kms") -> Iterator[None]:
    """Run with SIGNING_KEYS/SIGNING_MODE set (the per-container key cache is kept, as in Lambda)."""

    with signing_sets(SIGNING_KEYS=",".join(refs), SIGNING_MODE=mode):
        yield


@contextmanager
def signing_sets(**settings: str) -> Iterator[None]:
    """Run with these signing settings (SIGNING_KEYS, SIGNING_KEYS_PS256, SIGNING_KEYS_ES256,
    SIGNING_MODE: the others as they were), the per-container key cache kept, as in Lambda."""
    from hydra_lambda.config import reset_settings

    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    reset_settings()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()


# AWS call counters (botocore event hooks on every client of a service): the harness's.
count_calls = count_aws_calls


def count_all_aws_calls() -> AbstractContextManager[Counter[str]]:
    """Count every AWS API call in this process by ``service.Operation`` (DynamoDB's included)."""
    return count_aws_calls("")


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jws_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    header, payload, signature = token.split(".")
    return (json.loads(_b64decode(header)), json.loads(_b64decode(payload)),
            f"{header}.{payload}".encode(), _b64decode(signature))


# RFC 7518 3.5 (and KMS's RSASSA_PSS_SHA_256): MGF1 with SHA-256, a salt as long as the hash (32 bytes),
# checked strictly, as a relying party's library would.
PSS_256 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def verify_with_cryptography(token: str, public_key: Any) -> dict[str, Any]:
    """Verify a compact JWS with ``cryptography`` alone; raises InvalidSignature on a bad one."""
    header, claims, message, signature = jws_parts(token)
    if isinstance(public_key, rsa.RSAPublicKey):
        assert header["alg"] in ("RS256", "PS256")
        scheme = PSS_256 if header["alg"] == "PS256" else padding.PKCS1v15()
        public_key.verify(signature, message, scheme, hashes.SHA256())
    else:
        assert header["alg"] == "ES256" and len(signature) == 64
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    return claims


def jwk_public_key(jwk: dict[str, Any]) -> Any:
    """A ``cryptography`` public key from a published JWK."""
    def num(name: str) -> int:
        return int.from_bytes(_b64decode(jwk[name]), "big")

    if jwk["kty"] == "RSA":
        return rsa.RSAPublicNumbers(num("e"), num("n")).public_key()
    return ec.EllipticCurvePublicNumbers(num("x"), num("y"), ec.SECP256R1()).public_key()


def verify_against_jwks(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Pick the key by ``kid`` from a served JWKS and verify with python-jose (it has no PS256: then
    ``cryptography`` alone) and with ``cryptography``; the JWK's ``alg`` must be the token's."""
    from jose import jwt

    header = jws_parts(token)[0]
    matches = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert matches, f"kid {header['kid']} is not in the JWKS"
    assert matches[0]["alg"] == header["alg"] and matches[0]["use"] == "sig"
    claims = verify_with_cryptography(token, jwk_public_key(matches[0]))
    if header["alg"] != "PS256":
        assert jwt.decode(token, matches[0], algorithms=[header["alg"]],
                          options={"verify_aud": False, "verify_at_hash": False}) == claims
    return claims


def patch_moto_pss() -> Any:
    """moto (5.2.6) signs RSASSA_PSS_SHA_* with the longest salt the key allows; KMS uses a salt as long
    as the hash, as RFC 7518 3.5 requires of PS256 (strict verifiers, WebCrypto's among them, refuse
    anything else). Patched in the tests' moto only (never in the product); returns the undo."""
    import pytest
    from moto.kms import utils

    original = utils.RSAPrivateKey._RSAPrivateKey__padding_and_hash_algorithm  # type: ignore[attr-defined]

    def digest_length_salt(self: Any, signing_algorithm: str) -> tuple[Any, Any]:
        pad, algorithm = original(self, signing_algorithm)
        if isinstance(pad, padding.PSS):
            pad = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.DIGEST_LENGTH)
        return pad, algorithm

    patch = pytest.MonkeyPatch()
    patch.setattr(utils.RSAPrivateKey, "_RSAPrivateKey__padding_and_hash_algorithm", digest_length_salt)
    return patch.undo
