"""``POST /oauth2/revoke`` (RFC 7009): the client authenticates as at the token endpoint, then
``tokens.revocation.revoke`` revokes the token if it is theirs. An unknown, expired, malformed or
forged token, or a token of another client, changes nothing and still answers 200 (RFC 7009 section
2.2), so the endpoint reveals nothing about tokens the caller does not own."""

from __future__ import annotations

from hydra_lambda.client_auth import authenticate_client
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import InvalidRequest
from hydra_lambda.tokens import revocation


def serve(caller: Credentials, form: dict[str, str]) -> None:
    client = authenticate_client(caller, form, endpoint="/oauth2/revoke")
    token = form.get("token")
    if not token:
        raise InvalidRequest("The parameter 'token' is required.")
    revocation.revoke(client.id, token)
