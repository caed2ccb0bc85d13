"""The admin API over HTTP against ``hydra-lambda serve``, driven by real OAuth client libraries and by
the ``hydra-lambda clients`` command."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
import requests

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer
from tests.support_admin import service_client, unique

pytestmark = pytest.mark.e2e


@pytest.fixture
def insecure_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local server speaks plain http on loopback; both libraries refuse that unless told."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def authlib_session(server: LocalServer, insecure_ok: None) -> Iterator[object]:
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, scope="hydra.clients",
                            token_endpoint_auth_method="client_secret_basic")
    token = session.fetch_token(f"{server.url}/oauth2/token", grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer" and token["scope"] == "hydra.clients"
    yield session
    session.close()


def test_authlib_client_credentials_then_full_client_lifecycle(server: LocalServer, authlib_session: object) -> None:
    session = authlib_session
    base = f"{server.url}/clients"
    created = session.post(base, json={"client_name": "e2e", "redirect_uris": ["https://e2e.example/cb"],
                                       "grant_types": ["client_credentials"], "scope": "e2e.*"})
    assert created.status_code == 201, created.text
    client = created.json()
    assert created.headers["Location"] == f"/clients/{client['id']}"
    assert created.headers["Content-Type"].startswith("application/json")
    secret = client["client_secret"]

    fetched = session.get(f"{base}/{client['id']}")
    assert fetched.status_code == 200 and "client_secret" not in fetched.json()
    listed = session.get(base, params={"limit": 500})
    assert listed.status_code == 200 and client["id"] in [c["id"] for c in listed.json()]
    assert secret not in listed.text
    paged = session.get(base, params={"limit": 1})
    assert paged.status_code == 200 and len(paged.json()) == 1 and 'rel="next"' in paged.headers["Link"]

    # The new client gets its own token from the running server with client_secret_post.
    own = requests.post(f"{server.url}/oauth2/token", timeout=10,
                        data={"grant_type": "client_credentials", "scope": "e2e.read",
                              "client_id": client["id"], "client_secret": secret})
    assert own.status_code == 200 and own.json()["scope"] == "e2e.read"
    assert own.headers["Cache-Control"] == "no-store" and own.headers["Pragma"] == "no-cache"

    updated = session.put(f"{base}/{client['id']}", json={"client_name": "renamed", "contacts": ["ops@e2e.example"]})
    assert updated.status_code == 200 and updated.json()["client_name"] == "renamed"
    assert updated.json()["scope"] == "e2e.*"

    assert session.delete(f"{base}/{client['id']}").status_code == 204
    assert session.get(f"{base}/{client['id']}").status_code == 404
    revoked = requests.get(base, headers={"Authorization": f"Bearer {own.json()['access_token']}"}, timeout=10)
    assert revoked.status_code == 401  # its tokens died with it
    again = requests.post(f"{server.url}/oauth2/token", timeout=10,
                          data={"grant_type": "client_credentials", "client_id": client["id"],
                                "client_secret": secret})
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in again.headers


def test_requests_oauthlib_backend_application_client(server: LocalServer, insecure_ok: None) -> None:
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session

    session = OAuth2Session(client=BackendApplicationClient(client_id=ROOT_CLIENT_ID), scope=["hydra.clients"])
    token = session.fetch_token(f"{server.url}/oauth2/token", client_id=ROOT_CLIENT_ID,
                                client_secret=ROOT_CLIENT_SECRET, scope=["hydra.clients"])
    assert token["access_token"].startswith("hl_at_")
    response = session.get(f"{server.url}/clients")
    assert response.status_code == 200 and ROOT_CLIENT_ID in [c["id"] for c in response.json()]


def test_error_statuses_over_http(server: LocalServer, authlib_session: object) -> None:
    session = authlib_session
    base = f"{server.url}/clients"

    def error_of(response: requests.Response) -> dict[str, object]:
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()["error"]

    anonymous = requests.get(base, timeout=10)
    assert anonymous.status_code == 401 and error_of(anonymous)["message"] == "request_unauthorized"
    assert requests.get(base, headers={"Authorization": "Bearer hl_at_x.y"}, timeout=10).status_code == 401

    narrow = requests.post(f"{server.url}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), timeout=10,
                           data={"grant_type": "client_credentials", "scope": "openid"}).json()["access_token"]
    wrong_scope = requests.get(base, headers={"Authorization": f"Bearer {narrow}"}, timeout=10)
    assert wrong_scope.status_code == 403 and error_of(wrong_scope)["message"] == "insufficient_scope"

    svc_id, svc_secret = service_client()
    svc = requests.post(f"{server.url}/oauth2/token", auth=(svc_id, svc_secret), timeout=10,
                        data={"grant_type": "client_credentials", "scope": "hydra.clients"}).json()["access_token"]
    denied = requests.get(base, headers={"Authorization": f"Bearer {svc}"}, timeout=10)
    assert denied.status_code == 403 and str(error_of(denied)["message"]).startswith("Request was denied by default")

    assert session.get(f"{base}/{unique()}").status_code == 404
    assert session.put(f"{base}/{unique()}", json={"client_name": "x"}).status_code == 404
    assert session.delete(f"{base}/{unique()}").status_code == 404
    invalid = session.post(base, json={"redirect_uris": ["http://not-loopback.example/cb"]})
    assert invalid.status_code == 400 and "https" in str(error_of(invalid)["message"])
    assert session.post(base, json={"colour": "blue"}).status_code == 400
    assert session.post(base, data="{", headers={"Content-Type": "application/json"}).status_code == 400
    taken = session.post(base, json={"id": ROOT_CLIENT_ID})
    assert taken.status_code == 409
    wrong_method = session.patch(base)
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]

    bad_grant = requests.post(f"{server.url}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), timeout=10,
                              data={"grant_type": "urn:example:nope"})
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "unsupported_grant_type"
    bad_scope = requests.post(f"{server.url}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), timeout=10,
                              data={"grant_type": "client_credentials", "scope": "nothing.allowed"})
    assert bad_scope.status_code == 400 and bad_scope.json()["error"] == "invalid_scope"
    assert ROOT_CLIENT_SECRET not in server.output()


def test_clients_cli_drives_the_http_api(server: LocalServer, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from hydra_lambda_local.cli import main

    monkeypatch.setenv("HYDRA_CLIENT_ID", ROOT_CLIENT_ID)
    monkeypatch.setenv("HYDRA_CLIENT_SECRET", ROOT_CLIENT_SECRET)
    common = ["clients", "--endpoint", server.url]
    client_id = unique("cli")
    assert main([*common, "create", "--id", client_id, "-n", "From the CLI", "-c", "https://cli.example/cb",
                 "-g", "client_credentials,authorization_code", "-a", "cli.read", "-a", "cli.write"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["id"] == client_id and created["client_secret"]
    assert created["grant_types"] == ["client_credentials", "authorization_code"]
    assert created["scope"] == "cli.read cli.write"
    assert main([*common, "get", client_id]) == 0
    assert "client_secret" not in json.loads(capsys.readouterr().out)
    assert main([*common, "list", "--limit", "500"]) == 0
    assert client_id in [c["id"] for c in json.loads(capsys.readouterr().out)]
    assert main([*common, "create", "--id", client_id]) == 1
    assert "409" in capsys.readouterr().err
    assert main([*common, "delete", client_id]) == 0
    assert main([*common, "get", client_id]) == 1
    assert "404" in capsys.readouterr().err
    monkeypatch.setenv("HYDRA_CLIENT_SECRET", "wrong-secret")
    assert main([*common, "list"]) == 1
    assert "invalid_client" in capsys.readouterr().err
    monkeypatch.delenv("HYDRA_CLIENT_ID")
    assert main([*common, "list"]) == 2


@pytest.mark.parametrize("suffix", [":app:x", "%2Fx", "+a@b=c", "%25", "~!$&'()*,;"])
def test_an_id_is_decoded_once_from_the_path_and_its_location_works(server: LocalServer, authlib_session: object,
                                                                    suffix: str) -> None:
    # API Gateway HTTP APIs hand the path on percent-decoded once; the local server does the same.
    session = authlib_session
    client_id = "urn" + unique("") + suffix
    created = session.post(f"{server.url}/clients", json={"id": client_id, "grant_types": ["client_credentials"]})
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    fetched = session.get(server.url + location)
    assert fetched.status_code == 200, (location, fetched.text)
    assert fetched.json()["id"] == client_id
    updated = session.put(server.url + location, json={"client_name": "renamed"})
    assert updated.status_code == 200 and updated.json()["id"] == client_id
    assert session.delete(server.url + location).status_code == 204
    assert session.get(server.url + location).status_code == 404


@pytest.mark.parametrize("client_id", ["a?b", "a#b", "a/b", "a b"])
def test_an_id_the_api_could_not_route_is_refused_at_create_time(server: LocalServer, authlib_session: object,
                                                                 client_id: str) -> None:
    created = authlib_session.post(f"{server.url}/clients", json={"id": client_id})  # type: ignore[attr-defined]
    assert created.status_code == 400, created.text
    assert "'?' or '#'" in created.json()["error"]["reason"] + created.json()["error"]["message"]


def test_the_clients_cli_reaches_an_id_with_reserved_characters(server: LocalServer, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from hydra_lambda_local.cli import main

    monkeypatch.setenv("HYDRA_CLIENT_ID", ROOT_CLIENT_ID)
    monkeypatch.setenv("HYDRA_CLIENT_SECRET", ROOT_CLIENT_SECRET)
    common = ["clients", "--endpoint", server.url]
    client_id = "urn:cli:" + unique("x") + ":50%"
    assert main([*common, "create", "--id", client_id, "-g", "client_credentials"]) == 0
    capsys.readouterr()
    assert main([*common, "get", client_id]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == client_id
    assert main([*common, "delete", client_id]) == 0


def test_serve_prints_new_root_credentials_once(aws: dict[str, str]) -> None:
    """A fresh installation (embedded backends): the root client's credentials are printed at start."""
    fresh = {**aws, "DYNAMODB_ENDPOINT": "", "KMS_ENDPOINT": "", "SECRETSMANAGER_ENDPOINT": "", "SIGNING_KEYS": "",
             "FORCE_ROOT_CLIENT_CREDENTIALS": ""}
    instance = LocalServer(fresh)
    try:
        output = instance.output()
        found = re.search(r"export HYDRA_URL=(\S+) HYDRA_CLIENT_ID=(\S+) HYDRA_CLIENT_SECRET=(\S+)\n", output)
        assert found, output
        url, client_id, secret = (unquote(part) for part in found.groups())
        assert url == instance.url
        assert re.search(r"^  \. \S+/bin/activate$", output, re.MULTILINE), output  # the CLI on the PATH
        token = requests.post(f"{instance.url}/oauth2/token", auth=(client_id, secret), timeout=10,
                              data={"grant_type": "client_credentials", "scope": "hydra.clients"})
        assert token.status_code == 200
        listed = requests.get(f"{instance.url}/clients", timeout=10,
                              headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert listed.status_code == 200 and client_id in [c["id"] for c in listed.json()]
        assert output.count(secret) == 1
    finally:
        instance.stop()


def test_serve_does_not_hand_out_forced_credentials_that_do_not_work(aws: dict[str, str]) -> None:
    """FORCE_ROOT_CLIENT_CREDENTIALS only applies at a first start: on tables that already have their root
    client, the printed lines must not tell the operator to use credentials that get 401."""
    forced = f"{unique('late-admin')}:late-secret-123"
    instance = LocalServer({**aws, "FORCE_ROOT_CLIENT_CREDENTIALS": forced})
    try:
        output = instance.output()
        assert "HYDRA_CLIENT_ID=" + forced.split(":")[0] not in output, output
        assert "FORCE_ROOT_CLIENT_CREDENTIALS" in output and "first start" in output, output
    finally:
        instance.stop()
