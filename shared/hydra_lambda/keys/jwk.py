"""JSON Web Key helpers: public JWKs (RFC 7517/7518, exported by python-jose), RFC 7638 thumbprints,
JWS encoding."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from jose import jwk

from hydra_lambda.keys.jws import b64url

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# The algorithms we sign with, by key type; KMS names the same schemes differently. RS256 and PS256 both
# sign with RSA keys (a set says which: SIGNING_KEYS_PS256), ES256 with P-256 keys.
RS256 = "RS256"
PS256 = "PS256"
ES256 = "ES256"
KMS_ALGORITHM = {RS256: "RSASSA_PKCS1_V1_5_SHA_256", PS256: "RSASSA_PSS_SHA_256", ES256: "ECDSA_SHA_256"}
# The key specs a set of each algorithm takes (KMS names; envelope keys are generated with the same).
KEY_SPECS = {RS256: ("RSA_2048", "RSA_4096"), PS256: ("RSA_2048", "RSA_4096"), ES256: ("ECC_NIST_P256",)}


def algorithm_for(public_key: Any, required: str | None = None) -> str:
    """The alg the key signs: ``required`` when the key fits it (RSA of 2048 bits or more for RS256
    and PS256, P-256 for ES256), else by its type (RS256 for RSA, ES256 for P-256); anything else is
    refused with a ValueError."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise ValueError("RSA signing keys must have at least 2048 bits")
        found = RS256
    elif isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        found = ES256
    else:
        raise ValueError(f"unsupported signing key type {type(public_key).__name__}")
    if required is None:
        return found
    if (required == ES256) != (found == ES256) or required not in KEY_SPECS:
        kind = "an RSA" if found == RS256 else "a P-256"
        raise ValueError(f"{kind} key cannot sign {required} (it needs {' or '.join(KEY_SPECS.get(required, ()))})")
    return required


# The required public members of each key type, exactly those RFC 7638 hashes.
_REQUIRED_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


def public_members(public_key: PublicKey) -> dict[str, str]:
    """The required public members of the key (exactly those RFC 7638 hashes), as python-jose exports
    them (base64url big-endian integers, EC coordinates padded to the curve's size)."""
    exported = jwk.construct(public_key, algorithm_for(public_key)).to_dict()  # RS256/ES256: the same members
    return {name: exported[name] for name in _REQUIRED_MEMBERS[exported["kty"]]}


def thumbprint(public_key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), the stable ``kid`` of a key."""
    canonical = json.dumps(public_members(public_key), sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(public_key: PublicKey, alg: str | None = None) -> dict[str, str]:
    """The key as published in the JWKS: public members only, with kid, alg (``alg``, else by key
    type) and use."""
    members = public_members(public_key)
    jwk = {"kty": members["kty"], "kid": thumbprint(public_key), "alg": alg or algorithm_for(public_key), "use": "sig"}
    jwk.update({k: v for k, v in members.items() if k != "kty"})
    return jwk


def jose_signature(algorithm: str, signature: bytes) -> bytes:
    """ECDSA signatures come DER-encoded (KMS, cryptography); JWS wants 64-byte r||s (RFC 7518 3.4)."""
    if algorithm != ES256:
        return signature
    r, s = decode_dss_signature(signature)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _pss() -> padding.PSS:
    # RFC 7518 3.5: MGF1 with SHA-256 and a salt as long as the hash, as KMS's RSASSA_PSS_SHA_256.
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def sign_with(private_key: Any, algorithm: str, message: bytes) -> bytes:
    """The JWS signature of ``message`` by a private key in process (envelope mode), with cryptography."""
    if algorithm == ES256:
        return jose_signature(ES256, private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    scheme = _pss() if algorithm == PS256 else padding.PKCS1v15()
    return private_key.sign(message, scheme, hashes.SHA256())


def verify_with(public_key: Any, algorithm: str, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the JWS signature of ``message`` by ``public_key`` under ``algorithm``
    (RS256, PS256 or ES256, the key's own), with cryptography."""
    try:
        if algorithm == ES256:
            if len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
        else:
            public_key.verify(signature, message, _pss() if algorithm == PS256 else padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
