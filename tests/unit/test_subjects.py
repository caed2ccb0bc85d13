"""hydra_lambda.subjects: the pairwise identifier (OpenID Connect Core 8.1), the sector it is
computed for, and what a client write must pass. The sector document is not fetched here (the
fetcher is replaced); tests/integration/test_pairwise.py serves it over https."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from hydra_lambda import fetch, subjects
from hydra_lambda.clients.model import Client
from hydra_lambda.config import ConfigError, Settings, reset_settings
from hydra_lambda.errors import BadRequest

SALT = "unit-test-pairwise-salt-0123456789"


@pytest.fixture
def salted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SUBJECT_IDENTIFIERS_PAIRWISE_SALT", SALT)
    reset_settings()
    yield
    monkeypatch.delenv("SUBJECT_IDENTIFIERS_PAIRWISE_SALT")
    reset_settings()


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs fetched; each answers what ``documents`` holds for it (FetchError if nothing)."""
    calls: list[str] = []

    def fake(url: str, **options: Any) -> Any:
        calls.append(url)
        if url not in DOCUMENTS:
            raise fetch.FetchError("the document answered HTTP 404 (redirects are not followed)")
        return DOCUMENTS[url]

    monkeypatch.setattr(fetch, "fetch_json", fake)
    return calls


DOCUMENTS: dict[str, Any] = {
    "https://sector.example/ids.json": ["https://a.example/cb", "https://b.example/cb", "https://a.example/other"],
    "https://sector.example/object.json": {"redirect_uris": ["https://a.example/cb"]},
    "https://sector.example/numbers.json": ["https://a.example/cb", 7],
}


def pairwise(redirect_uris: list[str], sector_identifier_uri: str = "") -> Client:
    return Client(id="c", subject_type="pairwise", redirect_uris=redirect_uris,
                  sector_identifier_uri=sector_identifier_uri)


def test_the_identifier_is_hydras_sha256_of_sector_subject_and_salt() -> None:
    expected = hashlib.sha256(b"rp.example" + b"alice" + SALT.encode()).hexdigest()
    assert subjects.pairwise_id("rp.example", "alice", SALT) == expected
    assert subjects.pairwise_id("rp.example", "alice", SALT) == subjects.pairwise_id("rp.example", "alice", SALT)


def test_it_differs_per_sector_subject_and_salt_and_from_the_local_subject() -> None:
    base = subjects.pairwise_id("a.example", "alice", SALT)
    assert base != "alice"
    assert base != subjects.pairwise_id("b.example", "alice", SALT)
    assert base != subjects.pairwise_id("a.example", "bob", SALT)
    assert base != subjects.pairwise_id("a.example", "alice", SALT + "x")


def test_the_sector_is_the_redirect_host_or_the_sector_identifier_uris_host(salted: None) -> None:
    assert subjects.sector_identifier(pairwise(["https://A.Example:8443/cb", "https://a.example/x"])) == "a.example"
    shared = "https://sector.example/ids.json"
    one = pairwise(["https://a.example/cb"], shared)
    two = pairwise(["https://b.example/cb"], shared)
    assert subjects.sector_identifier(one) == subjects.sector_identifier(two) == "sector.example"
    assert subjects.pairwise_subject(one, "alice") == subjects.pairwise_subject(two, "alice")
    assert subjects.pairwise_subject(one, "alice") != subjects.pairwise_subject(pairwise(["https://a.example/cb"]),
                                                                                "alice")


@pytest.mark.parametrize("uris", [["https://a.example/cb", "https://b.example/cb"], [], ["com.example.app:/cb"]])
def test_no_single_sector_means_no_pairwise_identifier(salted: None, uris: list[str]) -> None:
    with pytest.raises(subjects.PairwiseUnavailable, match="sector"):
        subjects.pairwise_subject(pairwise(uris), "alice")


def test_a_public_client_sees_the_local_subject(salted: None) -> None:
    assert subjects.pairwise_subject(Client(id="c", redirect_uris=["https://a.example/cb"]), "alice") == ""


def test_without_a_salt_a_pairwise_client_gets_no_subject() -> None:
    client = pairwise(["https://a.example/cb"])
    with pytest.raises(subjects.PairwiseUnavailable, match="SUBJECT_IDENTIFIERS_PAIRWISE_SALT"):
        subjects.pairwise_subject(client, "alice")
    with pytest.raises(subjects.PairwiseUnavailable):
        subjects.check_servable(client)
    subjects.check_servable(Client(id="public"))


def test_registration_without_a_salt_refuses_pairwise() -> None:
    with pytest.raises(BadRequest, match="no pairwise salt") as raised:
        subjects.check_registration(pairwise(["https://a.example/cb"]))
    assert raised.value.reason.startswith("invalid_client_metadata")
    subjects.check_registration(Client(id="public", redirect_uris=["https://a.example/cb", "https://b.example/cb"]))


def test_registration_checks_the_sector_document(salted: None, fetched: list[str]) -> None:
    good = pairwise(["https://a.example/cb", "https://b.example/cb"], "https://sector.example/ids.json")
    subjects.check_registration(good)
    assert fetched == ["https://sector.example/ids.json"]
    cases = {
        "https://sector.example/missing.json": "could not be fetched",
        "https://sector.example/object.json": "JSON array",
        "https://sector.example/numbers.json": "JSON array",
    }
    for uri, why in cases.items():
        with pytest.raises(BadRequest, match=why):
            subjects.check_registration(pairwise(["https://a.example/cb"], uri))
    with pytest.raises(BadRequest, match=r"does not list the redirect URI 'https://c\.example/cb'"):
        subjects.check_registration(pairwise(["https://a.example/cb", "https://c.example/cb"],
                                             "https://sector.example/ids.json"))
    with pytest.raises(BadRequest, match="https"):
        subjects.check_registration(pairwise(["https://a.example/cb"], "http://127.0.0.1/ids.json"))
    assert "http://127.0.0.1/ids.json" not in fetched  # refused before any fetch


def test_an_update_fetches_only_when_the_sector_may_have_changed(salted: None, fetched: list[str]) -> None:
    before = pairwise(["https://a.example/cb"], "https://sector.example/ids.json")
    renamed = pairwise(["https://a.example/cb"], "https://sector.example/ids.json")
    renamed.client_name = "renamed"
    subjects.check_registration(renamed, before)
    assert fetched == []
    subjects.check_registration(pairwise(["https://a.example/cb", "https://b.example/cb"],
                                         "https://sector.example/ids.json"), before)
    assert fetched == ["https://sector.example/ids.json"]
    stored_public = Client(id="c", redirect_uris=["https://a.example/cb"],
                           sector_identifier_uri="https://sector.example/ids.json")
    subjects.check_registration(before, stored_public)  # turning pairwise: checked again
    assert len(fetched) == 2
    # A public client's sector_identifier_uri is checked too: the document is the client's own claim.
    with pytest.raises(BadRequest, match="could not be fetched"):
        subjects.check_registration(Client(id="p", redirect_uris=["https://a.example/cb"],
                                           sector_identifier_uri="https://sector.example/missing.json"))


@pytest.mark.parametrize("value", ["short", "fifteen-chars!!"])
def test_a_short_salt_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigError, match="SUBJECT_IDENTIFIERS_PAIRWISE_SALT") as raised:
        Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "x", "SUBJECT_IDENTIFIERS_PAIRWISE_SALT": value})
    assert value not in str(raised.value)  # a secret: never echoed
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "x",
                              "SUBJECT_IDENTIFIERS_PAIRWISE_SALT": "x" * 16}).pairwise_subjects


def test_the_local_server_derives_a_salt_unless_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda_local.backends import local_pairwise_salt

    monkeypatch.setenv("SYSTEM_SECRET", "local-system-secret-0123456789")
    monkeypatch.setenv("SUBJECT_IDENTIFIERS_PAIRWISE_SALT", "recorded")  # so that the teardown unsets it
    monkeypatch.delenv("SUBJECT_IDENTIFIERS_PAIRWISE_SALT")
    local_pairwise_salt()
    derived = Settings.from_env().subject_identifiers_pairwise_salt
    assert len(derived) == 64 and "local-system-secret" not in derived
    local_pairwise_salt()
    assert Settings.from_env().subject_identifiers_pairwise_salt == derived  # stable for one system secret
    monkeypatch.setenv("SUBJECT_IDENTIFIERS_PAIRWISE_SALT", "")  # set, even empty: left alone (pairwise off)
    local_pairwise_salt()
    assert not Settings.from_env().pairwise_subjects
