"""Issue 25 item 5: pairwise subject identifiers (OpenID Connect Core 8 and 8.1). A pairwise client
sees its own identifier of the user in ID tokens, ``/userinfo`` and (as the caller) introspection;
clients of one sector see the same one, clients of different sectors different ones; the consent
app, admins and resource servers keep the local subject. Registration checks the sector: one
redirect host or a ``sector_identifier_uri`` (fetched over https) listing every redirect URI."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hydra_lambda import subjects
from hydra_lambda.config import reset_settings

from tests.integration.test_code_flow import verify_id_token
from tests.support import LocalServer, basic, bearer, call, client_credentials_token
from tests.support_admin import admin
from tests.support_flows import REDIRECT, Flow, fragment, make_client, qs, redeem, refresh
from tests.support_https import HttpsDocuments, write_tls_files
from tests.support_lifecycle import allow

SALT = "pairwise-salt-for-the-tests-0123456789"
LOCALHOST_REDIRECT = "http://localhost:9999/callback"
SECTOR_PATH = "/sector.json"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return write_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def rp(tls: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpsDocuments]:
    """The relying party's https server (on loopback, trusted through the test CA), with the salt
    set and FETCH_ALLOW_LOOPBACK on."""
    ca, cert, key = tls
    server = HttpsDocuments(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    monkeypatch.setenv("FETCH_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("SUBJECT_IDENTIFIERS_PAIRWISE_SALT", SALT)
    reset_settings()
    yield server
    server.stop()
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
def headers() -> dict[str, str]:
    return admin()


def _sub_of_alice(client_id: str, secret: str | None, redirect_uri: str = REDIRECT) -> dict[str, Any]:
    """alice through the code flow at ``client_id``: the tokens, the ID token's claims and /userinfo."""
    flow = Flow(client_id)
    assert flow.start(redirect_uri=redirect_uri).status == 302
    assert flow.accept(subject="alice").status == 204
    back = flow.back()
    assert back.status == 302, back.body
    landed = qs(back.headers["location"])
    assert "code" in landed, landed
    tokens = redeem(client_id, secret, landed["code"], redirect_uri=redirect_uri)
    assert tokens.status == 200, tokens.body
    claims = verify_id_token(tokens.json["id_token"], client_id)
    info = call("GET", "/userinfo", headers=bearer(tokens.json["access_token"]))
    assert info.status == 200, info.body
    return {**tokens.json, "claims": claims, "userinfo": info.json}


def test_the_id_token_and_userinfo_carry_the_same_pairwise_sub(rp: HttpsDocuments) -> None:
    client_id, secret = make_client(subject_type="pairwise")
    seen = _sub_of_alice(client_id, secret)
    sub = seen["claims"]["sub"]
    assert sub == seen["userinfo"]["sub"] != "alice"
    assert sub == subjects.pairwise_id("127.0.0.1", "alice", SALT)  # the redirect URI's host is the sector
    # A refresh keeps the grant's sub, and the token row keeps the local subject.
    again = refresh(client_id, secret, seen["refresh_token"])
    assert again.status == 200, again.body
    assert verify_id_token(again.json["id_token"], client_id)["sub"] == sub
    from hydra_lambda.tokens import lookup

    row = lookup.live(again.json["access_token"])
    assert row is not None and row.subject == "alice"


def test_the_front_channel_id_token_of_the_hybrid_flow_carries_it_too(rp: HttpsDocuments) -> None:
    client_id, _ = make_client(subject_type="pairwise", response_types=["code id_token"],
                               grant_types=["authorization_code", "implicit"])
    flow = Flow(client_id)
    assert flow.start(response_type="code id_token").status == 302
    assert flow.accept(subject="alice").status == 204
    back = flow.back()
    assert back.status == 302, back.body
    id_token = fragment(back.headers["location"])["id_token"]
    assert verify_id_token(id_token, client_id)["sub"] == subjects.pairwise_id("127.0.0.1", "alice", SALT)


def test_a_pairwise_grant_costs_what_a_public_one_does(rp: HttpsDocuments, capsys: Any) -> None:
    """The identifier rides in the grant's rows (about 85 bytes more each): a code exchange and a
    refresh stay one read and one transaction of the same units (tests/integration/test_capacity.py);
    /userinfo and introspection read no client for it."""
    from tests.integration.test_capacity import capacity

    costs = []
    for fields in ({}, {"subject_type": "pairwise"}):
        client_id, secret = make_client(**fields)
        flow = Flow(client_id)
        assert flow.start().status == 302 and flow.accept(subject="alice").status == 204
        code = qs(flow.back().headers["location"])["code"]
        with capacity() as exchange:
            tokens = redeem(client_id, secret, code).json
        with capacity() as rotation:
            rotated = refresh(client_id, secret, tokens["refresh_token"])
        assert rotated.status == 200, rotated.body
        with capacity() as info:
            assert call("GET", "/userinfo", headers=bearer(rotated.json["access_token"])).status == 200
        costs.append((exchange, rotation, info))
    with capsys.disabled():
        print(f"\npairwise code exchange, refresh, userinfo: {costs[1]}")
    assert costs[0] == costs[1], costs


def test_a_claims_request_for_a_sub_names_the_pairwise_one(rp: HttpsDocuments) -> None:
    """OpenID Connect Core 5.5.1: a relying party asking for a particular sub asks for the one it
    knows, its pairwise identifier; the local subject is another user as far as it is concerned."""
    client_id, _ = make_client(subject_type="pairwise")
    pairwise = subjects.pairwise_id("127.0.0.1", "alice", SALT)
    for asked, answer in ((pairwise, "code"), ("alice", "error")):
        flow = Flow(client_id)
        claims = json.dumps({"id_token": {"sub": {"value": asked}}})
        assert flow.start(claims=claims).status == 302
        assert flow.accept(subject="alice").status == 204
        landed = qs(flow.back().headers["location"])
        assert answer in landed, (asked, landed)
        assert landed.get("error", "access_denied") == "access_denied"


def test_a_public_client_still_sees_the_local_subject(rp: HttpsDocuments) -> None:
    client_id, secret = make_client()
    seen = _sub_of_alice(client_id, secret)
    assert seen["claims"]["sub"] == seen["userinfo"]["sub"] == "alice"


def test_sectors_decide_who_sees_the_same_sub(rp: HttpsDocuments) -> None:
    rp.documents[SECTOR_PATH] = [LOCALHOST_REDIRECT, REDIRECT]
    sector_uri = rp.url(SECTOR_PATH)
    by_host, host_secret = make_client(subject_type="pairwise")  # sector 127.0.0.1 (its redirect URI's host)
    by_other_host, other_secret = make_client(subject_type="pairwise", redirect_uris=[LOCALHOST_REDIRECT])
    shared_one, one_secret = make_client(subject_type="pairwise", redirect_uris=[LOCALHOST_REDIRECT],
                                         sector_identifier_uri=sector_uri)
    shared_two, two_secret = make_client(subject_type="pairwise", sector_identifier_uri=sector_uri)
    localhost = _sub_of_alice(by_other_host, other_secret, LOCALHOST_REDIRECT)["claims"]["sub"]
    one = _sub_of_alice(shared_one, one_secret, LOCALHOST_REDIRECT)["claims"]["sub"]
    two = _sub_of_alice(shared_two, two_secret)["userinfo"]["sub"]
    # Both name the sector 127.0.0.1 through the sector_identifier_uri: one sub, whatever their own hosts.
    assert one == two == subjects.pairwise_id("127.0.0.1", "alice", SALT)
    # The same redirect host without the sector_identifier_uri is another sector.
    assert localhost != one and localhost != "alice"
    # A client whose redirect URI's host is the sector's sees the same sub as the sector's clients.
    assert _sub_of_alice(by_host, host_secret)["claims"]["sub"] == one


def test_introspection_shows_the_pairwise_sub_to_its_client_only(rp: HttpsDocuments) -> None:
    client_id, secret = make_client(subject_type="pairwise")
    seen = _sub_of_alice(client_id, secret)
    pairwise, access = seen["claims"]["sub"], seen["access_token"]
    allow(client_id)
    own = call("POST", "/oauth2/introspect", headers=basic(client_id, secret or ""), form={"token": access})
    assert own.status == 200, own.body
    assert own.json["sub"] == pairwise and "obfuscated_subject" not in own.json
    # An admin or a resource server: the local subject, and the client's identifier beside it.
    by_admin = call("POST", "/oauth2/introspect", headers=bearer(client_credentials_token("hydra.introspect")),
                    form={"token": access})
    assert by_admin.status == 200, by_admin.body
    assert by_admin.json["sub"] == "alice" and by_admin.json["obfuscated_subject"] == pairwise
    # The refresh token too.
    own_refresh = call("POST", "/oauth2/introspect", headers=basic(client_id, secret or ""),
                       form={"token": seen["refresh_token"]})
    assert own_refresh.json["sub"] == pairwise


def test_a_public_clients_token_has_no_obfuscated_subject(rp: HttpsDocuments) -> None:
    client_id, secret = make_client()
    access = _sub_of_alice(client_id, secret)["access_token"]
    result = call("POST", "/oauth2/introspect", headers=bearer(client_credentials_token("hydra.introspect")),
                  form={"token": access})
    assert result.json["sub"] == "alice" and "obfuscated_subject" not in result.json


# --- registration


def _refused(headers: dict[str, str], body: dict[str, Any], why: str) -> None:
    result = call("POST", "/clients", headers=headers, json_body={"client_name": "pairwise", **body})
    assert result.status == 400, result.body
    error = result.json["error"]
    assert error["code"] == 400 and why in error["message"], error
    assert error["reason"].startswith("invalid_client_metadata")


def test_a_pairwise_client_needs_one_sector(rp: HttpsDocuments, headers: dict[str, str]) -> None:
    _refused(headers, {"subject_type": "pairwise", "redirect_uris": [REDIRECT, LOCALHOST_REDIRECT]}, "2 hosts")
    _refused(headers, {"subject_type": "pairwise", "grant_types": ["client_credentials"]}, "0 hosts")
    # Several URIs on one host make one sector.
    created = call("POST", "/clients", headers=headers, json_body={
        "subject_type": "pairwise", "redirect_uris": [REDIRECT, "http://127.0.0.1:8888/other"]})
    assert created.status == 201, created.body


def test_the_sector_identifier_uri_must_list_every_redirect_uri(rp: HttpsDocuments, headers: dict[str, str]) -> None:
    rp.documents[SECTOR_PATH] = [REDIRECT]
    two_hosts = {"subject_type": "pairwise", "redirect_uris": [REDIRECT, LOCALHOST_REDIRECT],
                 "sector_identifier_uri": rp.url(SECTOR_PATH)}
    _refused(headers, two_hosts, f"does not list the redirect URI '{LOCALHOST_REDIRECT}'")
    rp.documents["/not-a-list.json"] = {"redirect_uris": [REDIRECT]}
    _refused(headers, {**two_hosts, "sector_identifier_uri": rp.url("/not-a-list.json")}, "JSON array")
    _refused(headers, {**two_hosts, "sector_identifier_uri": rp.url("/missing.json")}, "could not be fetched")
    rp.documents["/broken.json"] = (200, b"[not json")
    _refused(headers, {**two_hosts, "sector_identifier_uri": rp.url("/broken.json")}, "did not answer JSON")
    http_uri = rp.url(SECTOR_PATH).replace("https://", "http://")
    _refused(headers, {**two_hosts, "sector_identifier_uri": http_uri}, "must be an https URL")
    # Listing both: registered, and the update that adds an unlisted redirect URI is refused.
    rp.documents[SECTOR_PATH] = [REDIRECT, LOCALHOST_REDIRECT]
    created = call("POST", "/clients", headers=headers, json_body=two_hosts)
    assert created.status == 201, created.body
    path = f"/clients/{created.json['id']}"
    stored = call("GET", path, headers=headers).json
    assert (stored["subject_type"], stored["sector_identifier_uri"]) == ("pairwise", rp.url(SECTOR_PATH))
    moved = call("PUT", path, headers=headers, json_body={"redirect_uris": [REDIRECT, "https://rp.example/cb"]})
    assert moved.status == 400 and "https://rp.example/cb" in moved.json["error"]["message"]
    assert call("GET", path, headers=headers).json["redirect_uris"] == [REDIRECT, LOCALHOST_REDIRECT]


def test_an_update_that_leaves_the_sector_alone_does_not_fetch(rp: HttpsDocuments, headers: dict[str, str]) -> None:
    rp.documents[SECTOR_PATH] = [REDIRECT]
    created = call("POST", "/clients", headers=headers, json_body={
        "subject_type": "pairwise", "redirect_uris": [REDIRECT], "sector_identifier_uri": rp.url(SECTOR_PATH)})
    assert created.status == 201, created.body
    del rp.documents[SECTOR_PATH]  # the relying party's server is down: renaming the client still works
    renamed = call("PUT", f"/clients/{created.json['id']}", headers=headers, json_body={"client_name": "renamed"})
    assert renamed.status == 200, renamed.body


# --- without a salt


def test_without_a_salt_pairwise_is_refused_and_not_advertised(rp: HttpsDocuments, headers: dict[str, str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert call("GET", "/.well-known/openid-configuration").json["subject_types_supported"] == ["public", "pairwise"]
    stored, _ = make_client(subject_type="pairwise")  # registered while the salt was set
    monkeypatch.delenv("SUBJECT_IDENTIFIERS_PAIRWISE_SALT")
    reset_settings()
    assert call("GET", "/.well-known/openid-configuration").json["subject_types_supported"] == ["public"]
    _refused(headers, {"subject_type": "pairwise", "redirect_uris": [REDIRECT]}, "no pairwise salt")
    # The client already stored gets an error, never the local subject.
    flow = Flow(stored)
    started = flow.start()
    assert started.status == 302 and qs(started.headers["location"])["error"] == "unauthorized_client"
    assert "SUBJECT_IDENTIFIERS_PAIRWISE_SALT" in qs(started.headers["location"])["error_description"]


def test_a_pairwise_client_is_refused_at_the_second_leg_when_the_salt_goes_meanwhile(
        rp: HttpsDocuments, monkeypatch: pytest.MonkeyPatch) -> None:
    client_id, _ = make_client(subject_type="pairwise")
    flow = Flow(client_id)
    assert flow.start().status == 302 and flow.consent_id
    assert flow.accept(subject="alice").status == 204
    monkeypatch.delenv("SUBJECT_IDENTIFIERS_PAIRWISE_SALT")
    reset_settings()
    back = flow.back()
    assert back.status == 302, back.body
    landed = qs(back.headers["location"])
    assert landed["error"] == "unauthorized_client" and "code" not in landed


def test_make_run_derives_a_salt_so_pairwise_can_be_tried(aws: dict[str, str]) -> None:
    import requests

    assert "SUBJECT_IDENTIFIERS_PAIRWISE_SALT" not in os.environ
    server = LocalServer(dict(aws))
    try:
        document = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=5).json()
        assert document["subject_types_supported"] == ["public", "pairwise"]
    finally:
        server.stop()
