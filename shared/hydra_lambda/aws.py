"""botocore clients (KMS, Secrets Manager), created once per container and reused across invocations.

Made with botocore alone: boto3 adds nothing to a plain client but its import (~25 ms of a cold
start) and resource factories we never use."""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
from botocore.config import Config

from hydra_lambda.cache import TimedCache, forever
from hydra_lambda.config import get_settings

# service, endpoint, region -> its botocore client (thread-safe, reused by every invocation).
_clients: TimedCache[tuple[str, str, str], Any] = TimedCache("aws clients", forever, max_entries=64)
_lock = threading.RLock()
_botocore: Any = None  # the one botocore session of this container


def botocore_session() -> Any:
    """The botocore session every AWS client of this container is made from (these, and DynamoDB's
    through storage.tables), so endpoint data and credentials load once per container."""
    global _botocore
    if _botocore is None:
        with _lock:
            if _botocore is None:
                _botocore = botocore.session.get_session()
    return _botocore


def client(service: str) -> Any:
    settings = get_settings()
    endpoint = {
        "kms": settings.kms_endpoint,
        "dynamodb": settings.dynamodb_endpoint,
        "secretsmanager": settings.secretsmanager_endpoint,
    }.get(service, "")
    key = (service, endpoint, settings.aws_region)
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
                found = botocore_session().create_client(
                    service, endpoint_url=endpoint or None, region_name=settings.aws_region, config=config
                )
                _clients.put(key, found)
    return found
