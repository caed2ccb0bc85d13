"""The token issuer: the one place that mints access tokens, refresh tokens, authorization codes and
ID tokens and writes them. Every grant and the authorization endpoint call it; none of them touches
``tokens.opaque`` or ``storage.token_rows`` to issue.

- ``issue_to_client``: a token for the client itself (client credentials), one row, one write.
- ``issue_from``: the tokens a single-use origin (an authorization code, a refresh token) yields,
  written in ONE transaction that also consumes the origin (a condition on ``used_at``), so of two
  racing redemptions exactly one issues anything. ``None`` when the origin was consumed already.
- ``reissue_from``: a fresh pair of the same grant without consuming (refresh grace period).
- ``authorize``: what ``/oauth2/auth`` answers (code, implicit token, ID token), its rows written in
  ONE transaction with the consumption of the consent they were issued for.

Revoking a grant is ``tokens.revocation``; reading a presented token is ``tokens.lookup``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from hydra_lambda import clock, scopes
from hydra_lambda.clients.model import Client
from hydra_lambda.clients.registry import get_client_for_auth
from hydra_lambda.config import get_settings
from hydra_lambda.errors import InvalidGrant, TemporarilyUnavailable
from hydra_lambda.storage import consent as consent_store
from hydra_lambda.storage import token_rows
from hydra_lambda.storage.sessions import ConsentSession
from hydra_lambda.tokens import id_tokens, opaque
from hydra_lambda.tokens.model import CodeBinding, IdentityContext, Token, TokenSession

OFFLINE_SCOPES = ("offline", "offline_access")


@dataclass
class TokenResponse:
    """RFC 6749 section 5.1 (plus ``id_token``, OpenID Connect Core 3.1.3.3)."""

    access_token: str
    expires_in: int
    scope: list[str]
    refresh_token: str | None = None
    id_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def new_request_id() -> str:
    """The id shared by every token of one grant (revoking the grant deletes them all): 128 random
    bits as 32 hex digits (the shape of ``uuid4().hex``, at a third of its cost)."""
    return secrets.token_hex(16)


def access_lifespan() -> int:
    return get_settings().access_token_lifespan


def mint(
    kind: opaque.Kind,
    *,
    client_id: str,
    client: Client | None = None,
    request_id: str,
    subject: str,
    scopes: list[str],
    lifespan: int,
    extra: dict[str, Any] | None = None,
    session: TokenSession | None = None,
    audience: list[str] | None = None,
) -> tuple[str, Token]:
    """A new token string and its row (not yet stored: the caller writes it, alone or in a transaction).
    ``client`` is the client it is issued to when the caller holds it (else it is looked up, cached)."""
    now = clock.now_int()
    value, signature = opaque.generate(kind, now + lifespan)  # the expiry is part of the row key
    if client is None or client.id != client_id:
        client = get_client_for_auth(client_id)
    row = Token(
        signature=signature,
        kind=kind,
        request_id=request_id,
        client_id=client_id,
        subject=subject,
        scopes=list(scopes),
        audience=list(audience or []),
        extra=dict(extra or {}),
        session=session or TokenSession(),
        issued_at=now,
        expires_at=now + lifespan,
        client_since=0 if client is None else client.since,
    )
    return value, row


# ---------------------------------------------------------------------------------------------
# The token endpoint's grants


def issue_to_client(client: Client, granted: list[str]) -> TokenResponse:
    """An access token for the client itself (subject = client id), no refresh token: one write."""
    lifespan = access_lifespan()
    value, row = mint(
        "access",
        client_id=client.id,
        client=client,
        request_id="",  # no grant chain: the row stays out of the by_request index
        subject=client.id,
        scopes=granted,
        lifespan=lifespan,
    )
    token_rows.put(row)
    return TokenResponse(access_token=value, expires_in=lifespan, scope=granted)


def issue_from(client: Client, origin: Token, *, granted: list[str] | None = None,
               include_nonce: bool, grant: str = "") -> TokenResponse | None:
    """Redeem the single-use ``origin`` (a code or a refresh token): the tokens of its grant (same
    ``request_id``, subject and extras; ``granted`` scopes, the origin's when None), written in ONE
    transaction that consumes it and deletes the access token a refresh token was issued with.
    None if ``origin`` was consumed by another request: nothing is written then. ``grant``: whose
    per-client lifespans apply (``client.lifespan``; the device grant redeems its code with
    ``device_authorization``)."""
    response, rows = _grant_tokens(client, origin, granted, include_nonce=include_nonce, grant=grant)
    replaced = [origin.session.access_signature] if origin.session.access_signature else []
    try:
        redeemed = token_rows.redeem(origin, rows, delete_access=replaced)
    except token_rows.Contended:
        raise TemporarilyUnavailable("The grant is being used by a concurrent request; try again.") from None
    return response if redeemed else None


def reissue_from(client: Client, origin: Token, *, granted: list[str] | None = None) -> TokenResponse:
    """A fresh pair of ``origin``'s grant without consuming anything (the refresh grace period)."""
    response, rows = _grant_tokens(client, origin, granted, include_nonce=False)
    try:
        token_rows.put_reissued(origin, rows)
    except token_rows.AlreadyUsed:  # the row is gone (revoked or expired meanwhile): nothing to reissue
        raise InvalidGrant("The refresh token is invalid, expired or revoked.") from None
    return response


def _grant_tokens(client: Client, origin: Token, granted: list[str] | None, *,
                  include_nonce: bool, grant: str = "") -> tuple[TokenResponse, list[Token]]:
    """The token response of a code or refresh grant and the rows to write."""
    granted = list(origin.scopes if granted is None else granted)
    identity = origin.session.identity
    common = {"client_id": client.id, "client": client, "request_id": origin.request_id, "subject": origin.subject,
              "scopes": granted, "extra": origin.extra}
    lifespan = (client.lifespan(grant, "access_token") if grant else None) or access_lifespan()
    access, access_row = mint("access", lifespan=lifespan, session=TokenSession(identity=identity), **common)
    rows = [access_row]
    refresh = None
    # RFC 6749 section 6: a narrower scope asked at a refresh narrows the access token only; "the
    # refresh token scope MUST be identical to that of the refresh token included in the request".
    kept = list(origin.scopes)
    if any(scope in kept for scope in OFFLINE_SCOPES) and client.has_grant_type("refresh_token"):
        refresh_session = TokenSession(identity=identity, access_signature=access_row.signature)
        refresh_lifespan = (client.lifespan(grant, "refresh_token") if grant else None)
        refresh, refresh_row = mint("refresh", lifespan=refresh_lifespan or get_settings().refresh_token_lifespan,
                                    session=refresh_session, **{**common, "scopes": kept})
        rows.append(refresh_row)
    id_token = None
    if identity is not None and "openid" in granted:
        id_token = id_tokens.issue(identity, client_id=client.id, granted=granted, access_token=access,
                                   include_nonce=include_nonce, algorithm=client.id_token_signed_response_alg or None)
    response = TokenResponse(access_token=access, expires_in=lifespan, scope=granted,
                             refresh_token=refresh, id_token=id_token)
    return response, rows


# ---------------------------------------------------------------------------------------------
# The authorization endpoint


def authorize(identity: IdentityContext, *, consent_id: str, client_id: str, granted: list[str],
              extra: dict[str, Any], response_types: tuple[str, ...] | list[str],
              binding: CodeBinding, id_token_alg: str | None = None,
              consent_session: ConsentSession | None = None) -> dict[str, str]:
    """What ``/oauth2/auth`` answers for ``response_types`` (a code bound to ``binding``, an implicit
    access token, an ID token), every row starting a new grant (a new ``request_id``). Signed first,
    then ONE transaction consumes the accepted consent ``consent_id`` and writes the rows: a failure
    anywhere leaves the consent redeemable, so the browser can simply retry. Raises
    ``storage.consent.ConditionFailed`` when the consent was used or expired meanwhile.

    With a ``consent_session`` (the current flow), the grant's ``request_id`` is the consent
    challenge (the session's), and the session is written in the same transaction: revoking the
    consent session revokes exactly the tokens of its grant."""
    request_id = consent_session.challenge if consent_session is not None else new_request_id()
    response, rows = _authorization_tokens(identity, client_id=client_id, granted=granted, extra=extra,
                                           response_types=response_types, binding=binding,
                                           id_token_alg=id_token_alg, request_id=request_id)
    consent_store.consume_with_tokens(consent_id, rows, consent_session)
    return response


def _authorization_tokens(identity: IdentityContext, *, client_id: str, granted: list[str],
                          extra: dict[str, Any], response_types: tuple[str, ...] | list[str],
                          binding: CodeBinding, id_token_alg: str | None,
                          request_id: str) -> tuple[dict[str, str], list[Token]]:
    common = {"client_id": client_id, "request_id": request_id, "subject": identity.subject,
              "scopes": granted, "extra": extra}
    out: dict[str, str] = {}
    rows = []
    code = access = None
    if "code" in response_types:
        session = TokenSession(identity=identity, code_binding=binding)
        code, row = mint("code", lifespan=get_settings().auth_code_lifespan, session=session, **common)
        rows.append(row)
        out["code"] = code
    if "token" in response_types:
        lifespan = access_lifespan()
        access, row = mint("access", lifespan=lifespan, session=TokenSession(identity=identity), **common)
        rows.append(row)
        out.update({"access_token": access, "token_type": "bearer", "expires_in": str(lifespan)})
    if "id_token" in response_types:
        out["id_token"] = id_tokens.issue(identity, client_id=client_id, granted=granted, access_token=access,
                                          code=code, algorithm=id_token_alg)
    out["scope"] = scopes.join(granted)
    return out, rows

