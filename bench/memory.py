"""Memory sizing (issue 27 item 5): ``python -m bench --memory``.

Lambda gives a function CPU in proportion to its memory (one vCPU at 1,769 MB). Here the handler
process runs under a CPU bandwidth limit of the same share (a cgroup: ``cpu.max`` on cgroup v2,
``cpu.cfs_quota_us``/``cpu.cfs_period_us`` on v1) while it serves the main operations, and a fresh
interpreter cold-starts OAuth2Function under the same limit. Beside the measurement, the model
``CPU per request / share + wait`` from the same operations unlimited (median wall + mean CPU x
(1/share - 1)). Then dollars per million
at each size (the cost rows' prices) and the size where latency and cost are best together (the
lowest geometric mean over the operations of dollars x median latency). Rows are ``info``.

Two ways a container meets the limit, both measured:

- **busy**: requests back to back (a container under steady load): the quota runs out within a
  period and the process waits for the next one;
- **spaced**: a pause of three periods before each request (light traffic): each request starts with
  a full quota, so a short one may finish before the limit bites.

Worker: ``python -m bench.memory <spec.json> <out.json>`` (the handler process; its set-up runs
unlimited, only the measured batches run inside the cgroup, events built beforehand)."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import BENCH, ROOT, TEMPLATE, Row, Sizes, not_available, run_python

SIZES_MB = (256, 512, 1024, 1769)  # 1,769 MB: one full vCPU, the reference
OPS = ("client_credentials", "introspection", "code_exchange")
LABELS = {"client_credentials": "client_credentials token", "introspection": "introspection",
          "code_exchange": "authorization code exchange (openid)"}
FULL_VCPU_MB = 1769
PERIOD_US = 20_000  # AWS does not document Lambda's enforcement period; see bench/README.md
SECTION = "memory sizing"
COLD_FUNCTION = "OAuth2Function"


def share(mb: int) -> float:
    return min(1.0, mb / FULL_VCPU_MB)


# ------------------------------------------------------------------ the CPU limit (a cgroup)

class CpuLimit:
    """A cgroup of its own with a CPU bandwidth limit; ``enter``/``leave`` move this process in and
    out, ``child`` is a ``preexec_fn`` that puts a child process in it."""

    def __init__(self, period_us: int = PERIOD_US) -> None:
        self.period_us = period_us
        name = f"hydra-bench-memory-{os.getpid()}"
        v2 = Path("/sys/fs/cgroup/cgroup.controllers")
        if v2.is_file() and "cpu" in v2.read_text().split():
            self.root, self.version = Path("/sys/fs/cgroup"), 2
            (self.root / "cgroup.subtree_control").write_text("+cpu")
        elif Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").is_file():
            self.root, self.version = Path("/sys/fs/cgroup/cpu"), 1
        else:
            raise OSError("no cgroup CPU controller (cgroup v2 cpu.max or v1 cpu.cfs_quota_us)")
        self.path = self.root / name
        self.path.mkdir()

    def set(self, fraction: float) -> None:
        quota = max(1000, round(fraction * self.period_us))
        if self.version == 2:
            (self.path / "cpu.max").write_text(f"{quota} {self.period_us}")
        else:
            (self.path / "cpu.cfs_period_us").write_text(str(self.period_us))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))

    def enter(self) -> None:
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def leave(self) -> None:
        (self.root / "cgroup.procs").write_text(str(os.getpid()))

    def child(self) -> None:
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def throttled(self) -> dict[str, float]:
        fields = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        usec = float(fields.get("throttled_usec", 0)) or float(fields.get("throttled_time", 0)) / 1000
        return {"periods": float(fields.get("nr_periods", 0)),
                "throttled_periods": float(fields.get("nr_throttled", 0)), "throttled_ms": usec / 1000}

    def close(self) -> None:
        try:
            self.path.rmdir()
        except OSError as exc:
            print(f"bench: could not remove {self.path}: {exc}", file=sys.stderr)


# ------------------------------------------------------------------ the worker (handler process)

def _invoke(prepared: Any) -> tuple[dict[str, Any], float, float]:
    from hydra_lambda_local.events import FakeContext

    context = FakeContext(prepared.function)
    c0, w0 = time.process_time(), time.perf_counter()
    out = prepared.handler(prepared.event, context)
    w1, c1 = time.perf_counter(), time.process_time()
    return out, (c1 - c0) * 1000, (w1 - w0) * 1000


def _batch(events: list[Any], warmup: int, gap_s: float, limit: CpuLimit | None,
           fraction: float | None) -> dict[str, Any]:
    """Serve ``events`` (built beforehand) in the limit; per measured request: wall and CPU ms."""
    outs, wall, cpu = [], [], []
    before = None
    if limit is not None and fraction is not None:
        limit.set(fraction)
        limit.enter()
        before = limit.throttled()
    try:
        for i, prepared in enumerate(events):
            if gap_s:
                time.sleep(gap_s)
            out, c, w = _invoke(prepared)
            outs.append(out.get("statusCode"))
            if i >= warmup:
                wall.append(w)
                cpu.append(c)
    finally:
        throttled = {}
        if limit is not None and before is not None:
            after = limit.throttled()
            limit.leave()
            throttled = {k: after[k] - before[k] for k in after}
    bad = [s for s in outs if s != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} of {len(outs)} requests answered {sorted(set(bad))}")
    return {"wall_ms": wall, "cpu_ms": cpu, "throttled": throttled}


def _events(ctx: Any, name: str, count: int) -> list[Any]:
    from bench.worker import BUILDERS

    op = BUILDERS[name](ctx, count)  # the code exchange makes ``count`` fresh codes, unlimited
    return [op.make(i) for i in range(count)]


def _calibrate(limit: CpuLimit, fraction: float, seconds: float = 0.4) -> float:
    """The CPU share a busy loop actually gets in the limit (proves the limiter works)."""
    limit.set(fraction)
    limit.enter()
    try:
        c0, w0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - w0 < seconds:
            pass
        return (time.process_time() - c0) / (time.perf_counter() - w0)
    finally:
        limit.leave()


def _cold(event: dict[str, Any], code_dir: Path, limit: CpuLimit | None,
          fraction: float | None) -> dict[str, Any]:
    """One cold start of ``code_dir``'s handler (bench/_cold_child.py: ``import app`` + first request)."""
    with tempfile.TemporaryDirectory(prefix="bench-memory-cold-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({"mode": "handler", "code_dir": str(code_dir), "event": event,
                                         "experiments": [], "root": str(ROOT)}))
        hook: Callable[[], None] | None = None
        if limit is not None and fraction is not None:
            limit.set(fraction)
            hook = limit.child
        proc = subprocess.run([sys.executable, str(BENCH / "_cold_child.py"), str(spec_path), str(out_path)],
                              cwd=tmp, capture_output=True, text=True, timeout=300, check=False,
                              preexec_fn=hook)  # the child joins the cgroup before exec
        if proc.returncode != 0 or not out_path.exists():
            raise RuntimeError(f"cold start failed: {proc.stderr.strip()[-300:]}")
        return dict(json.loads(out_path.read_text()))


def _code_dir(function: str) -> Path:
    from hydra_lambda_local.routes import load_template

    return ROOT / str(load_template(TEMPLATE)["Resources"][function]["Properties"]["CodeUri"])


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    from bench import counting, flows
    from bench.api import Api
    from bench.worker import Context

    cfg = spec["memory"]
    api = Api()
    ctx = Context(api, spec["sizes"])
    out: dict[str, Any] = {"sizes_mb": list(cfg["sizes_mb"]), "ops": list(OPS), "period_us": cfg["period_us"],
                           "limit": "", "units": {}, "calibration": {}, "runs": []}
    try:
        limit: CpuLimit | None = CpuLimit(cfg["period_us"])
        out["limit"] = f"cgroup v{limit.version}"
    except OSError as exc:
        limit, out["limit_error"] = None, str(exc)
    gap = 3 * cfg["period_us"] / 1e6
    warmup, busy_n, spaced_n = cfg["warmup"], cfg["busy"], cfg["spaced"]
    try:
        if limit is not None:
            out["calibration"] = {str(mb): _calibrate(limit, share(mb)) for mb in cfg["sizes_mb"]}
        for name in OPS:  # unlimited, counted: the DynamoDB units each operation consumes (set-up not counted)
            events = _events(ctx, name, busy_n)
            before = counting.snapshot()
            _batch(events, 0, 0.0, None, None)
            out["units"][name] = counting.summarize(before, counting.snapshot(), busy_n)
        labels: list[int | None] = [None, *cfg["sizes_mb"]] if limit is not None else [None]
        for rnd in range(cfg["rounds"]):
            order = labels[rnd % len(labels):] + labels[:rnd % len(labels)]  # a different order each round
            for mb in order:
                fraction = share(mb) if mb else None
                for name in OPS:
                    busy = _batch(_events(ctx, name, warmup + busy_n), warmup, 0.0, limit, fraction)
                    spaced = _batch(_events(ctx, name, warmup + spaced_n), warmup, gap, limit, fraction)
                    out["runs"].append({"round": rnd, "mb": mb, "op": name, "busy": busy, "spaced": spaced})
        prepared = api.prepare("POST", "/oauth2/token", headers=ctx.client.auth, form=flows.CC_FORM)
        code_dir = _code_dir(prepared.function)
        out["cold"] = []
        _cold(prepared.event, code_dir, None, None)  # .pyc and page cache; not counted
        for rnd in range(cfg["cold_runs"]):
            for mb in labels[rnd % len(labels):] + labels[:rnd % len(labels)]:
                figures = _cold(prepared.event, code_dir, limit, share(mb) if mb else None)
                out["cold"].append({"round": rnd, "mb": mb, **figures})
        out["cold_function"] = prepared.function
    finally:
        if limit is not None:
            limit.close()
    return out


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("cpu") is not None:  # bench.cpus: alone on this CPU while measured
        os.sched_setaffinity(0, {spec["cpu"]})
    Path(argv[1]).write_text(json.dumps(run_worker(spec)))
    return 0


# ------------------------------------------------------------------ the arithmetic and the rows

def config(smoke: bool) -> dict[str, Any]:
    if smoke:
        return {"sizes_mb": list(SIZES_MB), "period_us": PERIOD_US, "warmup": 2, "busy": 5, "spaced": 3,
                "rounds": 1, "cold_runs": 1}
    return {"sizes_mb": list(SIZES_MB), "period_us": PERIOD_US, "warmup": 20, "busy": 150, "spaced": 40,
            "rounds": 5, "cold_runs": 5}


def per_million(mb: int, billed_ms: float, units: dict[str, Any]) -> float:
    """Dollars per million requests at ``mb`` with ``billed_ms`` mean billed duration (each request
    rounded up to 1 ms, as Lambda bills), with the operation's DynamoDB units."""
    from bench.cost import PRICES

    return 1e6 * (mb / 1024 * billed_ms / 1000 * PRICES["lambda_arm64_gb_second"] + PRICES["lambda_request"]
                  + PRICES["http_api_request"] + units["write_units"] * PRICES["dynamodb_wru"]
                  + units["read_units"] * PRICES["dynamodb_rru"])


def init_per_million(mb: int, init_ms: float) -> float:
    """A cold start's init phase, billed as duration (Lambda bills INIT since August 2025)."""
    from bench.cost import PRICES

    return 1e6 * mb / 1024 * math.ceil(init_ms) / 1000 * PRICES["lambda_arm64_gb_second"]


def _stats(runs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Over the rounds: the median of the per-round medians, their spread, p90, the mean billed ms."""
    medians = [statistics.median(r[kind]["wall_ms"]) for r in runs]
    walls = [w for r in runs for w in r[kind]["wall_ms"]]
    cpus = [c for r in runs for c in r[kind]["cpu_ms"]]
    return {"p50_ms": statistics.median(medians), "round_p50_ms": [round(m, 3) for m in medians],
            "p90_ms": statistics.quantiles(walls, n=10)[-1] if len(walls) > 1 else walls[0],
            "mean_ms": statistics.fmean(walls), "cpu_ms": statistics.fmean(cpus),
            "billed_ms": statistics.fmean(math.ceil(w) for w in walls), "requests": len(walls),
            "throttled_periods": sum(r[kind]["throttled"].get("throttled_periods", 0) for r in runs)}


def analyse(raw: dict[str, Any]) -> dict[str, Any]:
    """Per size and operation: measured latency (busy, spaced), the model's, dollars per million;
    cold starts; the chosen size."""
    unlimited = {name: [r for r in raw["runs"] if r["op"] == name and r["mb"] is None] for name in OPS}
    base = {name: _stats(unlimited[name], "busy") for name in OPS}
    base_spaced = {name: _stats(unlimited[name], "spaced") for name in OPS}
    table: dict[int, dict[str, Any]] = {}
    for mb in raw["sizes_mb"]:
        entry: dict[str, Any] = {}
        for name in OPS:
            runs = [r for r in raw["runs"] if r["op"] == name and r["mb"] == mb]
            b = base[name]
            # The unlimited median, with its CPU stretched by 1/share: CPU / share + the median wait.
            model = b["p50_ms"] + b["cpu_ms"] * (1 / share(mb) - 1)
            figures: dict[str, Any] = {"model_ms": model,
                                       "model_per_million": per_million(mb, math.ceil(model), raw["units"][name])}
            if runs:
                busy, spaced = _stats(runs, "busy"), _stats(runs, "spaced")
                figures.update(busy=busy, spaced=spaced,
                               per_million=per_million(mb, busy["billed_ms"], raw["units"][name]),
                               spaced_per_million=per_million(mb, spaced["billed_ms"], raw["units"][name]))
            entry[name] = figures
        cold = [c["total_ms"] for c in raw.get("cold", []) if c["mb"] == mb]
        if cold:
            entry["cold"] = {"p50_ms": statistics.median(cold), "min_ms": min(cold), "max_ms": max(cold),
                             "cpu_ms": statistics.median(c["cpu_ms"] for c in raw["cold"] if c["mb"] == mb),
                             "runs": len(cold)}
        table[mb] = entry
    return {"base": base, "base_spaced": base_spaced, "sizes": table, "choice": choose(table)}


def choose(table: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The size with the lowest geometric mean, over the operations, of dollars per million x busy
    median latency (the model's where nothing was measured): cost and latency weigh the same, and no
    operation outweighs another because its numbers are bigger."""
    scores = {}
    for mb, entry in table.items():
        products = []
        for name in OPS:
            f = entry[name]
            latency = f["busy"]["p50_ms"] if "busy" in f else f["model_ms"]
            cost = f.get("per_million", f["model_per_million"])
            products.append(cost * latency)
        scores[mb] = math.exp(statistics.fmean(math.log(p) for p in products))
    best = min(scores, key=lambda mb: scores[mb])
    return {"mb": best, "scores": {str(mb): round(s, 3) for mb, s in scores.items()}}


MONTH_S = 30 * 24 * 3600


def snapstart(mb: int) -> dict[str, float]:
    """What SnapStart costs at ``mb`` whatever the traffic: the cache per function and month (one
    active published version), and the restores per million."""
    from bench.cost import PRICES

    gb = mb / 1024
    return {"cache_per_function_month": gb * MONTH_S * PRICES["snapstart_cache_gb_second"],
            "restore_per_million": gb * PRICES["snapstart_restore_gb"] * 1e6}


def serving_functions() -> int:
    """The template's functions that serve HTTP requests (the ones issue 27 puts under SnapStart)."""
    from hydra_lambda_local.routes import load_template

    resources = load_template(TEMPLATE)["Resources"].values()
    return sum(1 for r in resources if r.get("Type") == "AWS::Serverless::Function" and any(
        (e or {}).get("Type") == "HttpApi" for e in ((r.get("Properties") or {}).get("Events") or {}).values()))


def _units(calls: dict[str, Any]) -> str:
    return f"{calls['read_units']:g} RRU + {calls['write_units']:g} WRU per request"


def rows(raw: dict[str, Any]) -> list[Row]:
    result = analyse(raw)
    out = []
    limited = bool(raw.get("limit"))
    how = (f"{raw['limit']} CPU limit, period {raw['period_us'] / 1000:g} ms" if limited
           else f"model only ({raw.get('limit_error', 'no CPU limit')})")
    for name in OPS:
        b, s = result["base"][name], result["base_spaced"][name]
        out.append(Row(SECTION, f"{LABELS[name]}, no CPU limit", f"busy p50 {b['p50_ms']:.2f} ms (rounds "
                       f"{min(b['round_p50_ms']):.2f}-{max(b['round_p50_ms']):.2f}), {b['cpu_ms']:.3f} ms CPU, "
                       f"{b['p50_ms'] - b['cpu_ms']:.2f} ms waiting (p50 - CPU); spaced p50 {s['p50_ms']:.2f} ms; "
                       f"{_units(raw['units'][name])}", "", "info", round(b["p50_ms"], 3), "ms",
                       detail={"busy": b, "spaced": s, "units": raw["units"][name]}))
    for mb, entry in result["sizes"].items():
        calibrated = raw["calibration"].get(str(mb))
        got = f"; share {share(mb):.3f}, measured {calibrated:.3f}" if calibrated is not None else ""
        for name in OPS:
            f = entry[name]
            if "busy" in f:
                b, s = f["busy"], f["spaced"]
                text = (f"busy p50 {b['p50_ms']:.2f} ms (rounds {min(b['round_p50_ms']):.2f}-"
                        f"{max(b['round_p50_ms']):.2f}), p90 {b['p90_ms']:.2f}; spaced p50 {s['p50_ms']:.2f} ms; "
                        f"model {f['model_ms']:.2f} ms; ${f['per_million']:.2f} per million busy "
                        f"(${f['spaced_per_million']:.2f} spaced){got}")
                value = b["p50_ms"]
            else:
                text = f"model {f['model_ms']:.2f} ms; ${f['model_per_million']:.2f} per million ({how})"
                value = f["model_ms"]
            out.append(Row(SECTION, f"{LABELS[name]} at {mb} MB", text, "", "info", round(value, 3), "ms",
                           detail={**f, "mb": mb, "limit": how}))
        snap = snapstart(mb)
        functions = serving_functions()
        out.append(Row(SECTION, f"SnapStart at {mb} MB",
                       f"cache ${snap['cache_per_function_month']:.2f} per function-month (x {functions} functions "
                       f"= ${functions * snap['cache_per_function_month']:.2f} a month, whatever the traffic); "
                       f"${snap['restore_per_million']:.0f} per million restores", "", "info",
                       round(functions * snap["cache_per_function_month"], 3), "$/month",
                       detail={**snap, "functions": functions, "mb": mb}))
        if "cold" in entry:
            c = entry["cold"]
            init = init_per_million(mb, c["p50_ms"])
            out.append(Row(SECTION, f"cold start {raw.get('cold_function', COLD_FUNCTION)} at {mb} MB",
                           f"{c['p50_ms']:.0f} ms (range {c['min_ms']:.0f}-{c['max_ms']:.0f}, n={c['runs']}), "
                           f"CPU {c['cpu_ms']:.0f} ms; ${init:.2f} per million cold starts without SnapStart{got}",
                           "", "info", round(c["p50_ms"], 1), "ms", detail={**c, "mb": mb, "init_per_million": init}))
    choice = result["choice"]
    out.append(Row(SECTION, "best size (lowest geometric mean of $ per million x busy p50)",
                   f"{choice['mb']} MB (scores: " + ", ".join(f"{mb} MB {s:g}" for mb, s in choice["scores"].items())
                   + f"; {how})", "", "info", float(choice["mb"]), "MB", detail={**choice, "base": result["base"]}))
    return out


def run(env: dict[str, str], engine_pids: list[int], sizes: Sizes, smoke: bool) -> tuple[list[Row], dict[str, Any]]:
    from bench import cpus

    spec: dict[str, Any] = {"sizes": asdict(sizes), "memory": config(smoke)}
    with cpus.isolated(engine_pids) as cpu:
        spec["cpu"] = cpu
        raw = run_python(["-m", "bench.memory"], env, spec, timeout=7200)
    return rows(raw), raw


def unavailable(reason: str) -> list[Row]:
    return [not_available(SECTION, "every size", reason)]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
