"""Keys and JWTs a relying party would make (client assertions, request objects), signed with
python-jose from private keys made here; the public halves as the JWKs a client registers."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class KeyPair:
    pem: str  # the private key, PKCS#8 PEM
    public: dict[str, Any]  # the public JWK, with kid
    alg: str


def key_pair(alg: str = "RS256", kid: str | None = None) -> KeyPair:
    private: Any = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if alg.startswith("RS")
                    else ec.generate_private_key({"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1()}[alg]))
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    public = {k: v for k, v in jwk.construct(public_pem, alg).to_dict().items() if k != "alg"}
    return KeyPair(pem, {**public, "kid": kid or uuid.uuid4().hex[:8], "use": "sig"}, alg)


def jwks(*pairs: KeyPair) -> dict[str, Any]:
    return {"keys": [pair.public for pair in pairs]}


def sign(claims: dict[str, Any], pair: KeyPair | None = None, *, secret: str | None = None, alg: str = "",
         kid: str | None = "") -> str:
    """``claims`` signed by ``pair`` (its kid in the header unless ``kid`` says otherwise) or by HMAC
    with ``secret``."""
    if secret is not None:
        return jwt.encode(claims, secret, algorithm=alg or "HS256")
    assert pair is not None
    headers = None if kid is None else {"kid": kid or pair.public["kid"]}
    return jwt.encode(claims, pair.pem, algorithm=alg or pair.alg, headers=headers)


def unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` JWT (RFC 7519 section 6)."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def assertion_claims(client_id: str, audience: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": client_id, "sub": client_id, "aud": audience, "jti": uuid.uuid4().hex,
                              "iat": now, "exp": now + 300}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def assertion_form(assertion: str, **extra: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion, **extra}
