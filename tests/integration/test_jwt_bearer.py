"""The JWT bearer grant (RFC 7523 section 2.1) at /oauth2/token, on DynamoDB Local through the handler:
an assertion a trusted issuer signed (python-jose, as an issuer's library would) buys an access token
for its subject, and every hostile or stale one is an RFC 6749 error with nothing issued: wrong key,
expired, replayed (raced too), unknown issuer, other subject, aud missing, exp too far, iat missing,
scope beyond the trust or the client, deleted or expired trust, a public client, a subject that is a
client's id."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import admin_headers, basic, bearer, call, client_credentials_token, new_client, unique
from tests.support_jose import KeyPair, key_pair, sign

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ISSUER_URL = "http://127.0.0.1:4444"
TOKEN_URL = f"{ISSUER_URL}/oauth2/token"
TRUST_PATH = "/admin/trust/grants/jwt-bearer/issuers"
RSA = key_pair("RS256")
EC = key_pair("ES256")


def _trust(issuer: str, key: KeyPair, *, subject: str | None = "alice", scope: tuple[str, ...] = ("api.read",),
           expires_in: float = 3600) -> dict[str, Any]:
    body: dict[str, Any] = {"issuer": issuer, "scope": list(scope), "jwk": {**key.public, "alg": key.alg},
                            "expires_at": (datetime.now(UTC) + timedelta(seconds=expires_in)).isoformat()}
    body.update({"subject": subject} if subject else {"allow_any_subject": True})
    result = call("POST", TRUST_PATH, headers=admin_headers("hydra.trust"), json_body=body)
    assert result.status == 201, result.body
    return result.json


def _client(scope: str = "api.read api.write", **fields: Any) -> dict[str, str]:
    client_id, secret = new_client("jb", grant_types=[GRANT], scope=scope, **fields)
    assert secret is not None
    return basic(client_id, secret)


def _claims(issuer: str, subject: str = "alice", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": issuer, "sub": subject, "aud": TOKEN_URL, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _grant(client: dict[str, str], assertion: str, scope: str | None = "api.read") -> Any:
    form = {"grant_type": GRANT, "assertion": assertion, **({"scope": scope} if scope else {})}
    return call("POST", "/oauth2/token", headers=client, form=form)


def _refused(result: Any, error: str = "invalid_grant") -> None:
    assert result.status in (400, 401), result.body
    assert result.json["error"] == error, result.body
    assert "access_token" not in result.json and result.headers["cache-control"] == "no-store"


def _introspect(token: str) -> dict[str, Any]:
    result = call("POST", "/oauth2/introspect", headers=bearer(client_credentials_token("hydra.introspect")),
                  form={"token": token})
    assert result.status == 200, result.body
    return result.json


@pytest.fixture
def issuer() -> str:
    return f"https://{unique('idp')}.example.com"


def test_a_trusted_assertion_buys_an_access_token_for_its_subject_once(issuer: str) -> None:
    _trust(issuer, RSA)
    client = _client()
    assertion = sign(_claims(issuer), RSA)
    result = _grant(client, assertion)
    assert result.status == 200, result.body
    body = result.json
    assert body["token_type"] == "bearer" and body["scope"] == "api.read" and body["expires_in"] == 3600
    assert "refresh_token" not in body and "id_token" not in body
    seen = _introspect(body["access_token"])
    assert seen["active"] is True and seen["sub"] == "alice" and seen["scope"] == "api.read"
    _refused(_grant(client, assertion))  # the same jti again


def test_an_any_subject_trust_with_an_ec_key_and_the_issuer_as_audience(issuer: str) -> None:
    _trust(issuer, EC, subject=None, scope=("api.*",))
    result = _grant(_client(), sign(_claims(issuer, "bob", aud=[ISSUER_URL, "other"]), EC), scope="api.write")
    assert result.status == 200, result.body
    assert _introspect(result.json["access_token"])["sub"] == "bob"


def test_the_client_lifespan_for_the_grant_is_used(issuer: str) -> None:
    from hydra_lambda import cache
    from hydra_lambda.storage import clients as store

    _trust(issuer, RSA)
    client_id, secret = new_client("jb-life", grant_types=[GRANT], scope="api.read")
    stored = store.get(client_id)
    assert stored is not None and secret is not None
    stored.lifespans = {"jwt_bearer_grant_access_token_lifespan": 120}
    store.replace(stored, stored.updated_at)
    cache.clear_all()
    result = _grant(basic(client_id, secret), sign(_claims(issuer), RSA))
    assert result.status == 200, result.body
    assert result.json["expires_in"] == 120


# Times relative to the moment the test runs (collection may be many minutes earlier in the full suite).
@pytest.mark.parametrize(("case", "claims", "header_kid", "error"), [
    ("expired", lambda now: {"exp": now - 120, "iat": now - 600}, None, "invalid_grant"),
    ("no exp", lambda now: {"exp": None}, None, "invalid_grant"),
    ("exp too far", lambda now: {"exp": now + 721 * 3600}, None, "invalid_grant"),
    ("no iat", lambda now: {"iat": None}, None, "invalid_grant"),
    ("iat in the future", lambda now: {"iat": now + 600}, None, "invalid_grant"),
    ("nbf in the future", lambda now: {"nbf": now + 600}, None, "invalid_grant"),
    ("aud missing", lambda now: {"aud": None}, None, "invalid_grant"),
    ("aud elsewhere", lambda now: {"aud": "https://other.example.com/oauth2/token"}, None, "invalid_grant"),
    ("no jti", lambda now: {"jti": None}, None, "invalid_grant"),
    ("other subject", lambda now: {"sub": "mallory"}, None, "invalid_grant"),
    ("no kid", lambda now: {}, "none", "invalid_grant"),
    ("unknown kid", lambda now: {}, "other-kid", "invalid_grant"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_every_bad_assertion_is_refused_and_issues_nothing(issuer: str, case: str, claims: Any,
                                                           header_kid: str | None, error: str) -> None:
    _trust(issuer, RSA)
    kid = None if header_kid == "none" else header_kid or ""
    _refused(_grant(_client(), sign(_claims(issuer, **claims(int(time.time()))), RSA, kid=kid)), error)


def test_a_wrong_key_an_unknown_issuer_and_garbage_are_refused(issuer: str) -> None:
    _trust(issuer, RSA)
    client = _client()
    forged = key_pair("RS256", kid=RSA.public["kid"])  # the trusted kid, another key
    _refused(_grant(client, sign(_claims(issuer), forged)))
    _refused(_grant(client, sign(_claims("https://unknown.example.com"), RSA)))
    _refused(_grant(client, sign(_claims(issuer), RSA, alg="RS384")))  # not the trusted key's alg
    _refused(_grant(client, "not.a.jwt"))
    _refused(_grant(client, ""), "invalid_request")


def test_scope_beyond_the_trust_or_the_client_is_invalid_scope(issuer: str) -> None:
    _trust(issuer, RSA, scope=("api.read",))
    _refused(_grant(_client(), sign(_claims(issuer), RSA), scope="api.read api.write"), "invalid_scope")
    _refused(_grant(_client(scope="api.write"), sign(_claims(issuer), RSA), scope="api.read"), "invalid_scope")


def test_a_deleted_or_expired_trust_trusts_nothing(issuer: str) -> None:
    from hydra_lambda import clock

    trust = _trust(issuer, RSA)
    client = _client()
    call("DELETE", f"{TRUST_PATH}/{trust['id']}", headers=admin_headers("hydra.trust"))
    _refused(_grant(client, sign(_claims(issuer), RSA)))
    _trust(issuer, RSA, expires_in=60)
    clock.advance(120)
    later = int(clock.now())
    _refused(_grant(client, sign(_claims(issuer, iat=later, exp=later + 300), RSA)))


def test_the_client_must_hold_the_grant_type_and_be_confidential(issuer: str) -> None:
    _trust(issuer, RSA)
    client_id, secret = new_client("jb-cc", scope="api.read")  # client_credentials only
    assert secret is not None
    _refused(_grant(basic(client_id, secret), sign(_claims(issuer), RSA)), "unauthorized_client")
    public_id, _ = new_client("jb-pub", grant_types=[GRANT], scope="api.read", public=True,
                              token_endpoint_auth_method="none")
    result = call("POST", "/oauth2/token", form={"grant_type": GRANT, "client_id": public_id, "scope": "api.read",
                                                "assertion": sign(_claims(issuer), RSA)})
    _refused(result, "unauthorized_client")


def test_a_subject_that_is_a_client_id_is_refused(issuer: str) -> None:
    """Policies see only a token's subject: a token for a client's id would act as that client."""
    _trust(issuer, RSA, subject=None)
    client_id, _ = new_client("victim")
    _refused(_grant(_client(), sign(_claims(issuer, client_id), RSA)))


def test_racing_replays_of_one_assertion_issue_one_token(issuer: str) -> None:
    """The grant itself in four threads at once (the handler serialises invocations, as Lambda does per
    container; separate containers race on DynamoDB like this): one conditional put wins."""
    from hydra_lambda.clients.registry import get_client
    from hydra_lambda.errors import InvalidGrant
    from hydra_lambda.grants import jwt_bearer

    _trust(issuer, RSA)
    client_id, _ = new_client("jb-race", grant_types=[GRANT], scope="api.read")
    client = get_client(client_id)
    assert client is not None
    form = {"grant_type": GRANT, "assertion": sign(_claims(issuer), RSA), "scope": "api.read"}
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def redeem() -> None:
        barrier.wait()
        try:
            outcomes.append("issued" if jwt_bearer.grant(client, form).access_token else "empty")
        except InvalidGrant:
            outcomes.append("refused")

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["issued", "refused", "refused", "refused"]


def test_grant_jtis_and_client_assertion_jtis_are_apart() -> None:
    from hydra_lambda.storage import assertions

    jti = unique("jti")
    assert assertions.use_once("rp", jti, 4_000_000_000) is True
    assert assertions.use_grant_jti_once("rp", jti, 4_000_000_000) is True  # an issuer named like the client
    assert assertions.use_grant_jti_once("rp", jti, 4_000_000_000) is False
