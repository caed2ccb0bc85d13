"""The answers of the current login/consent flow's admin API (Ory Hydra's ``oAuth2LoginRequest``,
``oAuth2ConsentRequest``, ``oAuth2ConsentSession``, ``oAuth2RedirectTo``), declared as plain
dataclasses (``body()`` leaves out what is None): the read routes never import pydantic. The request
bodies are ``models.flow``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class RedirectTo:
    """``oAuth2RedirectTo``: where the login or consent app sends the browser next."""

    redirect_to: str

    def body(self) -> dict[str, Any]:
        return {"redirect_to": self.redirect_to}


@dataclass(frozen=True, kw_only=True)
class LoginRequest:
    """``oAuth2LoginRequest``."""

    challenge: str
    client: dict[str, Any]
    request_url: str
    requested_scope: list[str]
    requested_access_token_audience: list[str]
    skip: bool
    subject: str
    session_id: str | None = None
    oidc_context: dict[str, Any]
    requested_at: str

    def body(self) -> dict[str, Any]:
        return _without_none(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class ConsentRequest:
    """``oAuth2ConsentRequest``."""

    challenge: str
    consent_request_id: str
    client: dict[str, Any]
    subject: str
    skip: bool
    request_url: str
    requested_scope: list[str]
    requested_access_token_audience: list[str]
    acr: str
    amr: list[str]
    context: Any = None
    login_challenge: str
    login_session_id: str
    oidc_context: dict[str, Any]
    requested_at: str

    def body(self) -> dict[str, Any]:
        return _without_none(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class ConsentSession:
    """``oAuth2ConsentSession``: one remembered (or given) consent, its request as it was."""

    consent_request: dict[str, Any]
    grant_scope: list[str]
    grant_access_token_audience: list[str]
    session: dict[str, Any]
    remember: bool
    remember_for: int
    handled_at: str
    context: Any = None
    expires_at: dict[str, str]

    def body(self) -> dict[str, Any]:
        return _without_none(self.__dict__)
