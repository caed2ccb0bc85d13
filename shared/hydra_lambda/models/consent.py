"""Consent answer wire models (classic camelCase names: ``ConsentRequestAcceptance``,
``ConsentRequestRejection``). The consent request the API returns is
``models.responses.OAuth2ConsentRequest``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr


class ConsentRequestAcceptance(BaseModel):
    """``PATCH .../accept``. ``authTime`` (Unix seconds or RFC 3339) and ``providedAcr`` are the
    classic swagger's names for when and how the user authenticated; ``amr`` the methods used. They
    become the ID token's ``auth_time``, ``acr`` and ``amr``. Unknown fields are refused (400)."""

    model_config = ConfigDict(extra="forbid")

    subject: StrictStr | None = None
    grantScopes: list[StrictStr] | None = None
    accessTokenExtra: dict[str, Any] | None = None
    idTokenExtra: dict[str, Any] | None = None
    authTime: datetime | None = None
    providedAcr: StrictStr | None = None
    amr: list[StrictStr] | None = None


class ConsentRequestRejection(BaseModel):
    """``PATCH .../reject``; the old swagger's ``error`` field is ignored, as the classic code did."""

    model_config = ConfigDict(extra="ignore")

    reason: StrictStr | None = None
