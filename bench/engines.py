"""The engines the benchmark starts and stops itself: Amazon DynamoDB Local (the real engine, from
the npm package the tests use), a moto server for KMS and Secrets Manager, the counting proxies in
front of them (bench/awsproxy.py), node-oidc-provider (in memory, and on DynamoDB Local), and
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

from hydra_lambda_local.harness import DynamoDBLocal, LocalServer, create_tables_and_key, free_port, terminate

from bench.awsproxy import CountingProxy
from bench.common import NODE_DIR, PEER_CLIENT_ID, PEER_CLIENT_SECRET, PEER_TABLE, ROOT, base_env


@dataclass
class Engines:
    dynamodb: str
    kms: str
    env: dict[str, str]
    stoppers: list[Any] = field(default_factory=list)
    envelope_env: dict[str, str] | None = None
    envelope_error: str = ""
    pids: list[int] = field(default_factory=list)  # engine processes started here (for bench.cpus)
    # The handler env with DynamoDB, KMS and Secrets Manager behind counting proxies (``counters``:
    # their count URLs), for the items that count AWS requests and capacity.
    counted_env: dict[str, str] = field(default_factory=dict)
    counters: list[str] = field(default_factory=list)

    def proxy(self, upstream: str) -> CountingProxy:
        """A counting proxy in front of ``upstream``, stopped with the engines."""
        proxy = CountingProxy(upstream)
        self.stoppers.append(proxy.stop)
        return proxy

    def counted(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` with its endpoints moved behind the counting proxies."""
        return {**env, **{k: v for k, v in self.counted_env.items() if k in _PROXIED}}

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
        engine = DynamoDBLocal()
        stoppers.append(engine.stop)
        pids.append(engine.process.pid)
        dynamodb = engine.endpoint
    if not kms:
        from hydra_lambda_local.backends import start_moto

        server, kms = start_moto()
        stoppers.append(server.stop)
    env = base_env(dynamodb, kms)
    engines = Engines(dynamodb, kms, env, stoppers, pids=pids)
    try:
        _prepare(engines, envelope)
        dynamodb_proxy, kms_proxy = engines.proxy(dynamodb), engines.proxy(kms)
        engines.counted_env = {**env, "DYNAMODB_ENDPOINT": dynamodb_proxy.url, "KMS_ENDPOINT": kms_proxy.url,
                               "SECRETSMANAGER_ENDPOINT": kms_proxy.url,
                               "BENCH_COUNTERS": f"{dynamodb_proxy.url},{kms_proxy.url}"}
        engines.counters = [dynamodb_proxy.url, kms_proxy.url]
    except BaseException:
        engines.stop()
        raise
    return engines


def _prepare(engines: Engines, envelope: bool) -> None:
    saved = dict(os.environ)
    os.environ.update(engines.env)
    try:
        from hydra_lambda.config import reset_settings

        engines.env["SIGNING_KEYS"] = create_tables_and_key(engines.env)
        reset_settings()
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


_PROXIED = ("DYNAMODB_ENDPOINT", "KMS_ENDPOINT", "SECRETSMANAGER_ENDPOINT", "BENCH_COUNTERS")


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
        terminate(self.process)
        self.log.close()


def node_ready() -> str:
    """Why node-oidc-provider cannot run ("" when it can)."""
    if not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        return "bench/node/node_modules is missing: run `npm ci --prefix bench/node` (make bench does)"
    return ""


def start_peer(dynamodb: str = "") -> tuple[Process, str]:
    """node-oidc-provider in memory, or with ``dynamodb`` on that endpoint (its own table, created here)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    if dynamodb:
        create_peer_table(dynamodb)
        # As on Lambda: region and credentials from the environment; the endpoint is DynamoDB Local's.
        env.update({"OIDC_TABLE": PEER_TABLE, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb, "AWS_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
    proc = Process(["node", str(NODE_DIR / "server.mjs"), str(port), PEER_CLIENT_ID, PEER_CLIENT_SECRET],
                   env, f"{url}/.well-known/openid-configuration", "node-oidc-provider", cwd=NODE_DIR)
    return proc, url


def create_peer_table(endpoint: str) -> None:
    """The table of bench/node/dynamodb-adapter.mjs: ``modelId`` key, three sparse indexes, TTL on."""
    import botocore.session

    client = botocore.session.get_session().create_client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
        aws_secret_access_key="bench")
    if PEER_TABLE in client.list_tables()["TableNames"]:
        return
    keys = ("modelId", "grantId", "uid", "userCode")
    client.create_table(
        TableName=PEER_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
        KeySchema=[{"AttributeName": "modelId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": f"{key}Index", "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}} for key in keys[1:]])
    client.update_time_to_live(TableName=PEER_TABLE,
                               TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})


def start_local_server(env: dict[str, str]) -> tuple[LocalServer, str]:
    """``hydra-lambda serve`` on a free port (the harness's), and its URL."""
    server = LocalServer(env)
    return server, server.url
