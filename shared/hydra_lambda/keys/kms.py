"""Signing keys whose private half never leaves AWS KMS."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.serialization import load_der_public_key

from hydra_lambda.aws import client
from hydra_lambda.config import ConfigError
from hydra_lambda.keys.jwk import KMS_ALGORITHM, algorithm_for, jose_signature, public_jwk

# KMS signs a RAW message of up to 4096 bytes; longer signing inputs are hashed here (DIGEST).
RAW_LIMIT = 4096


class KmsKey:
    """One asymmetric SIGN_VERIFY KMS key; the public key is fetched once, at construction."""

    def __init__(self, ref: str, alg: str | None = None, setting: str = "SIGNING_KEYS") -> None:
        """``alg``: the algorithm of the set (SIGNING_KEYS_PS256, _ES256), which the key must fit;
        None (SIGNING_KEYS): by the key's type."""
        out = client("kms").get_public_key(KeyId=ref)
        if out.get("KeyUsage") != "SIGN_VERIFY":
            raise ConfigError(f"{setting}: {ref} is not a SIGN_VERIFY key")
        public = load_der_public_key(out["PublicKey"])
        try:
            self.alg = algorithm_for(public, alg)
        except ValueError as exc:
            spec = f" (key spec {out['KeySpec']})" if out.get("KeySpec") else ""
            use = " (use RSA_2048, RSA_4096 or ECC_NIST_P256)" if alg is None else ""
            raise ConfigError(f"{setting}: {ref}{spec}: {exc}{use}") from exc
        self.ref = ref
        # Sign with the resolved key ARN, so re-pointing an alias can never mix up kid and signature.
        self.key_id: str = out["KeyId"]
        self.public_key: Any = public
        self.jwk = public_jwk(public, self.alg)
        self.kid = self.jwk["kid"]

    def sign(self, message: bytes) -> bytes:
        if len(message) <= RAW_LIMIT:
            payload, message_type = message, "RAW"
        else:
            payload, message_type = hashlib.sha256(message).digest(), "DIGEST"
        out = client("kms").sign(
            KeyId=self.key_id, Message=payload, MessageType=message_type, SigningAlgorithm=KMS_ALGORITHM[self.alg]
        )
        return jose_signature(self.alg, out["Signature"])
