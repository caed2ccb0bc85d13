"""Test helpers on top of the public harness (hydra_lambda_local.harness, which the benchmark uses
too): the root client, tokens, clients and admin headers, and the local server with its log kept."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from typing import Any
from urllib.parse import quote

from hydra_lambda_local import harness
from hydra_lambda_local.harness import (
    ROOT,
    TEMPLATE,
    DynamoDBLocal,
    Result,
    call,
    client_hooks,
    count_aws_calls,
    dynamodb_calls,
    free_port,
    wait_for,
)

__all__ = [
    "CLIENT_HOOKS",
    "ROOT",
    "TEMPLATE",
    "DynamoDBLocal",
    "LocalServer",
    "Result",
    "admin_headers",
    "admin_token",
    "basic",
    "bearer",
    "call",
    "client_credentials_token",
    "count_aws_calls",
    "dynamodb_calls",
    "free_port",
    "new_client",
    "unique",
    "wait_for",
]

ROOT_CLIENT_ID = "root-admin"
ROOT_CLIENT_SECRET = "root-secret-for-tests-0123456789"

# Installed before any botocore client is made (tests import this module first, through conftest).
CLIENT_HOOKS = client_hooks()


class LocalServer(harness.LocalServer):
    """``hydra-lambda serve`` as a subprocess, its output kept in .pytest_cache/serve-<port>.log."""

    def __init__(self, env: dict[str, str], port: int | None = None) -> None:
        port = port or free_port()
        (ROOT / ".pytest_cache").mkdir(exist_ok=True)
        super().__init__(env, port, log=open(ROOT / ".pytest_cache" / f"serve-{port}.log", "w+"))


def serve_with_consent_app(env: dict[str, str], **extra: str) -> tuple[LocalServer, str]:
    """``hydra-lambda serve`` with the example consent app on a free port (CONSENT_URL its local
    default), and that URL."""
    port = free_port()
    consent_url = f"http://127.0.0.1:{port}/consent"
    server = LocalServer({**env, "CONSENT_URL": consent_url, "CONSENT_APP_PORT": str(port), **extra})
    assert f"consent app: {consent_url}" in server.output()
    return server, consent_url


def unique(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_credentials_token(scope: str, client_id: str = ROOT_CLIENT_ID, secret: str = ROOT_CLIENT_SECRET) -> str:
    """An access token from the token endpoint handler (the root client unless told otherwise)."""
    result = call("POST", "/oauth2/token", headers=basic(client_id, secret),
                  form={"grant_type": "client_credentials", "scope": scope})
    assert result.status == 200, result.body
    return result.json["access_token"]


_admin_tokens: dict[str, str] = {}


def admin_token(scope: str = "hydra.consent") -> str:
    """A root client_credentials token with ``scope`` (the root client has the admin policy), one per
    scope for the session."""
    if scope not in _admin_tokens:
        _admin_tokens[scope] = client_credentials_token(scope)
    return _admin_tokens[scope]


def admin_headers(scope: str = "hydra.clients") -> dict[str, str]:
    """Authorization headers of the root client with ``scope`` (a new token each call: tests that
    empty the tables take the session's tokens with them)."""
    return bearer(client_credentials_token(scope))


def new_client(prefix: str = "c", **fields: Any) -> tuple[str, str | None]:
    """A client created through the domain (a client_credentials client unless ``fields`` say
    otherwise): its id and cleartext secret (None for a public client)."""
    from hydra_lambda.clients.registry import create_client

    client, secret = create_client({"id": unique(prefix), "grant_types": ["client_credentials"], **fields})
    return client.id, secret


def run_node_script(name: str, *args: str, timeout: float = 120) -> tuple[int, dict[str, Any]]:
    """Run ``tests/node/<name>`` (a relying-party script printing one JSON line) and return its exit code
    and that line."""
    node = shutil.which("node")
    assert node, "Node.js is needed for the relying-party tests"
    folder = ROOT / "tests" / "node"
    result = subprocess.run([node, str(folder / name), *args], capture_output=True, text=True, timeout=timeout,
                            cwd=folder)
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    return result.returncode, json.loads(lines[-1])
