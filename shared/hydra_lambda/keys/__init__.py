"""ID-token signing keys: compact JWS from the first key of ``SIGNING_KEYS``, and the JWKS of all.

``SIGNING_MODE=kms`` (default): ``SIGNING_KEYS`` lists asymmetric KMS keys (ids, ARNs or aliases);
every signature is a KMS ``Sign`` call. ``SIGNING_MODE=envelope``: it lists Secrets Manager secrets
holding KMS-encrypted private keys (see ``keys.envelope``); signatures are made in process.

Keys are loaded once per container and key (one ``GetPublicKey`` or ``GetSecretValue``), so the
JWKS, ``kid`` and ``alg`` cost no AWS call when warm. Rotation: list the new key second (it is
published), later first (it signs), later drop the old one once its tokens have expired.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Protocol

from hydra_lambda.cache import TimedCache
from hydra_lambda.config import ConfigError, get_settings
from hydra_lambda.keys.jws import b64url, signing_input
from hydra_lambda.observability import logger


class SigningKey(Protocol):
    ref: str
    kid: str
    alg: str
    jwk: dict[str, str]
    public_key: Any

    def sign(self, message: bytes) -> bytes: ...


def _key_ttl() -> float:
    ttl = get_settings().signing_keys_cache_seconds
    return ttl if ttl > 0 else math.inf  # 0: once per container


# (mode, endpoint, region, ref) -> the key, boxed so that an optional key known to be absent is kept too.
_loaded: TimedCache[tuple[str, str, str, str], tuple[SigningKey | None]] = TimedCache("signing keys", _key_ttl)
_lock = threading.Lock()
_MISSING = ("NotFoundException", "ResourceNotFoundException")
# A retired key still listed after the signing one: disabled, or pending deletion. It verifies nothing
# any more, so it leaves the set as a missing one does (the signing key itself never does: that fails).
_RETIRED = ("DisabledException", "KMSInvalidStateException")


def _fetch(mode: str, ref: str) -> SigningKey:
    # Lazy: a container needs one of the two (each loads cryptography and python-jose: 30-45 ms of
    # imports, python -X importtime), and the routes that never sign or publish keys neither.
    if mode == "envelope":
        from hydra_lambda.keys.envelope import EnvelopeKey

        return EnvelopeKey(ref)
    from hydra_lambda.keys.kms import KmsKey

    return KmsKey(ref)


def _load(mode: str, ref: str, *, optional: bool) -> SigningKey | None:
    """The key behind ``ref``, fetched once per container (or per SIGNING_KEYS_CACHE_SECONDS).
    An ``optional`` ref that does not exist (yet) is remembered as absent just as long."""
    settings = get_settings()
    endpoint = settings.kms_endpoint if mode == "kms" else settings.secretsmanager_endpoint
    cache_key = (mode, endpoint, settings.aws_region, ref)
    found = _loaded.get(cache_key)
    if found is not None:
        return found[0]
    with _lock:
        try:
            key: SigningKey | None = _fetch(mode, ref)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if not (optional and code in (*_MISSING, *_RETIRED)):
                raise
            if code in _RETIRED:
                logger.warning("a listed signing key is disabled or pending deletion; left out of the JWKS",
                               extra={"key": ref, "error": code})
            key = None
        _loaded.put(cache_key, (key,))
    return key


def key_set() -> list[SigningKey]:
    """The configured keys in order (the first signs), without duplicates of one key. Entries after
    the first that do not exist (e.g. the ``-next`` alias before the first scheduled rotation) are
    left out."""
    settings = get_settings()
    if not settings.signing_keys:
        raise ConfigError("SIGNING_KEYS is empty: list at least one signing key")
    if settings.signing_mode == "envelope" and any(ref.startswith("alias/") for ref in settings.signing_keys):
        raise ConfigError("SIGNING_MODE=envelope: SIGNING_KEYS must list Secrets Manager secrets, not KMS "
                          "aliases (make one with `hydra-lambda-keys envelope`)")
    out: list[SigningKey] = []
    for index, ref in enumerate(settings.signing_keys):
        key = _load(settings.signing_mode, ref, optional=index > 0)
        if key is not None and all(key.kid != other.kid for other in out):
            out.append(key)
    return out


def signing_key() -> SigningKey:
    return key_set()[0]


def signing_algorithm() -> str:
    """The ``alg`` of new ID tokens (that of the first key)."""
    return signing_key().alg


def algorithms() -> list[str]:
    """Every ``alg`` of the published keys, the signing one first."""
    out: list[str] = []
    for key in key_set():
        if key.alg not in out:
            out.append(key.alg)
    return out


def jwks() -> dict[str, Any]:
    """The JSON Web Key Set of every configured key: public members only."""
    return {"keys": [dict(key.jwk) for key in key_set()]}


def sign(claims: dict[str, Any]) -> str:
    """Compact JWS of ``claims`` (header ``alg``, ``kid``, ``typ: JWT``) by the first key."""
    key = signing_key()
    message = signing_input({"alg": key.alg, "kid": key.kid, "typ": "JWT"}, claims)
    return message.decode("ascii") + "." + b64url(key.sign(message))


def forget() -> None:
    """Drop every cached key (tests; a new container starts empty anyway)."""
    with _lock:
        _loaded.clear()


__all__ = ["SigningKey", "algorithms", "forget", "jwks", "key_set", "sign", "signing_algorithm", "signing_key"]
