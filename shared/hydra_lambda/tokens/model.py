"""The token as the grants, the issuer and the lookup pass it around: a plain typed value, no
persistence (``storage.token_rows`` maps it to and from DynamoDB rows).

A token row (access, refresh, authorization code) is a ``Token``; what it carries about the grant
beyond subject, scopes and extras is its ``TokenSession``: the user's identity (for ID tokens and
userinfo), what an authorization code was bound to (redirect URI, PKCE challenge), the access token a
refresh token was issued with, and what consuming a single-use row issued (to revoke on replay).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hydra_lambda import clock

TokenKind = Literal["access", "refresh", "code"]


@dataclass
class IdentityContext:
    """What the consent gave about the user, carried in every token row of the grant."""

    subject: str
    auth_time: int
    nonce: str = ""
    acr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    amr: list[str] = field(default_factory=list)
    requested_at: int = 0  # when the authorization was requested (``rat``); auth_time if unknown
    # The claims parameter as granted (hydra_lambda.claims.for_grant): target -> claim -> spec
    claims_request: dict[str, Any] = field(default_factory=dict)
    # The sub a pairwise client sees (hydra_lambda.subjects), fixed for the grant; "" for a public client
    pairwise_subject: str = ""
    # The login session of the current flow (the ID token's ``sid``); "" in the classic flow
    sid: str = ""

    @property
    def client_subject(self) -> str:
        """The ``sub`` of the grant's ID tokens and ``/userinfo``: the pairwise identifier, else the
        local subject."""
        return self.pairwise_subject or self.subject


@dataclass(frozen=True)
class CodeBinding:
    """What an authorization code is bound to by its authorization request: the redirect URI the
    token request must repeat (RFC 6749 section 4.1.3) and the PKCE challenge (RFC 7636)."""

    redirect_uri: str = ""
    redirect_uri_sent: bool = False
    code_challenge: str = ""
    code_challenge_method: str = ""


@dataclass(frozen=True)
class TokenRef:
    """A token row's key: its kind (part of the row key) and its signature."""

    kind: str
    signature: str


@dataclass
class TokenSession:
    """What a token row knows of its grant beyond subject, scopes and extras."""

    identity: IdentityContext | None = None  # the user; None for tokens without one (client_credentials)
    code_binding: CodeBinding | None = None  # authorization codes only
    access_signature: str = ""  # refresh tokens: the access token issued with this one
    issued: list[TokenRef] = field(default_factory=list)  # single-use rows: what consuming it issued


@dataclass
class Token:
    """An access token, refresh token or authorization code, as stored (only its signature)."""

    signature: str
    kind: str
    request_id: str
    client_id: str
    expires_at: int
    subject: str = ""
    scopes: list[str] = field(default_factory=list)
    audience: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    session: TokenSession = field(default_factory=TokenSession)
    issued_at: int = 0
    used_at: int | None = None
    revoked_at: int | None = None  # when revoking its grant marked it (codes, refresh tokens)
    client_since: int = 0  # the creation time (us) of the client it was issued to; 0 on older rows

    @property
    def expired(self) -> bool:
        return self.expires_at <= clock.now()
