"""``POST /warden/token/allowed`` (may the bearer of this access token, holding these scopes, do this
action on this resource?) and ``POST /warden/allowed`` (may this subject?): the classic warden API,
for resource servers.

The caller is itself authorized by the warden: scope ``hydra.warden`` and action ``decide`` on
``rn:hydra:warden:token:allowed`` / ``rn:hydra:warden:allowed``.

A token decision costs what an introspection costs: the live-token lookup (``tokens.lookup``: the
HMAC checked before any read, one consistent read of its row), and the policies and group memberships
from the container's cache (storage/policies.py). Any failed check is ``{"allowed": false}``.
"""

from __future__ import annotations

from typing import Any

from hydra_lambda import clock, scopes, warden
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest
from hydra_lambda.tokens import lookup

WARDEN_SCOPE = "hydra.warden"
MAX_TEXT = 1024
MAX_SCOPES = 100
DENIED: dict[str, Any] = {"allowed": False}


def _string(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    if name not in body and not required:
        return ""
    value = body.get(name)
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value):
        raise BadRequest(f"{name} must be a string of 1 to {MAX_TEXT} characters")
    return value


def _context(body: dict[str, Any]) -> dict[str, Any]:
    if "context" not in body:
        return {}
    value = body["context"]
    if not isinstance(value, dict):
        raise BadRequest("context must be a JSON object")
    return value


def _strings(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> list[str]:
    if name not in body and not required:
        return []
    value = body.get(name)
    if (not isinstance(value, list) or len(value) > limit
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in value)):
        raise BadRequest(f"{name} must be a list of at most {limit} non-empty strings")
    return value


def decide_token(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /warden/token/allowed``."""
    token = body.get("token", "")
    if not isinstance(token, str):
        raise BadRequest("token must be a string")
    wanted = _strings(body, "scopes", MAX_SCOPES)
    resource, action = _string(body, "resource"), _string(body, "action")
    context = _context(body)
    warden.require_access(caller, scope=WARDEN_SCOPE, resource="warden:token:allowed", action="decide")
    row = lookup.live(token or None)  # the one read: absent, expired or revoked -> None
    if row is None or not scopes.allows_all(row.scopes, wanted):
        return DENIED
    if not warden.decide_name(row.subject, resource, action, context).allowed:
        return DENIED
    return {
        "allowed": True,
        "subject": row.subject,
        "grantedScopes": list(row.scopes),
        "issuer": get_settings().issuer,
        "clientId": row.client_id,
        "issuedAt": clock.rfc3339(row.issued_at),
        "expiresAt": clock.rfc3339(row.expires_at),
        "accessTokenExtra": dict(row.extra or {}),
    }


def decide_subject(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /warden/allowed``: the policies' decision for a subject (no token involved)."""
    subject = _string(body, "subject", required=False)
    resource, action = _string(body, "resource"), _string(body, "action")
    context = _context(body)
    warden.require_access(caller, scope=WARDEN_SCOPE, resource="warden:allowed", action="decide")
    return {"allowed": warden.decide_name(subject, resource, action, context).allowed}
