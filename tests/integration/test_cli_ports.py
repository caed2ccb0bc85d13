"""Second instances and ports (issue 28, item 10): ``serve`` refuses to start when the API's or the
consent app's port is taken (it never sends users to another instance's consent app), and the ports
it suggests are free and never one that another part of the same run uses."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests.integration.test_cli_e2e import USER_ENV, one_line_error
from tests.support import ROOT, free_port


@contextmanager
def taken(port: int = 0) -> Iterator[int]:
    """A port held by a listening socket (another instance's server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield sock.getsockname()[1]


def serve(port: int, consent_port: int) -> subprocess.CompletedProcess[str]:
    """``serve`` with embedded engines: a refusal must come before any of them starts."""
    return subprocess.run([sys.executable, "-m", "hydra_lambda_local.cli", "serve", "--port", str(port)], cwd=ROOT,
                          env={**USER_ENV, "CONSENT_APP_PORT": str(consent_port)}, capture_output=True, text=True,
                          timeout=60)


def suggested(line: str) -> tuple[int, int]:
    found = re.search(r"make run PORT=(\d+) CONSENT_APP_PORT=(\d+)", line)
    assert found, line
    return int(found[1]), int(found[2])


def test_a_busy_consent_app_port_stops_the_run() -> None:
    api = free_port()
    with taken() as consent:
        line = one_line_error(serve(api, consent))
        new_api, new_consent = suggested(line)
        assert f"the consent app's port {consent} is already in use" in line
        assert new_api == api and new_consent not in (api, consent)


def test_a_suggested_port_is_never_the_consent_apps() -> None:
    for _ in range(20):  # two adjacent free ports
        api = free_port()
        if api < 65000:
            try:
                with taken(api), taken(api + 1):
                    pass
                break
            except OSError:
                continue
    with taken(api):
        line = one_line_error(serve(api, api + 1))  # the next port is this run's consent app's
        new_api, new_consent = suggested(line)
        assert new_api not in (api, api + 1) and new_consent == api + 1


def test_both_ports_busy_suggests_two_free_distinct_ports() -> None:
    with taken() as api, taken() as consent:
        line = one_line_error(serve(api, consent))
        assert "are already in use" in line
        new_api, new_consent = suggested(line)
        assert len({api, consent, new_api, new_consent}) == 4


def test_the_same_port_for_both_is_refused() -> None:
    port = free_port()
    line = one_line_error(serve(port, port))
    assert f"PORT and CONSENT_APP_PORT are both {port}" in line
