"""Client secret hashing. The scheme is recorded in the stored value:

- ``hs256$<salt>$<mac>``: HMAC-SHA256 keyed by a per-secret random salt, for secrets the server
  generated (32 random bytes: nothing to brute-force, so a slow KDF would only cost latency);
- ``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>``: a memory-hard KDF for secrets a person supplied.

Verification is constant time. What is stored is never weakened; the cost of checking a supplied
(scrypt) secret is bounded in memory instead:

- once a container has verified the right secret for a stored hash, it keeps, for that stored hash, a
  fast fingerprint of it (HMAC-SHA256 under a random per-process key, never written anywhere); every
  later attempt, right OR wrong, is one HMAC and a constant-time comparison, like a generated secret
  and like an unknown client (client_auth checks a dummy hash);
- until then, scrypt runs at most ``SLOW_BURST`` times at once and ``SLOW_RATE`` times a second per
  stored hash in a container; attempts beyond that budget fail without it (``invalid_client``), so a
  flood of wrong secrets costs at most a few key derivations a second per client and container. The
  price: under such a flood, the client's own first request on a cold container may be refused once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time

FAST = "hs256"
SLOW = "scrypt"
_SCRYPT_LOG_N, _SCRYPT_R, _SCRYPT_P = 14, 8, 1
_MAXMEM = 64 * 1024 * 1024
_SALT_BYTES = 16
GENERATED_SECRET_BYTES = 32
MAX_SECRET_LENGTH = 512

_process_key = secrets.token_bytes(32)
_known: dict[str, bytes] = {}  # stored hash -> fingerprint of the secret that matched it
_budget: dict[str, tuple[float, float]] = {}  # stored hash -> (tokens left, when counted)
_lock = threading.Lock()
_MAX_ENTRIES = 4096
SLOW_BURST = 3
SLOW_RATE = 0.5  # key derivations a second, per stored hash, before the right secret was seen


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


def _fingerprint(stored: str, secret: str) -> bytes:
    return hmac.new(_process_key, stored.encode() + b"\x00" + secret.encode("utf-8"), hashlib.sha256).digest()


def _take_budget(stored: str) -> bool:
    """One key derivation for ``stored`` if its budget allows (a token bucket)."""
    now = time.monotonic()
    with _lock:
        tokens, then = _budget.get(stored, (float(SLOW_BURST), now))
        tokens = min(float(SLOW_BURST), tokens + (now - then) * SLOW_RATE)
        if tokens < 1:
            _budget[stored] = (tokens, now)
            return False
        if len(_budget) >= _MAX_ENTRIES:
            _budget.clear()
        _budget[stored] = (tokens - 1, now)
        return True


def forget() -> None:
    """Forget every fingerprint and budget (a new container; tests)."""
    with _lock:
        _known.clear()
        _budget.clear()


def refill_for_tests() -> None:
    with _lock:
        _budget.clear()


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
    given = _fingerprint(stored, secret)
    known = _known.get(stored)
    if known is not None:  # the right secret was seen here: one HMAC decides, right or wrong
        return hmac.compare_digest(given, known)
    log_n_text, r_text, p_text, salt_text, hash_text = rest.split("$")
    log_n, r, p = int(log_n_text), int(r_text), int(p_text)
    if not (10 <= log_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
        return False
    if not _take_budget(stored):
        return False
    ok = hmac.compare_digest(_scrypt(secret, _unb64(salt_text), log_n, r, p), _unb64(hash_text))
    if ok:
        with _lock:
            if len(_known) >= _MAX_ENTRIES:
                _known.clear()
            _known[stored] = given
    return ok


def scheme_of(stored: str | None) -> str:
    return (stored or "").partition("$")[0]
