"""The logout metadata of a client (issue 24 item 4): post_logout_redirect_uris by the redirect URI
rules, the front-channel URI loaded by browsers, the back-channel URI this server POSTs to (a public
https host: loopback only with FETCH_ALLOW_LOOPBACK), the two flags, and their bounds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hydra_lambda.clients import logout_metadata, registry
from hydra_lambda.clients.model import Client
from hydra_lambda.config import reset_settings
from hydra_lambda.endpoints import client_wire as wire
from hydra_lambda.endpoints.clients import _parse_body
from hydra_lambda.errors import BadRequest
from hydra_lambda.storage.clients import from_record, to_record

LOGOUT = {
    "post_logout_redirect_uris": ["https://rp.example/logged-out?x=1", "http://127.0.0.1:8080/bye",
                                  "com.example.app:/bye"],
    "frontchannel_logout_uri": "https://rp.example/front?tenant=a",
    "frontchannel_logout_session_required": True,
    "backchannel_logout_uri": "https://rp.example/back?tenant=a",
    "backchannel_logout_session_required": True,
}


@pytest.fixture
def loopback_fetches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FETCH_ALLOW_LOOPBACK", "true")
    reset_settings()
    yield
    monkeypatch.delenv("FETCH_ALLOW_LOOPBACK")
    reset_settings()


def applied(fields: dict[str, Any], client: Client | None = None) -> Client:
    """``fields`` through the admin body model and the registry's validation (no store)."""
    client = client or Client(id="rp")
    registry._apply(client, _parse_body(fields))
    return client


def refused(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(BadRequest, match=match):
        applied(fields)


def test_unregistered_is_empty_and_false() -> None:
    client = Client(id="rp")
    assert client.post_logout_redirect_uris == [] and not client.has_post_logout_redirect_uri("")
    assert (client.frontchannel_logout_uri, client.backchannel_logout_uri) == ("", "")
    assert client.frontchannel_logout_session_required is False
    assert client.backchannel_logout_session_required is False
    shown = wire(client)
    assert shown["post_logout_redirect_uris"] == [] and shown["frontchannel_logout_uri"] == ""
    assert shown["backchannel_logout_session_required"] is False


def test_every_field_is_kept_as_given_and_shown_under_its_wire_name() -> None:
    client = applied(LOGOUT)
    for name, value in LOGOUT.items():
        assert getattr(client, name) == value, name
        assert wire(client)[name] == value, name
    assert client.has_post_logout_redirect_uri("https://rp.example/logged-out?x=1")


def test_post_logout_redirect_uris_match_exactly() -> None:
    client = applied({"post_logout_redirect_uris": ["https://rp.example/bye"]})
    for near in ("https://rp.example/bye/", "https://RP.example/bye", "https://rp.example/bye?x=1",
                 "https://rp.example:443/bye", "https://rp.example/Bye", ""):
        assert not client.has_post_logout_redirect_uri(near), near
    assert client.has_post_logout_redirect_uri("https://rp.example/bye")


def test_the_row_round_trips_and_an_older_row_reads_as_unregistered() -> None:
    client = applied(LOGOUT)
    again = from_record(to_record(client))
    for name in LOGOUT:
        assert getattr(again, name) == getattr(client, name), name
    record = to_record(Client(id="old"))
    for name in LOGOUT:
        setattr(record, name, None)  # a row written before the fields existed has no such attributes
    old = from_record(record)
    assert old.post_logout_redirect_uris == [] and old.frontchannel_logout_uri == ""
    assert old.backchannel_logout_uri == "" and old.frontchannel_logout_session_required is False
    assert old.backchannel_logout_session_required is False


def test_null_clears_and_absent_keeps() -> None:
    client = applied(LOGOUT)
    applied({"client_name": "renamed"}, client)
    assert client.backchannel_logout_uri == LOGOUT["backchannel_logout_uri"]
    applied({name: None for name in LOGOUT}, client)
    assert client.post_logout_redirect_uris == [] and client.frontchannel_logout_uri == ""
    assert client.backchannel_logout_uri == "" and client.backchannel_logout_session_required is False


def test_duplicates_collapse_but_nothing_is_rewritten() -> None:
    client = applied({"post_logout_redirect_uris": ["https://rp.example/a", "https://rp.example/a",
                                                    "https://rp.example/A"]})
    assert client.post_logout_redirect_uris == ["https://rp.example/a", "https://rp.example/A"]


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("javascript:alert(1)", "private-use scheme"),
        ("data:text/html,<b>x</b>", "post_logout_redirect_uris"),
        ("http://rp.example/bye", "must use https"),
        ("https://rp.example/bye#frag", "fragment"),
        ("/relative/bye", "absolute"),
        ("https:///no-host", "host"),
        ("https://rp.example/a b", "not a valid URI"),
        ("https://rp.example/" + "a" * 2000, "at most 2000"),
        ("", "non-empty"),
    ],
)
def test_bad_post_logout_redirect_uris(uri: str, match: str) -> None:
    refused({"post_logout_redirect_uris": ["https://rp.example/ok", uri]}, match)


def test_post_logout_redirect_uris_are_bounded_and_typed() -> None:
    refused({"post_logout_redirect_uris": [f"https://rp.example/{n}" for n in range(101)]}, "at most 100")
    applied({"post_logout_redirect_uris": [f"https://rp.example/{n}" for n in range(100)]})
    refused({"post_logout_redirect_uris": ["https://rp.example/a", 7]}, "post_logout_redirect_uris")
    refused({"post_logout_redirect_uris": "https://rp.example/a"}, "post_logout_redirect_uris")
    refused({"post_logout_redirect_uris": [None]}, "post_logout_redirect_uris")


@pytest.mark.parametrize(
    "uri",
    ["https://rp.example/front", "https://rp.example:8443/front?a=1&b=2", "http://localhost:3000/front",
     "http://127.0.0.1/front", "http://[::1]:8080/front"],
)
def test_good_frontchannel_uris(uri: str) -> None:
    assert applied({"frontchannel_logout_uri": uri}).frontchannel_logout_uri == uri


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("javascript:alert(1)", "https"),
        ("data:text/html,x", "https"),
        ("http://rp.example/front", "http is allowed for loopback hosts only"),
        ("https://rp.example/front#x", "fragment"),
        ("https://user:pw@rp.example/front", "user information"),
        ("//rp.example/front", "absolute"),
        ("https:/front", "host"),
        ("https://rp.example:99999/front", "not a valid URL"),
        ("https://rp.example/\u00e9", "absolute URI"),
        ("https://rp.example/" + "a" * 2000, "at most 2000"),
    ],
)
def test_bad_frontchannel_uris(uri: str, match: str) -> None:
    refused({"frontchannel_logout_uri": uri}, match)


@pytest.mark.parametrize("uri", ["https://rp.example/back", "https://rp.example:8443/back?tenant=1",
                                 "https://8.8.8.8/back", "https://[2001:4860:4860::8888]/back"])
def test_good_backchannel_uris(uri: str) -> None:
    assert applied({"backchannel_logout_uri": uri}).backchannel_logout_uri == uri


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("http://rp.example/back", "https"),
        ("javascript:alert(1)", "https"),
        ("https://rp.example/back#x", "fragment"),
        ("https://user:pw@rp.example/back", "user information"),
        ("https://localhost/back", "public host"),
        ("https://LOCALHOST./back", "public host"),
        ("https://api.localhost/back", "public host"),
        ("https://127.0.0.1/back", "public host"),
        ("http://127.0.0.1:9000/back", "public host"),
        ("https://127.1/back", "public host"),
        ("https://2130706433/back", "public host"),
        ("https://0x7f.0.0.1/back", "public host"),
        ("https://[::1]/back", "public host"),
        ("https://[::ffff:127.0.0.1]/back", "public host"),
        ("https://10.0.0.5/back", "private or reserved"),
        ("https://192.168.1.1/back", "private or reserved"),
        ("https://169.254.169.254/latest/meta-data", "private or reserved"),
        ("https://100.64.0.1/back", "private or reserved"),
        ("https://0.0.0.0/back", "private or reserved"),
        ("https://224.0.0.1/back", "private or reserved"),
        ("https://[fd00::1]/back", "private or reserved"),
        ("https://[fe80::1]/back", "private or reserved"),
        ("https://[::ffff:10.0.0.1]/back", "private or reserved"),
    ],
)
def test_bad_backchannel_uris(uri: str, match: str) -> None:
    refused({"backchannel_logout_uri": uri}, match)


def test_loopback_backchannel_only_with_fetch_allow_loopback(loopback_fetches: None) -> None:
    for uri in ("http://127.0.0.1:9000/back", "https://localhost/back", "http://[::1]:9000/back"):
        assert applied({"backchannel_logout_uri": uri}).backchannel_logout_uri == uri
    refused({"backchannel_logout_uri": "http://rp.example/back"}, "https")  # only loopback may be http
    refused({"backchannel_logout_uri": "https://10.0.0.5/back"}, "private or reserved")
    refused({"backchannel_logout_uri": "https://169.254.169.254/"}, "private or reserved")


@pytest.mark.parametrize("value", ["true", 1, 0, "yes", [], {}])
def test_flags_are_booleans(value: object) -> None:
    for name in ("frontchannel_logout_session_required", "backchannel_logout_session_required"):
        refused({name: value}, name)


def test_flags_outside_the_body_model_are_still_checked() -> None:
    client = Client(id="rp")
    with pytest.raises(BadRequest, match="true or false"):
        logout_metadata.apply(client, {"backchannel_logout_session_required": "true"})
    logout_metadata.apply(client, {"backchannel_logout_session_required": True})
    assert client.backchannel_logout_session_required is True


def test_a_refused_field_changes_nothing_on_the_client() -> None:
    client = applied(LOGOUT)
    before = dict(client.__dict__)
    updated = Client(**before)
    with pytest.raises(BadRequest):
        registry._apply(updated, _parse_body({"frontchannel_logout_uri": "https://rp.example/new",
                                              "backchannel_logout_uri": "http://10.0.0.1/x"}))
    assert client.__dict__ == before
