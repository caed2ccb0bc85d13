"""Smaller hardening of the browser-facing surface: consent ids decoded once, PKCE ``plain`` refused
for public clients (RFC 9700 2.1.1), and the security headers of every HTML page the server renders."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import call
from tests.support_flows import REDIRECT, Flow, bearer, make_client, pkce_pair, qs

# ------------------------------------------------------------------ consent ids decoded once


@pytest.mark.parametrize("action", ["get", "accept", "reject"])
def test_a_consent_id_with_a_percent_is_decoded_once(action: str) -> None:
    """``a%2541`` on the wire is ``a%41`` once API Gateway (or the local router) decoded the path;
    decoding it again would look up ``aA``, another request than the one named."""
    base = "/oauth2/consent/requests/a%2541"
    if action == "get":
        result = call("GET", base, headers=bearer())
    else:
        body: dict[str, Any] = {"subject": "alice", "grantScopes": []} if action == "accept" else {}
        result = call("PATCH", f"{base}/{action}", headers=bearer(), json_body=body)
    assert result.status == 404, result.body
    message = result.json["error"]["message"]
    assert "'a%41'" in message, message


def test_a_real_consent_id_still_works_through_the_path() -> None:
    client_id, _ = make_client()
    flow = Flow(client_id)
    assert flow.start().status == 302
    assert flow.consent_request()["id"] == flow.consent_id


# ------------------------------------------------------------------ PKCE plain


def test_a_public_client_cannot_use_plain_pkce() -> None:
    client_id, _ = make_client(public=True, token_endpoint_auth_method="none")
    for extra in ({"code_challenge_method": "plain"}, {}):  # an omitted method means plain (RFC 7636 4.3)
        result = Flow(client_id).start(code_challenge="v" * 50, **extra)
        assert result.status == 302, result.body
        got = qs(result.headers["location"])
        assert result.headers["location"].startswith(REDIRECT)
        assert got["error"] == "invalid_request", got
        assert "S256" in got["error_description"], got


def test_a_public_client_with_s256_and_a_confidential_client_with_plain_still_work() -> None:
    public, _ = make_client(public=True, token_endpoint_auth_method="none")
    _verifier, challenge = pkce_pair()
    assert "consent=" in Flow(public).start(code_challenge=challenge, code_challenge_method="S256").headers["location"]
    confidential, _ = make_client()
    started = Flow(confidential).start(code_challenge="v" * 50, code_challenge_method="plain")
    assert "consent=" in started.headers["location"]


def test_discovery_advertises_only_s256() -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        assert call("GET", path).json["code_challenge_methods_supported"] == ["S256"]


# ------------------------------------------------------------------ headers of HTML pages


def _assert_page_headers(result: Any) -> None:
    headers = result.headers
    assert headers["content-type"].startswith("text/html"), headers
    assert headers.get("referrer-policy") == "no-referrer", headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert headers.get("x-frame-options") == "DENY", headers
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), headers
    assert "no-store" in headers.get("cache-control", ""), headers


def test_the_error_page_sends_every_security_header() -> None:
    result = call("GET", "/oauth2/auth", query={"client_id": "nobody-has-this-id", "response_type": "code"})
    assert result.status == 400
    _assert_page_headers(result)
    # The redirect URI is not trusted: a page too.
    client_id, _ = make_client()
    result = call("GET", "/oauth2/auth", query={"client_id": client_id, "redirect_uri": "https://evil.example/cb"})
    assert result.status == 400
    _assert_page_headers(result)


def test_the_form_post_page_sends_every_security_header() -> None:
    client_id, _ = make_client()
    _verifier, challenge = pkce_pair()
    flow = Flow(client_id)
    flow.start(response_mode="form_post", code_challenge=challenge, code_challenge_method="S256")
    assert flow.accept().status == 204
    result = flow.back()
    assert result.status == 200
    _assert_page_headers(result)
