"""JSON Web Key helpers: public JWKs (RFC 7517/7518, exported by python-jose), RFC 7638 thumbprints,
JWS encoding."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jose import jwk

from hydra_lambda.keys.jws import b64url

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# The algorithms we sign with, by key type; KMS names the same schemes differently.
RS256 = "RS256"
ES256 = "ES256"
KMS_ALGORITHM = {RS256: "RSASSA_PKCS1_V1_5_SHA_256", ES256: "ECDSA_SHA_256"}


def algorithm_for(public_key: Any) -> str:
    """RS256 for RSA keys of 2048 bits or more, ES256 for P-256; anything else is refused."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise ValueError("RSA signing keys must have at least 2048 bits")
        return RS256
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return ES256
    raise ValueError(f"unsupported signing key type {type(public_key).__name__}")


# The required public members of each key type, exactly those RFC 7638 hashes.
_REQUIRED_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


def public_members(public_key: PublicKey) -> dict[str, str]:
    """The required public members of the key (exactly those RFC 7638 hashes), as python-jose exports
    them (base64url big-endian integers, EC coordinates padded to the curve's size)."""
    exported = jwk.construct(public_key, algorithm_for(public_key)).to_dict()
    return {name: exported[name] for name in _REQUIRED_MEMBERS[exported["kty"]]}


def thumbprint(public_key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), the stable ``kid`` of a key."""
    canonical = json.dumps(public_members(public_key), sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(public_key: PublicKey) -> dict[str, str]:
    """The key as published in the JWKS: public members only, with kid, alg and use."""
    members = public_members(public_key)
    jwk = {"kty": members["kty"], "kid": thumbprint(public_key), "alg": algorithm_for(public_key), "use": "sig"}
    jwk.update({k: v for k, v in members.items() if k != "kty"})
    return jwk


def jose_signature(algorithm: str, signature: bytes) -> bytes:
    """ECDSA signatures come DER-encoded (KMS, cryptography); JWS wants 64-byte r||s (RFC 7518 3.4)."""
    if algorithm != ES256:
        return signature
    r, s = decode_dss_signature(signature)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
