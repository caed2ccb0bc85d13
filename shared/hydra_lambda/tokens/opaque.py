"""Opaque tokens: ``<prefix><key>.<signature>``.

``key`` is 32 bytes: the token's expiry (epoch seconds, 5 bytes big-endian) and 27 random bytes
(216 bits); ``signature`` is HMAC-SHA256 of prefix and key under the system secret, both base64url
without padding. Only the signature is stored, under the storage key ``<expiry:010d><signature>``
(``storage_key``): the expiry leads so that a token row sorts by expiry within its partition and the
flush finds expired rows with a key-range query (no index, no scan), and the reader knows the whole
key from the token alone. A copy of the table holds no usable token, and a forged or malformed token
(or one whose expiry was altered: the expiry is signed) is rejected here, before any database read.
The prefix names the kind so secret scanners can recognise a leaked token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Literal

from hydra_lambda import system_secret
from hydra_lambda.cache import TimedCache, forever

Kind = Literal["access", "refresh", "code"]
PREFIXES: dict[str, str] = {"access": "hl_at_", "refresh": "hl_rt_", "code": "hl_ac_"}
_KEY_BYTES = 32
_EXPIRY_BYTES = 5
_PART_LENGTH = 43  # base64url of 32 bytes, unpadded
MAX_TOKEN_LENGTH = 256


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# HMAC state keyed by each system secret, made once and copied per token (half the cost of a new HMAC).
# Bounded: it only starts over after many secret rotations in one process.
_keyed: TimedCache[bytes, hmac.HMAC] = TimedCache("hmac states", forever, max_entries=16)


def _sign(secret: bytes, prefix: str, key: bytes) -> str:
    keyed = _keyed.get(secret)
    if keyed is None:
        keyed = _keyed.put(secret, hmac.new(secret, digestmod=hashlib.sha256))
    mac = keyed.copy()
    mac.update(prefix.encode("ascii") + key)
    return _b64(mac.digest())


def storage_key(expires_at: int, signature: str) -> str:
    """The row key of a token: its expiry (10 digits, so keys sort by expiry) and its signature."""
    return f"{expires_at:010d}{signature}"


def expiry_prefix(cutoff: int) -> str:
    """Every storage key of a token that expired before ``cutoff`` sorts below this string."""
    return f"{cutoff:010d}"


def generate(kind: Kind, expires_at: int = 0) -> tuple[str, str]:
    """A new token of ``kind`` expiring at ``expires_at`` and its storage key (``storage_key``)."""
    prefix = PREFIXES[kind]
    key = expires_at.to_bytes(_EXPIRY_BYTES, "big") + secrets.token_bytes(_KEY_BYTES - _EXPIRY_BYTES)
    signature = _sign(system_secret.keys()[0], prefix, key)
    return f"{prefix}{_b64(key)}.{signature}", storage_key(expires_at, signature)


def signature_of(token: str | None, kind: Kind) -> str | None:
    """The storage key of a well-formed, genuine token of ``kind``; None for anything else."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    prefix = PREFIXES[kind]
    if not token.startswith(prefix):
        return None
    encoded_key, dot, signature = token[len(prefix) :].partition(".")
    if not dot or len(encoded_key) != _PART_LENGTH or len(signature) != _PART_LENGTH:
        return None
    try:
        key = base64.urlsafe_b64decode(encoded_key + "=")
    except (ValueError, TypeError):
        return None
    if len(key) != _KEY_BYTES or _b64(key) != encoded_key:
        return None
    genuine = False
    for secret in system_secret.keys():
        genuine |= hmac.compare_digest(_sign(secret, prefix, key), signature)
    return storage_key(int.from_bytes(key[:_EXPIRY_BYTES], "big"), signature) if genuine else None


def identify(token: str | None, kinds: Iterable[str]) -> tuple[Kind, str] | None:
    """The kind (one of ``kinds``) and signature of a genuine token; None for anything else."""
    kind = kind_of(token)
    if kind is None or kind not in kinds:
        return None
    signature = signature_of(token, kind)
    return None if signature is None else (kind, signature)


def kind_of(token: str | None) -> Kind | None:
    """The kind a token claims by its prefix (not yet verified)."""
    for kind, prefix in PREFIXES.items():
        if token and token.startswith(prefix):
            return kind  # type: ignore[return-value]
    return None
