"""Request objects at /oauth2/auth (issue 25 item 3, RFC 9101, OpenID Connect Core 6): by value and by
reference (a registered request_uri served on loopback), signed with the client's keys or its sealed
secret, unsigned only where registered; the object's parameters win; every refusal is its own error,
redirected only to a redirect URI the client registered."""

from __future__ import annotations

import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support_flows import NONCE, REDIRECT, STATE, Flow, code_flow, make_client, qs
from tests.support_jose import jwks, key_pair, sign, unsigned
from tests.unit.test_fetch import Handler, _send, loopback_allowed, serve  # noqa: F401 (fixtures)

ISSUER = "http://127.0.0.1:4444"
RSA = key_pair("RS256")
EC = key_pair("ES256")
OBJECT_STATE = "state-from-the-object"


def _client(**fields: Any) -> str:
    client_id, _ = make_client(jwks=jwks(RSA, EC), **fields)
    return client_id


def _object(rp: str, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": rp, "aud": ISSUER, "client_id": rp, "response_type": "code",
        "redirect_uri": REDIRECT, "scope": "openid profile", "state": OBJECT_STATE, "nonce": NONCE,
        "max_age": 600, "claims": {"userinfo": {"email": {"essential": True}}}, "exp": int(time.time()) + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _error(result: Any, error: str, state: str = STATE) -> None:
    assert result.status in (302, 303), result.body
    query = qs(result.headers["location"])
    assert result.headers["location"].startswith(REDIRECT) and query["error"] == error, query
    assert query["state"] == state, query


def _page(result: Any) -> None:
    """Refused without a redirect: an error page (the redirect URI is not trusted)."""
    assert result.status == 400, result.body
    assert "location" not in {name.lower() for name in result.headers}


def test_a_signed_object_by_value_wins_over_the_query_through_the_whole_flow() -> None:
    client_id = _client()
    _flow, callback = code_flow(client_id, scopes=["openid"], request=sign(_object(client_id), RSA),
                               scope="openid", state=STATE, redirect_uri=None, nonce=None)
    assert callback["state"] == OBJECT_STATE and "code" in callback  # the object's state, not the query's
    flow2 = Flow(client_id)
    first = flow2.start(request=sign(_object(client_id, scope="openid email"), EC), scope="openid")
    assert first.status == 302 and flow2.consent_id, first.body
    found = flow2.consent_request()
    assert found["requestedScopes"] == ["openid", "email"]
    assert found["requestedClaims"] == {"userinfo": {"email": {"essential": True}}}
    assert "max_age=600" in found["redirectUrl"] and "request=" not in found["redirectUrl"]


def test_an_object_by_reference_from_a_registered_request_uri(
        loopback_allowed: None, serve: Callable[[Handler], str]) -> None:  # noqa: F811
    served: dict[str, str] = {}
    hits: list[str] = []

    def answer(handler: BaseHTTPRequestHandler) -> None:
        hits.append(handler.path)
        _send(handler, 200, served["jwt"].encode(), Content_Type="application/oauth-authz-req+jwt")

    base = serve(answer)
    client_id = _client(request_uris=[f"{base}/r.jwt#v1"])
    served["jwt"] = sign(_object(client_id), RSA)
    flow = Flow(client_id)
    first = flow.start(request_uri=f"{base}/r.jwt#v2")  # the fragment is not compared, nor sent
    assert first.status == 302 and flow.consent_id, first.body
    assert hits == ["/r.jwt"]
    _error(Flow(client_id).start(request_uri=f"{base}/other.jwt"), "invalid_request_uri")
    _error(Flow(client_id).start(request_uri=f"{base}/r.jwt?x=1"), "invalid_request_uri")
    assert hits == ["/r.jwt"]  # unregistered URIs are never fetched
    served["jwt"] = sign(_object(client_id), key_pair("RS256"))  # a foreign signature behind a good URI
    _error(Flow(client_id).start(request_uri=f"{base}/r.jwt"), "invalid_request_object")


def test_a_request_uri_that_redirects_or_is_private_is_refused(
        loopback_allowed: None, serve: Callable[[Handler], str]) -> None:  # noqa: F811
    redirecting = serve(lambda h: _send(h, 302, b"", Location="http://169.254.169.254/latest/meta-data/"))
    huge = serve(lambda h: _send(h, 200, b"e" * (1024 * 1024)))
    uris = [f"{redirecting}/r.jwt", f"{huge}/r.jwt", "https://169.254.169.254/r.jwt", "https://10.0.0.7/r.jwt"]
    client_id = _client(request_uris=uris)
    for uri in uris:
        _error(Flow(client_id).start(request_uri=uri), "invalid_request_uri")


def test_hostile_objects_are_refused_with_invalid_request_object() -> None:
    client_id = _client()
    other_id = _client()
    hostile = {
        "foreign signature": sign(_object(client_id), key_pair("RS256"), kid=RSA.public["kid"]),
        "unsigned": unsigned(_object(client_id)),
        "HS without a sealed secret": sign(_object(client_id), secret="guess"),
        "wrong iss": sign(_object(client_id, iss=other_id), RSA),
        "wrong aud": sign(_object(client_id, aud="https://another-op.example"), RSA),
        "expired": sign(_object(client_id, exp=1_000_000_000), RSA),
        "another client_id": sign(_object(client_id, client_id=other_id), RSA),
        "another response_type": sign(_object(client_id, response_type="token"), RSA),
        "nested request_uri": sign(_object(client_id, request_uri="https://rp.example/r"), RSA),
        "garbage": "not.a.jwt",
        "max_age of the wrong type": sign(_object(client_id, max_age=[1]), RSA),
    }
    for name, token in hostile.items():
        result = Flow(client_id).start(request=token)
        assert result.status in (302, 303), (name, result.body)
        query = qs(result.headers["location"])
        assert query.get("error") == "invalid_request_object", (name, query)
    both = Flow(client_id).start(request=sign(_object(client_id), RSA), request_uri="https://rp.example/r")
    _error(both, "invalid_request")


def test_the_registered_algorithm_and_none() -> None:
    es_only = _client(request_object_signing_alg="ES256")
    _error(Flow(es_only).start(request=sign(_object(es_only), RSA)), "invalid_request_object")
    assert Flow(es_only).start(request=sign(_object(es_only), EC)).status == 302
    unsigned_ok = _client(request_object_signing_alg="none")
    flow = Flow(unsigned_ok)
    assert flow.start(request=unsigned(_object(unsigned_ok))).status == 302 and flow.consent_id
    _error(Flow(unsigned_ok).start(request=sign(_object(unsigned_ok), RSA)), "invalid_request_object")


def test_an_hmac_object_from_a_client_secret_jwt_client() -> None:
    client_id, secret = make_client(token_endpoint_auth_method="client_secret_jwt")
    assert secret is not None
    flow = Flow(client_id)
    assert flow.start(request=sign(_object(client_id), secret=secret, alg="HS256")).status == 302 and flow.consent_id
    _error(Flow(client_id).start(request=sign(_object(client_id), secret="not-it")), "invalid_request_object")


def test_no_redirect_to_an_unregistered_uri_named_by_the_object_or_the_query() -> None:
    client_id = _client()
    evil = "https://attacker.example/cb"
    _page(Flow(client_id).start(request=sign(_object(client_id, redirect_uri=evil), RSA)))
    # The object is refused and the query's redirect_uri is not registered: a page as well.
    _page(Flow(client_id).start(request=unsigned(_object(client_id)), redirect_uri=evil))
    _page(Flow("no-such-client").start(request=sign(_object("no-such-client"), RSA)))
