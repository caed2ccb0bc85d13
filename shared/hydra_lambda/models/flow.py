"""Wire models of the current login/consent flow's admin API, with Ory Hydra's field names
(``spec/api.json``: ``acceptOAuth2LoginRequest``, ``acceptOAuth2ConsentRequest``,
``rejectOAuth2Request``; answered ``oAuth2LoginRequest``, ``oAuth2ConsentRequest``,
``oAuth2ConsentSession``, ``oAuth2RedirectTo``). Request bodies are pydantic models that ignore
fields they do not know (Ory's SDKs of newer Hydra versions send more); the answers are plain
dataclasses in ``models.flow_answers``, so reading a request never imports pydantic."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr


class AcceptOAuth2LoginRequest(BaseModel):
    """``PUT /admin/oauth2/auth/requests/login/accept``."""

    model_config = ConfigDict(extra="ignore")

    subject: StrictStr
    remember: StrictBool | None = None
    remember_for: StrictInt | None = None
    acr: StrictStr | None = None
    amr: list[StrictStr] | None = None
    context: Any = None
    extend_session_lifespan: StrictBool | None = None
    force_subject_identifier: StrictStr | None = None
    identity_provider_session_id: StrictStr | None = None


class AcceptOAuth2ConsentRequestSession(BaseModel):
    """``session``: claims for introspection's ``ext`` (``access_token``) and the ID token and
    ``/userinfo`` (``id_token``)."""

    model_config = ConfigDict(extra="ignore")

    access_token: dict[str, Any] | None = None
    id_token: dict[str, Any] | None = None


class AcceptOAuth2ConsentRequest(BaseModel):
    """``PUT /admin/oauth2/auth/requests/consent/accept``."""

    model_config = ConfigDict(extra="ignore")

    grant_scope: list[StrictStr] | None = None
    grant_access_token_audience: list[StrictStr] | None = None
    remember: StrictBool | None = None
    remember_for: StrictInt | None = None
    session: AcceptOAuth2ConsentRequestSession | None = None
    context: Any = None


class RejectOAuth2Request(BaseModel):
    """``PUT .../login/reject`` and ``.../consent/reject``; ``error_debug`` and ``status_code`` are
    read and never sent to the client."""

    model_config = ConfigDict(extra="ignore")

    error: StrictStr | None = None
    error_description: StrictStr | None = None
    error_hint: StrictStr | None = None
    error_debug: StrictStr | None = None
    status_code: StrictInt | None = None
