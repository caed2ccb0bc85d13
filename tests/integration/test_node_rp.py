"""panva's openid-client (v6) and oauth4webapi run discovery against the local server and accept
the metadata; jose verifies an ID token against the JWKS the metadata points to."""

from __future__ import annotations

from typing import Any

import pytest
from hydra_lambda import clock, keys

from tests.support import LocalServer, run_node_script


def run_node(*args: str) -> tuple[int, dict[str, Any]]:
    return run_node_script("discovery.mjs", *args, timeout=60)


@pytest.fixture(scope="module")
def installed_server(server: LocalServer) -> LocalServer:
    from hydra_lambda.bootstrap import ensure_root_client

    ensure_root_client()  # the public JWKS policy
    return server


def test_openid_client_and_oauth4webapi_accept_the_metadata(installed_server: LocalServer) -> None:
    claims = {"iss": installed_server.url, "sub": "alice", "aud": "rp-under-test",
              "iat": clock.now_int(), "exp": clock.now_int() + 300}
    token = keys.sign(claims)  # same KMS key as the server's SIGNING_KEYS
    code, out = run_node(installed_server.url, token)
    assert code == 0, out
    assert out["openid_client"]["issuer"] == installed_server.url
    assert out["openid_client"]["supportsPKCE"] is True
    assert out["openid_client"]["jwks_uri"] == f"{installed_server.url}/.well-known/jwks.json"
    for algorithm in ("oidc", "oauth2"):
        assert out[f"oauth4webapi_{algorithm}"] == {"issuer": installed_server.url, "algs": ["RS256"],
                                                    "iss_parameter": True}
    assert out["jose"] == {"sub": "alice", "alg": "RS256", "kid": keys.jwks()["keys"][0]["kid"]}


def test_the_libraries_refuse_a_wrong_issuer(installed_server: LocalServer) -> None:
    """The check above could fail: a document whose issuer differs from the URL is rejected."""
    alias = installed_server.url.replace("127.0.0.1", "localhost")
    code, out = run_node(alias)
    assert code == 1
    assert out.get("code") == "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED" and "issuer" in out["error"], out


def test_a_token_signed_by_another_key_is_rejected(installed_server: LocalServer) -> None:
    from tests.support_keys import create_kms_key, signing_keys

    with signing_keys([create_kms_key("RSA_2048")]):
        foreign = keys.sign({"iss": installed_server.url, "sub": "mallory", "aud": "rp-under-test",
                             "exp": clock.now_int() + 300})
    code, out = run_node(installed_server.url, foreign)
    assert code == 1 and "jose" not in out and out["code"] == "ERR_JWKS_NO_MATCHING_KEY", out
