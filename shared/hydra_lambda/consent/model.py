"""A consent request, as the authorization endpoint, the consent app's API and the store pass it
around: a plain typed value, no persistence (``storage.consent`` maps it to and from its row)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra_lambda import clock


@dataclass
class Authentication:
    """When and how the user authenticated, as the acceptance said (``auth_time`` 0: a request
    answered before this was recorded)."""

    auth_time: int = 0
    acr: str = ""
    amr: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Asked:
    """What the relying party asked about the authentication, read from the stored authorization
    request (``authorization.request.AuthorizeRequest.to_dict``; the second leg reads it whole)."""

    prompt: str = ""
    max_age: int | None = None
    acr_values: str = ""
    login_hint: str = ""
    ui_locales: str = ""
    id_token_hint: str = ""
    display: str = ""

    @classmethod
    def of(cls, request: dict[str, Any]) -> Asked:
        max_age = request.get("max_age")
        return cls(prompt=request.get("prompt") or "", max_age=None if max_age is None else int(max_age),
                   acr_values=request.get("acr_values") or "", login_hint=request.get("login_hint") or "",
                   ui_locales=request.get("ui_locales") or "", id_token_hint=request.get("id_token_hint") or "",
                   display=request.get("display") or "")


PENDING, ACCEPTED, REJECTED, USED = "pending", "accepted", "rejected", "used"
# The login stage of the current flow, before the consent stage (PENDING onwards):
# login_pending -> login_accepted | login_rejected -> pending (the login verifier leg) -> ... -> used.
LOGIN_PENDING, LOGIN_ACCEPTED, LOGIN_REJECTED = "login_pending", "login_accepted", "login_rejected"


@dataclass
class Consent:
    """A consent request: stored by the first leg of ``/oauth2/auth``, answered once by the consent
    app, consumed once by the second leg."""

    id: str
    client_id: str
    requested_scopes: list[str]
    redirect_url: str
    csrf_hash: str
    expires_at: int
    request: dict[str, Any] = field(default_factory=dict)
    state: str = PENDING
    subject: str = ""
    grant_scopes: list[str] = field(default_factory=list)
    access_token_extra: dict[str, Any] = field(default_factory=dict)
    id_token_extra: dict[str, Any] = field(default_factory=dict)
    deny_reason: str = ""
    created_at: int = 0
    authentication: Authentication = field(default_factory=Authentication)
    # The current flow's own fields (None: a classic consent request): login_skip, login_session_id,
    # login (the login acceptance), consent_skip, consent (the consent acceptance), error (a rejection).
    flow: dict[str, Any] | None = None

    @property
    def current(self) -> bool:
        """Whether the request belongs to the current login/consent flow."""
        return self.flow is not None

    @property
    def asked(self) -> Asked:
        return Asked.of(self.request)

    @property
    def expired(self) -> bool:
        return self.expires_at <= clock.now()
