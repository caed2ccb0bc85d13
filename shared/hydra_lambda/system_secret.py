"""The system secret: HMAC keys for opaque tokens. Several may be configured (comma-separated):
the first signs, every one verifies, so the secret can be rotated without logging anyone out.

On AWS it comes from the Secrets Manager secret named by ``SYSTEM_SECRET_ARN``, read once per
container; locally from ``SYSTEM_SECRET``.
"""

from __future__ import annotations

import hashlib
import threading

from hydra_lambda.config import ConfigError, get_settings

MIN_LENGTH = 16
_lock = threading.Lock()
_cache: dict[str, tuple[bytes, ...]] = {}


def _load_raw() -> tuple[str, ...]:
    settings = get_settings()
    if settings.system_secret:
        return settings.system_secret
    if settings.system_secret_arn:
        from hydra_lambda.aws import client

        value = client("secretsmanager").get_secret_value(SecretId=settings.system_secret_arn)
        return tuple(p.strip() for p in value["SecretString"].split(",") if p.strip())
    raise ConfigError("set SYSTEM_SECRET (or SYSTEM_SECRET_ARN on AWS)")


def keys() -> tuple[bytes, ...]:
    """The derived HMAC keys, signing key first."""
    settings = get_settings()
    cache_key = ",".join(settings.system_secret) or settings.system_secret_arn
    found = _cache.get(cache_key)
    if found is not None:
        return found
    with _lock:
        raw = _load_raw()
        if not raw or any(len(secret) < MIN_LENGTH for secret in raw):
            raise ConfigError(f"every system secret must be at least {MIN_LENGTH} characters")
        derived = tuple(hashlib.sha256(secret.encode("utf-8")).digest() for secret in raw)
        _cache.clear()
        _cache[cache_key] = derived
        return derived
