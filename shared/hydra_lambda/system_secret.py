"""The system secret: HMAC keys for opaque tokens. Several may be configured (comma-separated):
the first signs, every one verifies, so the secret can be rotated without logging anyone out.

Locally it comes from ``SYSTEM_SECRET``. On AWS from the Secrets Manager secret named by
``SYSTEM_SECRET_ARN``, through powertools' parameters utility and its cache: a container re-reads it
when its copy is older than ``SYSTEM_SECRET_CACHE_SECONDS``, so a rotation reaches warm containers.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from hydra_lambda import aws
from hydra_lambda.cache import TimedCache, forever
from hydra_lambda.config import MIN_SYSTEM_SECRET_LENGTH, ConfigError, get_settings

MIN_LENGTH = MIN_SYSTEM_SECRET_LENGTH
_lock = threading.Lock()
# The derived keys of the current secrets (one entry: a new set of secrets replaces the old).
_derived: TimedCache[tuple[str, ...], tuple[bytes, ...]] = TimedCache("system secret keys", forever, max_entries=1)
_provider: Any = None  # powertools' SecretsProvider over our Secrets Manager client


def secrets_provider() -> Any:
    """powertools' SecretsProvider on the botocore client of aws.client (our endpoint, region, timeouts
    and retries), made again when that client changes (tests and the local server change settings).
    Imported here: powertools' parameters package loads boto3 (~15 ms), paid only where the secret
    lives in Secrets Manager, at the first request that needs it."""
    global _provider
    manager = aws.client("secretsmanager")
    if _provider is None or _provider.client is not manager:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        _provider = SecretsProvider(boto3_client=manager)
    return _provider


def _load_raw() -> tuple[str, ...]:
    settings = get_settings()
    if settings.system_secret:
        return settings.system_secret
    if settings.system_secret_arn:
        value = secrets_provider().get(settings.system_secret_arn, max_age=settings.system_secret_cache_seconds)
        if not isinstance(value, str):
            raise ConfigError("SYSTEM_SECRET_ARN must name a secret with a SecretString")
        return tuple(part.strip() for part in value.split(",") if part.strip())
    raise ConfigError("set SYSTEM_SECRET (or SYSTEM_SECRET_ARN on AWS)")


def keys() -> tuple[bytes, ...]:
    """The derived HMAC keys, signing key first."""
    with _lock:
        raw = _load_raw()
        found = _derived.get(raw)
        if found is not None:
            return found
        if not raw or any(len(secret) < MIN_LENGTH for secret in raw):
            raise ConfigError(f"every system secret must be at least {MIN_LENGTH} characters")
        return _derived.put(raw, tuple(hashlib.sha256(secret.encode("utf-8")).digest() for secret in raw))


def forget() -> None:
    """Drop every cached secret and key (tests that change where the secret comes from)."""
    with _lock:
        _derived.clear()
        if _provider is not None:
            _provider.clear_cache()
