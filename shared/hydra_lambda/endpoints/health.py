"""``/health/alive``, ``/health/ready`` and ``/version``: Ory Hydra's health and version routes, public
and without authentication (as ``/health/status``). Alive answers from the process alone; ready runs
``hydra_lambda.readiness`` (cached a few seconds per container); version names the package's release."""

from __future__ import annotations

from typing import Any

import hydra_lambda
from hydra_lambda import readiness
from hydra_lambda.models.health import HealthNotReadyStatus, HealthStatus, Version

NOT_READY = 503


def alive() -> tuple[int, dict[str, Any]]:
    return 200, HealthStatus().body()


def ready() -> tuple[int, dict[str, Any]]:
    failed = readiness.failures()
    if failed:
        return NOT_READY, HealthNotReadyStatus(errors=failed).body()
    return 200, HealthStatus().body()


def version() -> tuple[int, dict[str, Any]]:
    return 200, Version(version=hydra_lambda.__version__).body()
