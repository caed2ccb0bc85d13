"""ID-token signing keys: compact JWS from the first key of a set, and the JWKS of every set.

Three sets, each an ordered list (the first signs, all are published): ``SIGNING_KEYS`` (RSA keys
sign RS256, as by default; a P-256 key there signs ES256, as before the other sets existed), and the
optional ``SIGNING_KEYS_PS256`` (RSA keys, PS256) and ``SIGNING_KEYS_ES256`` (P-256 keys, ES256). A
client's ID tokens and signed userinfo come from the set of its registered algorithm
(:func:`signer`); a key that does not fit its set, or one listed in two sets, is a ConfigError.

``SIGNING_MODE=kms`` (default): ``SIGNING_KEYS`` lists asymmetric KMS keys (ids, ARNs or aliases);
every signature is a KMS ``Sign`` call. ``SIGNING_MODE=envelope``: it lists Secrets Manager secrets
holding KMS-encrypted private keys (see ``keys.envelope``); signatures are made in process.

Keys are loaded once per container and key (one ``GetPublicKey`` or ``GetSecretValue``), so the
JWKS, ``kid`` and ``alg`` cost no AWS call when warm. Rotation: list the new key second (it is
published), later first (it signs), later drop the old one once its tokens have expired.
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any, Protocol

from hydra_lambda.cache import TimedCache
from hydra_lambda.config import ConfigError, get_settings
from hydra_lambda.keys.jws import b64url, signing_input, unb64url
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


# (mode, endpoint, region, the set's alg, ref) -> the key, boxed so that an optional key known to be absent is kept too.
_loaded: TimedCache[tuple[str, str, str, str, str], tuple[SigningKey | None]] = TimedCache("signing keys", _key_ttl)
_lock = threading.Lock()
_MISSING = ("NotFoundException", "ResourceNotFoundException")
# A retired key still listed after the signing one: disabled, or pending deletion. It verifies nothing
# any more, so it leaves the set as a missing one does (the signing key itself never does: that fails).
_RETIRED = ("DisabledException", "KMSInvalidStateException")


DEFAULT_SET = "SIGNING_KEYS"
# The setting of each dedicated set, by the algorithm it signs.
DEDICATED_SETS = {"PS256": "SIGNING_KEYS_PS256", "ES256": "SIGNING_KEYS_ES256"}
SET_ALGORITHM: dict[str, str | None] = {DEFAULT_SET: None, **{v: k for k, v in DEDICATED_SETS.items()}}


class AlgorithmNotConfigured(ConfigError):
    """No configured set signs the algorithm a client registered (the configuration changed since)."""


def _refs(setting: str) -> tuple[str, ...]:
    return tuple(getattr(get_settings(), setting.lower()))


def _fetch(mode: str, ref: str, alg: str | None, setting: str) -> SigningKey:
    # Lazy: a container needs one of the two (each loads cryptography and python-jose: 30-45 ms of
    # imports, python -X importtime), and the routes that never sign or publish keys neither.
    if mode == "envelope":
        from hydra_lambda.keys.envelope import EnvelopeKey

        return EnvelopeKey(ref, alg, setting)
    from hydra_lambda.keys.kms import KmsKey

    return KmsKey(ref, alg, setting)


def _load(mode: str, ref: str, setting: str, *, optional: bool) -> SigningKey | None:
    """The key behind ``ref``, fetched once per container (or per SIGNING_KEYS_CACHE_SECONDS).
    An ``optional`` ref that does not exist (yet) is remembered as absent just as long."""
    settings = get_settings()
    endpoint = settings.kms_endpoint if mode == "kms" else settings.secretsmanager_endpoint
    alg = SET_ALGORITHM[setting]
    cache_key = (mode, endpoint, settings.aws_region, alg or "", ref)
    found = _loaded.get(cache_key)
    if found is not None:
        return found[0]
    with _lock:
        try:
            key: SigningKey | None = _fetch(mode, ref, alg, setting)
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


def key_set(setting: str = DEFAULT_SET) -> list[SigningKey]:
    """The keys of one set in order (the first signs), without duplicates of one key; [] for an
    optional set left empty. Entries after the first that do not exist (e.g. the ``-next`` alias
    before the first scheduled rotation) are left out."""
    settings = get_settings()
    refs = _refs(setting)
    if not refs:
        if setting == DEFAULT_SET:
            raise ConfigError("SIGNING_KEYS is empty: list at least one signing key")
        return []
    if settings.signing_mode == "envelope" and any(ref.startswith("alias/") for ref in refs):
        raise ConfigError(f"SIGNING_MODE=envelope: {setting} must list Secrets Manager secrets, not KMS "
                          "aliases (make one with `hydra-lambda-keys envelope`)")
    out: list[SigningKey] = []
    for index, ref in enumerate(refs):
        key = _load(settings.signing_mode, ref, setting, optional=index > 0)
        if key is not None and all(key.kid != other.kid for other in out):
            out.append(key)
    return out


def all_keys() -> list[SigningKey]:
    """Every key of every set: SIGNING_KEYS, then SIGNING_KEYS_PS256, then SIGNING_KEYS_ES256. A key
    listed in two sets is a ConfigError: its JWK names one ``alg``."""
    out: list[SigningKey] = []
    seen: dict[str, str] = {}
    for setting in SET_ALGORITHM:
        for key in key_set(setting):
            if key.kid in seen and seen[key.kid] != setting:
                raise ConfigError(f"{key.ref} is listed in both {seen[key.kid]} and {setting}: a key signs one "
                                  "algorithm, so it belongs to one set")
            seen[key.kid] = setting
            out.append(key)
    return out


def signing_key() -> SigningKey:
    return key_set()[0]


def signing_algorithm() -> str:
    """The ``alg`` of SIGNING_KEYS's ID tokens (that of its first key): clients that registered none."""
    return signing_key().alg


def signer(alg: str | None = None) -> SigningKey:
    """The key that signs for ``alg``: the first of its dedicated set (SIGNING_KEYS_PS256, _ES256) when
    that is configured, else the first of SIGNING_KEYS when that signs ``alg``; None: SIGNING_KEYS's.
    AlgorithmNotConfigured when no set signs ``alg``: never another algorithm than the one asked."""
    if alg is None:
        return signing_key()
    dedicated = DEDICATED_SETS.get(alg)
    if dedicated and _refs(dedicated):
        return key_set(dedicated)[0]
    default = signing_key()
    if default.alg == alg:
        return default
    hint = f"set {dedicated}" if dedicated else f"SIGNING_KEYS signs {default.alg}"
    raise AlgorithmNotConfigured(f"No signing key set signs {alg} ({hint})")


def signing_algorithms() -> list[str]:
    """The algorithms ID tokens and userinfo can be signed with: SIGNING_KEYS's first, then those of
    the dedicated sets that are configured (what discovery lists and registration accepts)."""
    out = [signing_algorithm()]
    for alg, setting in DEDICATED_SETS.items():
        if _refs(setting) and alg not in out:
            out.append(alg)
    return out


def algorithms() -> list[str]:
    """Every ``alg`` of the published keys, the signing one first."""
    out: list[str] = []
    for key in all_keys():
        if key.alg not in out:
            out.append(key.alg)
    return out


def jwks() -> dict[str, Any]:
    """The JSON Web Key Set of every configured key of every set: public members only."""
    return {"keys": [dict(key.jwk) for key in all_keys()]}


def sign(claims: dict[str, Any], alg: str | None = None, *, typ: str = "JWT") -> str:
    """Compact JWS of ``claims`` (header ``alg``, ``kid``, ``typ``: ``JWT`` unless told, e.g. a logout
    token's ``logout+jwt``) by :func:`signer` of ``alg``."""
    key = signer(alg)
    message = signing_input({"alg": key.alg, "kid": key.kid, "typ": typ}, claims)
    return message.decode("ascii") + "." + b64url(key.sign(message))


def verify(token: str) -> dict[str, Any] | None:
    """The claims of a compact JWS one of our published keys signed (picked by ``kid`` across every
    set, its ``alg`` the key's own), else None. Claims (iss, aud, exp) are the caller's to check."""
    from hydra_lambda.keys.jwk import verify_with  # lazy: cryptography, only for the routes that verify

    try:
        head, body, signature = token.split(".")
        header, claims = json.loads(unb64url(head)), json.loads(unb64url(body))
        raw_signature = unb64url(signature)
    except (ValueError, TypeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    key = next((k for k in all_keys() if k.kid == header.get("kid")), None)
    if key is None or header.get("alg") != key.alg:
        return None
    ok = verify_with(key.public_key, key.alg, f"{head}.{body}".encode("ascii"), raw_signature)
    return claims if ok else None


def forget() -> None:
    """Drop every cached key (tests; a new container starts empty anyway)."""
    with _lock:
        _loaded.clear()


__all__ = [
    "AlgorithmNotConfigured", "SigningKey", "algorithms", "all_keys", "forget", "jwks", "key_set", "sign", "signer",
    "signing_algorithm", "signing_algorithms", "signing_key", "verify",
]
