"""The browser login item, in a handler process: ``python -m bench.login <spec.json> <out.json>``
(``"flow": "current"`` in the spec: the current login/consent flow's login and silent renew).

A login is five invocations (``flows.LOGIN_LEGS``): GET /oauth2/auth, the consent app's GET and
PATCH .../accept on the consent request API, GET /oauth2/auth again (back from the consent app),
and the code exchange at /oauth2/token. Each leg's event is built untimed; the handler call alone is
timed (process CPU and wall), and the counting proxies' totals are read between legs, so every AWS
request and capacity unit lands on the leg that made it. Set-up (root client, admin token, the
benchmark client) is bench.worker's."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import counting, flows
from bench.api import Api, Prepared, Result, to_result


class Legs:
    """Per-leg totals over the measured logins: CPU and wall seconds, and the proxies' count deltas."""

    def __init__(self) -> None:
        self.cpu: Counter[str] = Counter()
        self.wall: Counter[str] = Counter()
        self.counts: dict[str, dict[str, Counter[str]]] = {}
        self.counting = False

    def run(self, leg: str, prepared: Prepared) -> Result:
        from hydra_lambda_local.events import FakeContext

        before = counting.snapshot() if self.counting else None
        context = FakeContext(prepared.function)
        c0, w0 = time.process_time(), time.perf_counter()
        out = prepared.handler(prepared.event, context)
        w1, c1 = time.perf_counter(), time.process_time()
        if before is not None:
            after = counting.snapshot()
            self.cpu[leg] += c1 - c0
            self.wall[leg] += w1 - w0
            totals = self.counts.setdefault(leg, {key: Counter() for key in after})
            for key, counter in after.items():
                totals[key].update(counter - before[key])
        return to_result(out)

    def figures(self, logins: int, functions: dict[str, str],
                order: tuple[str, ...] = flows.LOGIN_LEGS) -> dict[str, Any]:
        empty = {key: Counter() for key in ("calls", "read_units", "write_units", "units_by_place")}
        out = {}
        for leg in order:
            out[leg] = {"function": functions.get(leg, ""), "requests": logins,
                        "cpu_ms": self.cpu[leg] / logins * 1000, "wall_ms": self.wall[leg] / logins * 1000,
                        "calls": counting.summarize(empty, self.counts.get(leg, empty), logins)}
        return out


def run_login(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.worker import Context

    sizes = spec["sizes"]
    api = Api()
    ctx = Context(api, sizes)
    legs = Legs()
    functions: dict[str, str] = {}

    def seen(leg: str, prepared: Prepared) -> Result:
        functions[leg] = prepared.function
        return legs.run(leg, prepared)

    for _ in range(min(sizes["warmup"], 10)):
        flows.browser_login(api, ctx.client, ctx.admin, seen)
    legs.counting = True
    logins = sizes["flow_requests"]
    id_tokens = 0
    for _ in range(logins):
        tokens = flows.browser_login(api, ctx.client, ctx.admin, seen)["tokens"]
        id_tokens += bool(tokens.get("id_token")) and bool(tokens.get("refresh_token"))
    return {"logins": logins, "complete_logins": id_tokens, "legs": legs.figures(logins, functions),
            "notes": ctx.notes}


def run_current(spec: dict[str, Any]) -> dict[str, Any]:
    """The current login/consent flow (the process runs with URLS_LOGIN and URLS_CONSENT): logins
    by new browsers (no session: the login and consent screens), then silent renews (prompt=none by
    one signed-in browser with a remembered consent), each leg by leg (``flows.CURRENT_LEGS``)."""
    from bench.worker import Context

    sizes = spec["sizes"]
    api = Api()
    ctx = Context(api, sizes)
    out: dict[str, Any] = {"notes": ctx.notes}
    for kind, silent in (("login", False), ("silent_renew", True)):
        legs, functions = Legs(), {}

        def seen(leg: str, prepared: Prepared, legs: Legs = legs, functions: dict[str, str] = functions) -> Result:
            functions[leg] = prepared.function
            return legs.run(leg, prepared)

        signed_in: dict[str, str] = {}
        flows.current_login(api, ctx.client, ctx.admin, signed_in)  # the session and the remembered consent
        for _ in range(min(sizes["warmup"], 10)):
            flows.current_login(api, ctx.client, ctx.admin, signed_in if silent else {}, seen, silent=silent)
        legs.counting = True
        count, complete = sizes["flow_requests"], 0
        for _ in range(count):
            jar = signed_in if silent else {}
            tokens = flows.current_login(api, ctx.client, ctx.admin, jar, seen, silent=silent)["tokens"]
            complete += bool(tokens.get("id_token")) and bool(tokens.get("refresh_token"))
        out[kind] = {"requests": count, "complete": complete,
                     "legs": legs.figures(count, functions, flows.CURRENT_LEGS)}
    return out


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("cpu") is not None:  # bench.cpus: alone on this CPU while measured
        os.sched_setaffinity(0, {spec["cpu"]})
    run = run_current if spec.get("flow") == "current" else run_login
    Path(argv[1]).write_text(json.dumps(run(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
