"""A handler process: ``python -m bench.worker <spec.json> <out.json>``.

It holds only the handlers and their SDK clients (DynamoDB Local, moto and node run elsewhere), so
its CPU counters and RSS are the handler's. Its AWS endpoints point at the counting proxies
(bench/awsproxy.py), which count the requests and DynamoDB capacity outside it. Modes: ``warm``
(CPU time and AWS calls per request, per operation; also prepares the first request of every
function for the cold-start item) and ``memory`` (RSS over a long mixed run)."""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import counting, flows
from bench.api import Api, Prepared, Result, Unavailable, bearer, to_result


@dataclass
class Op:
    name: str
    make: Callable[[int], Prepared]  # the i-th request; never calls a handler (it runs untimed)
    expected: tuple[int, ...] = (200,)
    after: Callable[[int, Result], None] | None = None
    requests: int = 0


class Context:
    """What the set-up made: the admin token, the benchmark client, token pools."""

    def __init__(self, api: Api, sizes: dict[str, Any]) -> None:
        self.api = api
        self.sizes = sizes
        self.notes: list[str] = []
        note = flows.ensure_root_client()
        if note:
            self.notes.append(note)
        self.admin = flows.admin_token(api)
        self.client = flows.create_client(api, self.admin, "bench")
        self.list_size = 1
        self._pool: list[str] | None = None

    def pool(self) -> list[str]:
        if self._pool is None:
            self._pool = [flows.cc_token(self.api, self.client) for _ in range(self.sizes["token_pool"])]
        return self._pool

    def more_clients(self, total: int) -> None:
        while self.list_size < total:
            flows.create_client(self.api, self.admin, f"bench-list-{self.list_size}")
            self.list_size += 1


def _simple(ctx: Context, name: str, method: str, path: str, **kwargs: Any) -> Op:
    ctx.api.expect((200,), method, path, **kwargs)  # available?
    return Op(name, lambda _i: ctx.api.prepare(method, path, **kwargs))


def op_client_credentials(ctx: Context, total: int) -> Op:
    return _simple(ctx, "client_credentials", "POST", "/oauth2/token", headers=ctx.client.auth, form=flows.CC_FORM)


def op_introspection(ctx: Context, total: int) -> Op:
    pool = ctx.pool()
    probe = ctx.api.expect(200, "POST", "/oauth2/introspect", headers=ctx.client.auth, form={"token": pool[0]})
    if probe.json.get("active") is not True:
        raise Unavailable(f"introspection says a fresh token is inactive: {probe.body[:200]}")
    return Op("introspection", lambda i: ctx.api.prepare("POST", "/oauth2/introspect", headers=ctx.client.auth,
                                                          form={"token": pool[i % len(pool)]}))


def op_revoke(ctx: Context, total: int) -> Op:
    ctx.api.expect(200, "POST", "/oauth2/revoke", headers=ctx.client.auth,
                   form={"token": flows.cc_token(ctx.api, ctx.client)})
    fresh = [flows.cc_token(ctx.api, ctx.client) for _ in range(total)]
    return Op("revoke", lambda i: ctx.api.prepare("POST", "/oauth2/revoke", headers=ctx.client.auth,
                                                   form={"token": fresh[i]}))


def op_code_exchange(ctx: Context, total: int) -> Op:
    codes = [flows.authorization_code(ctx.api, ctx.client, ctx.admin) for _ in range(total + 1)]
    body = flows.exchange(ctx.api, ctx.client, codes.pop())
    if not body.get("id_token"):
        ctx.notes.append("code exchange for openid returned no id_token")
    return Op("code_exchange", lambda i: ctx.api.prepare("POST", "/oauth2/token", headers=ctx.client.auth,
                                                          form=flows.code_form(codes[i])))


def op_refresh(ctx: Context, total: int) -> Op:
    grants = min(20, max(1, total))
    chain = [flows.exchange(ctx.api, ctx.client, flows.authorization_code(ctx.api, ctx.client, ctx.admin))
             for _ in range(grants)]
    tokens = [str(body["refresh_token"]) for body in chain]

    def make(i: int) -> Prepared:
        return ctx.api.prepare("POST", "/oauth2/token", headers=ctx.client.auth,
                               form=flows.refresh_form(tokens[i % grants]))

    def after(i: int, result: Result) -> None:
        tokens[i % grants] = str(result.json["refresh_token"])  # rotated: the next use needs the new one

    return Op("refresh", make, after=after)


def op_jwks(ctx: Context, total: int) -> Op:
    return _simple(ctx, "jwks", "GET", "/.well-known/jwks.json")


def op_discovery(ctx: Context, total: int) -> Op:
    return _simple(ctx, "discovery", "GET", "/.well-known/openid-configuration")


def op_client_get(ctx: Context, total: int) -> Op:
    return _simple(ctx, "client_get", "GET", f"/clients/{ctx.client.id}", headers=bearer(ctx.admin))


def op_client_list(ctx: Context, total: int) -> Op:
    ctx.more_clients(ctx.sizes["list_clients"])
    return _simple(ctx, "client_list", "GET", "/clients", headers=bearer(ctx.admin))


def op_health(ctx: Context, total: int) -> Op:
    return _simple(ctx, "health", "GET", "/health/status")


BUILDERS: dict[str, Callable[[Context, int], Op]] = {
    "client_credentials": op_client_credentials,
    "introspection": op_introspection,
    "revoke": op_revoke,
    "code_exchange": op_code_exchange,
    "refresh": op_refresh,
    "jwks": op_jwks,
    "discovery": op_discovery,
    "client_get": op_client_get,
    "client_list": op_client_list,
    "health": op_health,
}
FLOW_OPS = {"code_exchange", "refresh"}


def _invoke(prepared: Prepared) -> tuple[dict[str, Any], float, float]:
    from hydra_lambda_local.events import FakeContext

    context = FakeContext(prepared.function)
    c0, w0 = time.process_time(), time.perf_counter()
    out = prepared.handler(prepared.event, context)
    w1, c1 = time.perf_counter(), time.process_time()
    return out, c1 - c0, w1 - w0


def measure(op: Op, warmup: int, n: int) -> dict[str, Any]:
    def one(i: int) -> tuple[float, float, bool]:
        out, cpu, wall = _invoke(op.make(i))
        result = to_result(out)
        if result.status not in op.expected:
            raise RuntimeError(f"{op.name}: request {i} answered {result.status}: {result.body[:200]}")
        if op.after is not None:
            op.after(i, result)
        return cpu, wall, '"id_token"' in result.body

    for i in range(warmup):
        one(i)
    before = counting.snapshot()
    cpu_total = wall_total = 0.0
    id_tokens = 0
    for i in range(warmup, warmup + n):
        cpu, wall, has_id_token = one(i)
        cpu_total += cpu
        wall_total += wall
        id_tokens += has_id_token
    calls = counting.summarize(before, counting.snapshot(), n)
    calls["id_tokens"] = id_tokens / n
    return {"requests": n, "cpu_ms": cpu_total / n * 1000, "wall_ms": wall_total / n * 1000, "calls": calls}


def profile_op(op: Op, start: int, n: int, path: Path) -> None:
    """Two profiles of ``n`` more requests: pyinstrument's call tree (wall time, so waits on DynamoDB
    show as socket reads) to ``<op>.txt``, and cProfile on process CPU time to ``<op>.cpu.txt``."""
    import cProfile
    import io
    import pstats

    from pyinstrument import Profiler

    half = max(1, n // 2)
    profiler = Profiler(interval=0.0005)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _profiled(op, range(start, start + half), profiler.start, profiler.stop)
    finally:
        if profiler.is_running:
            profiler.stop()
    path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))

    cpu = cProfile.Profile(time.process_time)
    _profiled(op, range(start + half, start + 2 * half), cpu.enable, cpu.disable)
    text = io.StringIO()
    stats = pstats.Stats(cpu, stream=text)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    path.with_suffix(".cpu.txt").write_text(f"cProfile, process CPU time, {half} requests\n" + text.getvalue())


def _profiled(op: Op, indexes: range, start: Callable[[], Any], stop: Callable[[], Any]) -> None:
    """Serve ``op``'s requests with a profiler on around each handler call only."""
    for i in indexes:
        # Built one by one: a chained operation (refresh) needs the previous response first.
        prepared = op.make(i)
        start()
        out, _, _ = _invoke(prepared)
        stop()
        if op.after is not None:
            op.after(i, to_result(out))


def cold_events(ctx: Context) -> dict[str, Any]:
    """The first request each function serves in the cold-start item: a representative one that works."""
    api, out = ctx.api, {}
    admin = bearer(ctx.admin)
    candidates: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        "DiscoveryFunction": [("GET", "/.well-known/openid-configuration", {}), ("GET", "/health/status", {})],
        "ClientsFunction": [("GET", f"/clients/{ctx.client.id}", {"headers": admin})],
        "OAuth2Function": [("POST", "/oauth2/token", {"headers": ctx.client.auth, "form": flows.CC_FORM})],
        "FlushFunction": [("POST", "/oauth2/flush", {"headers": admin, "json_body": {}})],
        # What a resource server asks most: the warden's decision on a subject.
        "AdminFunction": [("POST", "/warden/allowed", {"headers": admin, "json_body": {
            "subject": ctx.client.id, "resource": "rn:hydra:clients", "action": "get"}})],
    }
    try:
        consent_id = _consent_request(ctx)
        candidates["ConsentFunction"] = [("GET", f"/oauth2/consent/requests/{consent_id}", {"headers": admin})]
    except (Unavailable, KeyError, ValueError) as exc:
        out["ConsentFunction"] = {"error": str(exc)}
    for function, options in candidates.items():
        errors = []
        for method, path, kwargs in options:
            try:
                prepared = api.prepare(method, path, **kwargs)
            except Unavailable as exc:
                errors.append(str(exc))
                continue
            if prepared.function != function:
                errors.append(f"{method} {path} is routed to {prepared.function}")
                continue
            result = api.run(prepared)
            if result.status < 300:
                out[function] = {"request": f"{method} {path}", "event": api.prepare(method, path, **kwargs).event}
                break
            errors.append(f"{method} {path} answered {result.status}")
        else:
            out[function] = {"error": "; ".join(errors) or "no request"}
    return out


def _consent_request(ctx: Context) -> str:
    from urllib.parse import parse_qs, urlencode, urlsplit

    query = {"client_id": ctx.client.id, "redirect_uri": flows.REDIRECT_URI, "response_type": "code",
             "scope": "openid offline", "state": "bench-state-0123"}
    first = ctx.api.expect((302, 303), "GET", "/oauth2/auth", query=urlencode(query))
    return parse_qs(urlsplit(first.headers.get("location", "")).query)["consent"][0]


def run_warm(spec: dict[str, Any]) -> dict[str, Any]:
    sizes = spec["sizes"]
    api = Api()
    out: dict[str, Any] = {"ops": {}, "notes": []}
    try:
        ctx = Context(api, sizes)
    except Unavailable as exc:
        out["setup_error"] = str(exc)
        out["ops"]["health"] = _measure_one(None, api, "health", sizes)
        return out
    for name in spec["ops"]:
        out["ops"][name] = _measure_one(ctx, api, name, sizes, spec.get("profile_dir"))
    if spec.get("cold_events"):
        out["cold_events"] = cold_events(ctx)
    out["notes"] = ctx.notes
    out["list_size"] = ctx.list_size
    out["python"] = _environment()
    return out


def _environment() -> dict[str, Any]:
    """Which Python measured, and whether it is the runtime-only environment (no test tools)."""
    import importlib.util
    import platform

    return {"version": platform.python_version(), "executable": sys.executable,
            "runtime_only": importlib.util.find_spec("pytest") is None,
            "blinker": importlib.util.find_spec("blinker") is not None}


def _measure_one(ctx: Context | None, api: Api, name: str, sizes: dict[str, Any],
                 profile_dir: str | None = None) -> dict[str, Any]:
    n = sizes["flow_requests"] if name in FLOW_OPS else sizes["warm_requests"]
    warmup = min(sizes["warmup"], 10) if name in FLOW_OPS else sizes["warmup"]
    extra = n if profile_dir else 0
    try:
        if ctx is None:
            if name != "health":
                raise Unavailable("set-up failed")
            op = Op("health", lambda _i: api.prepare("GET", "/health/status"))
        else:
            op = BUILDERS[name](ctx, warmup + n + extra)
        figures = measure(op, warmup, n)
    except Unavailable as exc:
        return {"unavailable": str(exc)}
    except Exception as exc:
        return {"unavailable": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    if profile_dir:
        try:
            profile_op(op, warmup + n, n, Path(profile_dir) / f"{name}.txt")
        except Exception as exc:  # a profile is a bonus: the figures stand without it
            figures["profile_error"] = f"{type(exc).__name__}: {exc}"
    return figures


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    """VmHWM: the peak RSS of this process image. (ru_maxrss is not used: Linux carries it over from
    the parent across fork and exec, so it would report the benchmark driver's size.)"""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


MIX = (("client_credentials", 30), ("introspection", 30), ("jwks", 10), ("discovery", 10),
       ("client_get", 10), ("client_list", 5), ("health", 5))


def run_memory(spec: dict[str, Any]) -> dict[str, Any]:
    sizes = spec["sizes"]
    total = sizes["memory_requests"]
    api = Api()
    try:
        ctx: Context | None = Context(api, sizes)
    except Unavailable as exc:
        ctx = None
        setup_error = str(exc)
    ops: list[Op] = []
    skipped: dict[str, str] = {}
    for name, weight in MIX:
        try:
            if ctx is None:
                if name != "health":
                    raise Unavailable(setup_error)
                op = Op("health", lambda _i: api.prepare("GET", "/health/status"))
            else:
                op = BUILDERS[name](ctx, 0)
            ops.extend([op] * weight)
        except Unavailable as exc:
            skipped[name] = str(exc)
    gc.collect()
    samples: list[tuple[int, int]] = [(0, _rss_bytes())]
    step = max(1, total // 40)
    errors = 0
    started = time.perf_counter()
    for i in range(total):
        op = ops[(i * 7919) % len(ops)]  # a fixed interleaving of the weighted mix
        out, _, _ = _invoke(op.make(i))
        if out.get("statusCode") not in op.expected:
            errors += 1
        if (i + 1) % step == 0:
            samples.append((i + 1, _rss_bytes()))
    elapsed = time.perf_counter() - started
    return {
        "requests": total,
        "errors": errors,
        "elapsed_s": elapsed,
        "peak_rss_bytes": _peak_rss_bytes(),
        "samples": samples,
        "mix": {name: weight for name, weight in MIX if name not in skipped},
        "skipped": skipped,
    }


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("cpu") is not None:  # bench.cpus: alone on this CPU while measured
        os.sched_setaffinity(0, {spec["cpu"]})
    if spec.get("experiments"):
        from bench.experiments import apply

        apply(spec["experiments"])
    mode = spec["mode"]
    result = run_warm(spec) if mode == "warm" else run_memory(spec)
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
