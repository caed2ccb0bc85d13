"""The token issuer: the one place that mints access tokens, refresh tokens, authorization codes and
ID tokens and writes them. Every grant and the authorization endpoint call it; none of them touches
``opaque_tokens`` or ``storage.token_rows`` to issue.

- ``issue_to_client``: a token for the client itself (client credentials), one row, one write.
- ``issue_from``: the tokens a single-use origin (an authorization code, a refresh token) yields,
  written in ONE transaction that also consumes the origin (a condition on ``used_at``), so of two
  racing redemptions exactly one issues anything. ``None`` when the origin was consumed already.
- ``reissue_from``: a fresh pair of the same grant without consuming (refresh grace period).
- ``revoke_grant``: every token of the origin's grant (logout, replay of a code or a rotated refresh
  token), each code and refresh token marked first so that no concurrent refresh outruns it.
- ``authorization_tokens``: what ``/oauth2/auth`` answers (code, implicit token, ID token) and the
  rows the caller writes with the consent's consumption.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hydra_lambda import clients, clock, id_tokens, opaque_tokens, scopes
from hydra_lambda.config import get_settings
from hydra_lambda.domain import CodeBinding, IdentityContext, Token, TokenRef, TokenSession
from hydra_lambda.errors import InvalidGrant, TemporarilyUnavailable
from hydra_lambda.storage import token_rows

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

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(self.scope),
        }
        if self.refresh_token:
            out["refresh_token"] = self.refresh_token
        if self.id_token:
            out["id_token"] = self.id_token
        return out


def new_request_id() -> str:
    """The id shared by every token of one grant (revoking the grant deletes them all): 128 random
    bits as 32 hex digits (the shape of ``uuid4().hex``, at a third of its cost)."""
    return secrets.token_hex(16)


def access_lifespan() -> int:
    return get_settings().access_token_lifespan


def mint(
    kind: opaque_tokens.Kind,
    *,
    client_id: str,
    client: clients.Client | None = None,
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
    value, signature = opaque_tokens.generate(kind, now + lifespan)  # the expiry is part of the row key
    if client is None or client.id != client_id:
        client = clients.get_client_for_auth(client_id)
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
        client_since=0 if client is None else client_since(client),
    )
    return value, row


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def client_since(client: clients.Client) -> int:
    """The client's generation: its creation time in microseconds (a client deleted and created
    again under the same id has another)."""
    return (client.created_at - _EPOCH) // timedelta(microseconds=1)


def issued_to_current_client(row: Token, client: clients.Client | None = None) -> bool:
    """Whether the client ``row`` was issued to still exists, as the same client (not deleted, nor
    deleted and created again): how deleting a client revokes its tokens, checked at read time on
    the client record (``client``, or the per-container cached one: CLIENT_CACHE_SECONDS)."""
    if client is None:
        client = clients.get_client_for_auth(row.client_id)
    if client is None or client.id != row.client_id:
        return False
    if row.client_since:
        return row.client_since == client_since(client)
    # A row written before client generations: issued while this client existed.
    return row.issued_at >= int(client.created_at.timestamp())


# ---------------------------------------------------------------------------------------------
# The token endpoint's grants


def issue_to_client(client: clients.Client, granted: list[str]) -> TokenResponse:
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


def issue_from(client: clients.Client, origin: Token, *, granted: list[str] | None = None,
               include_nonce: bool) -> TokenResponse | None:
    """Redeem the single-use ``origin`` (a code or a refresh token): the tokens of its grant (same
    ``request_id``, subject and extras; ``granted`` scopes, the origin's when None), written in ONE
    transaction that consumes it and deletes the access token a refresh token was issued with.
    None if ``origin`` was consumed by another request: nothing is written then."""
    response, rows = _grant_tokens(client, origin, granted, include_nonce=include_nonce)
    replaced = [origin.session.access_signature] if origin.session.access_signature else []
    try:
        redeemed = token_rows.redeem(origin, rows, delete_access=replaced)
    except token_rows.Contended:
        raise TemporarilyUnavailable("The grant is being used by a concurrent request; try again.") from None
    return response if redeemed else None


def reissue_from(client: clients.Client, origin: Token, *, granted: list[str] | None = None) -> TokenResponse:
    """A fresh pair of ``origin``'s grant without consuming anything (the refresh grace period)."""
    response, rows = _grant_tokens(client, origin, granted, include_nonce=False)
    try:
        token_rows.put_reissued(origin, rows)
    except token_rows.AlreadyUsed:  # the row is gone (revoked or expired meanwhile): nothing to reissue
        raise InvalidGrant("The refresh token is invalid, expired or revoked.") from None
    return response


MAX_CHAIN = 1000  # codes and refresh tokens marked in one revocation
# How long after the grace period a reissue may still commit (its request checked the grace period
# when it started; the OAuth2 function times out after 10 s): a used row younger than grace + this
# may still gain a pair, so it is marked.
REISSUE_ALLOWANCE = 60


def revoke_grant(origin: Token, *, with_origin: bool = False) -> None:
    """Revoke every token of ``origin``'s grant (and delete ``origin`` itself and its access token with
    ``with_origin``), winning every race with a concurrent refresh or code exchange.

    A new token of a grant is only ever written by a conditional write on an existing code or refresh
    token of that grant: consuming it (``used_at`` absent) or, within the grace period, reissuing from
    it (``revoked_at`` absent). So the walk MARKS each row that may still do either before following
    it (``token_rows.mark_revoked``: one UpdateItem that sets both and returns the row): a refresh
    that committed before the mark is listed in what the mark returns, and is marked in turn; one that
    comes after fails and answers ``invalid_grant``. First the chain down from ``origin``; then every
    row the ``by_request`` index lists that the chain did not reach (earlier links, grace-period
    branches, a hybrid flow's access token): read at once, consistently, and marked only if unused or
    used recently enough to still reissue (older used rows can issue nothing more; what they issued
    is followed from the read). The index is eventually consistent, which the walk does not rely on:
    a row too new to be listed was written by consuming or reissuing from a row that is marked or
    followed. Only then are the rows deleted; ``origin`` goes last, so that until then a retry after
    a failure finds it and does it all again."""
    try:
        _revoke(origin, with_origin=with_origin)
    except token_rows.Contended:
        raise TemporarilyUnavailable("The grant is being used by a concurrent request; try again.") from None


def _revoke(origin: Token, *, with_origin: bool) -> None:
    walk = _GrantWalk(origin)
    if with_origin and origin.session.access_signature:
        walk.add(TokenRef("access", origin.session.access_signature))
    walk.mark([TokenRef(origin.kind, origin.signature)])
    unreached = []  # codes and refresh tokens the index lists and the chain did not reach
    for key in token_rows.keys_of_request(origin.request_id):
        ref = TokenRef(key.kind, key.signature)
        if walk.add(ref) and ref.kind != "access":
            unreached.append(ref)
    horizon = clock.now_int() - get_settings().refresh_token_grace_period - REISSUE_ALLOWANCE
    pending = []
    for row in token_rows.get_many(unreached):
        if row.used_at is None or row.used_at >= horizon:
            pending.append(TokenRef(row.kind, row.signature))
        else:
            pending.extend(walk.follow(row))
    walk.mark(pending)
    token_rows.delete_refs(ref for ref in walk.doomed.values() if ref.signature != origin.signature)
    if with_origin:
        token_rows.delete(origin.signature, origin.kind)


class _GrantWalk:
    """What one revocation has found: every row to delete, by signature."""

    def __init__(self, origin: Token) -> None:
        self.origin = origin
        self.doomed: dict[str, TokenRef] = {origin.signature: TokenRef(origin.kind, origin.signature)}
        self.marked = 0

    def add(self, ref: TokenRef) -> bool:
        """Record ``ref`` as doomed; False if it was already."""
        if ref.signature in self.doomed:
            return False
        self.doomed[ref.signature] = ref
        return True

    def follow(self, row: Token) -> list[TokenRef]:
        """What ``row`` issued (and, for a refresh token still live, the access token issued with it),
        recorded as doomed: the codes and refresh tokens among them not seen before."""
        issued = list(row.session.issued)
        if row.session.access_signature and row.used_at == row.revoked_at:  # live until marked just now
            issued.append(TokenRef("access", row.session.access_signature))
        return [ref for ref in issued if self.add(ref) and ref.kind != "access"]

    def mark(self, pending: list[TokenRef]) -> None:
        """Mark each row of ``pending`` and, depth first, every code or refresh token it issued."""
        while pending and self.marked < MAX_CHAIN:
            ref = pending.pop()
            row = token_rows.mark_revoked(ref.signature, ref.kind)
            self.marked += 1
            if row is None and ref.signature == self.origin.signature:
                row = self.origin  # gone meanwhile (a concurrent revocation): what the caller read
            if row is not None:
                pending.extend(self.follow(row))


def _grant_tokens(client: clients.Client, origin: Token, granted: list[str] | None, *,
                  include_nonce: bool) -> tuple[TokenResponse, list[Token]]:
    """The token response of a code or refresh grant and the rows to write."""
    granted = list(origin.scopes if granted is None else granted)
    identity = origin.session.identity
    common = {"client_id": client.id, "client": client, "request_id": origin.request_id, "subject": origin.subject,
              "scopes": granted, "extra": origin.extra}
    lifespan = access_lifespan()
    access, access_row = mint("access", lifespan=lifespan, session=TokenSession(identity=identity), **common)
    rows = [access_row]
    refresh = None
    # RFC 6749 section 6: a narrower scope asked at a refresh narrows the access token only; "the
    # refresh token scope MUST be identical to that of the refresh token included in the request".
    kept = list(origin.scopes)
    if any(scope in kept for scope in OFFLINE_SCOPES) and client.has_grant_type("refresh_token"):
        refresh_session = TokenSession(identity=identity, access_signature=access_row.signature)
        refresh, refresh_row = mint("refresh", lifespan=get_settings().refresh_token_lifespan,
                                    session=refresh_session, **{**common, "scopes": kept})
        rows.append(refresh_row)
    id_token = None
    if identity is not None and "openid" in granted:
        id_token = id_tokens.issue(identity, client_id=client.id, access_token=access, include_nonce=include_nonce)
    response = TokenResponse(access_token=access, expires_in=lifespan, scope=granted,
                             refresh_token=refresh, id_token=id_token)
    return response, rows


# ---------------------------------------------------------------------------------------------
# The authorization endpoint


def authorization_tokens(identity: IdentityContext, *, client_id: str, granted: list[str],
                         extra: dict[str, Any], response_types: tuple[str, ...] | list[str],
                         binding: CodeBinding) -> tuple[dict[str, str], list[Token]]:
    """What ``/oauth2/auth`` answers for ``response_types`` (a code bound to ``binding``, an implicit
    access token, an ID token) and the rows to write, by the caller, in the transaction that consumes
    the consent. Every row starts a new grant (a new ``request_id``)."""
    common = {"client_id": client_id, "request_id": new_request_id(), "subject": identity.subject,
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
        out["id_token"] = id_tokens.issue(identity, client_id=client_id, access_token=access, code=code)
    out["scope"] = scopes.join(granted)
    return out, rows

