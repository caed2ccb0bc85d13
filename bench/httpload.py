"""HTTP helpers for the items that go over loopback: a few set-up requests with urllib, and the
bounded load generator (bench/node/load.mjs, the same client for both servers)."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

from bench.common import NODE_DIR


def basic_header(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()).decode()


def request(url: str, method: str = "GET", *, form: dict[str, str] | None = None, json_body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data, hdrs = None, dict(headers or {})
    if form is not None:
        data = urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, body.decode(errors="replace")


def token(url: str, authorization: str, form: dict[str, str]) -> str:
    status, body = request(f"{url}/oauth2/token" if "/token" not in url else url, "POST", form=form,
                           headers={"Authorization": authorization})
    if status != 200:
        raise RuntimeError(f"token request to {url} answered {status}: {str(body)[:200]}")
    return str(body["access_token"])


def load(url: str, *, method: str = "POST", headers: dict[str, str] | None = None, bodies: list[str] | None = None,
         concurrency: int = 8, requests: int = 0, seconds: float = 0) -> dict[str, Any]:
    """Run load.mjs: ``requests`` requests or ``seconds`` of load at fixed concurrency, keep-alive."""
    spec = {"url": url, "method": method, "headers": headers or {}, "bodies": bodies or [""],
            "concurrency": concurrency, "requests": requests, "seconds": seconds or 3600}
    proc = subprocess.run(["node", str(NODE_DIR / "load.mjs"), json.dumps(spec)], capture_output=True, text=True,
                          timeout=(seconds or 600) + 120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"load.mjs failed: {proc.stderr.strip()[-500:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
