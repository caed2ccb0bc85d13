"""Revoking tokens: a presented token (RFC 7009: ``revoke``) and a whole grant (``revoke_grant``:
logout, the replay of a code or of a rotated refresh token).

Revoking a refresh token revokes its whole grant (every token sharing its request id); revoking an
access token revokes that token. An unknown, expired, malformed or forged token, or a token of
another client, changes nothing. A JWT access token (RFC 9068) is revoked the same way, by its row:
introspection then says inactive, but a resource server checking only its signature accepts it
until it expires. ``token_type_hint`` is not needed: the prefix names the kind.
Revoking a grant wins against a refresh of the same token racing it in another container: once it
returns, no token of the grant is live.
"""

from __future__ import annotations

from hydra_lambda import clock
from hydra_lambda.config import get_settings
from hydra_lambda.errors import TemporarilyUnavailable
from hydra_lambda.storage import token_rows
from hydra_lambda.tokens import lookup
from hydra_lambda.tokens.model import Token, TokenRef

REVOCABLE = ("access", "refresh")


def revoke(client_id: str, token: str) -> bool:
    """Revoke ``token`` if it is a live access or refresh token of ``client_id``; True if it was."""
    genuine = lookup.identify(token, REVOCABLE)
    if genuine is None:
        return False
    kind, signature = genuine
    if kind == "access":  # one conditional delete: only the owner's live token goes
        lookup.forget_caller(signature)
        return token_rows.delete_owned(signature, kind, client_id)
    # A rotated refresh token still names its grant (rotation keeps the request id): revoking it
    # ends the grant too, so a client logging out with a stale refresh token still logs out.
    row = lookup.find(token, ("refresh",), include_used=True)
    if row is None or row.client_id != client_id:
        return False
    revoke_grant(row, with_origin=True)
    return True


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


def revoke_request(request_id: str) -> None:
    """Revoke every token of the grant ``request_id`` names (a consent session's challenge, in the
    current flow): ``revoke_grant`` from one of its codes or refresh tokens, winning every race with
    a refresh, then whatever the index still lists (access tokens of an implicit grant)."""
    if not request_id:
        return
    refs = [TokenRef(key.kind, key.signature) for key in token_rows.keys_of_request(request_id)]
    origin = next((row for row in token_rows.get_many(refs) if row.kind != "access"), None)
    if origin is not None:
        revoke_grant(origin, with_origin=True)
    token_rows.revoke_request(request_id)
