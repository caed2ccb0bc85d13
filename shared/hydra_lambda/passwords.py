"""Client secret hashing. The scheme is recorded in the stored value:

- ``hs256$<salt>$<mac>``: HMAC-SHA256 keyed by a per-secret random salt, for secrets the server
  generated (32 random bytes: nothing to brute-force, so a slow KDF would only cost latency);
- ``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>``: a memory-hard KDF for secrets a person supplied.

Verification is constant time. A warm container remembers which (stored hash, secret) pairs it has
verified, as an HMAC under a random per-process key, so a confidential client with a supplied secret
pays the KDF once per container rather than on every token request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading

FAST = "hs256"
SLOW = "scrypt"
_SCRYPT_LOG_N, _SCRYPT_R, _SCRYPT_P = 14, 8, 1
_MAXMEM = 64 * 1024 * 1024
_SALT_BYTES = 16
GENERATED_SECRET_BYTES = 32
MAX_SECRET_LENGTH = 512

_process_key = secrets.token_bytes(32)
_verified: set[bytes] = set()
_verified_lock = threading.Lock()
_MAX_VERIFIED = 4096


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_secret() -> str:
    """A new client secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(GENERATED_SECRET_BYTES)


def _scrypt(secret: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=1 << log_n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def hash_secret(secret: str, *, generated: bool) -> str:
    """The stored form of ``secret``: fast keyed hash if the server generated it, else scrypt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    if generated:
        mac = hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).digest()
        return f"{FAST}${_b64(salt)}${_b64(mac)}"
    derived = _scrypt(secret, salt, _SCRYPT_LOG_N, _SCRYPT_R, _SCRYPT_P)
    return f"{SLOW}${_SCRYPT_LOG_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(derived)}"


def _remember_key(stored: str, secret: str) -> bytes:
    return hmac.new(_process_key, stored.encode() + b"\x00" + secret.encode("utf-8"), hashlib.sha256).digest()


def verify_secret(secret: str, stored: str | None) -> bool:
    """Whether ``secret`` matches the stored hash (constant time in the secret)."""
    if not stored or not secret or len(secret) > MAX_SECRET_LENGTH:
        return False
    scheme, _, rest = stored.partition("$")
    try:
        if scheme == FAST:
            salt_text, mac_text = rest.split("$")
            expected = _unb64(mac_text)
            actual = hmac.new(_unb64(salt_text), secret.encode("utf-8"), hashlib.sha256).digest()
            return hmac.compare_digest(actual, expected)
        if scheme == SLOW:
            return _verify_slow(secret, stored, rest)
    except (ValueError, TypeError):
        return False
    return False


def _verify_slow(secret: str, stored: str, rest: str) -> bool:
    remembered = _remember_key(stored, secret)
    if remembered in _verified:  # a set lookup of an HMAC: leaks nothing about the secret
        return True
    log_n_text, r_text, p_text, salt_text, hash_text = rest.split("$")
    log_n, r, p = int(log_n_text), int(r_text), int(p_text)
    if not (10 <= log_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
        return False
    ok = hmac.compare_digest(_scrypt(secret, _unb64(salt_text), log_n, r, p), _unb64(hash_text))
    if ok:
        with _verified_lock:
            if len(_verified) >= _MAX_VERIFIED:
                _verified.clear()
            _verified.add(remembered)
    return ok


def scheme_of(stored: str | None) -> str:
    return (stored or "").partition("$")[0]
