"""node-oidc-provider, the peer: its CPU time per client_credentials token and per introspection,
from its process CPU counters (/proc/<pid>/stat) over a fixed number of requests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bench import httpload
from bench.common import PEER_CLIENT_ID, PEER_CLIENT_SECRET, Sizes
from bench.engines import Process

FORM = "application/x-www-form-urlencoded"


def auth() -> str:
    return httpload.basic_header(PEER_CLIENT_ID, PEER_CLIENT_SECRET)


def token_pool(url: str, size: int) -> list[str]:
    return [httpload.token(f"{url}/token", auth(), {"grant_type": "client_credentials", "scope": "read"})
            for _ in range(size)]


def cpu_per_request(proc: Process, url: str, bodies: list[str], requests: int, warmup: int) -> dict[str, Any]:
    headers = {"authorization": auth(), "content-type": FORM}
    httpload.load(url, headers=headers, bodies=bodies, concurrency=4, requests=warmup)
    before = proc.cpu_seconds()
    run = httpload.load(url, headers=headers, bodies=bodies, concurrency=4, requests=requests)
    after = proc.cpu_seconds()
    return {"requests": run["completed"], "errors": run["errors"], "cpu_ms": (after - before) / requests * 1000,
            "cpu_s_total": after - before}


def measure(proc: Process, url: str, sizes: Sizes) -> dict[str, Any]:
    warmup = max(10, sizes.peer_requests // 10)
    cc = cpu_per_request(proc, f"{url}/token", [urlencode({"grant_type": "client_credentials", "scope": "read"})],
                         sizes.peer_requests, warmup)
    pool = token_pool(url, sizes.token_pool)
    intro = cpu_per_request(proc, f"{url}/token/introspection", [urlencode({"token": t}) for t in pool],
                            sizes.peer_requests, warmup)
    return {"client_credentials": cc, "introspection": intro}
