"""POST /oauth2/introspect (RFC 7662): caller authentication, the active response, every inactive
case on its own, the scope parameter under the wildcard strategy, and the database reads it costs."""

from __future__ import annotations

import pytest
from hydra_lambda import clock
from hydra_lambda.endpoints import introspect as introspection
from hydra_lambda.storage import token_rows as token_store
from hydra_lambda.tokens import opaque as opaque_tokens

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, call
from tests.support_lifecycle import (
    INACTIVE,
    ROOT_BASIC,
    allow,
    client_token,
    dynamodb_operations,
    grant,
    introspect,
    new_client,
    stored_code,
)

# --- the active response -----------------------------------------------------------------------


def test_active_access_token_carries_every_field() -> None:
    g = grant(scopes=("photos.read", "offline"), subject="alice", extra={"tenant": "acme", "n": 1},
              audience=["https://api.example.com"])
    result = introspect(g.access)
    assert result.status == 200
    assert result.headers["cache-control"] == "no-store"
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    assert body.pop("exp") - body.pop("iat") == 3600
    assert body == {
        "active": True,
        "scope": "photos.read offline",
        "client_id": ROOT_CLIENT_ID,
        "sub": "alice",
        "iss": "http://127.0.0.1:4444",
        "ext": {"tenant": "acme", "n": 1},
        "aud": "https://api.example.com",
        "token_type": "access_token",
    }


def test_active_refresh_token() -> None:
    g = grant(refresh_lifespan=7200)
    body = introspect(g.refresh).json
    assert body["active"] is True and body["token_type"] == "refresh_token"
    assert body["exp"] - body["iat"] == 7200
    assert body["sub"] == "alice" and body["client_id"] == ROOT_CLIENT_ID


def test_empty_ext_and_aud_are_left_out_and_several_audiences_are_a_list() -> None:
    plain = introspect(grant().access).json
    assert "ext" not in plain and "aud" not in plain
    several = introspect(grant(audience=["a", "b"]).access).json
    assert several["aud"] == ["a", "b"]


def test_client_credentials_token_from_the_token_endpoint() -> None:
    value = client_token("hydra.clients")
    body = introspect(value).json
    assert body["active"] is True and body["sub"] == ROOT_CLIENT_ID and body["scope"] == "hydra.clients"


# --- inactive: each case on its own ------------------------------------------------------------


def _assert_inactive(token: str, **form: str) -> None:
    result = introspect(token, **form)
    assert result.status == 200, result.body
    assert result.json == INACTIVE
    assert result.body == '{"active":false}'
    assert result.headers["cache-control"] == "no-store"


def test_unknown_token_is_inactive() -> None:
    never_stored, _ = opaque_tokens.generate("access")  # genuine HMAC, no row
    _assert_inactive(never_stored)


def test_expired_access_token_is_inactive() -> None:
    g = grant(access_lifespan=60)
    assert introspect(g.access).json["active"] is True
    clock.advance(61)
    _assert_inactive(g.access)


def test_expired_refresh_token_is_inactive() -> None:
    g = grant(refresh_lifespan=120)
    clock.advance(121)
    _assert_inactive(g.refresh)


def test_revoked_token_is_inactive() -> None:
    g = grant()
    token_store.revoke_request(g.request_id)
    _assert_inactive(g.access)
    _assert_inactive(g.refresh)


@pytest.mark.parametrize("value", [
    "x", "not-a-token", "hl_at_", "hl_at_short.sig", "hl_at_" + "A" * 43, "hl_at_" + "A" * 43 + ".",
    "hl_at_" + "A" * 300, "Bearer hl_at_x.y", "hl_at_" + "%" * 43 + "." + "B" * 43,
])
def test_malformed_token_is_inactive(value: str) -> None:
    _assert_inactive(value)


def test_forged_signature_is_inactive() -> None:
    g = grant()
    prefix_key, _, signature = g.access.partition(".")
    forged = prefix_key + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    _assert_inactive(forged)


def test_token_signed_with_another_secret_is_inactive() -> None:
    import base64
    import hashlib
    import hmac
    import secrets

    key = secrets.token_bytes(32)
    other = hashlib.sha256(b"some-other-system-secret-0123456789").digest()
    sig = hmac.new(other, b"hl_at_" + key, hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    _assert_inactive(f"hl_at_{b64(key)}.{b64(sig)}")


def test_access_token_relabelled_as_refresh_is_inactive() -> None:
    g = grant()
    _assert_inactive("hl_rt_" + g.access.removeprefix("hl_at_"))


def test_scope_not_granted_is_inactive() -> None:
    g = grant(scopes=("photos.read",))
    _assert_inactive(g.access, scope="photos.write")
    _assert_inactive(g.access, scope="photos.read photos.write")  # every listed scope must be granted


def test_rotated_refresh_token_is_inactive() -> None:
    g = grant()
    row = token_store.get(opaque_tokens.signature_of(g.refresh, "refresh") or "", "refresh")
    assert row is not None
    token_store.consume(row)
    _assert_inactive(g.refresh)
    assert introspect(g.access).json["active"] is True  # the access token lives on until rotation deletes it


def test_token_of_a_deleted_client_is_inactive() -> None:
    from hydra_lambda.clients.registry import delete_client

    client_id, _ = new_client(scope="photos.read")
    g = grant(client_id=client_id, scopes=("photos.read",))
    assert introspect(g.access).json["active"] is True
    assert delete_client(client_id)
    _assert_inactive(g.access)
    _assert_inactive(g.refresh)


def test_authorization_code_is_never_introspectable() -> None:
    _assert_inactive(stored_code())


# --- the scope parameter under the wildcard strategy -------------------------------------------


@pytest.mark.parametrize(("granted", "asked", "active"), [
    (("hydra.*",), "hydra.clients", True),
    (("hydra.*",), "hydra.keys.get", True),  # a trailing * matches deeper scopes too
    (("hydra.*",), "hydra", False),  # foo.* does not match foo
    (("hydra.*",), "hydraX.clients", False),
    (("hydra.*", "photos.read"), "hydra.clients photos.read", True),
    (("hydra.*", "photos.read"), "hydra.clients photos.write", False),
    (("photos.read",), "photos", False),
    (("photos.read",), "photos.read.all", False),  # a plain scope covers only itself
    (("foo.*.bar",), "foo.baz.bar", True),
    (("foo.*.bar",), "foo.baz.qux", False),
    (("*",), "anything", True),
    (("photos.read",), "", True),  # nothing asked: nothing to check
    (("photos.read",), "  photos.read  ", True),  # extra spaces are not scopes
    (("photos.read",), 'photos"read', False),  # outside the RFC 6749 scope syntax: never granted
])
def test_scope_parameter_with_wildcards(granted: tuple[str, ...], asked: str, active: bool) -> None:
    g = grant(scopes=granted)
    body = introspect(g.access, scope=asked).json
    assert body["active"] is active, body
    if not active:
        assert body == INACTIVE


def test_scope_parameter_applies_to_refresh_tokens_too() -> None:
    g = grant(scopes=("photos.*", "offline"))
    assert introspect(g.refresh, scope="photos.read offline").json["active"] is True
    _assert_inactive(g.refresh, scope="email")


def test_token_type_hint_does_not_change_the_answer() -> None:
    g = grant()
    assert introspect(g.access, token_type_hint="refresh_token").json["token_type"] == "access_token"
    assert introspect(g.refresh, token_type_hint="access_token").json["token_type"] == "refresh_token"
    assert introspect(g.access, token_type_hint="nonsense").json["active"] is True


# --- caller authentication ---------------------------------------------------------------------


def test_no_credentials_is_401_in_the_rfc_6749_shape() -> None:
    result = introspect(grant().access, headers={})
    assert result.status == 401
    assert result.json["error"] == "invalid_client" and result.json["error_description"]
    assert "active" not in result.json


@pytest.mark.parametrize("headers", [
    basic(ROOT_CLIENT_ID, "wrong-secret"),
    basic(ROOT_CLIENT_ID, ""),
    basic("no-such-client", ROOT_CLIENT_SECRET),
    {"Authorization": "Basic !!!not-base64!!!"},
    {"Authorization": "Basic " + __import__("base64").b64encode(b"no-colon").decode()},
])
def test_bad_basic_credentials_are_401(headers: dict[str, str]) -> None:
    """The classic server did not check the secret on this path; we do."""
    result = introspect(grant().access, headers=headers)
    assert result.status == 401, result.body
    assert result.json["error"] == "invalid_client"
    assert result.headers["www-authenticate"].startswith("Basic")


def test_client_secret_post_is_accepted_and_checked() -> None:
    value = grant().access
    good = call("POST", "/oauth2/introspect", form={"token": value, "client_id": ROOT_CLIENT_ID,
                                                    "client_secret": ROOT_CLIENT_SECRET})
    assert good.status == 200 and good.json["active"] is True
    bad = call("POST", "/oauth2/introspect", form={"token": value, "client_id": ROOT_CLIENT_ID,
                                                   "client_secret": "nope"})
    assert bad.status == 401


def test_public_client_cannot_introspect() -> None:
    client_id, _ = new_client(public=True, grant_types=["authorization_code"], response_types=["code"],
                              redirect_uris=["https://app.example.com/cb"])
    allow(client_id)
    result = call("POST", "/oauth2/introspect", form={"token": grant().access, "client_id": client_id})
    assert result.status == 401


def test_basic_client_needs_the_introspect_policy() -> None:
    client_id, secret = new_client(scope="photos.read")
    value = grant().access
    denied = introspect(value, headers=basic(client_id, secret or ""))
    assert denied.status == 403 and denied.json["error"] == "request_forbidden"
    allow(client_id)
    allowed = introspect(value, headers=basic(client_id, secret or ""))
    assert allowed.status == 200 and allowed.json["active"] is True


def test_bearer_with_hydra_introspect_scope() -> None:
    headers = {"Authorization": f"Bearer {client_token('hydra.introspect')}"}
    g = grant()
    assert introspect(g.access, headers=headers).json["active"] is True
    assert introspect(g.refresh, headers=headers).json["token_type"] == "refresh_token"


def test_bearer_without_the_scope_is_refused() -> None:
    headers = {"Authorization": f"Bearer {client_token('hydra.clients')}"}
    result = introspect(grant().access, headers=headers)
    assert result.status == 403 and result.json["error"] == "insufficient_scope"


def test_bearer_without_a_policy_is_403() -> None:
    client_id, secret = new_client(scope="hydra.introspect")
    headers = {"Authorization": f"Bearer {client_token('hydra.introspect', client_id, secret or '')}"}
    result = introspect(grant().access, headers=headers)
    assert result.status == 403


@pytest.mark.parametrize("value", ["hl_at_forged.forged", "garbage", "hl_rt_" + "A" * 43 + "." + "B" * 43])
def test_bad_bearer_is_401(value: str) -> None:
    result = introspect(grant().access, headers={"Authorization": f"Bearer {value}"})
    assert result.status == 401 and result.json["error"] == "invalid_token"


def test_expired_bearer_is_401() -> None:
    headers = {"Authorization": f"Bearer {client_token('hydra.introspect')}"}
    clock.advance(3601)
    result = introspect(grant().access, headers=headers)
    assert result.status == 401


def test_missing_token_parameter_is_400() -> None:
    for form in ({}, {"token": ""}):
        result = call("POST", "/oauth2/introspect", headers=ROOT_BASIC, form=form)
        assert result.status == 400 and result.json["error"] == "invalid_request"


def test_repeated_parameter_is_400() -> None:
    value = grant().access
    result = call("POST", "/oauth2/introspect", headers={**ROOT_BASIC,
                  "Content-Type": "application/x-www-form-urlencoded"}, body=f"token={value}&token={value}")
    assert result.status == 400 and result.json["error"] == "invalid_request"


def test_only_post() -> None:
    result = call("GET", "/oauth2/introspect", headers=ROOT_BASIC)
    assert result.status == 405 and result.headers["allow"] == "POST"


# --- database reads ----------------------------------------------------------------------------


def test_one_read_for_a_well_formed_token_none_for_a_malformed_or_forged_one() -> None:
    g = grant()
    forged = g.access[:-1] + ("A" if g.access[-1] != "A" else "B")
    code = stored_code()
    cases = {g.access: ["GetItem"], g.refresh: ["GetItem"], opaque_tokens.generate("access")[0]: ["GetItem"],
             forged: [], "garbage": [], code: [], "hl_at_" + "A" * 300: []}
    for value, expected in cases.items():
        with dynamodb_operations() as seen:
            introspection.introspect(value, "photos.read")
        assert seen == expected, (value[:12], seen)


def test_over_http_the_token_costs_exactly_one_read_beyond_the_callers_auth() -> None:
    g = grant()
    forged = g.access[:-1] + ("A" if g.access[-1] != "A" else "B")
    introspect(forged)  # warm the policy cache
    with dynamodb_operations() as for_forged:
        assert introspect(forged).json == INACTIVE
    with dynamodb_operations() as for_live:
        assert introspect(g.access).json["active"] is True
    assert sorted(for_live) == sorted([*for_forged, "GetItem"])


def test_root_secret_is_never_echoed() -> None:
    result = introspect(grant().access)
    assert ROOT_CLIENT_SECRET not in result.body
