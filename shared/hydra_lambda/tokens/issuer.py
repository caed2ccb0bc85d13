"""The token issuer: the one place that mints access tokens, refresh tokens, authorization codes and
ID tokens and writes them. Every grant and the authorization endpoint call it; none of them touches
``tokens.opaque`` or ``storage.token_rows`` to issue.

- ``issue_tokens``: THE one call every grant makes (directly, or through the functions below): the
  token hook (``tokens.hook``), the client's per-grant lifespans (``client.lifespan``, else the
  server's settings) and its access token strategy (opaque, or an RFC 9068 JWT: ``tokens.jwt_access``)
  applied once, giving the token response and the rows to write (not yet written: the caller writes
  them alone or inside its own transaction, e.g. with the consumption of a device code).
- ``issue_new``: ``issue_tokens`` and the write, for a grant that consumes nothing (jwt-bearer).
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

import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any

from hydra_lambda import clock, scopes
from hydra_lambda.clients.model import DEVICE_CODE_GRANT, JWT_BEARER_GRANT, Client
from hydra_lambda.clients.registry import get_client_for_auth
from hydra_lambda.config import get_settings
from hydra_lambda.errors import InvalidGrant, TemporarilyUnavailable
from hydra_lambda.storage import consent as consent_store
from hydra_lambda.storage import token_rows
from hydra_lambda.storage.sessions import ConsentSession
from hydra_lambda.tokens import hook, id_tokens, jwt_access, opaque
from hydra_lambda.tokens.model import CodeBinding, IdentityContext, Token, TokenSession

OFFLINE_SCOPES = ("offline", "offline_access")
# The grants by their lifespan name (Ory Hydra's ``<grant>_grant_<token>_lifespan``) and the grant
# type the token hook is told (``request.grant_types``).
GRANT_TYPES = {
    "authorization_code": "authorization_code",
    "refresh_token": "refresh_token",
    "client_credentials": "client_credentials",
    "implicit": "implicit",
    "device_authorization": DEVICE_CODE_GRANT,
    "jwt_bearer": JWT_BEARER_GRANT,
}


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


def lifespan(client: Client | None, grant: str, token: str) -> int:
    """How long ``token`` (``access_token``, ``id_token``, ``refresh_token``) issued by ``grant`` (a
    ``GRANT_TYPES`` name) to ``client`` lives: the client's own lifespan for it (Ory Hydra's per-client
    lifespans), else the server's ACCESS_TOKEN_LIFESPAN, ID_TOKEN_LIFESPAN or REFRESH_TOKEN_LIFESPAN."""
    own = client.lifespan(grant, token) if client is not None else None
    if own:
        return own
    settings = get_settings()
    defaults = {"access_token": settings.access_token_lifespan, "id_token": settings.id_token_lifespan,
                "refresh_token": settings.refresh_token_lifespan}
    return defaults[token]


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
    ``client`` is the client it is issued to when the caller holds it (else it is looked up, cached);
    an access token is a JWT when the client's effective strategy is ``jwt``. Grants call
    ``issue_tokens``, which applies the hook and the lifespans too."""
    now = clock.now_int()
    if client is None or client.id != client_id:
        client = get_client_for_auth(client_id)
    row = Token(
        signature="",
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
    if kind == "access" and jwt_access.wanted(client):
        value, row.signature = jwt_access.encode(row)  # RFC 9068: signed, recorded by its hash
    else:
        value, row.signature = opaque.generate(kind, row.expires_at)  # the expiry is part of the row key
    return value, row


# ---------------------------------------------------------------------------------------------
# The one call of every grant


@dataclass
class Issued:
    """What ``issue_tokens`` made: the token response and the rows to write (not yet written)."""

    response: TokenResponse
    rows: list[Token]


def issue_tokens(client: Client, grant: str, *, subject: str, granted: list[str], request_id: str = "",
                 audience: list[str] | None = None, extra: dict[str, Any] | None = None,
                 identity: IdentityContext | None = None, refresh_scopes: list[str] | None = None,
                 include_nonce: bool = False, payload: dict[str, list[str]] | None = None) -> Issued:
    """The tokens ``grant`` (a ``GRANT_TYPES`` name: ``device_authorization``, ``jwt_bearer``...) issues
    to ``client`` for ``subject`` and the ``granted`` scopes: the token hook asked first (it may add
    claims, or refuse: AccessDenied; a failing hook: ServerError), then an access token (opaque or JWT
    as the client's strategy says) living the client's lifespan for the grant; a refresh token (with
    ``refresh_scopes``, when given, holding ``offline`` or ``offline_access``, and the client has the
    refresh_token grant); an ID token when there is a user (``identity``) and ``openid`` is granted.
    ``request_id`` ties the rows into one grant (revoked together; "" for none); ``payload`` is what
    the hook is shown of the request form (Hydra shows the jwt-bearer ``assertion`` only). Nothing is
    written: the caller writes ``rows`` (``token_rows.put_many``, or in its own transaction)."""
    access_extra, id_identity = _hooked(client, grant, subject=subject, granted=granted, audience=audience,
                                        extra=extra, identity=identity, request_id=request_id, payload=payload)
    common = {"client_id": client.id, "client": client, "request_id": request_id, "subject": subject,
              "extra": access_extra, "audience": list(audience or [])}
    expires_in = lifespan(client, grant, "access_token")
    access, access_row = mint("access", lifespan=expires_in, session=TokenSession(identity=identity),
                              scopes=granted, **common)
    rows = [access_row]
    refresh = None
    if refresh_scopes is not None and any(s in refresh_scopes for s in OFFLINE_SCOPES) \
            and client.has_grant_type("refresh_token"):
        refresh_session = TokenSession(identity=identity, access_signature=access_row.signature)
        refresh, refresh_row = mint("refresh", lifespan=lifespan(client, grant, "refresh_token"),
                                    session=refresh_session, scopes=list(refresh_scopes), **common)
        rows.append(refresh_row)
    id_token = None
    if id_identity is not None and "openid" in granted:
        id_token = id_tokens.issue(id_identity, client_id=client.id, granted=granted, access_token=access,
                                   include_nonce=include_nonce, algorithm=client.id_token_signed_response_alg or None,
                                   lifespan=lifespan(client, grant, "id_token"))
    response = TokenResponse(access_token=access, expires_in=expires_in, scope=list(granted),
                             refresh_token=refresh, id_token=id_token)
    return Issued(response, rows)


def issue_new(client: Client, grant: str, **options: Any) -> TokenResponse:
    """``issue_tokens`` for a grant that starts a new grant and consumes nothing of ours (e.g. the
    jwt-bearer grant), its rows written: one PutItem for one row, else one transaction."""
    issued = issue_tokens(client, grant, **options)
    if len(issued.rows) == 1:
        token_rows.put(issued.rows[0])
    else:
        token_rows.put_many(issued.rows)
    return issued.response


def _hooked(client: Client, grant: str, *, subject: str, granted: list[str], audience: list[str] | None,
            extra: dict[str, Any] | None, identity: IdentityContext | None, request_id: str,
            payload: dict[str, list[str]] | None) -> tuple[dict[str, Any], IdentityContext | None]:
    """The access-token claims and the identity of the ID token after the token hook (unchanged
    when none is configured): what it answered for a token replaces that token's claims."""
    extra = dict(extra or {})
    if not hook.configured():
        return extra, identity
    answer = hook.run(hook.HookRequest(
        client_id=client.id, grant_type=GRANT_TYPES[grant], subject=subject, granted_scopes=list(granted),
        granted_audience=list(audience or []), access_claims=extra,
        id_claims=dict(identity.extra) if identity is not None else {},
        id_subject=identity.client_subject if identity is not None else "",
        auth_time=identity.auth_time if identity is not None else 0,
        acr=identity.acr if identity is not None else "", amr=list(identity.amr) if identity is not None else [],
        request_id=request_id, payload=dict(payload or {}),
    ))
    if answer.access_claims is not None:
        extra = dict(answer.access_claims)
    if answer.id_claims is not None and identity is not None:
        identity = dataclasses.replace(identity, extra=dict(answer.id_claims))
    return extra, identity


# ---------------------------------------------------------------------------------------------
# The token endpoint's grants


def issue_to_client(client: Client, granted: list[str]) -> TokenResponse:
    """An access token for the client itself (subject = client id), no refresh token: one write."""
    # request_id "": no grant chain, the row stays out of the by_request index
    return issue_new(client, "client_credentials", subject=client.id, granted=granted)


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
    # RFC 6749 section 6: a narrower scope asked at a refresh narrows the access token only; "the
    # refresh token scope MUST be identical to that of the refresh token included in the request".
    # ``grant``: the lifespans' grant when it is not the origin's (the device grant redeems a code row).
    issued = issue_tokens(
        client, grant or ("authorization_code" if origin.kind == "code" else "refresh_token"), subject=origin.subject,
        granted=list(origin.scopes if granted is None else granted), request_id=origin.request_id,
        audience=origin.audience, extra=origin.extra, identity=origin.session.identity,
        refresh_scopes=list(origin.scopes), include_nonce=include_nonce,
    )
    return issued.response, issued.rows


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
    audience = list(consent_session.grant_access_token_audience) if consent_session is not None else []
    response, rows = _authorization_tokens(identity, client_id=client_id, granted=granted, extra=extra,
                                           response_types=response_types, binding=binding,
                                           id_token_alg=id_token_alg, request_id=request_id, audience=audience)
    consent_store.consume_with_tokens(consent_id, rows, consent_session)
    return response


def _authorization_tokens(identity: IdentityContext, *, client_id: str, granted: list[str],
                          extra: dict[str, Any], response_types: tuple[str, ...] | list[str],
                          binding: CodeBinding, id_token_alg: str | None,
                          request_id: str, audience: list[str]) -> tuple[dict[str, str], list[Token]]:
    """The code (AUTH_CODE_LIFESPAN) and the implicit grant's tokens (the token hook asked first, the
    client's ``implicit`` lifespans) of one authorization response."""
    client = get_client_for_auth(client_id)
    common = {"client_id": client_id, "client": client, "request_id": request_id, "subject": identity.subject,
              "scopes": granted, "audience": audience}
    out: dict[str, str] = {}
    rows = []
    code = access = None
    if "code" in response_types:
        session = TokenSession(identity=identity, code_binding=binding)
        code, row = mint("code", lifespan=get_settings().auth_code_lifespan, session=session, extra=extra, **common)
        rows.append(row)
        out["code"] = code
    implicit = {"token", "id_token"} & set(response_types)
    id_identity: IdentityContext | None = identity
    if implicit and client is not None:
        extra, id_identity = _hooked(client, "implicit", subject=identity.subject, granted=granted,
                                     audience=audience, extra=extra, identity=identity, request_id=request_id,
                                     payload=None)
    if "token" in response_types:
        expires_in = lifespan(client, "implicit", "access_token")
        access, row = mint("access", lifespan=expires_in, session=TokenSession(identity=identity), extra=extra,
                           **common)
        rows.append(row)
        out.update({"access_token": access, "token_type": "bearer", "expires_in": str(expires_in)})
    if "id_token" in response_types and id_identity is not None:
        out["id_token"] = id_tokens.issue(id_identity, client_id=client_id, granted=granted, access_token=access,
                                          code=code, algorithm=id_token_alg,
                                          lifespan=lifespan(client, "implicit", "id_token"))
    out["scope"] = scopes.join(granted)
    return out, rows
