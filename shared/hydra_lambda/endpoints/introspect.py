"""``POST /oauth2/introspect``: token introspection (RFC 7662) for access and refresh tokens.

The caller authenticates first: a Bearer access token with ``hydra.introspect`` and a policy allowing
``introspect`` on ``rn:hydra:oauth2:tokens`` (the warden), or client credentials (HTTP Basic,
``client_id``/``client_secret`` in the form, or a client assertion, RFC 7523) that check out and
whose client the policies allow the same action (as classic Hydra asked of Basic callers). Every
error is RFC 6749 JSON (classic Hydra used its admin error object here): a missing or bad client
credential is 401 ``invalid_client``, a bad Bearer token 401 ``invalid_token``, a token without the
scope 403 ``insufficient_scope``, a policy denial 403 ``request_forbidden`` (fosite's name) saying why.

A Bearer caller's own token comes from ``tokens.lookup.caller`` (remembered per container for
``CLIENT_CACHE_SECONDS``); the scope, its client and the policies are still checked on every call.

The token is then judged by the live-token lookup (``tokens.lookup.live``): at most one database
read, none for a malformed or forged token. Codes are never introspectable. Anything not live is
``{"active":false}``.

Pairwise subjects (``hydra_lambda.subjects``): ``sub`` is the pairwise identifier when the caller is
the token's own client, else the local subject with the pairwise one as ``obfuscated_subject``.
"""

from __future__ import annotations

import hmac
from typing import Any

from hydra_lambda import client_assertions, scopes, warden
from hydra_lambda.client_auth import authenticate_client
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import ANONYMOUS, Credentials
from hydra_lambda.errors import (
    AdminError,
    Forbidden,
    HydraError,
    InsufficientScope,
    InvalidClient,
    InvalidRequest,
    InvalidToken,
    OAuth2Error,
    Unauthorized,
)
from hydra_lambda.models.responses import INACTIVE
from hydra_lambda.models.responses import OAuth2TokenIntrospection as TokenIntrospection
from hydra_lambda.observability import logger
from hydra_lambda.tokens import lookup
from hydra_lambda.tokens.model import Token

RESOURCE = "oauth2:tokens"
ACTION = "introspect"
SCOPE = "hydra.introspect"
TOKEN_TYPES = {"access": "access_token", "refresh": "refresh_token"}


def serve(caller: Credentials, form: dict[str, str]) -> dict[str, Any]:
    """The whole endpoint: authenticate the caller, then introspect ``form["token"]``. A token that is
    itself the caller's Bearer credential is inactive, as classic Hydra (fosite) answered: a token
    holder may not use the resource servers' endpoint to read its own token."""
    try:
        caller_client = _check_caller(caller, form)
    except AdminError as exc:
        raise _oauth_shaped(exc, bearer=caller.bearer is not None or bool(form.get("access_token"))) from None
    token = form.get("token")
    if not token:
        raise InvalidRequest("The parameter 'token' is required.")
    credential = caller.bearer or form.get("access_token") or ""
    if credential and hmac.compare_digest(credential.encode(), token.encode()):
        return INACTIVE.body()
    return introspect(token, form.get("scope"), caller_client=caller_client).body()


def _check_caller(caller: Credentials, form: dict[str, str]) -> str:
    """The calling client's id (the client its Bearer token was issued to, or the one whose
    credentials it sent), or Unauthorized / Forbidden; "" on the private admin API (the warden
    serves it without credentials)."""
    if caller.private_network is True:
        return warden.require_access(caller, scope=SCOPE, resource=RESOURCE, action=ACTION).client_id
    if caller.bearer is not None:
        return _check_bearer_caller(caller)
    if _has_client_credentials(caller, form):
        client_id = _authenticate_client(caller, form)
        decision = warden.decide(client_id, RESOURCE, ACTION)
        if not decision.allowed:
            raise Forbidden(f"{decision.value}: request_forbidden",
                            reason=warden.denial_reason(decision, client_id, RESOURCE, ACTION))
        return client_id
    if form.get("access_token"):  # the classic form-parameter fallback of the warden
        return warden.require_access(
            ANONYMOUS, scope=SCOPE, resource=RESOURCE, action=ACTION, form_token=form["access_token"]
        ).client_id
    raise Unauthorized()


def _check_bearer_caller(caller: Credentials) -> str:
    """``warden.require_access`` for introspection, on the remembered caller token: its client (cached
    record), its scope and the policies are checked on every call."""
    row = lookup.caller(caller.bearer)  # its client checked on every call
    if row is None:
        raise Unauthorized()
    if not scopes.allows(row.scopes, SCOPE):
        raise Forbidden("insufficient_scope", reason=f"The access token does not hold the scope {SCOPE}.")
    decision = warden.decide(row.subject, RESOURCE, ACTION)
    if not decision.allowed:
        raise Forbidden(f"{decision.value}: request_forbidden",
                        reason=warden.denial_reason(decision, row.subject, RESOURCE, ACTION))
    logger.append_keys(client_id=row.client_id)
    return row.client_id


def _has_client_credentials(caller: Credentials, form: dict[str, str]) -> bool:
    return caller.sent_basic or bool(form.get("client_id")) or client_assertions.sent(form)


def _authenticate_client(caller: Credentials, form: dict[str, str]) -> str:
    """A confidential client whose secret checks out; a public client cannot introspect. Every
    failure, a malformed Basic header included, is the same 401."""
    try:
        client = authenticate_client(caller, form, endpoint="/oauth2/introspect")
    except HydraError as exc:
        raise _basic_unauthorized() from exc
    if client.public:
        raise _basic_unauthorized()
    return client.id


def _basic_unauthorized() -> Unauthorized:
    error = Unauthorized()
    error.headers["WWW-Authenticate"] = 'Basic realm="hydra-lambda"'
    return error


def introspect(token: str, scope: str | None = None, *, caller_client: str = "") -> TokenIntrospection:
    """What an authorized caller (of client ``caller_client``) learns about ``token``; ``scope``
    lists scopes it must hold."""
    try:
        wanted = scopes.parse_scope(scope)
    except ValueError:
        return INACTIVE  # a scope outside the RFC 6749 syntax was never granted
    row = lookup.live(token, TOKEN_TYPES)  # the one read: absent, expired, used or revoked -> None
    if row is None or not scopes.allows_all(row.scopes, wanted):
        return INACTIVE
    return _active(row, caller_client)


def _subjects(row: Token, caller_client: str) -> tuple[str | None, str | None]:
    """(``sub``, ``obfuscated_subject``): a pairwise client introspecting its own token sees the sub
    its ID tokens carry; any other caller (a resource server, an admin) the local subject, and the
    pairwise identifier beside it as ``obfuscated_subject`` (Ory Hydra's name)."""
    identity = row.session.identity
    pairwise = identity.pairwise_subject if identity is not None else ""
    if not pairwise:
        return row.subject or None, None
    if caller_client and caller_client == row.client_id:
        return pairwise, None
    return row.subject or None, pairwise


def _active(row: Token, caller_client: str = "") -> TokenIntrospection:
    audience = row.audience or None
    sub, obfuscated = _subjects(row, caller_client)
    return TokenIntrospection(
        active=True,
        scope=scopes.join(row.scopes),
        client_id=row.client_id,
        sub=sub,
        obfuscated_subject=obfuscated,
        exp=row.expires_at,
        iat=row.issued_at,
        iss=get_settings().issuer,
        aud=audience[0] if audience and len(audience) == 1 else audience,
        ext=row.extra or None,
        token_type=TOKEN_TYPES[row.kind],
    )


class RequestForbidden(OAuth2Error):
    status = 403
    error = "request_forbidden"
    default_description = "The policies do not allow this client to introspect tokens."


def _oauth_shaped(error: AdminError, *, bearer: bool) -> OAuth2Error:
    """The caller check's admin error as the RFC 6749 error an OAuth client library understands."""
    if isinstance(error, Unauthorized):
        if bearer:
            return InvalidToken("Send a live access token with the scope hydra.introspect, or client credentials.")
        return InvalidClient("Authenticate with client credentials (HTTP Basic, or client_id and client_secret "
                             "in the form) or a Bearer access token with the scope hydra.introspect.")
    if error.message == "insufficient_scope":
        return InsufficientScope(SCOPE, f"The access token does not hold the scope {SCOPE}.")
    return RequestForbidden(f"{error.message}: {error.reason}" if error.reason else error.message)
