"""The answers of ``/health/alive``, ``/health/ready`` and ``/version``: Ory Hydra's ``healthStatus``,
``healthNotReadyStatus`` and ``version`` (its ``spec/api.json``), as plain dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class HealthStatus:
    """``healthStatus``: always ``ok``."""

    status: str = "ok"

    def body(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HealthNotReadyStatus:
    """``healthNotReadyStatus``: what is not ready, by name, in words."""

    errors: dict[str, str]

    def body(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Version:
    """``version``: the running release."""

    version: str

    def body(self) -> dict[str, Any]:
        return asdict(self)
