"""boto3 clients, created once per container and reused across invocations."""

from __future__ import annotations

import threading
from typing import Any

from hydra_lambda.config import get_settings

_clients: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


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
                import boto3
                from botocore.config import Config

                config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
                found = boto3.session.Session().client(
                    service, endpoint_url=endpoint or None, region_name=settings.aws_region, config=config
                )
                _clients[key] = found
    return found
