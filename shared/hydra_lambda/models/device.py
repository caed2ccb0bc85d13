"""The device flow's wire shapes (RFC 8628; Ory Hydra's ``deviceAuthorization`` and
``acceptDeviceUserCodeRequest``), plain dataclasses: the routes never import pydantic."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DeviceAuthorization:
    """``POST /oauth2/device/auth``'s answer (RFC 8628 section 3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int

    def body(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AcceptDeviceUserCodeRequest:
    """``PUT /admin/oauth2/auth/requests/device/accept``'s body: the user code the user entered."""

    user_code: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> AcceptDeviceUserCodeRequest | None:
        """The body read; None when ``user_code`` is not a string."""
        value = body.get("user_code")
        return cls(value) if isinstance(value, str) else None
