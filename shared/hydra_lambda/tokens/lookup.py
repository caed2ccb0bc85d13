"""The one live-token lookup: which live token does a presented string name?

Every reader of a presented token asks here (the code and refresh grants, introspection, revocation,
the warden, the warden API, userinfo). A malformed or forged string (or one whose expiry was
altered) is refused by its HMAC before any read (``opaque``), a JWT access token by its signature
(``jwt_access``, RFC 9068); one consistent read of the row decides
the rest (absent, expired, used or revoked: None); and a token is honoured only while the client it
was issued to exists, as the same client (``issued_to_current_client``): how deleting a client
revokes its tokens, checked on the client record (cached per container: CLIENT_CACHE_SECONDS).

``caller`` is the same lookup for a caller's own Bearer token, remembered per container for
``CLIENT_CACHE_SECONDS`` (never past its expiry), so a resource server introspecting with one token
costs one read per call, not two: revoking that caller token takes effect within the same window as
deleting its client (at once in the container that revoked it: ``forget_caller``).
"""

from __future__ import annotations

from collections.abc import Iterable

from hydra_lambda.cache import TimedCache
from hydra_lambda.clients.model import Client
from hydra_lambda.clients.registry import get_client_for_auth
from hydra_lambda.config import get_settings
from hydra_lambda.storage import token_rows
from hydra_lambda.tokens import jwt_access, opaque
from hydra_lambda.tokens.model import Token

ACCESS = ("access",)


def identify(presented: str | None, kinds: Iterable[str]) -> tuple[str, str] | None:
    """The kind (one of ``kinds``) and storage key of a genuine token: opaque, or (access tokens) an
    RFC 9068 JWT of this server; None for anything else, before any database read."""
    if jwt_access.looks_like(presented):
        if "access" not in kinds:
            return None
        signature = jwt_access.signature_of(presented)
        return None if signature is None else ("access", signature)
    return opaque.identify(presented, kinds)


def find(presented: str | None, kinds: Iterable[str] = ACCESS, *, include_used: bool = False) -> Token | None:
    """The stored row of a genuine token of one of ``kinds`` (used rows too with ``include_used``),
    else None. The client rule is the caller's next step (``issued_to_current_client``): the grants
    tell a token of another client from a dead one."""
    genuine = identify(presented, kinds)
    if genuine is None:
        return None
    kind, signature = genuine
    return token_rows.get(signature, kind, include_used=include_used)


def again(row: Token) -> Token | None:
    """``row`` read again (used rows too), after a conditional write on it failed; None if gone."""
    return token_rows.get(row.signature, row.kind, include_used=True)


def live(presented: str | None, kinds: Iterable[str] = ACCESS) -> Token | None:
    """The live token ``presented`` names, issued to a client that still exists; else None."""
    row = find(presented, kinds)
    return row if row is not None and issued_to_current_client(row) else None


def issued_to_current_client(row: Token, client: Client | None = None) -> bool:
    """Whether the client ``row`` was issued to still exists, as the same client (not deleted, nor
    deleted and created again): checked on ``client``, or the per-container cached record."""
    if client is None:
        client = get_client_for_auth(row.client_id)
    if client is None or client.id != row.client_id:
        return False
    if row.client_since:
        return row.client_since == client.since
    # A row written before client generations: issued while this client existed (and after its
    # tokens were last revoked as a whole).
    return row.issued_at >= client.since // 1_000_000


# The callers' verified token rows, by storage key (bounded; CLIENT_CACHE_SECONDS, 0 = off).
_callers: TimedCache[str, Token] = TimedCache("caller tokens", lambda: get_settings().client_cache_seconds)


def caller(presented: str | None) -> Token | None:
    """``live`` for a caller's own access token: its row read once, then reused for
    ``CLIENT_CACHE_SECONDS`` (never past its expiry); its client is checked on every call."""
    genuine = identify(presented, ACCESS)
    if genuine is None:
        return None
    signature = genuine[1]
    row = _callers.get(signature)
    if row is not None and row.expired:
        _callers.pop(signature)
    row = _callers.get_or_load(signature, lambda: token_rows.get(signature, "access"))
    return row if row is not None and issued_to_current_client(row) else None


def forget_caller(signature: str) -> None:
    """A caller token revoked through this container is refused by it at once, not after the window."""
    _callers.pop(signature)
