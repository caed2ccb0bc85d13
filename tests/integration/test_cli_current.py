"""The current ``hydra`` CLI's habits (issue 26): ``create|get|list|delete client``, ``perform
client-credentials``, ``perform authorization-code`` (a local callback server; the browser played by a
thread), ``introspect token``, ``revoke token``, with ``--endpoint`` and ``--format``, against one local
server: the admin commands with the root client's credentials on the public port, and without any
on the admin port (Hydra's habit). Errors are one clear line and a non-zero exit. In process
(``cli.main``) to stay cheap."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hydra_lambda_local import cli

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, admin_token, free_port, unique

pytestmark = pytest.mark.e2e

ROOT = ["--client-id", ROOT_CLIENT_ID, "--client-secret", ROOT_CLIENT_SECRET]


@pytest.fixture(scope="module")
def server(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    instance = LocalServer({**aws, "ADMIN_PORT": str(free_port())})
    assert instance.admin_url
    yield instance
    instance.stop()


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HYDRA_URL", "HYDRA_CLIENT_ID", "HYDRA_CLIENT_SECRET", "OAUTH2_CLIENT_ID", "OAUTH2_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ok_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1  # json: one line
    return json.loads(out)


def failed(capsys: pytest.CaptureFixture[str], *argv: str, exit_code: int = 1) -> str:
    code, out, err = run(capsys, *argv)
    assert code == exit_code, (code, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def _new_client(capsys: pytest.CaptureFixture[str], server: LocalServer, *flags: str) -> dict[str, Any]:
    return ok_json(capsys, "create", "client", "--endpoint", server.url, *ROOT, *flags)


# ---------------------------------------------------------------------------------------------
# Clients


def test_create_get_list_delete_with_the_root_clients_token(capsys: pytest.CaptureFixture[str],
                                                            server: LocalServer) -> None:
    created = _new_client(capsys, server, "-n", "cli app", "-g", "client_credentials", "--scope", "a,b",
                          "--audience", "https://api.example", "--skip-consent", "--metadata", '{"team":"x"}')
    assert "id" not in created and created["client_id"] and created["client_secret"]
    assert (created["client_name"], created["scope"], created["grant_types"]) == ("cli app", "a b",
                                                                                   ["client_credentials"])
    assert created["audience"] == ["https://api.example"] and created["skip_consent"] is True
    assert created["metadata"] == {"team": "x"}
    got = ok_json(capsys, "get", "client", created["client_id"], "--endpoint", server.url, *ROOT)
    assert "id" not in got and "client_secret" not in got and got["client_id"] == created["client_id"]
    code, table, _ = run(capsys, "get", "client", created["client_id"], "--endpoint", server.url, *ROOT)
    assert code == 0 and table.splitlines()[0].split() == ["CLIENT", "ID", created["client_id"]]
    assert "CLIENT SECRET" in table and "GRANT TYPES" in table and "client_credentials" in table
    assert ok_json(capsys, "delete", "client", created["client_id"], "--endpoint", server.url, *ROOT) == [
        created["client_id"]]
    err = failed(capsys, "get", "client", created["client_id"], "--endpoint", server.url, *ROOT)
    assert f"OAuth 2.0 client '{created['client_id']}' does not exist" in err


def test_the_admin_port_needs_no_credentials_and_lists_page_by_page(capsys: pytest.CaptureFixture[str],
                                                                    server: LocalServer) -> None:
    admin = ["--endpoint", server.admin_url]
    name = unique("paged")
    ids = [ok_json(capsys, "create", "client", *admin, "-n", name, "-g", "client_credentials")["client_id"]
           for _ in range(2)]
    first = ok_json(capsys, "list", "clients", *admin, "--page-size", "1")
    assert len(first["items"]) == 1 and first["is_last_page"] is False and first["next_page_token"]
    assert "id" not in first["items"][0]
    second = ok_json(capsys, "list", "clients", *admin, "--page-size", "1", "--page-token", first["next_page_token"])
    assert second["items"][0]["client_id"] != first["items"][0]["client_id"]
    everything = ok_json(capsys, "list", "oauth2-clients", *admin, "--page-size", "500")
    assert set(ids) <= {client["client_id"] for client in everything["items"]}
    code, table, _ = run(capsys, "list", "clients", *admin, "--page-size", "1")
    assert code == 0 and table.splitlines()[0].startswith("CLIENT ID") and "NEXT PAGE TOKEN" in table
    failed(capsys, "list", "clients", *admin, "--page-token", "not-ours", exit_code=2)


def test_deleting_an_unknown_client_says_so_and_still_deletes_the_others(capsys: pytest.CaptureFixture[str],
                                                                         server: LocalServer) -> None:
    known = _new_client(capsys, server, "-g", "client_credentials")["client_id"]
    code, out, err = run(capsys, "delete", "client", "no-such-client", known, "--endpoint", server.url, *ROOT)
    assert code == 1 and out.strip() == known
    assert "OAuth 2.0 client 'no-such-client' does not exist" in err and "Traceback" not in err
    assert "does not exist" in failed(capsys, "get", "client", known, "--endpoint", server.admin_url)


def test_bad_input_is_refused_with_the_servers_reason(capsys: pytest.CaptureFixture[str], server: LocalServer) -> None:
    err = failed(capsys, "create", "client", "--endpoint", server.url, *ROOT, "-c", "not a uri")
    assert "HTTP 400" in err
    assert "not JSON" in failed(capsys, "create", "client", "--endpoint", server.url, *ROOT, "--metadata", "{",
                                exit_code=2)
    assert "refused a token" in failed(capsys, "get", "client", "x", "--endpoint", server.url,
                                       "--client-id", ROOT_CLIENT_ID, "--client-secret", "wrong-secret-123")
    assert "HTTP 401" in failed(capsys, "list", "clients", "--endpoint", server.url)  # public API: a token needed


# ---------------------------------------------------------------------------------------------
# Tokens


def test_client_credentials_introspect_and_revoke(capsys: pytest.CaptureFixture[str], server: LocalServer) -> None:
    app = _new_client(capsys, server, "-g", "client_credentials", "--scope", "photos.read")
    mine = ["--endpoint", server.url, "--client-id", app["client_id"], "--client-secret", app["client_secret"]]
    token = ok_json(capsys, "perform", "client-credentials", *mine, "--scope", "photos.read")
    assert token["access_token"] and token["scope"] == "photos.read" and token["token_type"].lower() == "bearer"
    code, table, _ = run(capsys, "perform", "client-credentials", *mine)
    assert code == 0 and table.startswith("ACCESS TOKEN") and "EXPIRY" in table
    live = ok_json(capsys, "introspect", "token", token["access_token"], "--endpoint", server.url, *ROOT)
    assert live["active"] is True and live["client_id"] == app["client_id"]
    on_admin_port = ok_json(capsys, "introspect", "token", token["access_token"], "--endpoint", server.admin_url)
    assert on_admin_port["active"] is True
    code, table, _ = run(capsys, "introspect", "token", token["access_token"], "--endpoint", server.admin_url)
    assert code == 0 and table.splitlines()[0].split() == ["ACTIVE", "true"]
    code, out, _ = run(capsys, "revoke", "token", token["access_token"], *mine)
    assert code == 0 and token["access_token"] not in out
    dead = ok_json(capsys, "introspect", "token", token["access_token"], "--endpoint", server.admin_url)
    assert dead == {"active": False}
    assert "--client-secret" in failed(capsys, "revoke", "token", "x", "--endpoint", server.url, exit_code=2)
    wrong = failed(capsys, "perform", "client-credentials", "--endpoint", server.url, "--client-id",
                   app["client_id"], "--client-secret", "not-the-secret")
    assert "HTTP 401" in wrong and "invalid_client" in wrong


def test_hydras_oauth2_client_environment_names(capsys: pytest.CaptureFixture[str], server: LocalServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    app = _new_client(capsys, server, "-g", "client_credentials")
    monkeypatch.setenv("OAUTH2_CLIENT_ID", app["client_id"])
    monkeypatch.setenv("OAUTH2_CLIENT_SECRET", app["client_secret"])
    assert ok_json(capsys, "perform", "client-credentials", "--endpoint", server.url)["access_token"]


def _play_browser(server: LocalServer, url: str, headers: dict[str, str], done: list[str]) -> None:
    """The user: the classic consent flow (the test's consent app accepts through the admin API),
    then the browser follows the callback to the CLI's server."""
    browser = requests.Session()
    first = browser.get(url, allow_redirects=False, timeout=10)
    consent_id = parse_qs(urlsplit(first.headers["Location"]).query)["consent"][0]
    accepted = requests.patch(f"{server.url}/oauth2/consent/requests/{consent_id}/accept", headers=headers,
                              json={"subject": "alice", "grantScopes": ["openid", "offline_access"]}, timeout=10)
    assert accepted.status_code == 204, accepted.text
    request = requests.get(f"{server.url}/oauth2/consent/requests/{consent_id}", headers=headers, timeout=10).json()
    back = browser.get(request["redirectUrl"], allow_redirects=False, timeout=10)
    callback = browser.get(back.headers["Location"], timeout=10)
    done.append(str(callback.status_code))


def test_perform_authorization_code_signs_in_through_the_callback_server(
    capsys: pytest.CaptureFixture[str], server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    app = _new_client(capsys, server, "-g", "authorization_code,refresh_token", "-r", "code", "-c",
                      f"http://127.0.0.1:{port}/callback", "--scope", "openid offline_access")
    done: list[str] = []
    headers = {"Authorization": f"Bearer {admin_token('hydra.consent')}"}  # the consent app's
    capsys.readouterr()

    def open_browser(url: str) -> bool:
        assert url.startswith(f"{server.url}/oauth2/auth?") and "code_challenge=" in url and "state=" in url
        threading.Thread(target=_play_browser, args=(server, url, headers, done), daemon=True).start()
        return True

    monkeypatch.setattr("hydra_lambda_local.user_token.webbrowser.open", open_browser)
    token = ok_json(capsys, "perform", "authorization-code", "--endpoint", server.url, "--client-id",
                    app["client_id"], "--client-secret", app["client_secret"], "--port", str(port), "--timeout", "60")
    assert token["access_token"] and token["refresh_token"] and token["id_token"] and done == ["200"]
    unknown = failed(capsys, "perform", "authorization-code", "--endpoint", server.url, "--client-id", "no-such-app",
                     "--port", str(free_port()), "--no-open", "--timeout", "5")
    assert "refused" in unknown
