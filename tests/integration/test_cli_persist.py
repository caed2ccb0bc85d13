"""``hydra-lambda serve --persist`` (issue 28, item 9): tables, the system secret, the root client and
the ID-token signing key survive a restart; another system secret on the kept tables is warned about."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import IO

import requests

from tests.integration.test_cli_e2e import USER_ENV
from tests.support import ROOT, free_port, wait_for


class Persistent:
    """``serve --persist --data-dir DIR`` with embedded engines only (no test session endpoints)."""

    def __init__(self, data_dir: Path, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log: IO[str] = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hydra_lambda_local.cli", "serve", "--persist", "--data-dir", str(data_dir),
             "--port", str(self.port)], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, text=True,
            env={**USER_ENV, "CONSENT_URL": "https://consent.example/consent", **env})

        def ready() -> bool:
            assert self.process.poll() is None, self.output()
            return "hydra-lambda clients list" in self.output()

        wait_for(ready, 90, "serve --persist")

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def _root_credentials(output: str) -> tuple[str, str]:
    found = re.search(r"HYDRA_CLIENT_ID=(\S+) HYDRA_CLIENT_SECRET=(\S+)", output)
    assert found, output
    return found[1], found[2]


def test_a_persistent_run_keeps_its_state_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Persistent(data, tmp_path / "first.log")
    try:
        root = _root_credentials(first.output())
        token = requests.post(f"{first.url}/oauth2/token", auth=root, timeout=30,
                              data={"grant_type": "client_credentials", "scope": "hydra.clients"}).json()
        created = requests.post(f"{first.url}/clients", json={"id": "kept-client"}, timeout=30,
                                headers={"Authorization": f"Bearer {token['access_token']}"})
        assert created.status_code == 201, created.text
        kids = {key["kid"] for key in requests.get(f"{first.url}/.well-known/jwks.json", timeout=30).json()["keys"]}
    finally:
        first.stop()
    assert (data / "system-secret").stat().st_mode & 0o077 == 0
    assert "stopping" in first.output()

    second = Persistent(data, tmp_path / "second.log")
    try:
        assert "exists from an earlier start" in second.output() and root[1] not in second.output()
        headers = {"Authorization": f"Bearer {token['access_token']}"}  # the system secret was kept
        assert requests.get(f"{second.url}/clients/kept-client", headers=headers, timeout=30).status_code == 200
        again = requests.post(f"{second.url}/oauth2/token", auth=root, timeout=30,
                              data={"grant_type": "client_credentials"})
        assert again.status_code == 200  # the root client too
        jwks = requests.get(f"{second.url}/.well-known/jwks.json", timeout=30).json()["keys"]
        assert {key["kid"] for key in jwks} == kids  # the signing key (moto's KMS state) too
        assert "warning" not in second.output()
    finally:
        second.stop()

    other = Persistent(data, tmp_path / "third.log", SYSTEM_SECRET="another-system-secret-0123456789")
    try:
        assert "SYSTEM_SECRET is not the one these persisted tables were used with" in other.output()
        refused = requests.get(f"{other.url}/clients/kept-client", timeout=30,
                               headers={"Authorization": f"Bearer {token['access_token']}"})
        assert refused.status_code == 401
    finally:
        other.stop()
