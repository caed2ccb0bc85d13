"""Client secret hashing. The scheme is recorded in the stored value:

- ``hs256$<salt>$<mac>``: HMAC-SHA256 keyed by a per-secret random salt, for secrets the server
  generated (32 random bytes: nothing to brute-force, so a slow KDF would only cost latency);
- ``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>``: a memory-hard KDF for secrets a person supplied.

Verification is constant time. What is stored is never weakened; the cost of checking a supplied
(scrypt) secret is bounded in memory instead:

- once a container has verified the right secret for a stored hash, it keeps, for that stored hash, a
  fast fingerprint of it (HMAC-SHA256 under a random per-process key, never written anywhere), so the
  right secret is one HMAC from then on;
- a key derivation runs only when the caller's own budget allows it: a token bucket per (claimed
  client id, caller's network) and one per network across client ids (an :class:`Attempt` names
  them). Wrong guesses drain only the budget of the network they come from, so they never make
  another caller's right secret fail, while each network still gets at most a few derivations a
  second per client and container (and a few more across clients);
- every attempt that fails costs the same, whatever the client: a wrong secret for a generated
  (hs256) secret, a wrong secret after the right one was seen, and an unknown client (client_auth)
  each run one derivation against a fixed scrypt hash (:data:`DUMMY_HASH`) under that same budget,
  exactly as a wrong secret for a supplied secret does; so the answer's timing depends on the
  caller's own budget only, never on whether the client exists or how its secret is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from hydra_lambda.cache import TimedCache, forever, on_restore

FAST = "hs256"
SLOW = "scrypt"
_SCRYPT_LOG_N, _SCRYPT_R, _SCRYPT_P = 14, 8, 1
_MAXMEM = 64 * 1024 * 1024
_SALT_BYTES = 16
GENERATED_SECRET_BYTES = 32
MAX_SECRET_LENGTH = 512

_process_key = secrets.token_bytes(32)
# Stored hash -> fingerprint of the secret that matched it (bounded; never stale: a hash names one secret).
_known: TimedCache[str, bytes] = TimedCache("verified secrets", forever, max_entries=4096)
_budgets: OrderedDict[tuple[str, ...], tuple[float, float]] = OrderedDict()  # key -> (tokens left, when counted)
_lock = threading.Lock()
_MAX_ENTRIES = 4096
SLOW_BURST = 3
SLOW_RATE = 0.5  # key derivations a second, per client id and network
NETWORK_BURST = 10
NETWORK_RATE = 2.0  # key derivations a second, per network across client ids
_running = threading.BoundedSemaphore(SLOW_BURST)  # derivations at once in a process (threaded local server)
# A scrypt hash (the parameters hash_secret uses) of a random secret nobody kept: what a failed
# attempt is checked against, so it costs what a wrong supplied secret costs.
DUMMY_HASH = "scrypt$14$8$1$v2IdoEvCUu1mQ_il6sv1Qw$ccSP5NiSjZpRrNrvwK_cR0_QBO68-paLlZSr0zecLfU"


@dataclass(frozen=True)
class Attempt:
    """Who is trying a secret, as the budget counts: the client id claimed and the caller's network
    (an IPv4 address or an IPv6 /64, from the edge; "" when unknown)."""

    client_id: str = ""
    network: str = ""


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


def _take(key: tuple[str, ...], burst: float, rate: float, now: float) -> float | None:
    """The tokens ``key``'s bucket holds now, or None when it has less than one (lock held)."""
    tokens, then = _budgets.get(key, (burst, now))
    tokens = min(burst, tokens + (now - then) * rate)
    _budgets[key] = (tokens, now)
    _budgets.move_to_end(key)
    return tokens if tokens >= 1 else None


def _take_budget(attempt: Attempt) -> bool:
    """One key derivation for ``attempt`` if both its buckets allow it (each spends a token only when
    both have one)."""
    now = time.monotonic()
    client_key, network_key = ("client", attempt.client_id, attempt.network), ("network", attempt.network)
    with _lock:
        client_tokens = _take(client_key, float(SLOW_BURST), SLOW_RATE, now)
        network_tokens = _take(network_key, float(NETWORK_BURST), NETWORK_RATE, now)
        while len(_budgets) > _MAX_ENTRIES:  # the least recently used go first
            _budgets.popitem(last=False)
        if client_tokens is None or network_tokens is None:
            return False
        _budgets[client_key] = (client_tokens - 1, now)
        _budgets[network_key] = (network_tokens - 1, now)
        return True


def _derive(secret: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    with _running:
        return _scrypt(secret, salt, log_n, r, p)


def _fail(secret: str, attempt: Attempt) -> bool:
    """What a failed attempt costs: one derivation against DUMMY_HASH if the budget allows; False."""
    if _take_budget(attempt):
        _, log_n, r, p, salt, expected = DUMMY_HASH.split("$")
        hmac.compare_digest(_derive(secret or "-", _unb64(salt), int(log_n), int(r), int(p)), _unb64(expected))
    return False


def forget() -> None:
    """Forget every fingerprint and budget (a new container; tests)."""
    with _lock:
        _known.clear()
        _budgets.clear()


@on_restore
def new_process_key() -> None:
    """A new per-process key (and so no fingerprint made under the old one): every process restored
    from one SnapStart snapshot would otherwise share the key made at import."""
    global _process_key
    with _lock:
        _process_key = secrets.token_bytes(32)
        _known.clear()
        _budgets.clear()


def refill_for_tests() -> None:
    with _lock:
        _budgets.clear()


def verify_secret(secret: str, stored: str | None, attempt: Attempt | None = None) -> bool:
    """Whether ``secret`` matches the stored hash (constant time in the secret). A failure costs one
    budgeted derivation whatever the scheme (see the module's docstring); ``stored`` None is an
    unknown client."""
    attempt = attempt or Attempt()
    if not stored or not secret or len(secret) > MAX_SECRET_LENGTH:
        return _fail(secret[:MAX_SECRET_LENGTH], attempt)
    scheme, _, rest = stored.partition("$")
    try:
        if scheme == FAST:
            salt_text, mac_text = rest.split("$")
            actual = hmac.new(_unb64(salt_text), secret.encode("utf-8"), hashlib.sha256).digest()
            if hmac.compare_digest(actual, _unb64(mac_text)):
                return True
        elif scheme == SLOW:
            verdict = _verify_slow(secret, stored, rest, attempt)
            if verdict is not None:  # a derivation ran (or the budget refused one): that was the cost
                return verdict
    except (ValueError, TypeError):
        pass
    return _fail(secret, attempt)


def _verify_slow(secret: str, stored: str, rest: str, attempt: Attempt) -> bool | None:
    """True or False when it decided with a derivation or without budget; None for a wrong secret
    decided by the fingerprint (the caller charges it the failure's cost)."""
    given = _fingerprint(stored, secret)
    known = _known.get(stored)
    if known is not None:  # the right secret was seen here: one HMAC decides
        return True if hmac.compare_digest(given, known) else None
    log_n_text, r_text, p_text, salt_text, hash_text = rest.split("$")
    log_n, r, p = int(log_n_text), int(r_text), int(p_text)
    if not (10 <= log_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
        return None
    if not _take_budget(attempt):
        return False
    ok = hmac.compare_digest(_derive(secret, _unb64(salt_text), log_n, r, p), _unb64(hash_text))
    if ok:
        with _lock:
            _known.put(stored, given)
    return ok


def scheme_of(stored: str | None) -> str:
    return (stored or "").partition("$")[0]
