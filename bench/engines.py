"""The engines the benchmark starts and stops itself: Amazon DynamoDB Local (the real engine, from
the npm package the tests use), a moto server for KMS and Secrets Manager, node-oidc-provider, and
``hydra-lambda serve``."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from bench.common import NODE_DIR, PEER_CLIENT_ID, PEER_CLIENT_SECRET, ROOT, base_env


@dataclass
class Engines:
    dynamodb: str
    kms: str
    env: dict[str, str]
    stoppers: list[Any] = field(default_factory=list)
    envelope_env: dict[str, str] | None = None
    envelope_error: str = ""
    pids: list[int] = field(default_factory=list)  # engine processes started here (for bench.cpus)

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception as exc:  # stopping must not hide the results
                print(f"bench: stopping an engine failed: {exc}", file=sys.stderr)


def start(dynamodb: str = "", kms: str = "", envelope: bool = True) -> Engines:
    """Start what is not given, create the tables and the signing key, and return the handler env."""
    stoppers: list[Any] = []
    pids: list[int] = []
    if not dynamodb:
        from tests.support import DynamoDBLocal

        engine = DynamoDBLocal()
        stoppers.append(engine.stop)
        pids.append(engine.process.pid)
        dynamodb = engine.endpoint
    if not kms:
        from hydra_lambda.local.backends import start_moto

        server, kms = start_moto()
        stoppers.append(server.stop)
    env = base_env(dynamodb, kms)
    engines = Engines(dynamodb, kms, env, stoppers, pids=pids)
    try:
        _prepare(engines, envelope)
    except BaseException:
        engines.stop()
        raise
    return engines


def _prepare(engines: Engines, envelope: bool) -> None:
    saved = dict(os.environ)
    os.environ.update(engines.env)
    try:
        from hydra_lambda.config import reset_settings
        from hydra_lambda.local.backends import ensure_signing_key
        from hydra_lambda.storage.tables import create_tables

        reset_settings()
        create_tables()
        engines.env["SIGNING_KEYS"] = ensure_signing_key(engines.kms)
        _introspection_policy()
        if envelope:
            engines.envelope_env, engines.envelope_error = _envelope_key(engines)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        from hydra_lambda.config import reset_settings

        reset_settings()


def _introspection_policy() -> None:
    """Let the benchmark's clients (ids ``bench-...``) introspect with their own credentials, as a
    resource server would be allowed to (an operator does this with ``hydra-lambda policies``)."""
    try:
        from hydra_lambda.policies import Policy
        from hydra_lambda.storage import policies
    except ImportError:
        return
    policies.put(Policy(id="bench-introspection", subjects=["bench-<.*>"], resources=["rn:hydra:oauth2:tokens"],
                        actions=["introspect"], effect="allow", description="hydra-lambda benchmark clients"))


def _envelope_key(engines: Engines) -> tuple[dict[str, str] | None, str]:
    """An envelope-mode signing key (a private key sealed under a symmetric KMS key), if supported."""
    try:
        from hydra_lambda.keys.rotation import create_envelope_key  # type: ignore[attr-defined]
    except ImportError as exc:
        return None, f"envelope mode is not there yet ({exc})"
    import boto3

    kms = boto3.client("kms", endpoint_url=engines.kms, region_name="us-east-1")
    key_id = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    try:
        ref = create_envelope_key("RSA_2048", key_id, f"bench/id-token/{time.time_ns()}")
    except Exception as exc:
        return None, f"creating an envelope key failed: {type(exc).__name__}: {exc}"
    return {**engines.env, "SIGNING_MODE": "envelope", "SIGNING_KEYS": ref}, ""


def _free_port() -> int:
    from tests.support import free_port

    return free_port()


def _wait_http(url: str, process: subprocess.Popen[Any], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} in {timeout}s")


class Process:
    """A server subprocess with its log in a temporary file."""

    def __init__(self, args: list[str], env: dict[str, str], ready_url: str, what: str, cwd: Any = ROOT) -> None:
        self.log = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(args, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        try:
            _wait_http(ready_url, self.process, what)
        except Exception:
            self.stop()
            raise

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]

    def cpu_seconds(self) -> float:
        """utime + stime of the process (all its threads), from /proc/<pid>/stat."""
        with open(f"/proc/{self.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


def node_ready() -> str:
    """Why node-oidc-provider cannot run ("" when it can)."""
    if not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        return "bench/node/node_modules is missing: run `npm ci --prefix bench/node` (make bench does)"
    return ""


def start_peer() -> tuple[Process, str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = Process(["node", str(NODE_DIR / "server.mjs"), str(port), PEER_CLIENT_ID, PEER_CLIENT_SECRET],
                   dict(os.environ), f"{url}/.well-known/openid-configuration", "node-oidc-provider", cwd=NODE_DIR)
    return proc, url


def start_local_server(env: dict[str, str]) -> tuple[Process, str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = Process([sys.executable, "-m", "hydra_lambda.cli", "serve", "--port", str(port)],
                   {**os.environ, **env, "ISSUER": url}, f"{url}/health/status", "hydra-lambda serve")
    return proc, url
