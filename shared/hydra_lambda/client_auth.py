"""Client authentication wherever a client authenticates (token, introspection, revocation): RFC
6749 sections 2.3.1 and 3.2.1, RFC 7523 section 2.2.

``client_secret_basic`` (HTTP Basic, URL-decoded halves) or ``client_secret_post`` (``client_id`` and
``client_secret`` in the form), or a client assertion (``client_assertions``), never two in one
request. Public clients identify themselves with ``client_id`` alone and must not send a secret.

A client that registered ``private_key_jwt``, ``client_secret_jwt`` or ``none`` must use exactly that
method. ``client_secret_basic`` and ``client_secret_post`` both prove the secret and are accepted
for each other (a classic client that registered nothing uses either; an admin that echoes the
effective ``client_secret_basic`` back in a PUT does not lock out a client that posts its secret).
"""

from __future__ import annotations

from hydra_lambda import client_assertions
from hydra_lambda.clients.model import Client
from hydra_lambda.clients.registry import get_client_for_auth
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import InvalidClient, InvalidRequest
from hydra_lambda.observability import logger
from hydra_lambda.passwords import Attempt, verify_secret


def _credentials(caller: Credentials, form: dict[str, str]) -> tuple[str, str | None, str]:
    """(client_id, secret or None, method) from the request; InvalidRequest if two methods are mixed."""
    basic = caller.client_credentials()
    if basic is not None:
        if "client_secret" in form:
            raise InvalidRequest("Use one client authentication method: HTTP Basic or client_secret in the "
                                 "body, not both.")
        if form.get("client_id") not in (None, basic.client_id):
            raise InvalidRequest("client_id in the body differs from the HTTP Basic client id.")
        return basic.client_id, basic.secret, "client_secret_basic"
    client_id = form.get("client_id") or ""
    if not client_id:
        raise InvalidClient("Client authentication failed: no client credentials were sent.")
    return client_id, form.get("client_secret"), "client_secret_post"


def authenticate_client(caller: Credentials, form: dict[str, str], endpoint: str = "/oauth2/token") -> Client:
    """The authenticated client, or InvalidClient (401 with ``WWW-Authenticate``); InvalidRequest when
    two methods are mixed. ``endpoint`` is the path called (an assertion's ``aud`` may name it)."""
    if client_assertions.sent(form):
        if caller.sent_basic or "client_secret" in form:
            raise InvalidRequest("Use one client authentication method: a client assertion, HTTP Basic or "
                                 "client_secret in the body, not two.")
        client = client_assertions.authenticate(form, endpoint)
    else:
        client = _by_secret(caller, form)
    logger.append_keys(client_id=client.id)  # on every later log line of this invocation
    return client


def _by_secret(caller: Credentials, form: dict[str, str]) -> Client:
    client_id, secret, _method = _credentials(caller, form)
    client = get_client_for_auth(client_id)
    if client is not None and client.auth_method in client_assertions.METHOD_ALGORITHMS:
        raise InvalidClient(f"The client is registered for {client.auth_method}: authenticate with a "
                            "client_assertion.")
    if client is not None and client.public:
        if secret:
            raise InvalidClient("Client authentication failed: a public client must not send a secret.")
    # An unknown client (no stored hash) goes through the same verification as a wrong secret: the
    # same derivation under the same budget, so neither the answer nor its timing tells them apart.
    elif not verify_secret(secret or "", client.secret_hash if client else None, Attempt(client_id, caller.network)):
        raise InvalidClient("Client authentication failed: unknown client or wrong secret.")
    return client
