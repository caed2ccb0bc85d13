"""Consent request wire models (classic camelCase names: ``OAuth2ConsentRequest``,
``ConsentRequestAcceptance``, ``ConsentRequestRejection``)."""

from __future__ import annotations

from datetime import datetime
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
    # What the relying party asked, each present only when it did (OpenID Connect Core 3.1.2.1);
    # the first three are the names the classic v0.10 swagger gave them.
    requestedPrompt: str | None = None
    requestedMaxAge: int | None = None
    requestedAcr: list[str] | None = None
    loginHint: str | None = None
    uiLocales: list[str] | None = None
    idTokenHintClaims: dict[str, Any] | None = None  # only for a hint this server signed for the client


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
