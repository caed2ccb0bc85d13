"""The logout metadata of a client (issue 24 item 4) through the handlers and over HTTP: stored in
DynamoDB and read back with the same values on ``/clients`` (create, get, update, list) and on
``/oauth2/register`` (RFC 7591/7592); hostile values are a 400 that stores nothing; a client written
before the fields existed reads as unregistered; discovery advertises logout."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hydra_lambda.config import reset_settings

from tests.support import LocalServer, bearer, call, unique
from tests.support_admin import admin, make_client

LOGOUT: dict[str, Any] = {
    "post_logout_redirect_uris": ["https://rp.example/logged-out?from=op", "http://127.0.0.1:8080/bye",
                                  "com.example.app:/bye"],
    "frontchannel_logout_uri": "https://rp.example/front-logout?tenant=a",
    "frontchannel_logout_session_required": True,
    "backchannel_logout_uri": "https://rp.example/back-logout",
    "backchannel_logout_session_required": True,
}
UNREGISTERED: dict[str, Any] = {
    "post_logout_redirect_uris": [], "frontchannel_logout_uri": "", "frontchannel_logout_session_required": False,
    "backchannel_logout_uri": "", "backchannel_logout_session_required": False,
}
HOSTILE: list[dict[str, Any]] = [
    {"post_logout_redirect_uris": ["javascript:alert(document.cookie)"]},
    {"post_logout_redirect_uris": ["https://rp.example/bye#fragment"]},
    {"post_logout_redirect_uris": ["http://rp.example/bye"]},
    {"post_logout_redirect_uris": [f"https://rp.example/{n}" for n in range(101)]},
    {"post_logout_redirect_uris": ["https://rp.example/" + "a" * 2001]},
    {"post_logout_redirect_uris": ["https://rp.example/ok", 7]},
    {"post_logout_redirect_uris": [{"uri": "https://rp.example/ok"}]},
    {"post_logout_redirect_uris": "https://rp.example/ok"},
    {"frontchannel_logout_uri": "javascript:alert(1)"},
    {"frontchannel_logout_uri": "https://rp.example/front#x"},
    {"frontchannel_logout_uri": "http://rp.example/front"},
    {"frontchannel_logout_uri": ["https://rp.example/front"]},
    {"backchannel_logout_uri": "http://rp.example/back"},
    {"backchannel_logout_uri": "https://rp.example/back#x"},
    {"backchannel_logout_uri": "http://127.0.0.1:9000/back"},
    {"backchannel_logout_uri": "https://169.254.169.254/latest/meta-data/"},
    {"backchannel_logout_uri": "https://10.1.2.3/back"},
    {"frontchannel_logout_session_required": "true"},
    {"backchannel_logout_session_required": 1},
    {"backchannel_logout_session_required": "yes"},
]


@pytest.fixture(scope="module")
def headers() -> dict[str, str]:
    return admin()


def _assert_logout(shown: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        assert shown[name] == value, (name, shown.get(name))


def _listed(headers: dict[str, str], client_id: str) -> dict[str, Any]:
    """The client as ``GET /clients`` lists it (paging until it is found)."""
    offset = 0
    while True:
        page = call("GET", "/clients", headers=headers, query={"limit": "500", "offset": str(offset)})
        assert page.status == 200, page.body
        for entry in page.json:
            if entry["id"] == client_id:
                return entry
        assert len(page.json) == 500, f"{client_id} is not listed"
        offset += 500


# ---------------------------------------------------------------- /clients


def test_the_fields_round_trip_through_create_get_list_and_update(headers: dict[str, str]) -> None:
    created, result = make_client(headers, **LOGOUT)
    assert result.status == 201
    _assert_logout(created, LOGOUT)
    _assert_logout(call("GET", f"/clients/{created['id']}", headers=headers).json, LOGOUT)
    _assert_logout(_listed(headers, created["id"]), LOGOUT)
    # A PUT of other fields keeps them; a PUT of one changes only it; null clears.
    kept = call("PUT", f"/clients/{created['id']}", headers=headers, json_body={"client_name": "renamed"})
    assert kept.status == 200, kept.body
    _assert_logout(kept.json, LOGOUT)
    changed = call("PUT", f"/clients/{created['id']}", headers=headers, json_body={
        "post_logout_redirect_uris": ["https://rp.example/other"], "backchannel_logout_session_required": False})
    assert changed.status == 200, changed.body
    _assert_logout(changed.json, {**LOGOUT, "post_logout_redirect_uris": ["https://rp.example/other"],
                                  "backchannel_logout_session_required": False})
    cleared = call("PUT", f"/clients/{created['id']}", headers=headers, json_body=dict.fromkeys(LOGOUT))
    assert cleared.status == 200, cleared.body
    _assert_logout(cleared.json, UNREGISTERED)
    _assert_logout(call("GET", f"/clients/{created['id']}", headers=headers).json, UNREGISTERED)


def test_a_get_echoed_into_a_put_is_accepted(headers: dict[str, str]) -> None:
    created, _ = make_client(headers, **LOGOUT)
    fetched = call("GET", f"/clients/{created['id']}", headers=headers).json
    again = call("PUT", f"/clients/{created['id']}", headers=headers, json_body=fetched)
    assert again.status == 200, again.body
    _assert_logout(again.json, LOGOUT)


def test_a_client_without_the_fields_reads_as_unregistered(headers: dict[str, str]) -> None:
    from hydra_lambda.storage.tables import ClientRecord

    created, _ = make_client(headers, **LOGOUT)
    record = ClientRecord.get(created["id"])
    record.update(actions=[getattr(ClientRecord, name).remove() for name in LOGOUT])
    for name in LOGOUT:  # truly absent on the row
        present = getattr(ClientRecord, name).exists()
        assert ClientRecord.count(created["id"], filter_condition=present, consistent_read=True) == 0, name
    _assert_logout(call("GET", f"/clients/{created['id']}", headers=headers).json, UNREGISTERED)
    _assert_logout(_listed(headers, created["id"]), UNREGISTERED)


@pytest.mark.parametrize("body", HOSTILE, ids=lambda body: next(iter(body)) + ":" + str(body[next(iter(body))])[:40])
def test_hostile_values_are_a_400_that_stores_nothing(headers: dict[str, str], body: dict[str, Any]) -> None:
    existing, _ = make_client(headers, client_name="before", **LOGOUT)
    fresh_id = unique("hostile")
    created = call("POST", "/clients", headers=headers,
                   json_body={"id": fresh_id, "redirect_uris": ["https://rp.example/cb"], **body})
    assert created.status == 400, created.body
    assert created.json["error"]["code"] == 400 and created.headers["content-type"].startswith("application/json")
    assert call("GET", f"/clients/{fresh_id}", headers=headers).status == 404
    updated = call("PUT", f"/clients/{existing['id']}", headers=headers, json_body={"client_name": "after", **body})
    assert updated.status == 400, updated.body
    assert updated.json["error"]["code"] == 400
    after = call("GET", f"/clients/{existing['id']}", headers=headers).json
    assert after["client_name"] == "before"
    _assert_logout(after, LOGOUT)


def test_loopback_backchannel_with_fetch_allow_loopback(headers: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    uri = "http://127.0.0.1:9000/back"
    assert call("POST", "/clients", headers=headers, json_body={"backchannel_logout_uri": uri}).status == 400
    monkeypatch.setenv("FETCH_ALLOW_LOOPBACK", "true")
    reset_settings()
    try:
        created, _ = make_client(headers, backchannel_logout_uri=uri)
        assert created["backchannel_logout_uri"] == uri
    finally:
        monkeypatch.undo()
        reset_settings()


# ---------------------------------------------------------------- /oauth2/register


@pytest.fixture
def registration(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Any]], Any]]:
    monkeypatch.setenv("OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED", "true")
    reset_settings()
    yield lambda body: call("POST", "/oauth2/register", json_body=body)
    monkeypatch.undo()
    reset_settings()


def _self_registered_ids() -> set[str]:
    from hydra_lambda.storage.tables import ClientRecord

    return {record.id for record in ClientRecord.scan(ClientRecord.self_registered == True,  # noqa: E712
                                                      consistent_read=True)}


def test_registration_round_trip(registration: Callable[[dict[str, Any]], Any], headers: dict[str, str]) -> None:
    result = registration({"redirect_uris": ["https://rp.example/cb"], **LOGOUT})
    assert result.status == 201, result.body
    client = result.json
    _assert_logout(client, LOGOUT)
    path, token = f"/oauth2/register/{quote(client['client_id'], safe='')}", client["registration_access_token"]
    _assert_logout(call("GET", path, headers=bearer(token)).json, LOGOUT)
    _assert_logout(call("GET", f"/clients/{client['client_id']}", headers=headers).json, LOGOUT)
    # RFC 7592 section 2.2: the PUT replaces the registration; members left out are cleared.
    replaced = call("PUT", path, headers=bearer(token), json_body={
        "client_id": client["client_id"], "redirect_uris": ["https://rp.example/cb"],
        "post_logout_redirect_uris": ["https://rp.example/bye"], "backchannel_logout_uri": "https://rp.example/b2"})
    assert replaced.status == 200, replaced.body
    shown = replaced.json
    assert shown["post_logout_redirect_uris"] == ["https://rp.example/bye"]
    assert shown["backchannel_logout_uri"] == "https://rp.example/b2"
    assert shown["backchannel_logout_session_required"] is False
    assert "frontchannel_logout_uri" not in shown and "frontchannel_logout_session_required" not in shown
    _assert_logout(call("GET", f"/clients/{client['client_id']}", headers=headers).json, {
        **UNREGISTERED, "post_logout_redirect_uris": ["https://rp.example/bye"],
        "backchannel_logout_uri": "https://rp.example/b2"})


def test_a_registration_without_logout_metadata_answers_none(registration: Callable[[dict[str, Any]], Any]) -> None:
    result = registration({"redirect_uris": ["https://rp.example/cb"]})
    assert result.status == 201, result.body
    assert not set(LOGOUT) & set(result.json)


@pytest.mark.parametrize("body", HOSTILE, ids=lambda body: next(iter(body)) + ":" + str(body[next(iter(body))])[:40])
def test_hostile_registrations_are_refused_and_store_nothing(registration: Callable[[dict[str, Any]], Any],
                                                            body: dict[str, Any]) -> None:
    before = _self_registered_ids()
    result = registration({"redirect_uris": ["https://rp.example/cb"], **body})
    assert result.status == 400, result.body
    assert result.json["error"] == "invalid_client_metadata", result.body
    assert next(iter(body)) in result.json["error_description"]
    assert _self_registered_ids() == before


def test_a_hostile_registration_update_changes_nothing(registration: Callable[[dict[str, Any]], Any]) -> None:
    client = registration({"redirect_uris": ["https://rp.example/cb"], **LOGOUT}).json
    path, token = f"/oauth2/register/{quote(client['client_id'], safe='')}", client["registration_access_token"]
    for body in HOSTILE[:3] + HOSTILE[-6:]:
        result = call("PUT", path, headers=bearer(token), json_body={
            "client_id": client["client_id"], "redirect_uris": ["https://rp.example/cb"], **LOGOUT, **body})
        assert result.status == 400 and result.json["error"] == "invalid_client_metadata", result.body
    _assert_logout(call("GET", path, headers=bearer(token)).json, LOGOUT)


# ---------------------------------------------------------------- discovery


def test_discovery_advertises_logout() -> None:
    doc = call("GET", "/.well-known/openid-configuration").json
    issuer = doc["issuer"]
    assert doc["end_session_endpoint"] == f"{issuer}/oauth2/sessions/logout"
    assert doc["frontchannel_logout_supported"] is True
    assert doc["frontchannel_logout_session_supported"] is True
    assert doc["backchannel_logout_supported"] is True
    assert doc["backchannel_logout_session_supported"] is True
    assert call("GET", "/.well-known/oauth-authorization-server").json == doc


# ---------------------------------------------------------------- over HTTP (the local server)


@pytest.fixture(scope="module")
def server(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    instance = LocalServer({**aws, "FETCH_ALLOW_LOOPBACK": "false"})
    yield instance
    instance.stop()


def _http(server: LocalServer, method: str, path: str, headers: dict[str, str],
          body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{server.url}{path}", data=data, method=method,
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_over_http_create_get_update_list_and_refuse(server: LocalServer, headers: dict[str, str]) -> None:
    client_id = unique("http-logout")
    status, created = _http(server, "POST", "/clients", headers,
                            {"id": client_id, "redirect_uris": ["https://rp.example/cb"], **LOGOUT})
    assert status == 201, created
    _assert_logout(created, LOGOUT)
    status, fetched = _http(server, "GET", f"/clients/{client_id}", headers)
    assert status == 200
    _assert_logout(fetched, LOGOUT)
    status, updated = _http(server, "PUT", f"/clients/{client_id}", headers,
                            {"frontchannel_logout_uri": "http://localhost:3000/front?x=1"})
    assert status == 200, updated
    _assert_logout(updated, {**LOGOUT, "frontchannel_logout_uri": "http://localhost:3000/front?x=1"})
    _assert_logout(_listed(headers, client_id), {**LOGOUT, "frontchannel_logout_uri": "http://localhost:3000/front?x=1"})
    refused_id = unique("http-hostile")
    status, error = _http(server, "POST", "/clients", headers,
                          {"id": refused_id, "post_logout_redirect_uris": ["javascript:alert(1)"]})
    assert status == 400 and error["error"]["code"] == 400, error
    status, _ = _http(server, "PUT", f"/clients/{client_id}", headers, {"backchannel_logout_uri": "https://[::1]/b"})
    assert status == 400
    assert _http(server, "GET", f"/clients/{refused_id}", headers)[0] == 404
    assert _http(server, "GET", f"/clients/{client_id}", headers)[1]["backchannel_logout_uri"] == LOGOUT[
        "backchannel_logout_uri"]
