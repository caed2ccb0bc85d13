"""boto3 clients, created once per container and reused across invocations."""

from __future__ import annotations

import threading
from typing import Any

from hydra_lambda.config import get_settings

_clients: dict[tuple[str, str, str], Any] = {}
_lock = threading.RLock()
_botocore: Any = None  # the one botocore session of this container
_boto3: Any = None  # boto3's view of it, made when a boto3 client is first needed


def botocore_session() -> Any:
    """The botocore session every client of this container is made from (boto3's here and
    pynamodb's, see storage.tables), so endpoint data and credentials load once per container."""
    global _botocore
    if _botocore is None:
        with _lock:
            if _botocore is None:
                import botocore.session

                _botocore = botocore.session.get_session()
    return _botocore


def _boto3_session() -> Any:
    global _boto3
    if _boto3 is None:
        with _lock:
            if _boto3 is None:
                import boto3

                _boto3 = boto3.session.Session(botocore_session=botocore_session())
    return _boto3


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
                from botocore.config import Config

                config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
                found = _boto3_session().client(
                    service, endpoint_url=endpoint or None, region_name=settings.aws_region, config=config
                )
                _clients[key] = found
    return found
