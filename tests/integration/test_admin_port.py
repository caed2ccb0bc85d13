"""``make run``'s admin port (ADMIN_PORT, default 4445 as Hydra's): the admin routes of the same route
table without a token, on 127.0.0.1 only; the public port unchanged, still asking for the Bearer token."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from hydra_lambda_local.server import LocalServer as HttpServer

from tests.integration.test_cli_e2e import USER_ENV, one_line_error
from tests.integration.test_cli_ports import taken
from tests.support import ROOT, TEMPLATE, LocalServer, free_port


def test_the_admin_port_answers_clients_without_a_token_and_the_public_port_asks_for_one(server: LocalServer) -> None:
    assert server.admin_url
    admin = requests.get(f"{server.admin_url}/clients", timeout=10)
    assert admin.status_code == 200, admin.text
    assert isinstance(admin.json(), list) and admin.headers["Content-Type"].startswith("application/json")
    public = requests.get(f"{server.url}/clients", timeout=10)
    assert public.status_code == 401
    policies = requests.get(f"{server.admin_url}/policies", timeout=10)
    assert policies.status_code == 200
    missing = requests.get(f"{server.admin_url}/oauth2/consent/requests/nope", timeout=10)
    assert missing.status_code == 404  # the lookup answered, not the warden


def test_the_admin_port_serves_no_oauth_or_public_route(server: LocalServer) -> None:
    token = requests.post(f"{server.admin_url}/oauth2/token", data={"grant_type": "client_credentials"}, timeout=10)
    assert token.status_code == 404 and "access_token" not in token.text
    for path in ("/oauth2/auth", "/userinfo", "/.well-known/openid-configuration", "/health/status",
                 "/clients/..%2F..%2Foauth2%2Ftoken"):
        assert requests.get(f"{server.admin_url}{path}", timeout=10).status_code == 404, path


def test_forwarding_headers_on_the_public_port_change_nothing(server: LocalServer) -> None:
    for name, value in (("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Port", "4445"),
                        ("Host", server.admin_url.removeprefix("http://")), ("Forwarded", "for=127.0.0.1")):
        assert requests.get(f"{server.url}/clients", headers={name: value}, timeout=10).status_code == 401, name


def _outbound_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def _listening_addresses(port: int) -> set[str]:
    """The IPv4 and IPv6 addresses listening on ``port`` (Linux /proc/net/tcp*)."""
    found = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.is_file():
            continue
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # LISTEN
                found.add(address)
    return found


def test_the_admin_port_is_bound_to_loopback_only(server: LocalServer) -> None:
    port = int(server.admin_url.rsplit(":", 1)[1])
    listening = _listening_addresses(port)
    if listening:
        assert listening == {"0100007F"}, listening  # 127.0.0.1, nothing else
    outside = _outbound_address()
    if outside is None:
        pytest.skip("no non-loopback interface on this machine")
    with pytest.raises(OSError), socket.create_connection((outside, port), timeout=2):
        pass


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "localhost", ""])
def test_an_admin_server_cannot_be_bound_off_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        HttpServer(host, 0, TEMPLATE, private=True)


def _serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hydra_lambda_local.cli", "serve", *args], cwd=ROOT,
                          env={**USER_ENV, "CONSENT_APP_PORT": str(free_port()), **env}, capture_output=True,
                          text=True, timeout=60)


def test_a_busy_admin_port_stops_the_run_with_a_clear_error() -> None:
    with taken() as busy:
        line = one_line_error(_serve("--port", str(free_port()), ADMIN_PORT=str(busy)))
        assert f"the admin port {busy} is already in use" in line and "make run ADMIN_PORT=" in line
        assert "ADMIN_PORT=0" in line
        line = one_line_error(_serve("--port", str(free_port()), "--admin-port", str(busy)))
        assert f"the admin port {busy} is already in use" in line


def test_the_admin_port_cannot_be_the_api_port() -> None:
    port = free_port()
    line = one_line_error(_serve("--port", str(port), ADMIN_PORT=str(port)))
    assert f"PORT and ADMIN_PORT are both {port}" in line


@pytest.mark.parametrize("value", ["banana", "-1", "70000"])
def test_a_bad_admin_port_is_a_configuration_error(value: str) -> None:
    line = one_line_error(_serve("--port", str(free_port()), ADMIN_PORT=value), code=2)
    assert "ADMIN_PORT" in line or "admin-port" in line


def test_admin_port_zero_means_none(aws: dict[str, str]) -> None:
    instance = LocalServer({**aws, "ADMIN_PORT": "0"})
    try:
        assert instance.admin_url == ""
        assert "admin API without a token" not in instance.output()
        assert requests.get(f"{instance.url}/clients", timeout=10).status_code == 401
    finally:
        instance.stop()
