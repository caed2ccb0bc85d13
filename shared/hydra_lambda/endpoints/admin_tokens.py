"""The current Hydra API's token routes for administrators:

- ``POST /admin/oauth2/introspect`` (RFC 7662, Hydra's ``introspectedOAuth2Token``): the live-token
  lookup of ``/oauth2/introspect`` (one read at most, none for a forged token), answered with ``aud``
  as a list, ``token_type`` ``Bearer`` and ``token_use``; ``sub`` is the local subject and a pairwise
  one shows as ``obfuscated_subject``, as Hydra's admin introspection answers. Guarded as classic
  Bearer introspection (scope ``hydra.introspect``, ``rn:hydra:oauth2:tokens``, ``introspect``); no
  client credentials here (Hydra's admin route takes none either).
- ``DELETE /admin/oauth2/tokens?client_id=``: every token issued to that client stops being honoured
  (``clients.registry.revoke_all_tokens``: one write of the client row, however many tokens). Scope
  ``hydra.oauth2.tokens``, ``rn:hydra:oauth2:tokens:<client_id>``, ``delete``. 204, also for a client
  that does not exist (it has no live token).
"""

from __future__ import annotations

import hmac
from typing import Any

from hydra_lambda import scopes, warden
from hydra_lambda.clients import registry
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest
from hydra_lambda.models.admin_clients import IntrospectedOAuth2Token
from hydra_lambda.tokens import lookup
from hydra_lambda.tokens.model import Token

TOKEN_USES = {"access": "access_token", "refresh": "refresh_token"}
INACTIVE = IntrospectedOAuth2Token(active=False)


def introspect(caller: Credentials, form: dict[str, str]) -> dict[str, Any]:
    """What an administrator learns about ``form["token"]`` (``scope``: scopes it must hold)."""
    warden.require_access(caller, scope="hydra.introspect", resource="oauth2:tokens", action="introspect")
    token = form.get("token")
    if not token:
        raise BadRequest("The parameter 'token' is required.")
    if caller.bearer and hmac.compare_digest(caller.bearer.encode(), token.encode()):
        return INACTIVE.body()  # as /oauth2/introspect: a caller's own credential is not introspected
    try:
        wanted = scopes.parse_scope(form.get("scope"))
    except ValueError:
        return INACTIVE.body()  # a scope outside the RFC 6749 syntax was never granted
    row = lookup.live(token, TOKEN_USES)  # absent, expired, used or revoked -> None
    if row is None or not scopes.allows_all(row.scopes, wanted):
        return INACTIVE.body()
    return _active(row).body()


def _active(row: Token) -> IntrospectedOAuth2Token:
    identity = row.session.identity
    pairwise = identity.pairwise_subject if identity is not None else ""
    return IntrospectedOAuth2Token(
        active=True,
        scope=scopes.join(row.scopes),
        client_id=row.client_id,
        sub=row.subject or None,
        obfuscated_subject=pairwise or None,
        exp=row.expires_at,
        iat=row.issued_at,
        nbf=row.issued_at,
        iss=get_settings().issuer,
        aud=list(row.audience),
        ext=row.extra or None,
        token_type="Bearer",
        token_use=TOKEN_USES[row.kind],
    )


def delete(caller: Credentials, query: dict[str, str]) -> None:
    """Revoke every token of ``client_id``."""
    client_id = query.get("client_id", "")
    if not client_id:
        raise BadRequest("The client_id query parameter is required.")
    warden.require_access(caller, scope="hydra.oauth2.tokens", resource=f"oauth2:tokens:{client_id}",
                          action="delete")
    client = registry.get_client(client_id)
    if client is not None:
        registry.revoke_all_tokens(client)
