"""``/clients`` through the real handlers: every route's success path, validation, auth errors,
owner policies, listing, and secrets that never leak."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hydra_lambda import clock

from tests.support import ROOT_CLIENT_ID, admin_headers, basic, call
from tests.support_admin import add_policy, admin, bearer, make_client, remove_policy, service_client, token, unique

SECRET_FIELDS = ("client_secret",)


@pytest.fixture(scope="module")
def headers() -> dict[str, str]:
    return admin()


# ---------------------------------------------------------------- create


def test_create_returns_201_location_and_the_generated_secret_once(headers: dict[str, str]) -> None:
    body, result = make_client(headers, client_name="Shop", scope="read write.*", contacts=["a@example.com"])
    assert result.headers["location"] == f"/clients/{body['id']}"
    assert result.headers["cache-control"] == "no-store"
    assert body["client_id"] == body["id"]
    assert body["client_name"] == "Shop"
    assert body["scope"] == "read write.*"
    assert body["grant_types"] == ["authorization_code"] and body["response_types"] == ["code"]
    assert body["public"] is False and body["contacts"] == ["a@example.com"]
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    secret = body["client_secret"]
    assert len(secret) == 43 and all(c.isalnum() or c in "-_" for c in secret)
    fetched = call("GET", f"/clients/{body['id']}", headers=headers)
    assert fetched.status == 200 and "client_secret" not in fetched.json
    assert secret not in fetched.body


def test_create_generates_a_uuid_id_when_absent(headers: dict[str, str]) -> None:
    import uuid

    result = call("POST", "/clients", headers=headers, json_body={"client_name": "no id"})
    assert result.status == 201
    assert str(uuid.UUID(result.json["id"])) == result.json["id"]


def test_secrets_are_stored_hashed_with_the_scheme_recorded(headers: dict[str, str]) -> None:
    from hydra_lambda.storage import clients as store

    generated, _ = make_client(headers)
    supplied, _ = make_client(headers, client_secret="my-own-secret")
    assert supplied["client_secret"] == "my-own-secret"
    generated_hash = store.get(generated["id"]).secret_hash
    supplied_hash = store.get(supplied["id"]).secret_hash
    assert generated_hash.startswith("hs256$") and generated["client_secret"] not in generated_hash
    assert supplied_hash.startswith("scrypt$") and "my-own-secret" not in supplied_hash


def test_public_client_has_no_secret(headers: dict[str, str]) -> None:
    body, _ = make_client(headers, public=True)
    assert body["public"] is True and "client_secret" not in body


def test_duplicate_id_is_409(headers: dict[str, str]) -> None:
    body, _ = make_client(headers)
    again = call("POST", "/clients", headers=headers, json_body={"id": body["id"]})
    assert again.status == 409
    assert again.json["error"]["code"] == 409 and body["id"] in again.json["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"redirect_uris": ["/relative/cb"]}, "absolute"),
        ({"redirect_uris": ["https://app.example.com/cb#frag"]}, "fragment"),
        ({"redirect_uris": ["http://app.example.com/cb"]}, "https"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "private-use"),
        ({"redirect_uris": ["https:///nohost"]}, "host"),
        ({"redirect_uris": "https://app.example.com/cb"}, "redirect_uris"),
        ({"grant_types": ["password"]}, "not supported"),
        ({"response_types": ["code", "device"]}, "not supported"),
        ({"scope": 'bad"scope'}, "scope"),
        ({"client_secret": "12345"}, "at least 6 characters"),
        ({"public": True, "grant_types": ["client_credentials"]}, "client_credentials"),
        ({"public": True, "client_secret": "a-secret-value"}, "public client has no secret"),
        ({"public": "yes"}, "public"),
        ({"unknown_field": 1}, "unknown field"),
        ({"id": "has space"}, "id must be"),
        ({"id": "a/b"}, "id must be"),
        ({"policy_uri": "javascript:alert(1)"}, "policy_uri"),
        ({"contacts": ["x"] * 101}, "at most 100"),
    ],
)
def test_create_validation_is_a_400_with_a_clear_message(
    headers: dict[str, str], fields: dict[str, Any], needle: str
) -> None:
    result = call("POST", "/clients", headers=headers, json_body=fields)
    assert result.status == 400, result.body
    error = result.json["error"]
    assert error["code"] == 400 and error["status"] == "Bad Request"
    assert needle.lower() in error["message"].lower(), error["message"]


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8080/cb", "http://localhost/cb", "http://[::1]:9000/cb",
                                 "com.example.app:/oauth2redirect", "https://app.example.com/cb?x=1"])
def test_accepted_redirect_uris(headers: dict[str, str], uri: str) -> None:
    body, _ = make_client(headers, redirect_uris=[uri])
    assert body["redirect_uris"] == [uri]


@pytest.mark.parametrize("raw", ["not json", "[1,2]", ""])
def test_create_rejects_a_body_that_is_not_a_json_object(headers: dict[str, str], raw: str) -> None:
    result = call("POST", "/clients", headers={**headers, "Content-Type": "application/json"}, body=raw)
    assert result.status == 400 and result.json["error"]["code"] == 400


def test_client_id_is_accepted_as_the_id(headers: dict[str, str]) -> None:
    wanted = unique()
    result = call("POST", "/clients", headers=headers, json_body={"client_id": wanted})
    assert result.status == 201 and result.json["id"] == wanted
    clash = call("POST", "/clients", headers=headers, json_body={"client_id": unique(), "id": unique()})
    assert clash.status == 400 and "differ" in clash.json["error"]["message"]


def test_read_only_fields_echoed_from_a_get_are_accepted(headers: dict[str, str]) -> None:
    body, _ = make_client(headers)
    fetched = call("GET", f"/clients/{body['id']}", headers=headers).json
    fetched["client_name"] = "round trip"
    result = call("PUT", f"/clients/{body['id']}", headers=headers, json_body=fetched)
    assert result.status == 200 and result.json["client_name"] == "round trip"


# ---------------------------------------------------------------- list


def test_list_is_ordered_paged_and_never_shows_secrets(headers: dict[str, str]) -> None:
    made = [make_client(headers)[0] for _ in range(3)]
    everything = call("GET", "/clients", headers=headers, query={"limit": "500"})
    assert everything.status == 200
    ids = [c["id"] for c in everything.json]
    assert ids == sorted(ids)
    assert {m["id"] for m in made} <= set(ids)
    assert ROOT_CLIENT_ID in ids
    assert all("client_secret" not in listed for listed in everything.json)  # the key, on no client
    assert all(m["client_secret"] not in everything.body for m in made)

    first = call("GET", "/clients", headers=headers, query={"limit": "2"})
    assert [c["id"] for c in first.json] == ids[:2]
    assert first.headers["link"] == '</clients?limit=2&offset=2>; rel="next"'
    second = call("GET", "/clients", headers=headers, query={"limit": "2", "offset": "2"})
    assert [c["id"] for c in second.json] == ids[2:4]
    last = call("GET", "/clients", headers=headers, query={"limit": "2", "offset": str(len(ids) - 1)})
    assert [c["id"] for c in last.json] == ids[-1:]
    assert "link" not in last.headers
    beyond = call("GET", "/clients", headers=headers, query={"offset": str(len(ids) + 10)})
    assert beyond.status == 200 and beyond.json == []


def test_list_limit_defaults_to_100_and_is_capped_at_500(headers: dict[str, str]) -> None:
    from hydra_lambda.endpoints.clients import page as admin_list
    from hydra_lambda.http.forms import credentials

    auth = credentials(headers["Authorization"])
    assert admin_list(auth, None, None).limit == 100
    assert admin_list(auth, "100000", None).limit == 500


@pytest.mark.parametrize("query", [{"limit": "-1"}, {"limit": "abc"}, {"offset": "1.5"}])
def test_list_rejects_bad_paging_parameters(headers: dict[str, str], query: dict[str, str]) -> None:
    result = call("GET", "/clients", headers=headers, query=query)
    assert result.status == 400


# ---------------------------------------------------------------- get / update / delete


def test_get_unknown_client_is_404_for_an_authorized_caller(headers: dict[str, str]) -> None:
    result = call("GET", f"/clients/{unique()}", headers=headers)
    assert result.status == 404 and result.json["error"]["code"] == 404


def test_unknown_client_is_401_not_404_without_credentials() -> None:
    for method in ("GET", "PUT", "DELETE"):
        result = call(method, f"/clients/{unique()}", json_body={} if method == "PUT" else None)
        assert result.status == 401, method


def test_update_replaces_given_fields_clears_and_keeps_the_rest(headers: dict[str, str]) -> None:
    body, _ = make_client(headers, client_name="before", contacts=["a@example.com"], owner="team-a",
                          scope="read", client_uri="https://example.com")
    result = call("PUT", f"/clients/{body['id']}", headers=headers,
                  json_body={"client_name": "after", "contacts": None, "client_uri": ""})
    assert result.status == 200
    updated = result.json
    assert updated["client_name"] == "after"
    assert updated["contacts"] == [] and updated["client_uri"] == ""
    assert updated["owner"] == "team-a" and updated["scope"] == "read"
    assert "client_secret" not in updated
    assert updated["created_at"] == body["created_at"]
    stored = call("GET", f"/clients/{body['id']}", headers=headers).json
    assert stored == updated


def test_update_with_a_new_secret_returns_it_once_and_it_replaces_the_old(headers: dict[str, str]) -> None:
    body, _ = make_client(headers, grant_types=["client_credentials"], scope="x")
    old = body["client_secret"]
    result = call("PUT", f"/clients/{body['id']}", headers=headers, json_body={"client_secret": "brand-new-secret"})
    assert result.status == 200 and result.json["client_secret"] == "brand-new-secret"
    form = {"grant_type": "client_credentials"}
    assert call("POST", "/oauth2/token", headers=basic(body["id"], "brand-new-secret"), form=form).status == 200
    assert call("POST", "/oauth2/token", headers=basic(body["id"], old), form=form).status == 401
    assert "client_secret" not in call("GET", f"/clients/{body['id']}", headers=headers).json


def test_update_validation_and_missing_client(headers: dict[str, str]) -> None:
    body, _ = make_client(headers)
    bad = call("PUT", f"/clients/{body['id']}", headers=headers, json_body={"redirect_uris": ["http://evil.example/"]})
    assert bad.status == 400
    mismatch = call("PUT", f"/clients/{body['id']}", headers=headers, json_body={"id": "other-id"})
    assert mismatch.status == 400 and "differs" in mismatch.json["error"]["message"]
    missing = call("PUT", f"/clients/{unique()}", headers=headers, json_body={"client_name": "x"})
    assert missing.status == 404


def test_update_can_make_a_client_public_and_confidential_again(headers: dict[str, str]) -> None:
    body, _ = make_client(headers)
    public = call("PUT", f"/clients/{body['id']}", headers=headers, json_body={"public": True})
    assert public.status == 200 and public.json["public"] is True and "client_secret" not in public.json
    back = call("PUT", f"/clients/{body['id']}", headers=headers, json_body={"public": False})
    assert back.status == 200 and back.json["public"] is False
    assert len(back.json["client_secret"]) == 43  # a confidential client needs a secret: generated


def test_concurrent_update_is_a_409(headers: dict[str, str]) -> None:
    from hydra_lambda.clients import registry as clients

    body, _ = make_client(headers)
    stale = clients.get_client(body["id"])
    assert stale is not None
    clients.update_client(body["id"], {"client_name": "first"})
    with pytest.raises(clients.Conflict):
        clients.update_existing(stale, {"client_name": "second"})


def test_delete_is_204_then_404_and_the_clients_tokens_die(headers: dict[str, str]) -> None:
    svc_id, svc_secret = service_client()
    policy = add_policy(subjects=[svc_id], resources=["rn:hydra:clients"], actions=["get"])
    try:
        svc_token = token(svc_id, svc_secret)
        assert call("GET", "/clients", headers=bearer(svc_token), query={"limit": "1"}).status == 200
        deleted = call("DELETE", f"/clients/{svc_id}", headers=headers)
        assert deleted.status == 204 and deleted.body == ""
        assert call("GET", f"/clients/{svc_id}", headers=headers).status == 404
        assert call("DELETE", f"/clients/{svc_id}", headers=headers).status == 404
        assert call("GET", "/clients", headers=bearer(svc_token)).status == 401
    finally:
        remove_policy(policy)


# ---------------------------------------------------------------- authorization


def test_missing_or_bad_bearer_is_401_in_the_admin_shape() -> None:
    for auth in (None, "Bearer nonsense", "Basic Zm9vOmJhcg==", "Bearer hl_at_" + "A" * 43 + "." + "B" * 43):
        result = call("GET", "/clients", headers={"Authorization": auth} if auth else {})
        assert result.status == 401, auth
        assert result.json == {"error": {"code": 401, "status": "Unauthorized", "request": result.json["error"]
                                         ["request"], "reason": result.json["error"]["reason"],
                                         "message": "request_unauthorized"}}
        assert result.headers["www-authenticate"].startswith("Bearer")


def test_expired_token_is_401() -> None:
    value = token()
    clock.advance(3601)
    assert call("GET", "/clients", headers=bearer(value)).status == 401


def test_token_without_the_scope_is_403_insufficient_scope() -> None:
    value = token(scope="openid")
    result = call("GET", "/clients", headers=bearer(value))
    assert result.status == 403 and result.json["error"]["message"] == "insufficient_scope"


def test_no_policy_is_403_denied_by_default() -> None:
    svc_id, svc_secret = service_client()
    result = call("GET", "/clients", headers=bearer(token(svc_id, svc_secret)))
    assert result.status == 403
    assert result.json["error"]["message"].startswith("Request was denied by default")


def test_explicit_deny_beats_the_admin_allow() -> None:
    policy = add_policy(subjects=[ROOT_CLIENT_ID], resources=["rn:hydra:clients:<locked-.*>"], actions=["delete"],
                        effect="deny")
    try:
        headers = admin()
        body, _ = make_client(headers, id=unique("locked"))
        result = call("DELETE", f"/clients/{body['id']}", headers=headers)
        assert result.status == 403
        assert result.json["error"]["message"].startswith("Request was forcefully denied")
        assert call("GET", f"/clients/{body['id']}", headers=headers).status == 200
    finally:
        remove_policy(policy)


def test_owner_condition_lets_a_client_manage_only_its_own_clients() -> None:
    svc_id, svc_secret = service_client()
    policy = add_policy(
        subjects=[svc_id], resources=["rn:hydra:clients", "rn:hydra:clients:<.*>"],
        actions=["create", "get", "update", "delete"],
        conditions={"owner": {"type": "EqualsSubjectCondition", "options": {}}},
    )
    try:
        mine = bearer(token(svc_id, svc_secret))
        own = call("POST", "/clients", headers=mine, json_body={"id": unique(), "owner": svc_id})
        assert own.status == 201
        assert call("POST", "/clients", headers=mine, json_body={"owner": "someone-else"}).status == 403
        other, _ = make_client(owner="someone-else")
        assert call("GET", f"/clients/{other['id']}", headers=mine).status == 403
        assert call("GET", f"/clients/{own.json['id']}", headers=mine).status == 200
        assert call("PUT", f"/clients/{own.json['id']}", headers=mine, json_body={"client_name": "n"}).status == 200
        assert call("PUT", f"/clients/{other['id']}", headers=mine, json_body={"owner": svc_id}).status == 403
        # Handing one's client to someone else is checked against the new owner too.
        assert call("PUT", f"/clients/{own.json['id']}", headers=mine, json_body={"owner": "x"}).status == 403
        assert call("DELETE", f"/clients/{other['id']}", headers=mine).status == 403
        assert call("DELETE", f"/clients/{own.json['id']}", headers=mine).status == 204
    finally:
        remove_policy(policy)


def test_wrong_method_is_405_with_allow(headers: dict[str, str]) -> None:
    result = call("PATCH", "/clients", headers=headers)
    assert result.status == 405 and "POST" in result.headers["allow"]


# ---------------------------------------------------------------- secrets stay secret


def test_secrets_never_appear_in_logs_or_error_bodies(
    headers: dict[str, str], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hydra_lambda.http.app import logger

    caplog.set_level(logging.DEBUG)
    previous = logger.log_level
    logger.setLevel("DEBUG")
    try:
        created, _ = make_client(headers, client_secret="super-secret-value-1", grant_types=["client_credentials"])
        secrets_seen = ["super-secret-value-1"]
        bodies = []
        bodies.append(call("POST", "/clients", headers=headers, json_body={"client_secret": "abc12"}).body)
        bodies.append(call("POST", "/clients", headers=headers,
                           json_body={"client_secret": "super-secret-value-2", "bogus": True}).body)
        secrets_seen.append("super-secret-value-2")
        bodies.append(call("POST", "/oauth2/token", headers=basic(created["id"], "wrong-secret-value-3"),
                           form={"grant_type": "client_credentials"}).body)
        secrets_seen.append("wrong-secret-value-3")
        ok = call("POST", "/oauth2/token", headers=basic(created["id"], "super-secret-value-1"),
                  form={"grant_type": "client_credentials"})
        access = ok.json["access_token"]
        bodies.append(call("PUT", f"/clients/{created['id']}", headers=headers,
                           json_body={"client_secret": "new-secret-value-4", "public": True}).body)
        secrets_seen.append("new-secret-value-4")
        bodies.append(call("GET", f"/clients/{created['id']}", headers=bearer(access)).body)
        with monkeypatch.context() as patch:  # an unexpected failure is logged with its traceback
            patch.setattr("hydra_lambda.storage.token_rows.put", _explode)
            crashed = call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, "root-secret-for-tests-0123456789"),
                           form={"grant_type": "client_credentials", "scope": "hydra.clients"})
        assert crashed.status == 500 and crashed.json["error"] == "server_error"
        bodies.append(crashed.body)
        secrets_seen.append("root-secret-for-tests-0123456789")
    finally:
        logger.setLevel(previous)
    captured = capsys.readouterr()
    logs = captured.out + captured.err + "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str)
                                                   for r in caplog.records)
    assert "unexpected error" in logs and "storage exploded" in logs  # the capture does see the logs
    assert "abc12" not in "".join(bodies)
    for secret in [*secrets_seen, access]:
        assert secret not in logs
        assert all(secret not in body for body in bodies)


def _explode(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError("storage exploded")


def _active(value: str) -> bool:
    result = call("POST", "/oauth2/introspect", headers=bearer(token(scope="hydra.introspect")),
                  form={"token": value})
    assert result.status == 200, result.body
    return bool(result.json["active"])


def test_deleting_a_client_revokes_its_tokens_even_when_created_again(headers: dict[str, str]) -> None:
    """No index of tokens by client: a token is honoured only while the client it was issued to
    exists as that same client (its creation time is on the token row), checked at read time."""
    from hydra_lambda.clients.registry import create_client, forget_cached
    from hydra_lambda.storage import clients as store

    svc_id, svc_secret = service_client(scope="hydra.clients")
    value = token(svc_id, svc_secret)
    assert _active(value)
    assert call("GET", "/clients", headers=bearer(value)).status == 403  # known, just not allowed
    assert store.delete(svc_id)  # an earlier DELETE that failed after removing the row
    forget_cached(svc_id)
    assert not _active(value)
    assert call("GET", "/clients", headers=bearer(value)).status == 401
    assert call("DELETE", f"/clients/{svc_id}", headers=headers).status == 404
    # The same id again, a new client: the old client's token stays dead, new ones work.
    create_client({"id": svc_id, "grant_types": ["client_credentials"], "scope": "hydra.clients",
                   "client_secret": svc_secret})
    assert not _active(value)
    fresh = token(svc_id, svc_secret)
    assert _active(fresh) and not _active(value)


# ---------------------------------------------------------------- DynamoDB's 400 KB item limit


def _big_body(contact_chars: int, entries: int = 100) -> dict[str, Any]:
    return {"id": unique("big"), "grant_types": ["client_credentials"],
            "contacts": [f"{i:03d}" + "\u00e9" * contact_chars for i in range(entries)],  # 2 bytes per char
            "redirect_uris": [f"https://big.example/{i:03d}/" + "p" * 1000 for i in range(entries)]}


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_client_over_dynamodbs_item_limit_is_a_clear_400(headers: dict[str, str], method: str) -> None:
    from hydra_lambda.storage.clients import MAX_ITEM_BYTES

    body = _big_body(1990)  # about 600 KB stored, within every field limit, under the body limit
    text = json.dumps(body, ensure_ascii=False)
    assert len(text.encode()) < 1024 * 1024
    path = "/clients"
    if method == "PUT":
        created, _ = make_client(headers, grant_types=["client_credentials"])
        path = f"/clients/{created['id']}"
        body.pop("id")
        text = json.dumps(body, ensure_ascii=False)
    result = call(method, path, headers={**headers, "Content-Type": "application/json"}, body=text)
    assert result.status == 400, result.body
    error = result.json["error"]
    assert "too large to store" in error["reason"] + error["message"]
    assert str(MAX_ITEM_BYTES) in error["reason"] + error["message"]
    if method == "POST":
        assert call("GET", f"/clients/{body['id']}", headers=headers).status == 404
    else:
        assert call("GET", path, headers=headers).json["contacts"] == []


def test_a_client_just_under_the_bound_is_stored_by_dynamodb(headers: dict[str, str]) -> None:
    from hydra_lambda.clients.model import Client
    from hydra_lambda.storage import clients as store
    from hydra_lambda.storage.clients import MAX_ITEM_BYTES, item_size

    body = _big_body(1400)
    probe = Client(id=body["id"], contacts=body["contacts"], redirect_uris=body["redirect_uris"],
                   grant_types=body["grant_types"])
    size = item_size(store.to_record(probe))
    assert MAX_ITEM_BYTES - 30_000 < size < MAX_ITEM_BYTES  # the estimate is what DynamoDB Local accepts
    result = call("POST", "/clients", headers={**headers, "Content-Type": "application/json"},
                  body=json.dumps(body, ensure_ascii=False))
    assert result.status == 201, result.body
    assert call("DELETE", f"/clients/{body['id']}", headers=headers).status == 204


def test_dynamodbs_own_refusal_is_a_400_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Should the estimate ever fall short, DynamoDB's ValidationException still becomes TooLarge (a 400).
    from hydra_lambda.clients.model import Client
    from hydra_lambda.storage import clients as store

    monkeypatch.setattr(store, "_check_size", lambda record: None)
    body = _big_body(1990)
    client = Client(id=body["id"], contacts=body["contacts"], redirect_uris=body["redirect_uris"])
    with pytest.raises(store.TooLarge):
        store.create(client)
    assert store.get(body["id"]) is None


# ---------------------------------------------------------------- URIs are RFC 3986 URIs

BAD_URIS = ["https://app.example/a b", 'https://app.example/"x"', "https://app.example/<script>",
            "https://app.example/{x}", "https://app.example/a|b", "https://app.example/a\\b", "https://app.example/%zz",
            "https://ex\u00e4mple.com/", "https://app.example/^", "https://app.example/`", "https://[zz]/",
            "https://app.example/a[b]"]


@pytest.mark.parametrize("field", ["logo_uri", "policy_uri", "tos_uri", "client_uri", "redirect_uris"])
@pytest.mark.parametrize("uri", BAD_URIS)
def test_uri_fields_must_be_rfc3986_uris(headers: dict[str, str], field: str, uri: str) -> None:
    value: object = [uri] if field == "redirect_uris" else uri
    result = call("POST", "/clients", headers=headers, json_body={"id": unique("uri"), field: value})
    assert result.status == 400, (field, uri, result.body)
    assert "not a valid URI" in result.json["error"]["reason"] + result.json["error"]["message"]


@pytest.mark.parametrize("uri", ["https://app.example/p?q=%20&r=1;s#frag", "https://[::1]:8443/x",
                                 "https://u@app.example/~me/(x)*,+!$'", "http://app.example"])
def test_valid_uris_are_kept(headers: dict[str, str], uri: str) -> None:
    body, _ = make_client(headers, logo_uri=uri, policy_uri=uri, tos_uri=uri, client_uri=uri)
    assert body["logo_uri"] == body["policy_uri"] == body["tos_uri"] == body["client_uri"] == uri


def test_a_client_may_take_an_id_that_policies_or_groups_single_out_only_from_a_policy_writer() -> None:
    """A client acts as its id (a client_credentials token's subject). A caller that may only create its
    own clients once took a user's id that a policy let manage policies, and so made itself admin; or
    a group member's id, or a group's. Taking such an id now needs the right to create policies."""
    user, group, member = unique("alice"), unique("ops"), unique("bob")
    root = admin_headers("hydra.clients hydra.warden.groups")
    assert call("POST", "/warden/groups", headers=root, json_body={"id": group, "members": [member]}).status == 201
    powerful = add_policy(subjects=[user, group], resources=["rn:hydra:policies", "rn:hydra:policies:<.*>"],
                          actions=["<.*>"])
    svc_id, svc_secret = service_client()
    tenant = add_policy(subjects=[svc_id], resources=["rn:hydra:clients", "rn:hydra:clients:<.*>"],
                        actions=["create", "get", "update", "delete"],
                        conditions={"owner": {"type": "EqualsSubjectCondition", "options": {}}})
    try:
        mine = bearer(token(svc_id, svc_secret))
        for taken in (user, group, member):
            refused = call("POST", "/clients", headers=mine, json_body={
                "id": taken, "owner": svc_id, "client_secret": "s3cret-abc",
                "grant_types": ["client_credentials"], "scope": "hydra.policies"})
            assert refused.status == 403, (taken, refused.body)
            assert call("GET", f"/clients/{taken}", headers=root).status == 404
        # Ids no policy singles out stay the tenant's to take; a catch-all subject singles out nobody.
        catch_all = add_policy(subjects=["<.*>"], resources=["rn:nothing"], actions=["get"])
        try:
            free = call("POST", "/clients", headers=mine, json_body={"id": unique("free"), "owner": svc_id})
            assert free.status == 201, free.body
        finally:
            remove_policy(catch_all)
        # The operator, who may write policies anyway, may still provision a client for a policy.
        provisioned = call("POST", "/clients", headers=root, json_body={"id": user})
        assert provisioned.status == 201, provisioned.body
    finally:
        for policy in (powerful, tenant):
            remove_policy(policy)
        call("DELETE", f"/warden/groups/{group}", headers=root)
