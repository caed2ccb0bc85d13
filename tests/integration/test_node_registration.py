"""panva's openid-client (v6) registers itself through /oauth2/register on the local server
(``client.dynamicClientRegistration``, with the initial access token), completes a code flow with the
issued secret and reads its registration back (RFC 7592); without the token it is refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import LocalServer, admin_token, run_node_script

INITIAL_TOKEN = "node-initial-access-token-0123456789"
REDIRECT = "http://127.0.0.1:9999/rp/callback"


@pytest.fixture(scope="module")
def registration_server(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    instance = LocalServer({**aws, "OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED": "true",
                            "OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN": INITIAL_TOKEN})
    yield instance
    instance.stop()


def run_node(*args: str) -> tuple[int, dict[str, Any]]:
    return run_node_script("register.mjs", *args, timeout=90)


def test_openid_client_registers_itself_and_completes_a_code_flow(registration_server: LocalServer) -> None:
    code, out = run_node(registration_server.url, admin_token("hydra.consent"), REDIRECT, INITIAL_TOKEN)
    assert code == 0, out
    registered = out["registered"]
    uuid.UUID(registered["client_id"])  # the server chose the id, not the relying party
    assert registered["has_secret"] and registered["token_endpoint_auth_method"] == "client_secret_basic"
    uri = f"{registration_server.url}/oauth2/register/{registered['client_id']}"
    assert registered["registration_client_uri"] == uri
    assert out["code"] == {"sub": "dcr-user", "aud": registered["client_id"], "has_refresh": True}
    assert out["read"] == {"status": 200, "client_name": "openid-client relying party"}


def test_without_the_initial_access_token_registration_is_refused(registration_server: LocalServer) -> None:
    code, out = run_node(registration_server.url, admin_token("hydra.consent"), REDIRECT)
    assert code == 1 and "registered" not in out, out
    # RFC 6750 section 3.1: no token sent, so a bare Bearer challenge, which openid-client reports.
    assert out["code"] == "OAUTH_WWW_AUTHENTICATE_CHALLENGE" and '"scheme":"bearer"' in out["cause"], out
