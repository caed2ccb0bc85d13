"""Token revocation (RFC 7009).

The client authenticates as at the token endpoint. Revoking a refresh token revokes its whole grant
(every token sharing its request id: the access tokens issued with it); revoking an access token
revokes that token. An unknown, expired, malformed or forged token, or a token of another client,
changes nothing and still answers 200 (RFC 7009 section 2.2), so the endpoint reveals nothing about
tokens the caller does not own. ``token_type_hint`` is not needed: the prefix names the kind.
Revoking a grant wins against a refresh of the same token racing it in another container
(``issuer.revoke_grant``): once this answers 200, no token of the grant is live.
"""

from __future__ import annotations

from hydra_lambda import introspection, issuer, opaque_tokens
from hydra_lambda.client_auth import authenticate_client
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import InvalidRequest
from hydra_lambda.storage import token_rows as token_store

REVOCABLE = ("access", "refresh")


def handle(caller: Credentials, form: dict[str, str]) -> None:
    """The whole endpoint: authenticate the client, then revoke ``form["token"]`` if it is theirs."""
    client = authenticate_client(caller, form)
    token = form.get("token")
    if not token:
        raise InvalidRequest("The parameter 'token' is required.")
    revoke(client.id, token)


def revoke(client_id: str, token: str) -> bool:
    """Revoke ``token`` if it is a live access or refresh token of ``client_id``; True if it was."""
    genuine = opaque_tokens.identify(token, REVOCABLE)
    if genuine is None:
        return False
    kind, signature = genuine
    if kind == "access":  # one conditional delete: only the owner's live token goes
        introspection.forget_caller(signature)
        return token_store.delete_owned(signature, kind, client_id)
    # A rotated refresh token still names its grant (rotation keeps the request id): revoking it
    # ends the grant too, so a client logging out with a stale refresh token still logs out.
    row = token_store.get(signature, kind, include_used=True)
    if row is None or row.client_id != client_id:
        return False
    issuer.revoke_grant(row, with_origin=True)
    return True
