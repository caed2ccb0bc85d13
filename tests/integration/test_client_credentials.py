"""``POST /oauth2/token`` with the client_credentials grant, client authentication, secret hashing."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hydra_lambda import passwords
from hydra_lambda.tokens import opaque as opaque_tokens

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, call, dynamodb_calls
from tests.support_admin import bearer, service_client, unique

CC = {"grant_type": "client_credentials"}


def _token(headers: dict[str, str] | None = None, **form: str) -> Any:
    return call("POST", "/oauth2/token", headers=headers or {}, form={**CC, **form})


def _assert_oauth_error(result: Any, status: int, error: str) -> None:
    assert result.status == status, result.body
    assert result.json["error"] == error
    assert result.json["error_description"]
    assert set(result.json) <= {"error", "error_description", "error_hint"}
    assert result.headers["cache-control"] == "no-store"


def test_basic_auth_issues_an_opaque_access_token() -> None:
    result = _token(basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), scope="hydra.clients openid")
    assert result.status == 200
    assert result.headers["cache-control"] == "no-store" and result.headers["pragma"] == "no-cache"
    body = result.json
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}  # never a refresh token
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["scope"] == "hydra.clients openid"
    assert body["access_token"].startswith("hl_at_")
    from hydra_lambda.storage import token_rows as store

    row = store.get(opaque_tokens.signature_of(body["access_token"], "access"), "access")
    assert row is not None
    assert row.subject == ROOT_CLIENT_ID and row.client_id == ROOT_CLIENT_ID
    assert row.scopes == ["hydra.clients", "openid"]
    assert row.expires_at - row.issued_at == 3600
    assert body["access_token"] not in str(row.__dict__)  # only the signature is stored


def test_client_secret_post_works_too() -> None:
    client_id, secret = service_client(scope="a")
    result = _token(client_id=client_id, client_secret=secret, scope="a")
    assert result.status == 200 and result.json["scope"] == "a"


def test_no_scope_requested_grants_none() -> None:
    client_id, secret = service_client(scope="a b")
    result = _token(basic(client_id, secret))
    assert result.status == 200 and result.json["scope"] == ""


def test_basic_halves_are_url_decoded() -> None:
    from hydra_lambda.clients.registry import create_client

    client_id = unique("odd:id%")
    secret = "p@ss:w rd+%&="
    create_client({"id": client_id, "grant_types": ["client_credentials"], "client_secret": secret})
    assert _token(basic(client_id, secret)).status == 200  # basic() URL-encodes both halves
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()  # not encoded: '%' and '+' misread
    _assert_oauth_error(_token({"Authorization": f"Basic {raw}"}), 401, "invalid_client")


def test_wildcard_scopes_of_the_client() -> None:
    client_id, secret = service_client(scope="foo.* bar")
    auth = basic(client_id, secret)
    assert _token(auth, scope="foo.one foo.one.two bar").status == 200
    _assert_oauth_error(_token(auth, scope="foo"), 400, "invalid_scope")
    _assert_oauth_error(_token(auth, scope="bar.baz"), 400, "invalid_scope")
    _assert_oauth_error(_token(auth, scope="bad\\scope"), 400, "invalid_scope")


@pytest.mark.parametrize(
    ("headers", "form", "status", "error"),
    [
        ({}, {}, 401, "invalid_client"),
        (basic(ROOT_CLIENT_ID, "wrong-secret"), {}, 401, "invalid_client"),
        (basic("no-such-client", "whatever"), {}, 401, "invalid_client"),
        ({"Authorization": "Basic !!!notbase64"}, {}, 401, "invalid_client"),
        ({"Authorization": "Bearer something"}, {}, 401, "invalid_client"),
        ({}, {"client_id": ROOT_CLIENT_ID}, 401, "invalid_client"),
        (basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), {"client_secret": ROOT_CLIENT_SECRET}, 400, "invalid_request"),
        (basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), {"client_id": "someone-else"}, 400, "invalid_request"),
        (basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), {"scope": "not-allowed"}, 400, "invalid_scope"),
    ],
)
def test_errors_follow_rfc6749(headers: dict[str, str], form: dict[str, str], status: int, error: str) -> None:
    result = _token(headers, **form)
    _assert_oauth_error(result, status, error)
    if status == 401:
        assert result.headers["www-authenticate"].startswith("Basic")


def test_grant_type_checks() -> None:
    auth = basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    _assert_oauth_error(call("POST", "/oauth2/token", headers=auth, form={}), 400, "invalid_request")
    _assert_oauth_error(call("POST", "/oauth2/token", headers=auth, form={"grant_type": "password"}), 400,
                        "unsupported_grant_type")
    _assert_oauth_error(call("POST", "/oauth2/token", headers=auth, body="grant_type=a&grant_type=b",
                             form=None), 400, "invalid_request")


def test_client_without_the_grant_type_is_unauthorized_client() -> None:
    from hydra_lambda.clients.registry import create_client

    client, secret = create_client({"id": unique(), "redirect_uris": ["https://a.example/cb"]})
    _assert_oauth_error(_token(basic(client.id, secret)), 400, "unauthorized_client")


def test_public_clients_cannot_use_the_grant_and_must_not_send_a_secret() -> None:
    from hydra_lambda.clients.registry import create_client
    from hydra_lambda.errors import UnauthorizedClient
    from hydra_lambda.grants.client_credentials import grant

    public, _ = create_client({"id": unique(), "public": True, "redirect_uris": ["https://a.example/cb"]})
    _assert_oauth_error(_token(client_id=public.id), 400, "unauthorized_client")
    _assert_oauth_error(_token(client_id=public.id, client_secret="anything"), 401, "invalid_client")
    with pytest.raises(UnauthorizedClient):  # the grant refuses even if the registry check were skipped
        grant(public, {})


def test_wrong_method_is_405() -> None:
    result = call("GET", "/oauth2/token")
    assert result.status == 405 and result.headers["allow"] == "POST"


def test_a_warm_request_makes_one_write() -> None:
    auth = basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    assert _token(auth, scope="hydra.clients").status == 200  # warm up (KDF result, client record cached)
    with dynamodb_calls() as seen:
        assert _token(auth, scope="hydra.clients").status == 200
    assert seen == ["PutItem"]  # the token row; the client comes from the CLIENT_CACHE_SECONDS cache


def test_a_forged_token_is_refused_without_a_database_read() -> None:
    real = _token(basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), scope="hydra.clients").json["access_token"]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    with dynamodb_calls() as seen:
        assert call("GET", "/clients", headers=bearer(forged)).status == 401
        assert call("GET", "/clients", headers=bearer("hl_at_garbage")).status == 401
    assert seen == []


# ---------------------------------------------------------------- passwords


def test_generated_secrets_use_the_fast_keyed_hash() -> None:
    secret = passwords.generate_secret()
    stored = passwords.hash_secret(secret, generated=True)
    assert passwords.scheme_of(stored) == "hs256"
    assert passwords.verify_secret(secret, stored)
    assert not passwords.verify_secret(secret + "x", stored)
    assert passwords.hash_secret(secret, generated=True) != stored  # salted


def test_supplied_secrets_use_scrypt_and_tampering_fails() -> None:
    stored = passwords.hash_secret("hunter22", generated=False)
    assert passwords.scheme_of(stored).startswith("scrypt")
    assert passwords.verify_secret("hunter22", stored)
    assert passwords.verify_secret("hunter22", stored)  # second time from the per-container memory
    assert not passwords.verify_secret("hunter23", stored)
    parts = stored.split("$")
    parts[1] = "30"  # absurd cost parameters are refused, not computed
    assert not passwords.verify_secret("hunter22", "$".join(parts))
    assert not passwords.verify_secret("hunter22", "md5$abc")
    assert not passwords.verify_secret("hunter22", None)
    assert not passwords.verify_secret("", stored)
