"""The classic admin APIs through the real handlers: ``/policies``, ``/warden/token/allowed``,
``/warden/allowed``, ``/warden/groups`` and ``/keys`` (public keys only)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import admin_headers, call
from tests.support_admin import add_policy, bearer, remove_policy, service_client, token, unique

ADMIN_SCOPES = "hydra.policies hydra.warden hydra.warden.groups hydra.keys.get hydra.keys.create hydra.clients"


@pytest.fixture(scope="module")
def root() -> dict[str, str]:
    return admin_headers(ADMIN_SCOPES)


def _policy(**fields: Any) -> dict[str, Any]:
    return {"id": unique("pol"), "description": "d", "subjects": ["alice"], "effect": "allow",
            "resources": ["rn:photos:<[0-9]+>"], "actions": ["read"], "conditions": {}, **fields}


# ---------------------------------------------------------------- policies


def test_policy_lifecycle_create_get_update_list_delete(root: dict[str, str]) -> None:
    body = _policy(conditions={"owner": {"type": "EqualsSubjectCondition"}})
    created = call("POST", "/policies", headers=root, json_body=body)
    assert created.status == 201, created.body
    assert created.headers["location"] == f"/policies/{body['id']}"
    expected = {**body, "conditions": {"owner": {"type": "EqualsSubjectCondition", "options": {}}}}
    assert created.json == expected
    assert call("GET", f"/policies/{body['id']}", headers=root).json == expected
    updated = call("PUT", f"/policies/{body['id']}", headers=root, json_body={**body, "effect": "deny"})
    assert updated.status == 200 and updated.json["effect"] == "deny"
    assert call("GET", f"/policies/{body['id']}", headers=root).json["effect"] == "deny"
    listed = call("GET", "/policies", headers=root, query={"limit": "500"})
    assert listed.status == 200 and body["id"] in {p["id"] for p in listed.json}
    assert call("DELETE", f"/policies/{body['id']}", headers=root).status == 204
    assert call("GET", f"/policies/{body['id']}", headers=root).status == 404
    assert call("DELETE", f"/policies/{body['id']}", headers=root).status == 404


def test_policy_list_pages_with_offset_limit_and_link(root: dict[str, str]) -> None:
    everything = call("GET", "/policies", headers=root, query={"limit": "500"}).json
    assert len(everything) >= 2
    first = call("GET", "/policies", headers=root, query={"limit": "1", "offset": "0"})
    second = call("GET", "/policies", headers=root, query={"limit": "1", "offset": "1"})
    assert [p["id"] for p in first.json + second.json] == [p["id"] for p in everything[:2]]
    assert first.headers["link"] == '</policies?limit=1&offset=1>; rel="next"'
    assert call("GET", "/policies", headers=root, query={"limit": "x"}).status == 400


@pytest.mark.parametrize("change", [
    {"effect": "Allow"}, {"effect": ""}, {"subjects": ["<(a>"]}, {"actions": "read"},
    {"resources": ["x" * 600]}, {"conditions": {"k": {"type": "NoSuchCondition"}}}, {"surprise": 1},
    {"id": "bad\nid"}, {"subjects": ["s"] * 101},
])
def test_bad_policies_are_400_and_change_nothing(root: dict[str, str], change: dict[str, Any]) -> None:
    body = _policy(**change)
    result = call("POST", "/policies", headers=root, json_body=body)
    assert result.status == 400, result.body
    assert result.json["error"]["code"] == 400 and "Invalid policy" in result.json["error"]["message"]
    if isinstance(body["id"], str) and "\n" not in body["id"]:
        assert call("GET", f"/policies/{body['id']}", headers=root).status == 404


def test_duplicate_policy_is_409_and_put_of_unknown_is_404(root: dict[str, str]) -> None:
    body = _policy()
    assert call("POST", "/policies", headers=root, json_body=body).status == 201
    assert call("POST", "/policies", headers=root, json_body=body).status == 409
    assert call("PUT", f"/policies/{unique('nope')}", headers=root, json_body=_policy()).status in (400, 404)
    missing = unique("nope")
    assert call("PUT", f"/policies/{missing}", headers=root, json_body={**_policy(), "id": missing}).status == 404
    assert call("PUT", f"/policies/{body['id']}", headers=root, json_body={**body, "id": "other"}).status == 400
    remove_policy(body["id"])


def test_policy_routes_need_the_scope_and_a_policy() -> None:
    assert call("GET", "/policies").status == 401
    no_scope = bearer(token(scope="hydra.clients"))
    result = call("GET", "/policies", headers=no_scope)
    assert result.status == 403 and "hydra.policies" in result.json["error"]["reason"]
    client_id, secret = service_client(scope="hydra.policies")
    stranger = bearer(token(client_id, secret, scope="hydra.policies"))
    assert call("GET", "/policies", headers=stranger).status == 403
    body = _policy(subjects=[client_id])
    assert call("POST", "/policies", headers=stranger, json_body=body).status == 403
    assert call("GET", f"/policies/{unique()}", headers=stranger).status == 403  # no 404 oracle
    allowed = add_policy(subjects=[client_id], resources=["rn:hydra:policies"], actions=["list"])
    try:
        assert call("GET", "/policies", headers=stranger).status == 200
        assert call("POST", "/policies", headers=stranger, json_body=body).status == 403  # create not granted
    finally:
        remove_policy(allowed)


def test_group_rows_are_never_policies(root: dict[str, str]) -> None:
    group = unique("grp")
    assert call("POST", "/warden/groups", headers=root, json_body={"id": group, "members": ["m"]}).status == 201
    from urllib.parse import quote

    row = quote("\x1fgroup:" + group, safe="")
    assert call("GET", f"/policies/{row}", headers=root).status == 404
    assert call("DELETE", f"/policies/{row}", headers=root).status == 404
    assert call("GET", f"/warden/groups/{group}", headers=root).status == 200
    assert group not in str(call("GET", "/policies", headers=root, query={"limit": "500"}).json)
    assert call("DELETE", f"/warden/groups/{group}", headers=root).status == 204


# ---------------------------------------------------------------- warden


def _photo_policy(subject: str) -> str:
    return add_policy(subjects=[subject], resources=["rn:photos:<[0-9]+>"], actions=["read"])


def test_token_allowed_answers_the_token_details(root: dict[str, str]) -> None:
    client_id, secret = service_client(scope="photos.read photos.write")
    checked = token(client_id, secret, scope="photos.read")
    policy = _photo_policy(client_id)
    try:
        result = call("POST", "/warden/token/allowed", headers=root, json_body={
            "token": checked, "scopes": ["photos.read"], "resource": "rn:photos:42", "action": "read", "context": {}})
        assert result.status == 200, result.body
        answer = result.json
        assert answer["allowed"] is True and answer["subject"] == client_id and answer["clientId"] == client_id
        assert answer["grantedScopes"] == ["photos.read"] and answer["accessTokenExtra"] == {}
        assert answer["issuer"] and answer["issuedAt"].endswith("Z") and answer["expiresAt"] > answer["issuedAt"]
        denied = [
            {"token": checked, "scopes": ["photos.write"], "resource": "rn:photos:42", "action": "read"},
            {"token": checked, "scopes": [], "resource": "rn:photos:x", "action": "read"},
            {"token": checked, "scopes": [], "resource": "rn:photos:42", "action": "write"},
            {"token": checked + "x", "scopes": [], "resource": "rn:photos:42", "action": "read"},
            {"token": "hl_at_forged.value", "resource": "rn:photos:42", "action": "read"},
            {"token": "", "resource": "rn:photos:42", "action": "read"},
        ]
        for body in denied:
            result = call("POST", "/warden/token/allowed", headers=root, json_body=body)
            assert (result.status, result.json) == (200, {"allowed": False}), body
    finally:
        remove_policy(policy)


def test_token_allowed_refuses_a_token_whose_client_was_deleted(root: dict[str, str]) -> None:
    from hydra_lambda.clients.registry import delete_client

    client_id, secret = service_client(scope="photos.read")
    checked = token(client_id, secret, scope="photos.read")
    policy = _photo_policy(client_id)
    body = {"token": checked, "scopes": ["photos.read"], "resource": "rn:photos:1", "action": "read"}
    try:
        assert call("POST", "/warden/token/allowed", headers=root, json_body=body).json["allowed"] is True
        delete_client(client_id)
        assert call("POST", "/warden/token/allowed", headers=root, json_body=body).json == {"allowed": False}
    finally:
        remove_policy(policy)


def test_warden_caller_needs_scope_and_policy_and_a_wellformed_body(root: dict[str, str]) -> None:
    body = {"subject": "alice", "resource": "rn:photos:1", "action": "read"}
    assert call("POST", "/warden/allowed", json_body=body).status == 401
    assert call("POST", "/warden/allowed", headers=bearer(token(scope="hydra.clients")), json_body=body).status == 403
    client_id, secret = service_client(scope="hydra.warden")
    stranger = bearer(token(client_id, secret, scope="hydra.warden"))
    assert call("POST", "/warden/allowed", headers=stranger, json_body=body).status == 403
    assert call("POST", "/warden/token/allowed", headers=stranger,
                json_body={"token": "x", "resource": "r", "action": "a"}).status == 403
    for bad in ({**body, "context": []}, {**body, "resource": 3}, {"subject": "a", "action": "read"},
                {"token": 5, "resource": "r", "action": "a"},
                {"token": "t", "scopes": "a", "resource": "r", "action": "a"}):
        path = "/warden/token/allowed" if "token" in bad else "/warden/allowed"
        result = call("POST", path, headers=root, json_body=bad)
        assert result.status == 400 and result.json["error"]["code"] == 400, bad
    assert call("POST", "/warden/allowed", headers=root, body="[1]").status == 400


def test_warden_allowed_asks_for_the_subject_and_each_of_its_groups(root: dict[str, str]) -> None:
    subject, group = unique("user"), unique("grp")
    body = {"subject": subject, "resource": "rn:photos:7", "action": "read", "context": {}}
    assert call("POST", "/warden/allowed", headers=root, json_body=body).json == {"allowed": False}
    policy = _photo_policy(group)
    try:
        assert call("POST", "/warden/groups", headers=root, json_body={"id": group, "members": []}).status == 201
        assert call("POST", "/warden/allowed", headers=root, json_body=body).json == {"allowed": False}
        added = call("POST", f"/warden/groups/{group}/members", headers=root, json_body={"members": [subject]})
        assert added.status == 204
        assert call("POST", "/warden/allowed", headers=root, json_body=body).json == {"allowed": True}
        deny = add_policy(subjects=[subject], resources=["rn:photos:7"], actions=["read"], effect="deny")
        assert call("POST", "/warden/allowed", headers=root, json_body=body).json == {"allowed": False}
        remove_policy(deny)
        removed = call("DELETE", f"/warden/groups/{group}/members", headers=root, json_body={"members": [subject]})
        assert removed.status == 204
        assert call("POST", "/warden/allowed", headers=root, json_body=body).json == {"allowed": False}
    finally:
        remove_policy(policy)
        call("DELETE", f"/warden/groups/{group}", headers=root)


def test_admin_endpoints_honour_group_policies(root: dict[str, str]) -> None:
    """Every policy decision (here: GET /clients) also asks for the caller's groups, as classic did."""
    client_id, secret = service_client(scope="hydra.clients")
    caller = bearer(token(client_id, secret, scope="hydra.clients"))
    group = unique("grp")
    policy = add_policy(subjects=[group], resources=["rn:hydra:clients"], actions=["get"])
    try:
        assert call("GET", "/clients", headers=caller).status == 403
        call("POST", "/warden/groups", headers=root, json_body={"id": group, "members": [client_id]})
        assert call("GET", "/clients", headers=caller).status == 200
    finally:
        remove_policy(policy)
        call("DELETE", f"/warden/groups/{group}", headers=root)


def test_group_routes(root: dict[str, str]) -> None:
    group, member = unique("grp"), unique("m")
    created = call("POST", "/warden/groups", headers=root, json_body={"id": group, "members": [member, member]})
    assert created.status == 201 and created.json == {"id": group, "members": [member]}
    assert created.headers["location"] == f"/warden/groups/{group}"
    assert call("POST", "/warden/groups", headers=root, json_body={"id": group}).status == 409
    assert call("GET", f"/warden/groups/{group}", headers=root).json == {"id": group, "members": [member]}
    listed = call("GET", "/warden/groups", headers=root, query={"member": member})
    assert listed.status == 200 and listed.json == [{"id": group, "members": [member]}]
    assert call("POST", f"/warden/groups/{group}/members", headers=root, json_body={"members": ["b"]}).status == 204
    assert call("GET", f"/warden/groups/{group}", headers=root).json["members"] == [member, "b"]
    assert call("GET", "/warden/groups", headers=root, query={"member": unique()}).json == []
    for bad in ({"members": "x"}, {"members": [1]}, {"members": [""]}):
        assert call("POST", f"/warden/groups/{group}/members", headers=root, json_body=bad).status == 400
    assert call("POST", "/warden/groups", headers=root, json_body={"id": 3}).status == 400
    assert call("POST", "/warden/groups", headers=root, json_body={"id": "g", "extra": 1}).status == 400
    assert call("DELETE", f"/warden/groups/{group}", headers=root).status == 204
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/members"), ("DELETE", "/members")):
        result = call(method, f"/warden/groups/{group}{path}", headers=root, json_body={"members": ["a"]})
        assert result.status == 404, (method, path)
    assert call("GET", "/warden/groups").status == 401
    assert call("GET", "/warden/groups", headers=bearer(token(scope="hydra.warden"))).status == 403


# ---------------------------------------------------------------- keys


def test_keys_answer_public_keys_only(root: dict[str, str]) -> None:
    from hydra_lambda import keys

    expected = keys.jwks()
    result = call("GET", "/keys/hydra.openid.id-token", headers=root)
    assert result.status == 200 and result.json == expected
    assert all("d" not in jwk and "p" not in jwk for jwk in result.json["keys"])
    kid = expected["keys"][0]["kid"]
    single = call("GET", f"/keys/hydra.openid.id-token/{kid}")  # anonymous: the first start's public policy
    assert single.status == 200 and single.json == {"keys": [expected["keys"][0]]}
    assert call("GET", "/keys/hydra.openid.id-token/unknown-kid").status == 404
    private = call("GET", f"/keys/hydra.openid.id-token/private:{kid}", headers=root)
    assert private.status == 403 and "never leave" in private.json["error"]["message"]
    assert call("GET", "/keys/other.set", headers=root).status == 404
    assert call("GET", "/keys/hydra.openid.id-token").status == 401  # the set itself is not public


def test_key_changes_are_refused_with_the_way_to_do_them(root: dict[str, str]) -> None:
    for method, path in (("POST", ""), ("PUT", ""), ("DELETE", ""), ("PUT", "/k"), ("DELETE", "/k")):
        assert call(method, f"/keys/hydra.openid.id-token{path}", json_body={"alg": "RS256"}).status == 401
    changer = bearer(token(scope="hydra.keys.update hydra.keys.delete hydra.keys.create"))
    for method, path in (("PUT", ""), ("DELETE", ""), ("PUT", "/k"), ("DELETE", "/k")):
        changed = call(method, f"/keys/hydra.openid.id-token{path}", headers=changer, json_body={"alg": "RS256"})
        assert changed.status == 403 and "hydra-lambda keys rotate" in changed.json["error"]["message"]
    # POST rotates (tests/test_key_rotation_api.py), but not a key set chosen by SIGNING_KEYS (as here).
    created = call("POST", "/keys/hydra.openid.id-token", headers=root, json_body={"alg": "RS256", "kid": "x"})
    assert created.status == 409 and "KeyRotationSchedule" in created.json["error"]["message"]


def test_member_changes_never_lose_a_concurrent_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another container adds a member between our read and our write: the conditional update sees
    it, reads again, and both members stay."""
    from hydra_lambda.storage import policies as store
    from hydra_lambda.storage.tables import PolicyRecord

    group = unique("grp")
    store.create_group(store.Group(group, ["a"]))
    real = store.get_group
    raced: list[bool] = []

    def racing(group_id: str) -> store.Group | None:
        found = real(group_id)
        if not raced:
            raced.append(True)
            PolicyRecord(store.GROUP_PREFIX + group_id).update(actions=[PolicyRecord.members.set(["a", "b"])])
        return found

    monkeypatch.setattr(store, "get_group", racing)
    assert store.change_members(group, add=["c"]) is True
    assert real(group).members == ["a", "b", "c"]
    store.delete_group(group)


def test_token_allowed_refuses_revoked_expired_and_refresh_tokens(root: dict[str, str]) -> None:
    from hydra_lambda import clock

    from tests.support import basic

    client_id, secret = service_client(scope="photos.read")
    policy = _photo_policy(client_id)
    body = {"scopes": ["photos.read"], "resource": "rn:photos:7", "action": "read"}
    try:
        revoked = token(client_id, secret, scope="photos.read")
        assert call("POST", "/warden/token/allowed", headers=root, json_body={**body, "token": revoked}
                    ).json["allowed"] is True
        assert call("POST", "/oauth2/revoke", headers=basic(client_id, secret), form={"token": revoked}).status == 200
        expiring = token(client_id, secret, scope="photos.read")
        clock.advance(3600 + 1)  # ACCESS_TOKEN_LIFESPAN (the clock is reset after each test)
        asking = admin_headers(ADMIN_SCOPES)  # the module's root token expired with it
        for value in (revoked, expiring):
            result = call("POST", "/warden/token/allowed", headers=asking, json_body={**body, "token": value})
            assert (result.status, result.json) == (200, {"allowed": False}), value
    finally:
        remove_policy(policy)


@pytest.mark.parametrize("path", ["/policies/", "/warden/groups/"])
def test_ids_that_could_never_be_routed_are_refused_and_over_long_ones_are_404(root: dict[str, str],
                                                                               path: str) -> None:
    body = _policy(id="a/b") if path == "/policies/" else {"id": "a/b", "members": []}
    refused = call("POST", path.rstrip("/"), headers=root, json_body=body)
    assert refused.status == 400 and "'/'" in refused.json["error"]["message"], refused.body
    long_id = "x" * 3000  # over DynamoDB's 2048-byte key: never stored, so never found
    for method in ("GET", "DELETE"):
        result = call(method, path + long_id, headers=root)
        assert result.status == 404, (method, result.body)
    if path == "/warden/groups/":
        added = call("POST", path + long_id + "/members", headers=root, json_body={"members": ["m"]})
        assert added.status == 404, added.body


def test_a_group_may_not_take_a_clients_id(root: dict[str, str]) -> None:
    """Members act as the group id: a group named after the root client would make them root."""
    from tests.support import ROOT_CLIENT_ID

    result = call("POST", "/warden/groups", headers=root, json_body={"id": ROOT_CLIENT_ID, "members": ["mallory"]})
    assert result.status == 409 and "client" in result.json["error"]["message"], result.body
    assert call("GET", f"/warden/groups/{ROOT_CLIENT_ID}", headers=root).status == 404


@pytest.mark.parametrize("path", ["/policies", "/warden/groups", "/clients"])
def test_text_that_is_not_text_is_400_and_stores_nothing(root: dict[str, str], path: str) -> None:
    """A lone surrogate (a JSON escape such as \\ud800) is no character: a row keyed by one could never
    be addressed again, and answering it failed with a 500."""
    name = unique("bad") + "\ud800"
    body = {"/policies": _policy(id=name), "/warden/groups": {"id": name, "members": []},
            "/clients": {"client_name": name}}[path]
    result = call("POST", path, headers=root, json_body=body)
    assert result.status == 400, result.body
    listed = call("GET", path, headers=root, query={"limit": "500"} if path != "/warden/groups" else "")
    assert listed.status == 200 and name[:-1] not in listed.body


@pytest.mark.parametrize("raw", ["\u00b2", "\u0663"])
def test_unicode_digits_in_paging_are_400(root: dict[str, str], raw: str) -> None:
    for path in ("/clients", "/policies"):
        result = call("GET", path, headers=root, query={"limit": raw})
        assert result.status == 400, (path, result.body)
