"""The request body of ``POST /admin/trust/grants/jwt-bearer/issuers``, with Ory Hydra's field names
(``spec/api.json``: ``trustOAuth2JwtGrantIssuer``). Fields it does not know are ignored (newer SDKs
send more); the answers are plain dataclasses in ``models.trust_answers``, so the read routes never
import pydantic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr


class TrustOAuth2JwtGrantIssuer(BaseModel):
    """``trustOAuth2JwtGrantIssuer``: ``subject`` or ``allow_any_subject``, a public ``jwk`` with a
    ``kid``, ``expires_at`` in RFC 3339."""

    model_config = ConfigDict(extra="ignore")

    issuer: StrictStr
    subject: StrictStr | None = None
    allow_any_subject: StrictBool | None = None
    scope: list[StrictStr]
    jwk: dict[str, Any]
    expires_at: datetime
