"""``/admin/clients`` (Ory Hydra's current client API), ``/admin/oauth2/introspect`` and ``DELETE
/admin/oauth2/tokens`` through the real handlers: Hydra's shapes, one store with the classic
``/clients``, PUT/PATCH/lifespans semantics, hostile input (400 errorOAuth2, nothing changed), and
the guard (Bearer + scope + policy on the public API, none on the private entry)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hydra_lambda.clients.model import LIFESPAN_FIELDS
from hydra_lambda_local.harness import call_private

from tests.support import admin_headers, basic, bearer, call, client_credentials_token, unique

PATH = "/admin/clients"


@pytest.fixture(scope="module")
def headers() -> dict[str, str]:
    return admin_headers("hydra.clients")


def create(headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"client_id": unique("v2"), "grant_types": ["client_credentials"], "scope": "read write", **fields}
    result = call("POST", PATH, headers=headers, json_body=body)
    assert result.status == 201, result.body
    return result.json


def get(headers: dict[str, str], client_id: str) -> dict[str, Any]:
    result = call("GET", f"{PATH}/{client_id}", headers=headers)
    assert result.status == 200, result.body
    return result.json


def token_of(client_id: str, secret: str, scope: str = "read") -> str:
    return client_credentials_token(scope, client_id, secret)


def assert_error(result: Any, status: int) -> None:
    assert result.status == status, result.body
    assert result.headers["content-type"].startswith("application/json")
    assert set(result.json) >= {"error", "error_description", "status_code"}, result.body
    assert result.json["status_code"] == status


def without_times(client: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in client.items() if k not in ("updated_at", "client_secret")}


# ---------------------------------------------------------------- shape and one store


def test_create_answers_hydras_shape_with_the_secret_once(headers: dict[str, str]) -> None:
    created = call("POST", PATH, headers=headers,
                   json_body={"client_name": "v2 app", "grant_types": ["client_credentials"]})
    assert created.status == 201, created.body
    client = created.json
    assert created.headers["location"] == f"{PATH}/{client['client_id']}"
    assert created.headers["cache-control"] == "no-store"
    assert "id" not in client and "public" not in client and "self_registered" not in client
    assert client["client_secret_expires_at"] == 0 and len(client["client_secret"]) == 43
    assert client["token_endpoint_auth_method"] == "client_secret_basic"
    assert all(name in client and client[name] is None for name in LIFESPAN_FIELDS)
    assert "registration_access_token" not in client and "registration_client_uri" not in client
    fetched = get(headers, client["client_id"])
    assert "client_secret" not in fetched
    assert token_of(client["client_id"], client["client_secret"], "")


def test_one_store_each_api_with_its_own_names(headers: dict[str, str]) -> None:
    v2 = create(headers, client_name="made by v2", audience=["https://api.example.com"])
    classic = call("GET", f"/clients/{v2['client_id']}", headers=headers)
    assert classic.status == 200 and classic.json["id"] == v2["client_id"]
    assert classic.json["client_name"] == "made by v2" and classic.json["public"] is False
    assert classic.json["audience"] == ["https://api.example.com"]
    old = call("POST", "/clients", headers=headers, json_body={"id": unique("classic"), "client_name": "made classic",
                                                               "public": True, "redirect_uris": ["https://a.example/cb"]})
    assert old.status == 201, old.body
    seen = get(headers, old.json["id"])
    assert seen["client_id"] == old.json["id"] and "id" not in seen
    assert seen["client_name"] == "made classic" and seen["token_endpoint_auth_method"] == "none"
    # a change through one API is read through the other
    renamed = call("PUT", f"/clients/{v2['client_id']}", headers=headers, json_body={"client_name": "renamed"})
    assert renamed.status == 200
    assert get(headers, v2["client_id"])["client_name"] == "renamed"
    assert call("DELETE", f"{PATH}/{old.json['id']}", headers=headers).status == 204
    assert call("GET", f"/clients/{old.json['id']}", headers=headers).status == 404


# ---------------------------------------------------------------- PUT


def test_put_replaces_the_client_but_keeps_the_secret(headers: dict[str, str]) -> None:
    client = create(headers, client_name="full", contacts=["a@example.com"], owner="team-a",
                    client_credentials_grant_access_token_lifespan="5m")
    body = {"client_name": "only the name", "grant_types": ["client_credentials"], "owner": "team-a"}
    result = call("PUT", f"{PATH}/{client['client_id']}", headers=headers, json_body=body)
    assert result.status == 200, result.body
    replaced = result.json
    assert replaced["client_name"] == "only the name" and replaced["contacts"] == [] and replaced["scope"] == ""
    assert replaced["client_credentials_grant_access_token_lifespan"] is None  # left out: cleared, as Hydra
    assert "client_secret" not in replaced
    assert token_of(client["client_id"], client["client_secret"], "")  # the secret stayed


def test_get_then_put_changes_nothing(headers: dict[str, str]) -> None:
    # A classic client with no registered auth method may use Basic or post: a round trip keeps that.
    classic = call("POST", "/clients", headers=headers, json_body={
        "id": unique("rt"), "grant_types": ["client_credentials"], "scope": "read"}).json
    fetched = get(headers, classic["id"])
    again = call("PUT", f"{PATH}/{classic['id']}", headers=headers, json_body=fetched)
    assert again.status == 200, again.body
    assert without_times(again.json) == without_times(fetched)
    post = call("POST", "/oauth2/token", form={"grant_type": "client_credentials", "client_id": classic["id"],
                                               "client_secret": classic["client_secret"]})
    assert post.status == 200, post.body
    assert call("GET", f"/clients/{classic['id']}", headers=headers).json["token_endpoint_auth_method"] == \
        classic["token_endpoint_auth_method"]


def test_put_with_a_secret_rotates_it(headers: dict[str, str]) -> None:
    client = create(headers)
    body = {**get(headers, client["client_id"]), "client_secret": "a-new-secret-of-enough-length"}
    result = call("PUT", f"{PATH}/{client['client_id']}", headers=headers, json_body=body)
    assert result.status == 200 and result.json["client_secret"] == "a-new-secret-of-enough-length"
    assert result.headers["cache-control"] == "no-store"
    assert call("POST", "/oauth2/token", headers=basic(client["client_id"], client["client_secret"]),
                form={"grant_type": "client_credentials"}).status == 401


@pytest.mark.parametrize("body", [
    {"client_id": "another-id"},
    {"unknown_field": 1},
    {"id": "classic-name"},
    {"public": True},
    {"redirect_uris": "https://not-a-list.example"},
    {"skip_consent": "yes"},
    {"client_name": 5},
    {"authorization_code_grant_access_token_lifespan": "1 hour"},
    {"authorization_code_grant_access_token_lifespan": 3600},
    {"token_endpoint_auth_method": "none", "client_secret": "a-secret-for-none"},
    {"grant_types": ["password"]},
    {"metadata": [1, 2]},
])
def test_bad_puts_are_400_and_change_nothing(headers: dict[str, str], body: dict[str, Any]) -> None:
    client = create(headers, client_name="stays")
    before = get(headers, client["client_id"])
    result = call("PUT", f"{PATH}/{client['client_id']}", headers=headers, json_body={**before, **body})
    assert_error(result, 400)
    assert get(headers, client["client_id"]) == before


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", "", "null", '{"client_name": NaN}'])
def test_bodies_that_are_no_json_object_are_400(headers: dict[str, str], raw: str) -> None:
    before = call("GET", PATH, headers=headers, query={"page_size": "1"}).headers["x-total-count"]
    assert_error(call("POST", PATH, headers=headers, body=raw), 400)
    assert call("GET", PATH, headers=headers, query={"page_size": "1"}).headers["x-total-count"] == before


# ---------------------------------------------------------------- PATCH


def patch(headers: dict[str, str], client_id: str, operations: Any) -> Any:
    return call("PATCH", f"{PATH}/{client_id}", headers=headers, body=json.dumps(operations))


def test_patch_applies_json_patch_then_validates_as_a_put(headers: dict[str, str]) -> None:
    client = create(headers, redirect_uris=["https://a.example/cb"],
                    grant_types=["authorization_code", "client_credentials"])
    result = patch(headers, client["client_id"], [
        {"op": "replace", "path": "/client_name", "value": "patched"},
        {"op": "add", "path": "/redirect_uris/-", "value": "https://b.example/cb"},
        {"op": "copy", "from": "/redirect_uris/0", "path": "/post_logout_redirect_uris/0"},
        {"op": "replace", "path": "/metadata", "value": {"tier": "gold"}},
        {"op": "replace", "path": "/refresh_token_grant_refresh_token_lifespan", "value": "720h"},
        {"op": "test", "path": "/client_name", "value": "patched"},
    ])
    assert result.status == 200, result.body
    patched = result.json
    assert patched["client_name"] == "patched" and "client_secret" not in patched
    assert patched["redirect_uris"] == ["https://a.example/cb", "https://b.example/cb"]
    assert patched["post_logout_redirect_uris"] == ["https://a.example/cb"]
    assert patched["metadata"] == {"tier": "gold"}
    assert patched["refresh_token_grant_refresh_token_lifespan"] == "720h0m0s"
    assert token_of(client["client_id"], client["client_secret"], "")  # the secret stayed


def test_patching_the_secret_rotates_it_and_answers_it_once(headers: dict[str, str]) -> None:
    client = create(headers)
    result = patch(headers, client["client_id"], [{"op": "replace", "path": "/client_secret",
                                                    "value": "rotated-secret-value"}])
    assert result.status == 200 and result.json["client_secret"] == "rotated-secret-value"
    assert token_of(client["client_id"], "rotated-secret-value", "")
    assert call("POST", "/oauth2/token", headers=basic(client["client_id"], client["client_secret"]),
                form={"grant_type": "client_credentials"}).status == 401
    assert "client_secret" not in get(headers, client["client_id"])


@pytest.mark.parametrize("operations", [
    [{"op": "replace", "path": "/client_id", "value": "stolen-id"}],
    [{"op": "remove", "path": "/client_id"}],
    [{"op": "replace", "path": "/created_at", "value": "2000-01-01T00:00:00Z"}],
    [{"op": "replace", "path": "/client_secret_expires_at", "value": 5}],
    [{"op": "add", "path": "/unknown_field", "value": 1}],
    [{"op": "add", "path": "/id", "value": "x"}],
    [{"op": "replace", "path": "/grant_types", "value": "client_credentials"}],
    [{"op": "replace", "path": "/skip_consent", "value": 1}],
    [{"op": "replace", "path": "/client_name", "value": "x"}, {"op": "test", "path": "/client_name", "value": "y"}],
    [{"op": "remove", "path": "/does_not_exist"}],
    [{"op": "replace", "path": "/redirect_uris/7", "value": "https://x.example/cb"}],
    [{"op": "move", "from": "/redirect_uris", "path": "/redirect_uris/0"}],
    [{"op": "add", "path": "/implicit_grant_id_token_lifespan", "value": "-5s"}],
    [{"op": "replace", "path": "/client_secret", "value": "short"}],
    [{"op": "replace", "path": "/token_endpoint_auth_method", "value": "tls_client_auth"}],
    [{"op": "explode", "path": "/client_name"}],
    [{"path": "/client_name", "value": "x"}],
    {"op": "replace", "path": "/client_name", "value": "x"},
    [],  # not 400: an empty patch is a valid no-op (checked below)
])
def test_hostile_patches_are_400_errorOAuth2_and_change_nothing(headers: dict[str, str], operations: Any) -> None:
    client = create(headers, client_name="stays", redirect_uris=["https://a.example/cb"],
                    grant_types=["authorization_code", "client_credentials"])
    before = get(headers, client["client_id"])
    result = patch(headers, client["client_id"], operations)
    if operations == []:
        assert result.status == 200 and without_times(result.json) == without_times(before)
        return
    assert_error(result, 400)
    assert get(headers, client["client_id"]) == before
    assert token_of(client["client_id"], client["client_secret"], "")


@pytest.mark.parametrize("raw", ["not json", '{"op": "add"}', "", '"[]"'])
def test_patch_bodies_that_are_no_json_array_are_400(headers: dict[str, str], raw: str) -> None:
    client = create(headers)
    assert_error(call("PATCH", f"{PATH}/{client['client_id']}", headers=headers, body=raw), 400)


# ---------------------------------------------------------------- lifespans


def test_lifespans_are_set_as_duration_strings_and_kept_in_seconds(headers: dict[str, str]) -> None:
    from hydra_lambda.clients.registry import get_client

    client = create(headers)
    body = {"client_credentials_grant_access_token_lifespan": "1h",
            "authorization_code_grant_id_token_lifespan": "90s",
            "device_authorization_grant_refresh_token_lifespan": "1500ms1500ms",
            "jwt_bearer_grant_access_token_lifespan": None}
    result = call("PUT", f"{PATH}/{client['client_id']}/lifespans", headers=headers, json_body=body)
    assert result.status == 200, result.body
    assert result.json["client_credentials_grant_access_token_lifespan"] == "1h0m0s"
    assert result.json["authorization_code_grant_id_token_lifespan"] == "1m30s"
    assert result.json["device_authorization_grant_refresh_token_lifespan"] == "3s"
    assert result.json["jwt_bearer_grant_access_token_lifespan"] is None
    stored = get_client(client["client_id"])
    assert stored is not None and stored.lifespan("client_credentials", "access_token") == 3600
    assert stored.lifespan("authorization_code", "id_token") == 90
    assert get(headers, client["client_id"])["authorization_code_grant_id_token_lifespan"] == "1m30s"
    # the whole set is replaced
    again = call("PUT", f"{PATH}/{client['client_id']}/lifespans", headers=headers,
                 json_body={"implicit_grant_access_token_lifespan": "2m"})
    assert again.status == 200
    assert [name for name in LIFESPAN_FIELDS if again.json[name]] == ["implicit_grant_access_token_lifespan"]


@pytest.mark.parametrize("body", [{"client_credentials_grant_access_token_lifespan": "1d"},
                                  {"client_credentials_grant_access_token_lifespan": 60},
                                  {"client_credentials_grant_access_token_lifespan": "0s"},
                                  {"client_credentials_grant_access_token_lifespan": "9000h"},
                                  {"password_grant_access_token_lifespan": "1h"},
                                  {"client_name": "not a lifespan"}])
def test_bad_lifespans_are_400_and_change_nothing(headers: dict[str, str], body: dict[str, Any]) -> None:
    client = create(headers, implicit_grant_access_token_lifespan="2m")
    before = get(headers, client["client_id"])
    assert_error(call("PUT", f"{PATH}/{client['client_id']}/lifespans", headers=headers, json_body=body), 400)
    assert get(headers, client["client_id"]) == before


# ---------------------------------------------------------------- listing


def test_listing_pages_by_token_with_link_and_total_and_filters(headers: dict[str, str]) -> None:
    owner = unique("owner")
    made = sorted(create(headers, owner=owner, client_name="listed")["client_id"] for _ in range(5))
    create(headers, owner=owner, client_name="other name")
    seen: list[str] = []
    query = {"owner": owner, "client_name": "listed", "page_size": "2"}
    while True:
        result = call("GET", PATH, headers=headers, query=query)
        assert result.status == 200, result.body
        assert result.headers["x-total-count"] == "5"
        assert all(item["owner"] == owner and "client_secret" not in item for item in result.json)
        seen += [item["client_id"] for item in result.json]
        links = result.headers["link"]
        assert 'rel="first"' in links
        if 'rel="next"' not in links:
            break
        next_url = links.split(", ")[-1].split(">")[0].lstrip("<")
        query = dict(pair.split("=", 1) for pair in next_url.split("?", 1)[1].split("&"))
        from urllib.parse import unquote
        query = {k: unquote(v.replace("+", " ")) for k, v in query.items()}
    assert seen == made
    assert call("GET", PATH, headers=headers, query={"owner": owner}).headers["x-total-count"] == "6"


@pytest.mark.parametrize("query", [{"page_size": "0"}, {"page_size": "1001"}, {"page_size": "x"},
                                   {"page_token": "garbage!"}, {"page_token": "bzox"}, {"owner": "o" * 2001}])
def test_bad_paging_is_400(headers: dict[str, str], query: dict[str, str]) -> None:
    assert_error(call("GET", PATH, headers=headers, query=query), 400)


# ---------------------------------------------------------------- delete and the guard


def test_delete_then_404_and_unknown_is_404(headers: dict[str, str]) -> None:
    client = create(headers)
    assert call("DELETE", f"{PATH}/{client['client_id']}", headers=headers).status == 204
    assert_error(call("GET", f"{PATH}/{client['client_id']}", headers=headers), 404)
    assert_error(call("DELETE", f"{PATH}/{client['client_id']}", headers=headers), 404)
    assert_error(call("PUT", f"{PATH}/{client['client_id']}/lifespans", headers=headers, json_body={}), 404)


def test_the_public_api_needs_a_token_with_the_scope_and_the_private_entry_none(headers: dict[str, str]) -> None:
    client = create(headers)
    assert_error(call("GET", PATH), 401)
    assert_error(call("GET", f"{PATH}/{client['client_id']}", headers=admin_headers("hydra.consent")), 403)
    assert_error(call("POST", PATH, headers=bearer("hl_at_forged.forged"), json_body={}), 401)
    assert_error(call("PATCH", f"{PATH}/{client['client_id']}", body="[]"), 401)
    private = call_private("GET", f"{PATH}/{client['client_id']}")
    assert private.status == 200 and private.json["client_id"] == client["client_id"]
    made = call_private("POST", PATH, json_body={"grant_types": ["client_credentials"]})
    assert made.status == 201 and made.json["client_secret"]
    for path in (PATH, f"{PATH}/x", f"{PATH}/x/lifespans", "/admin/oauth2/introspect", "/admin/oauth2/tokens"):
        assert call_private("OPTIONS", path) is not None  # every new route is on the private API


# ---------------------------------------------------------------- introspection and token revocation


def test_admin_introspection_answers_hydras_shape(headers: dict[str, str]) -> None:
    client = create(headers, audience=["https://api.example.com"])
    access = token_of(client["client_id"], client["client_secret"], "read")
    caller = admin_headers("hydra.introspect")
    result = call("POST", "/admin/oauth2/introspect", headers=caller, form={"token": access})
    assert result.status == 200, result.body
    body = result.json
    assert body["active"] is True and body["client_id"] == client["client_id"] and body["sub"] == client["client_id"]
    assert body["token_type"] == "Bearer" and body["token_use"] == "access_token" and body["scope"] == "read"
    assert isinstance(body["aud"], list) and body["exp"] > body["iat"] and body["iss"]
    assert call("POST", "/admin/oauth2/introspect", headers=caller,
                form={"token": access, "scope": "write"}).json == {"active": False}
    forged = call("POST", "/admin/oauth2/introspect", headers=caller, form={"token": "hl_at_x.y"})
    assert forged.json == {"active": False}
    private = call_private("POST", "/admin/oauth2/introspect", form={"token": access})
    assert private.status == 200 and private.json["active"] is True
    assert_error(call("POST", "/admin/oauth2/introspect", form={"token": access}), 401)
    assert_error(call("POST", "/admin/oauth2/introspect", headers=headers, form={"token": access}), 403)
    assert_error(call("POST", "/admin/oauth2/introspect", headers=caller, form={}), 400)
    assert_error(call("POST", "/admin/oauth2/introspect", headers=caller, json_body={"token": access}), 400)


def test_deleting_a_clients_tokens_kills_every_earlier_token_and_only_those(headers: dict[str, str]) -> None:
    client = create(headers)
    other = create(headers)
    first = token_of(client["client_id"], client["client_secret"])
    second = token_of(client["client_id"], client["client_secret"])
    bystander = token_of(other["client_id"], other["client_secret"])
    caller = admin_headers("hydra.introspect")

    def active(token: str) -> bool:
        return call("POST", "/admin/oauth2/introspect", headers=caller, form={"token": token}).json["active"]

    assert active(first) and active(second)
    assert_error(call("DELETE", "/admin/oauth2/tokens", headers=headers, query={"client_id": client["client_id"]}), 403)
    assert_error(call("DELETE", "/admin/oauth2/tokens", headers=admin_headers("hydra.oauth2.tokens")), 400)
    assert_error(call("DELETE", "/admin/oauth2/tokens", query={"client_id": client["client_id"]}), 401)
    assert active(first)
    result = call("DELETE", "/admin/oauth2/tokens", headers=admin_headers("hydra.oauth2.tokens"),
                  query={"client_id": client["client_id"]})
    assert result.status == 204, result.body
    assert not active(first) and not active(second) and active(bystander)
    later = token_of(client["client_id"], client["client_secret"])  # the client itself lives on
    assert active(later)
    assert get(headers, client["client_id"])["client_id"] == client["client_id"]
    unknown = call("DELETE", "/admin/oauth2/tokens", headers=admin_headers("hydra.oauth2.tokens"),
                   query={"client_id": unique("nobody")})
    assert unknown.status == 204
    assert call_private("DELETE", "/admin/oauth2/tokens", query={"client_id": client["client_id"]}).status == 204
    assert not active(later)


# ---------------------------------------------------------------- what it costs


def test_what_revoking_a_clients_tokens_and_listing_cost(headers: dict[str, str], capsys: Any) -> None:
    from tests.integration.test_capacity import capacity

    client = create(headers)
    caller = admin_headers("hydra.oauth2.tokens")
    call("GET", f"{PATH}/{client['client_id']}", headers=headers)  # warm the callers' caches
    with capacity() as revoking:
        assert call("DELETE", "/admin/oauth2/tokens", headers=caller,
                    query={"client_id": client["client_id"]}).status == 204
    # Whatever the number of tokens: the client read, its row written again (the caller's own token
    # row may be read once more: the per-container caller cache).
    assert [op for op, _, write in revoking if write] == ["PutItem"], revoking
    assert sum(write for _, _, write in revoking) <= 2.0, revoking
    with capacity() as listing:
        result = call("GET", PATH, headers=headers, query={"page_size": "50"})
    assert result.status == 200
    assert [op for op, _, _ in listing if op == "Query"] == ["Query", "Query"], listing  # the page, the count
    with capsys.disabled():
        total = result.headers["x-total-count"]
        print(f"\nrevoke a client's tokens: {revoking}\nlist 50 of {total} clients: {listing}")
