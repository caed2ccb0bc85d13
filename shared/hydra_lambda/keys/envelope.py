"""Envelope mode: a locally generated private key, kept encrypted under a KMS symmetric key.

``SIGNING_KEYS`` then lists Secrets Manager secrets (names or ARNs). Each secret holds JSON::

    {"format": "hydra-lambda/envelope-key/v1", "kms_key_id": "<symmetric key>",
     "public_key": "<base64 DER SubjectPublicKeyInfo>",
     "encrypted_private_key": "<base64 KMS ciphertext of the PKCS#8 DER private key>"}

The public key is readable without KMS (the JWKS only needs ``secretsmanager:GetSecretValue``);
the private key is decrypted with ``kms:Decrypt`` once per container, on the first signature, and
bound to its kid by the KMS encryption context. Signing then costs no AWS call at all.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hydra_lambda.aws import client
from hydra_lambda.config import ConfigError
from hydra_lambda.keys.jwk import algorithm_for, public_jwk, sign_with, thumbprint

FORMAT = "hydra-lambda/envelope-key/v1"
KEY_SPECS = ("RSA_2048", "RSA_4096", "ECC_NIST_P256")


def _context(kid: str) -> dict[str, str]:
    return {"hydra-lambda": "id-token-signing-key", "kid": kid}


class EnvelopeKey:
    """One envelope-mode key; the secret is read at construction, the private key decrypted lazily."""

    def __init__(self, secret_id: str, alg: str | None = None, setting: str = "SIGNING_KEYS") -> None:
        """``alg``: the algorithm of the set (SIGNING_KEYS_PS256, _ES256), which the key must fit;
        None (SIGNING_KEYS): by the key's type."""
        raw = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        try:
            doc = json.loads(raw)
            if doc.get("format") != FORMAT:
                raise ValueError(f"format is not {FORMAT}")
            public: Any = serialization.load_der_public_key(base64.b64decode(doc["public_key"]))
            self.alg = algorithm_for(public, alg)
            self._ciphertext = base64.b64decode(doc["encrypted_private_key"])
            self._kms_key_id = str(doc["kms_key_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{setting}: secret {secret_id} is not an envelope signing key for it: {exc}") from exc
        self.ref = secret_id
        self.public_key = public
        self.jwk = public_jwk(public, self.alg)
        self.kid = self.jwk["kid"]
        self._private: Any = None

    def _decrypt(self) -> Any:
        plain = client("kms").decrypt(
            CiphertextBlob=self._ciphertext, KeyId=self._kms_key_id, EncryptionContext=_context(self.kid)
        )["Plaintext"]
        private: Any = serialization.load_der_private_key(plain, password=None)
        if thumbprint(private.public_key()) != self.kid:
            raise ConfigError(f"signing keys: secret {self.ref} holds a private key that does not match its public key")
        self._private = private
        return self._private

    def sign(self, message: bytes) -> bytes:
        """The JWS signature of ``message`` (cryptography: PKCS#1 v1.5 for RS256, PSS for PS256, r||s
        for ES256)."""
        return sign_with(self._private or self._decrypt(), self.alg, message)


def generate(key_spec: str) -> Any:
    if key_spec == "ECC_NIST_P256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_spec in ("RSA_2048", "RSA_4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_spec[4:]))
    raise ValueError(f"key spec must be one of {', '.join(KEY_SPECS)}")


def seal(private_key: Any, kms_key_id: str) -> str:
    """The secret string for ``private_key``, encrypted under the symmetric KMS key ``kms_key_id``."""
    public = private_key.public_key()
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    blob = client("kms").encrypt(KeyId=kms_key_id, Plaintext=der, EncryptionContext=_context(thumbprint(public)))
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return json.dumps({
        "format": FORMAT,
        "kms_key_id": blob["KeyId"],
        "public_key": base64.b64encode(spki).decode("ascii"),
        "encrypted_private_key": base64.b64encode(blob["CiphertextBlob"]).decode("ascii"),
    })
