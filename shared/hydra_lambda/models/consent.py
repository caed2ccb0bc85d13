"""Consent request wire models (classic camelCase names: ``OAuth2ConsentRequest``,
``ConsentRequestAcceptance``, ``ConsentRequestRejection``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr


class OAuth2ConsentRequest(BaseModel):
    """``GET /oauth2/consent/requests/{id}``: what the consent app shows the user (built with
    ``models.plain.consent_request``; tests/test_perf_coldstart.py keeps the two in step)."""

    id: str
    requestedScopes: list[str]  # camelCase: the classic wire names
    clientId: str
    expiresAt: str
    redirectUrl: str


class ConsentRequestAcceptance(BaseModel):
    """``PATCH .../accept``. Unknown fields (the old swagger's ``authTime``, ``providedAcr``) are ignored."""

    model_config = ConfigDict(extra="ignore")

    subject: StrictStr | None = None
    grantScopes: list[StrictStr] | None = None
    accessTokenExtra: dict[str, Any] | None = None
    idTokenExtra: dict[str, Any] | None = None


class ConsentRequestRejection(BaseModel):
    """``PATCH .../reject``; the old swagger's ``error`` field is ignored, as the classic code did."""

    model_config = ConfigDict(extra="ignore")

    reason: StrictStr | None = None
