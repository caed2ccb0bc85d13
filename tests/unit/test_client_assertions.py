"""Client authentication by JWT (issue 25 item 2), without a database: the sealed secret, the
signature check against the client's keys (registered or fetched), and RFC 7523's claim checks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from hydra_lambda import client_assertions, client_jwt, clock, sealing
from hydra_lambda.clients import jwks as client_jwks
from hydra_lambda.clients.model import ASYMMETRIC_ALGS, HMAC_ALGS, Client
from hydra_lambda.config import get_settings, reset_settings
from hydra_lambda.errors import InvalidClient

from tests.support_jose import assertion_claims, jwks, key_pair, sign, unsigned
from tests.unit.test_fetch import Handler, _send, loopback_allowed, serve  # noqa: F401 (fixtures)

TOKEN_URL = "http://127.0.0.1:4444/oauth2/token"


def _client(**fields: Any) -> Client:
    return Client(id="rp", token_endpoint_auth_method="private_key_jwt", **fields)


# ---------------------------------------------------------------- sealing


def test_a_sealed_secret_opens_only_for_its_client_and_under_the_system_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = sealing.seal("s3cret-value", "rp")
    assert sealed.startswith(sealing.PREFIX) and "s3cret" not in sealed
    assert sealing.seal("s3cret-value", "rp") != sealed  # a fresh nonce each time
    assert sealing.unseal(sealed, "rp") == "s3cret-value"
    with pytest.raises(sealing.Unsealable):
        sealing.unseal(sealed, "another-client")  # copied onto another row
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    for bad in (tampered, "aesgcm1.!!!", "plain", ""):
        with pytest.raises(sealing.Unsealable):
            sealing.unseal(bad, "rp")
    old = get_settings().system_secret[0]
    monkeypatch.setenv("SYSTEM_SECRET", f"a-brand-new-system-secret-0123,{old}")
    reset_settings()
    assert sealing.unseal(sealed, "rp") == "s3cret-value"  # rotated: the old secret still opens it
    monkeypatch.setenv("SYSTEM_SECRET", "a-brand-new-system-secret-0123")
    reset_settings()
    with pytest.raises(sealing.Unsealable):
        sealing.unseal(sealed, "rp")  # retired: it no longer does
    reset_settings()


# ---------------------------------------------------------------- signatures


def test_the_signature_must_be_made_by_one_of_the_clients_keys() -> None:
    rsa_key, ec_key, stranger = key_pair("RS256"), key_pair("ES256"), key_pair("RS256")
    client = _client(jwks=jwks(rsa_key, ec_key))
    claims = {"iss": "rp"}
    assert client_jwt.verify(sign(claims, rsa_key), client, ASYMMETRIC_ALGS) == claims
    assert client_jwt.verify(sign(claims, ec_key, kid=None), client, ASYMMETRIC_ALGS) == claims  # no kid: tried
    refusals = {
        "any of the client's keys": sign(claims, stranger),
        "alg must be one of": sign(claims, secret="guessable-secret"),  # HS for a key client
        "alg must be one of ": unsigned(claims),
        "not a JWT": "garbage",
        "JWE": "a.b.c.d.e",
        "not JSON": "bm90IGpzb24.bm90IGpzb24.c2ln",
    }
    for match, token in refusals.items():
        with pytest.raises(client_jwt.ClientJwtError, match=match):
            client_jwt.verify(token, client, ASYMMETRIC_ALGS)
    with pytest.raises(client_jwt.ClientJwtError, match="alg must be one of"):
        client_jwt.verify(sign(claims, rsa_key), client, ("ES256",))  # the registered alg only
    with pytest.raises(client_jwt.ClientJwtError, match="any of the client's keys"):  # its kid names the EC key
        client_jwt.verify(sign(claims, rsa_key, kid=ec_key.public["kid"]), client, ASYMMETRIC_ALGS)


def test_hmac_is_keyed_by_the_sealed_secret_of_a_client_secret_jwt_client() -> None:
    client = Client(id="rp", token_endpoint_auth_method="client_secret_jwt",
                    secret_sealed=sealing.seal("the-client-secret", "rp"))
    for alg in HMAC_ALGS:
        token = sign({"iss": "rp"}, secret="the-client-secret", alg=alg)
        assert client_jwt.verify(token, client, HMAC_ALGS) == {"iss": "rp"}
    with pytest.raises(client_jwt.ClientJwtError, match="signature"):
        client_jwt.verify(sign({"iss": "rp"}, secret="another-secret"), client, HMAC_ALGS)
    with pytest.raises(client_jwt.ClientJwtError, match="alg must be one of"):
        client_jwt.verify(sign({"iss": "rp"}, key_pair("RS256")), client, HMAC_ALGS)  # asymmetric refused
    hash_only = Client(id="rp", secret_hash="x")
    with pytest.raises(client_jwt.ClientJwtError, match="no secret"):
        client_jwt.verify(sign({"iss": "rp"}, secret="the-client-secret"), hash_only, HMAC_ALGS)


# ---------------------------------------------------------------- claims


class In:
    """A time relative to when the test runs (parameters are made at collection, minutes earlier)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds


@pytest.mark.parametrize(("overrides", "match"), [
    ({"iss": "someone-else"}, "iss and sub"),
    ({"sub": "someone-else"}, "iss and sub"),
    ({"aud": "https://elsewhere.example/token"}, "aud"),
    ({"aud": ["https://elsewhere.example/token", 7]}, "aud"),
    ({"aud": None}, "aud"),
    ({"jti": None}, "jti"),
    ({"jti": ""}, "jti"),
    ({"jti": "x" * 257}, "jti"),
    ({"exp": None}, "needs an exp"),
    ({"exp": In(-31)}, "expired"),
    ({"exp": "tomorrow"}, "number"),
    ({"exp": True}, "number"),
    ({"exp": In(3600 + 60)}, "ahead"),
    ({"iat": In(120)}, "iat is in the future"),
    ({"nbf": In(120)}, "nbf is in the future"),
])
def test_claims_that_are_refused(overrides: dict[str, Any], match: str) -> None:
    now = int(time.time())
    values = {name: now + value.seconds if isinstance(value, In) else value for name, value in overrides.items()}
    claims = assertion_claims("rp", TOKEN_URL, **values)
    with pytest.raises(InvalidClient, match=match) as caught:
        client_assertions.check_claims(claims, "rp", "/oauth2/token")
    assert caught.value.status == 401


def test_the_audience_may_be_the_token_endpoint_the_issuer_or_the_endpoint_called() -> None:
    issuer = get_settings().issuer
    for aud, endpoint in ((TOKEN_URL, "/oauth2/revoke"), (issuer, "/oauth2/token"),
                          ([f"{issuer}/oauth2/introspect", "x"], "/oauth2/introspect")):
        claims = assertion_claims("rp", aud)
        assert client_assertions.check_claims(claims, "rp", endpoint) == claims["exp"] + client_assertions.LEEWAY
    with pytest.raises(InvalidClient, match="aud"):
        client_assertions.check_claims(assertion_claims("rp", f"{issuer}/oauth2/revoke"), "rp", "/oauth2/token")


def test_a_missing_or_foreign_assertion_type_is_refused() -> None:
    with pytest.raises(InvalidClient, match="client_assertion_type"):
        client_assertions.authenticate({"client_assertion_type": "urn:x", "client_assertion": "a.b.c"}, "/oauth2/token")
    for form in ({"client_assertion": "a.b.c"}, {"client_assertion_type": client_assertions.ASSERTION_TYPE}):
        with pytest.raises(Exception, match="go together") as caught:
            client_assertions.authenticate(form, "/oauth2/token")
        assert caught.value.status == 400  # type: ignore[attr-defined]


# ---------------------------------------------------------------- jwks_uri


@pytest.fixture
def keys_server(loopback_allowed: None, serve: Callable[[Handler], str]) -> Iterator[tuple[str, dict[str, Any]]]:  # noqa: F811
    state: dict[str, Any] = {"document": {"keys": []}, "hits": 0}

    def answer(handler: BaseHTTPRequestHandler) -> None:
        state["hits"] += 1
        _send(handler, 200, json.dumps(state["document"]).encode(), Content_Type="application/json")

    yield serve(answer) + "/jwks.json", state


def test_a_jwks_uri_is_cached_and_fetched_again_once_for_an_unknown_kid(
        keys_server: tuple[str, dict[str, Any]]) -> None:
    uri, state = keys_server
    first, second = key_pair("RS256"), key_pair("ES256")
    state["document"] = jwks(first)
    client = _client(jwks_uri=uri)
    assert client_jwt.verify(sign({"n": 1}, first), client, ASYMMETRIC_ALGS) == {"n": 1}
    assert client_jwt.verify(sign({"n": 2}, first), client, ASYMMETRIC_ALGS) == {"n": 2}
    assert state["hits"] == 1  # cached
    state["document"] = jwks(first, second)  # the client rotated in a new key
    with pytest.raises(client_jwt.ClientJwtError):
        client_jwt.verify(sign({"n": 3}, second), client, ASYMMETRIC_ALGS)  # within REFETCH_SECONDS: not again
    assert state["hits"] == 1
    clock.advance(client_jwks.REFETCH_SECONDS)
    assert client_jwt.verify(sign({"n": 4}, second), client, ASYMMETRIC_ALGS) == {"n": 4}
    assert state["hits"] == 2  # one fetch for the unknown kid
    for _ in range(3):  # made-up kids: at most one fetch per REFETCH_SECONDS
        with pytest.raises(client_jwt.ClientJwtError):
            client_jwt.verify(sign({"n": 5}, first, kid="made-up"), client, ASYMMETRIC_ALGS)
    assert state["hits"] == 2
    clock.advance(get_settings().client_jwks_cache_seconds)
    client_jwt.verify(sign({"n": 6}, first), client, ASYMMETRIC_ALGS)
    assert state["hits"] == 3  # stale after CLIENT_JWKS_CACHE_SECONDS


def test_a_jwks_uri_that_redirects_is_too_big_or_private_is_refused(
        loopback_allowed: None, serve: Callable[[Handler], str], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    pair = key_pair("RS256")
    redirect = serve(lambda h: _send(h, 302, b"", Location="http://169.254.169.254/latest/meta-data/"))
    huge = serve(lambda h: _send(h, 200, b'{"keys": [' + b" " * (100 * 1024) + b"]}"))
    not_a_set = serve(lambda h: _send(h, 200, b'["x"]'))
    for uri, match in ((redirect, "302"), (huge, "larger than"), (not_a_set, "not a JWK Set")):
        with pytest.raises(client_jwt.ClientJwtError, match=match):
            client_jwt.verify(sign({}, pair), _client(jwks_uri=uri + "/k"), ASYMMETRIC_ALGS)
    monkeypatch.setenv("FETCH_ALLOW_LOOPBACK", "false")
    reset_settings()
    for uri in (redirect, "https://169.254.169.254/keys", "https://10.0.0.1/keys"):
        with pytest.raises(client_jwt.ClientJwtError, match="could not be used"):
            client_jwt.verify(sign({}, pair), _client(jwks_uri=uri), ASYMMETRIC_ALGS)
