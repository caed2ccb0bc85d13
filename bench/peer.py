"""node-oidc-provider, the peer: its CPU time per client_credentials token and per introspection,
from its process CPU counters (/proc/<pid>/stat) over a fixed number of requests, once it is warm.
Two peers: on DynamoDB Local through the AWS SDK for JavaScript v3 (bench/node/dynamodb-adapter.mjs,
the budget's reference; one request in flight, as a Lambda container serves them, and its DynamoDB
requests and capacity counted by a proxy of its own), and in memory (information only; 4 in flight).

Warm means V8 has compiled its hot paths: the first pass of ``peer_requests`` costs node about twice
what the later ones do (client_credentials 0.20 ms, then 0.09 ms), so passes repeat until one is
within ``SETTLED`` of the one before (at most ``MAX_WARM_PASSES``). Our handler is measured after its
own warm-up too (bench/worker.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bench import counting, cpus, httpload
from bench.common import PEER_CLIENT_ID, PEER_CLIENT_SECRET, Sizes
from bench.engines import Process

FORM = "application/x-www-form-urlencoded"
SETTLED = 0.10
MAX_WARM_PASSES = 5


def auth() -> str:
    return httpload.basic_header(PEER_CLIENT_ID, PEER_CLIENT_SECRET)


def token_pool(url: str, size: int) -> list[str]:
    return [httpload.token(f"{url}/token", auth(), {"grant_type": "client_credentials", "scope": "read"})
            for _ in range(size)]


def _pass(proc: Process, url: str, headers: dict[str, str], bodies: list[str], requests: int,
          concurrency: int) -> dict[str, Any]:
    before = proc.cpu_seconds()
    run = httpload.load(url, headers=headers, bodies=bodies, concurrency=concurrency, requests=requests)
    spent = proc.cpu_seconds() - before
    return {"requests": run["completed"], "errors": run["errors"], "cpu_ms": spent / requests * 1000,
            "cpu_s_total": spent, "wall_s": run["elapsed_s"], "concurrency": concurrency}


def cpu_per_request(proc: Process, url: str, bodies: list[str], requests: int, concurrency: int,
                    counter: str = "") -> dict[str, Any]:
    headers = {"authorization": auth(), "content-type": FORM}
    warming: list[float] = []
    while len(warming) < MAX_WARM_PASSES:
        warming.append(_pass(proc, url, headers, bodies, requests, concurrency)["cpu_ms"])
        if len(warming) > 1 and abs(warming[-1] - warming[-2]) <= SETTLED * warming[-2]:
            break
    before = counting.snapshot([counter]) if counter else None
    figures = _pass(proc, url, headers, bodies, requests, concurrency)
    if before is not None:
        figures["calls"] = counting.summarize(before, counting.snapshot([counter]), requests)
    return {**figures, "warm_up_passes_ms": [round(v, 4) for v in warming]}


def measure(proc: Process, url: str, sizes: Sizes, engine_pids: list[int], concurrency: int = 4,
            counter: str = "") -> dict[str, Any]:
    """``counter``: the count URL of the proxy in front of this peer's DynamoDB, if it has one."""
    with cpus.isolated(engine_pids, measured=(proc.pid,)):
        cc = cpu_per_request(proc, f"{url}/token",
                             [urlencode({"grant_type": "client_credentials", "scope": "read"})], sizes.peer_requests,
                             concurrency, counter)
        pool = token_pool(url, sizes.token_pool)
        intro = cpu_per_request(proc, f"{url}/token/introspection", [urlencode({"token": t}) for t in pool],
                                sizes.peer_requests, concurrency, counter)
    return {"client_credentials": cc, "introspection": intro}
