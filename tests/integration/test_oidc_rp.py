"""Issue 25 end to end, as a relying party sees it: panva's openid-client v6 (tests/node/oidc_rp.mjs)
registers itself through /oauth2/register with its own EC key, authenticates with private_key_jwt, asks
for ES256 ID tokens and pairwise subjects, and runs the code flow and the hybrid flow with signed request
objects carrying the claims parameter. openid-client checks every ID token, state, iss and PKCE itself;
this test checks what the server released."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import LocalServer, admin_token, run_node_script

REDIRECT = "http://127.0.0.1:9/rp/callback"  # never followed: the script reads the Location header


@pytest.fixture(scope="module")
def rp_server(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    from tests.support_keys import create_kms_key

    instance = LocalServer({
        **aws,
        "OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED": "true",
        "SUBJECT_IDENTIFIERS_PAIRWISE_SALT": "rp-test-salt-0123456789abcdef",
        "SIGNING_KEYS_ES256": create_kms_key("ECC_NIST_P256"),
    })
    yield instance
    instance.stop()


def run_rp(server: LocalServer) -> tuple[int, dict[str, Any]]:
    return run_node_script("oidc_rp.mjs", server.url, admin_token("hydra.consent"), REDIRECT, "")


def test_openid_client_registers_itself_and_runs_the_code_and_hybrid_flows(rp_server: LocalServer) -> None:
    code, out = run_rp(rp_server)
    assert code == 0, out
    registered = out["registered"]
    assert registered["subject_type"] == "pairwise" and registered["id_token_signed_response_alg"] == "ES256"
    assert registered["token_endpoint_auth_method"] == "private_key_jwt"
    assert registered["has_registration_access_token"] is True
    # Only the request object and what RFC 9101 requires beside it travel in the URL.
    assert out["jar_only"] == ["client_id", "request"]
    assert out["requested_claims"]["id_token"] == {"email": {"essential": True}}
    # The ES256 ID token (verified by openid-client) names the user by a pairwise id, never "rp-user";
    # email is released by the claims parameter alone (the email scope was not granted), phone is not.
    assert out["code"]["alg"] == "ES256" and out["code"]["has_refresh"] is True
    pairwise = out["code"]["sub"]
    assert pairwise != "rp-user" and len(pairwise) >= 32
    assert out["code"]["email"] == "rp-user@example.com" and out["code"]["phone"] is None
    assert out["userinfo"]["sub"] == pairwise and out["userinfo"]["name"] == "R. P. User"
    assert "email" not in out["userinfo"] and "phone_number" not in out["userinfo"]
    assert out["hybrid"] == {"sub": pairwise, "fragment": True}
