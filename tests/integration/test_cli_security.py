"""The local tooling never hands a secret to someone it should not: the CLI follows no redirect with
its credentials or a request body, refuses plain http to another host, reads secrets from a file or
stdin (not the process list); ``serve`` never prints an operator's secret nor logs a token placed in
a path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, TEMPLATE, LocalServer, free_port, wait_for

USER_ENV = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}


def cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hydra_lambda_local.cli", *args], cwd=ROOT,
                          env={**USER_ENV, **(env or {})}, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


class _Recorder(ThreadingHTTPServer):
    """Answers tokens at /oauth2/token (unless told to redirect it) and ``status`` with a Location
    elsewhere; keeps every request it saw (method, path, body)."""

    daemon_threads = True

    def __init__(self, status: int = 200, location: str = "", redirect_token: bool = False) -> None:
        self.status, self.location, self.redirect_token = status, location, redirect_token
        self.seen: list[tuple[str, str, bytes]] = []
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _RecorderHandler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, body))
        if self.server.location and (self.path != "/oauth2/token" or self.server.redirect_token):
            self.send_response(self.server.status)
            self.send_header("Location", self.server.location + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = json.dumps({"access_token": "at", "token_type": "bearer", "expires_in": 60}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_DELETE = _any


@pytest.fixture
def elsewhere() -> Iterator[_Recorder]:
    """The host a redirect points at: it must never see a request."""
    server = _Recorder()
    yield server
    server.stop()


@pytest.mark.parametrize("status", [302, 307, 308])
def test_the_cli_follows_no_redirect_of_an_admin_call(status: int, elsewhere: _Recorder) -> None:
    redirector = _Recorder(status, elsewhere.url)
    try:
        result = cli("clients", "create", "--id", "printer", "--secret", "a-new-clients-secret-0123456789",
                     env={"HYDRA_URL": redirector.url, "HYDRA_CLIENT_ID": "c", "HYDRA_CLIENT_SECRET": "s"})
    finally:
        redirector.stop()
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"redirected to {elsewhere.url}/clients" in result.stderr and "Traceback" not in result.stderr
    assert elsewhere.seen == [] and result.stdout == ""
    assert [(method, path) for method, path, _ in redirector.seen] == [("POST", "/oauth2/token"), ("POST", "/clients")]


@pytest.mark.parametrize("status", [302, 307])
def test_the_cli_sends_no_credentials_after_a_redirected_token_request(status: int, elsewhere: _Recorder) -> None:
    redirector = _Recorder(status, elsewhere.url, redirect_token=True)
    try:
        result = cli("token", "client",
                     env={"HYDRA_URL": redirector.url, "HYDRA_CLIENT_ID": "c", "HYDRA_CLIENT_SECRET": "s"})
    finally:
        redirector.stop()
    assert result.returncode == 1 and f"redirected to {elsewhere.url}/oauth2/token" in result.stderr
    assert elsewhere.seen == []


def test_plain_http_to_another_host_is_refused_unless_allowed() -> None:
    env = {"HYDRA_CLIENT_ID": "c", "HYDRA_CLIENT_SECRET": "s"}
    refused = cli("--endpoint", "http://hydra.example.invalid:4444", "clients", "list", env=env, timeout=20)
    assert refused.returncode == 2, refused.stderr
    assert "plain http" in refused.stderr and "--allow-plain-http" in refused.stderr
    allowed = cli("--endpoint", "http://hydra.example.invalid:4444", "--allow-plain-http", "clients", "list",
                  env=env, timeout=60)
    assert allowed.returncode == 1 and "warning: plain http" in allowed.stderr
    assert "cannot reach http://hydra.example.invalid:4444" in allowed.stderr
    for loopback in ("http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"):
        local = cli("--endpoint", loopback, "clients", "list", env=env)
        assert local.returncode == 1 and "plain http" not in local.stderr, local.stderr


def test_secrets_come_from_a_file_or_stdin(server: LocalServer, tmp_path: Path) -> None:
    env = {"HYDRA_URL": server.url, "HYDRA_CLIENT_ID": ROOT_CLIENT_ID}
    from_stdin = cli("token", "client", "--client-secret-file", "-", env=env, stdin=ROOT_CLIENT_SECRET + "\n")
    assert from_stdin.returncode == 0 and from_stdin.stdout.startswith("hl_at_"), from_stdin.stderr
    secret_file = tmp_path / "secret"
    secret_file.write_text(ROOT_CLIENT_SECRET + "\n")
    new_secret = tmp_path / "new-secret"
    new_secret.write_text("a-secret-chosen-in-a-file-0123456789\n")
    created = cli("clients", "create", "-g", "client_credentials", "--secret-file", str(new_secret),
                  "--client-secret-file", str(secret_file), env=env)
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    token = cli("token", "client", env={"HYDRA_URL": server.url, "HYDRA_CLIENT_ID": client["id"]},
                stdin="a-secret-chosen-in-a-file-0123456789", timeout=60)
    assert token.returncode == 2  # no secret given: stdin is read only when asked for
    works = cli("token", "client", "--client-secret-file", "-", env={"HYDRA_URL": server.url,
                "HYDRA_CLIENT_ID": client["id"]}, stdin="a-secret-chosen-in-a-file-0123456789")
    assert works.returncode == 0, works.stderr
    missing = cli("clients", "list", "--client-secret-file", str(tmp_path / "nope"), env=env)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_serve_never_prints_a_secret_the_operator_chose(tmp_path: Path) -> None:
    """A first start with FORCE_ROOT_CLIENT_CREDENTIALS (embedded engines: a new installation)."""
    secret = "operator-chosen-secret-0123456789"
    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    env = {**USER_ENV, "FORCE_ROOT_CLIENT_CREDENTIALS": f"operator-root:{secret}", "PORT": str(port),
           "CONSENT_URL": "http://127.0.0.1:9/consent"}
    process = subprocess.Popen([sys.executable, "-m", "hydra_lambda_local.cli", "serve"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            return "hydra-lambda clients list" in (tmp_path / "serve.log").read_text()

        wait_for(ready, 60, "hydra-lambda serve")
    finally:
        process.terminate()
        process.wait(20)
    output = (tmp_path / "serve.log").read_text()
    assert "HYDRA_CLIENT_ID=operator-root" in output
    assert secret not in output and "FORCE_ROOT_CLIENT_CREDENTIALS" in output


@pytest.fixture
def verbose_server(aws: dict[str, str]) -> Iterator[str]:
    from hydra_lambda_local.server import LocalServer as Server

    instance = Server("127.0.0.1", 0, TEMPLATE, verbose=True)
    threading.Thread(target=instance.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{instance.server_address[1]}"
    instance.shutdown()
    instance.server_close()


def test_verbose_logs_no_token_placed_in_a_path(verbose_server: str, capfd: pytest.CaptureFixture[str]) -> None:
    token = "hl_at_" + "A" * 43 + "." + "B" * 43
    for path in (f"/clients/{token}", f"/oauth2/consent/requests/{token}", f"/nowhere/{token}/x",
                 f"/oauth2/token/{token}?code=secret-code-value"):
        requests.get(verbose_server + path, timeout=10)
    captured = capfd.readouterr()
    logged = captured.out + captured.err
    assert "GET /clients/{id}" in logged and "/nowhere/" in logged
    assert token not in logged and "A" * 20 not in logged and "secret-code-value" not in logged
