"""The ``hydra-lambda`` CLI as a user runs it: a separate process that only speaks HTTP to a running
``hydra-lambda serve`` (with the example consent app), including ``token user`` with a headless
Chromium standing in for the person. Errors must be one line on stderr and a non-zero exit.

The policies, groups and keys commands are driven in tests/integration/test_cli_admin_apis.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, free_port, serve_with_consent_app
from tests.support_admin import unique

pytestmark = pytest.mark.e2e

# Only what a user's shell would hold: no AWS settings, so the CLI cannot reach the tables directly.
USER_ENV = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}


@pytest.fixture(scope="module")
def stack(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[tuple[LocalServer, str]]:
    """``hydra-lambda serve`` with the consent app on a free port."""
    server, consent_url = serve_with_consent_app(aws)
    yield server, consent_url
    server.stop()


def run(*args: str, server: LocalServer | None = None, secret: str = ROOT_CLIENT_SECRET,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``hydra-lambda ARGS`` with HYDRA_URL and the root client's credentials in the environment."""
    env = dict(USER_ENV)
    if server is not None:
        env |= {"HYDRA_URL": server.url, "HYDRA_CLIENT_ID": ROOT_CLIENT_ID, "HYDRA_CLIENT_SECRET": secret}
    return subprocess.run([sys.executable, "-m", "hydra_lambda_local.cli", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The command failed with ``code``, one line on stderr, no traceback, nothing on stdout."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hydra-lambda: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    return lines[0]


def test_clients_commands_over_http(stack: tuple[LocalServer, str]) -> None:
    server, _ = stack
    client_id = unique("cli")
    created = ok(run("clients", "create", "--id", client_id, "-n", "Printer", "-c", "https://printer.example/cb",
                     "-g", "authorization_code,refresh_token", "-r", "code", "-a", "openid", "-a", "offline",
                     "--policy-uri", "https://printer.example/privacy", server=server))
    assert created["id"] == client_id and created["client_secret"]
    assert created["grant_types"] == ["authorization_code", "refresh_token"] and created["scope"] == "openid offline"
    fetched = ok(run("clients", "get", client_id, server=server))
    assert fetched["client_name"] == "Printer" and "client_secret" not in fetched
    assert client_id in [c["id"] for c in ok(run("clients", "list", "--limit", "500", server=server))]
    updated = ok(run("clients", "update", client_id, "-n", "Photo printer", server=server))
    assert updated["client_name"] == "Photo printer"
    assert updated["redirect_uris"] == ["https://printer.example/cb"]  # the other fields are kept
    assert updated["policy_uri"] == "https://printer.example/privacy"
    deleted = run("clients", "delete", client_id, server=server)
    assert deleted.returncode == 0 and client_id in deleted.stdout
    assert "404" in one_line_error(run("clients", "get", client_id, server=server))


def test_clients_create_from_a_file_on_stdin(stack: tuple[LocalServer, str]) -> None:
    server, _ = stack
    document = {"id": unique("file"), "grant_types": ["client_credentials"], "scope": "cli.read"}
    created = ok(run("clients", "create", "--file", "-", server=server, stdin=json.dumps(document)))
    assert created["id"] == document["id"] and created["scope"] == "cli.read"
    assert run("clients", "delete", document["id"], server=server).returncode == 0


def test_options_go_before_or_after_the_subcommand(stack: tuple[LocalServer, str]) -> None:
    server, _ = stack
    credentials = ["--endpoint", server.url, "--client-id", ROOT_CLIENT_ID, "--client-secret", ROOT_CLIENT_SECRET]
    for argv in ([*credentials, "clients", "list"], ["clients", *credentials, "list"],
                 ["clients", "list", *credentials], ["--endpoint", server.url, "clients", "list",
                                                     "--client-id", ROOT_CLIENT_ID,
                                                     "--client-secret", ROOT_CLIENT_SECRET]):
        listed = ok(run(*argv))  # no HYDRA_* in the environment: only the options
        assert ROOT_CLIENT_ID in [c["id"] for c in listed], argv
    # An option given after the subcommand wins over the same one before it (argparse order).
    wrong_first = run("--client-secret", "wrong", "clients", "list", "--endpoint", server.url,
                      "--client-id", ROOT_CLIENT_ID, "--client-secret", ROOT_CLIENT_SECRET)
    assert wrong_first.returncode == 0, wrong_first.stderr


def test_token_client_prints_a_working_access_token(stack: tuple[LocalServer, str]) -> None:
    server, _ = stack
    result = run("token", "client", "--scope", "hydra.clients", server=server)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert len(result.stdout.splitlines()) == 1 and token
    listed = requests.get(f"{server.url}/clients", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert listed.status_code == 200 and ROOT_CLIENT_ID in [c["id"] for c in listed.json()]
    assert "invalid_scope" in one_line_error(run("token", "client", "--scope", "not.granted", server=server))


def test_token_flush(stack: tuple[LocalServer, str]) -> None:
    server, _ = stack
    result = run("token", "flush", server=server)
    assert result.returncode == 0, result.stderr
    assert "notAfter" in one_line_error(run("token", "flush", "--not-after", "not a date", server=server))


def test_errors_are_one_line(stack: tuple[LocalServer, str]) -> None:
    server, _ = stack
    wrong = one_line_error(run("clients", "list", server=server, secret="not-the-secret"))
    assert "invalid_client" in wrong and "not-the-secret" not in wrong
    unreachable = one_line_error(run("clients", "list", "--endpoint", f"http://127.0.0.1:{free_port()}",
                                     "--client-id", "x", "--client-secret", "y"))
    assert "cannot reach" in unreachable
    missing = one_line_error(run("clients", "list", "--endpoint", server.url), code=2)
    assert "HYDRA_CLIENT_ID" in missing
    refused = one_line_error(run("clients", "create", "-c", "http://not-loopback.example/cb", server=server))
    assert "400" in refused and "https" in refused  # the admin error's own message
    taken = one_line_error(run("clients", "create", "--id", ROOT_CLIENT_ID, server=server))
    assert "409" in taken
    not_json = one_line_error(run("clients", "create", "--file", "-", server=server, stdin="{"), code=2)
    assert "not JSON" in not_json
    no_file = one_line_error(run("clients", "create", "--file", "/nonexistent/x.json", server=server), code=2)
    assert "cannot read" in no_file
    # Not a hydra-lambda API: an HTML 404 page from some other server.
    other = one_line_error(run("clients", "list", "--endpoint", f"{stack[1].rsplit('/', 1)[0]}/nowhere",
                               "--client-id", "x", "--client-secret", "y"))
    assert other.startswith("hydra-lambda: ")


def test_token_user_through_the_browser_and_the_consent_app(stack: tuple[LocalServer, str], chromium: Any) -> None:
    """The classic ``token user``: a callback server on the loopback address, the sign-in page in the
    browser (PKCE S256 and state), the consent app's form, the code exchanged, the tokens printed."""
    server, consent_url = stack
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    client = ok(run("clients", "create", "--id", unique("user"), "-n", "Terminal app", "-c", redirect_uri,
                    "-g", "authorization_code", "-g", "refresh_token", "-r", "code", "-a", "openid offline",
                    server=server))
    env = {**USER_ENV, "HYDRA_URL": server.url, "HYDRA_CLIENT_ID": client["id"],
           "HYDRA_CLIENT_SECRET": client["client_secret"]}
    process = subprocess.Popen(
        [sys.executable, "-m", "hydra_lambda_local.cli", "token", "user", "--no-open", "--redirect-uri", redirect_uri],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = _address_printed(process)
        assert url.startswith(f"{server.url}/oauth2/auth?")
        assert "code_challenge_method=S256" in url and "code_challenge=" in url and "state=" in url
        page = chromium.new_page()
        page.goto(url)
        assert page.url.startswith(consent_url + "?consent=")
        assert page.locator("#client-name").inner_text() == "Terminal app"
        page.fill("#username", "alice")
        page.fill("#password", "alice-password")
        with page.expect_navigation(url=lambda landed: landed.startswith(redirect_uri)):
            page.click("#accept")
        assert page.locator("#result").inner_text() == "Signed in"
        page.close()
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    tokens = json.loads(out)
    assert tokens["access_token"] and tokens["refresh_token"] and tokens["id_token"]
    assert set(tokens["scope"].split()) == {"openid", "offline"}
    introspected = requests.post(f"{server.url}/oauth2/introspect", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                                 data={"token": tokens["access_token"]}, timeout=10).json()
    assert introspected["active"] is True and introspected["sub"] == "alice"
    assert client["client_secret"] not in out + err


def test_token_user_ignores_a_callback_with_another_state(stack: tuple[LocalServer, str]) -> None:
    server, _ = stack
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    client = ok(run("clients", "create", "-c", redirect_uri, "-g", "authorization_code,refresh_token", "-r", "code",
                    "-a", "openid offline", server=server))
    env = {**USER_ENV, "HYDRA_URL": server.url, "HYDRA_CLIENT_ID": client["id"],
           "HYDRA_CLIENT_SECRET": client["client_secret"]}
    process = subprocess.Popen(
        [sys.executable, "-m", "hydra_lambda_local.cli", "token", "user", "--no-open", "--redirect-uri", redirect_uri],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address = _address_printed(process)
        forged = requests.get(redirect_uri, params={"code": "attacker-code", "state": "attacker-state"}, timeout=10)
        assert forged.status_code == 400  # refused, and it does not end the sign-in in progress
        assert process.poll() is None
        # The real answer (here a refusal, so no browser is needed) is still taken.
        state = parse_qs(urlsplit(address).query)["state"][0]
        real = requests.get(redirect_uri, params={"error": "access_denied", "state": state}, timeout=10)
        assert real.status_code == 200
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("hydra-lambda: ")]
    assert len(lines) == 1 and "authorization refused: access_denied" in lines[0] and "Traceback" not in err


def _address_printed(process: subprocess.Popen[str]) -> str:
    """The sign-in address ``token user --no-open`` prints on stderr (read on a thread, with a timeout)."""
    found: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if line.strip().startswith("http"):
                found.append(line.strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    assert found, "token user printed no address"
    return found[0]


def test_a_second_serve_on_a_busy_port_stops_before_creating_anything(stack: tuple[LocalServer, str]) -> None:
    server, _ = stack
    result = subprocess.run(
        [sys.executable, "-m", "hydra_lambda_local.cli", "serve", "--port", str(server.port)],
        cwd=ROOT, env={**USER_ENV, "FORCE_ROOT_CLIENT_CREDENTIALS": ""}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    line = one_line_error(result)
    suggested = re.search(r"make run PORT=(\d+) CONSENT_APP_PORT=(\d+)", line)
    assert f"port {server.port}" in line and suggested, line
    assert int(suggested[1]) > server.port and int(suggested[1]) != int(suggested[2])  # the next free one
