"""The warden: may the bearer of this access token do ``action`` on ``resource``?

1. The Bearer token (or ``access_token`` in the form) must be a live access token of this server,
   else 401. A malformed or forged token is refused before any database read.
2. It must hold ``scope`` (wildcard strategy), else 400 ``invalid_scope`` (as classic Hydra).
3. The policies must allow the token's subject ``action`` on ``<prefix>:<resource>``, else 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra_lambda import scopes, tokens
from hydra_lambda.config import get_settings
from hydra_lambda.errors import BadRequest, Forbidden, Unauthorized
from hydra_lambda.http.forms import bearer_token
from hydra_lambda.observability import logger
from hydra_lambda.storage.tokens import Token


@dataclass
class AccessContext:
    subject: str
    client_id: str
    scopes: list[str]
    token: Token


def resource_name(resource: str) -> str:
    """``clients:abc`` -> ``rn:hydra:clients:abc``; a name that already has the prefix is kept."""
    prefix = get_settings().resource_name_prefix + ":"
    return resource if resource.startswith(prefix) else prefix + resource


def authenticate(authorization: str | None, *, form_token: str | None = None) -> Token:
    """The live access token of the request, or Unauthorized."""
    value = bearer_token(authorization) or form_token
    signature = tokens.signature_of(value, "access")
    if signature is None:
        raise Unauthorized()
    from hydra_lambda.storage import tokens as token_store

    row = token_store.get(signature, "access")
    if row is None:
        raise Unauthorized()
    return row


def is_allowed(subject: str, resource: str, action: str, context: dict[str, Any] | None = None) -> bool:
    """The policy decision alone (no token): e.g. anonymous JWKS access with subject ``""``."""
    from hydra_lambda.policies import decide
    from hydra_lambda.storage.policies import all_policies

    return decide(all_policies(), subject, resource_name(resource), action, context).allowed


def authorize(
    authorization: str | None,
    *,
    scope: str,
    resource: str,
    action: str,
    context: dict[str, str] | None = None,
    form_token: str | None = None,
) -> AccessContext:
    from hydra_lambda.policies import decide
    from hydra_lambda.storage.policies import all_policies

    token = authenticate(authorization, form_token=form_token)
    if not scopes.allows(token.scopes, scope):
        raise BadRequest("invalid_scope", reason=f"The access token does not hold the scope {scope}.")
    decision = decide(all_policies(), token.subject, resource_name(resource), action, context)
    if not decision.allowed:
        raise Forbidden(f"{decision.value}: request_forbidden")
    logger.append_keys(client_id=token.client_id)  # on every later log line of this invocation
    return AccessContext(subject=token.subject, client_id=token.client_id, scopes=list(token.scopes), token=token)
