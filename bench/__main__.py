"""``python -m bench``: run every item, print the table, write bench/results.json.

Options: ``--smoke`` (a few requests per item, for CI), ``--out PATH``, ``--profile`` (pyinstrument
profiles of the warm operations into bench/profiles/), ``--dynamodb-endpoint``/``--kms-endpoint``
(reuse running engines instead of starting them).

Exits 1 when a row with a budget misses it (FAIL) or could not be measured (not available), except
in ``--smoke`` mode, which only checks that every item produces a well-formed row."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cpus, report
from bench.common import BENCH, Row, Sizes, not_available, run_python, runtime_python

WARM_OPS = ["client_credentials", "introspection", "revoke", "code_exchange", "refresh", "jwks", "discovery",
            "client_get", "client_list", "health"]
LABELS = {
    "client_credentials": "client_credentials token",
    "introspection": "introspection",
    "revoke": "revoke",
    "code_exchange": "authorization code exchange (openid)",
    "refresh": "refresh",
    "jwks": "JWKS",
    "discovery": "discovery document",
    "client_get": "client get",
    "client_list": "client list",
    "health": "health",
}
PEER_OPS = ("client_credentials", "introspection")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few requests per item (seconds, not minutes)")
    parser.add_argument("--out", default="", help="where the results go (bench/results.json; with --memory "
                        "bench/results-memory.json)")
    parser.add_argument("--memory", action="store_true",
                        help="only the memory sizing (bench/memory.py): latency and cost at 256-1,769 MB CPU shares")
    parser.add_argument("--profile", action="store_true", help="also write pyinstrument profiles to bench/profiles/")
    parser.add_argument("--experiment", default="",
                        help="comma-separated patches to try (see bench/experiments.py); the results say so")
    parser.add_argument("--dynamodb-endpoint", default="", help="use this DynamoDB instead of starting one")
    parser.add_argument("--kms-endpoint", default="", help="use this KMS (moto) instead of starting one")
    return parser


class Run:
    def __init__(self, sizes: Sizes, profile: bool, experiments: list[str]) -> None:
        self.sizes = sizes
        self.profile = profile
        self.experiments = experiments
        self.rows: list[Row] = []
        self.raw: dict[str, Any] = {}
        self.failures: dict[str, str] = {}

    def guarded(self, section: str, items: list[str], func: Any, *args: Any) -> Any:
        """Run one item; if it breaks, its rows say "not available" with the reason, and the run goes on."""
        started = time.perf_counter()
        try:
            return func(*args)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self.failures[section] = reason
            print(f"bench: {section} failed: {reason}\n{traceback.format_exc()}", file=sys.stderr)
            for item in items:
                self.rows.append(not_available(section, item, reason))
            return None
        finally:
            print(f"bench: {section} done in {time.perf_counter() - started:.1f}s", file=sys.stderr)

    # --- item 2 and 3: warm CPU and AWS calls, in a handler process of the runtime-only environment
    def warm(self, env: dict[str, str], engine_pids: list[int]) -> dict[str, Any]:
        spec = {"mode": "warm", "sizes": asdict(self.sizes), "ops": WARM_OPS, "cold_events": True,
                "experiments": self.experiments}
        if self.profile:
            spec["profile_dir"] = str(BENCH / "profiles")
        runtime = runtime_python()
        python, extra = runtime if runtime is not None else (None, {})
        with cpus.isolated(engine_pids) as cpu:
            spec["cpu"] = cpu
            result = run_python(["-m", "bench.worker"], {**env, **extra}, spec, timeout=3600, python=python)
        self.raw["warm"] = result
        return result

    def peers(self, eng: Any) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, str]]:
        """node-oidc-provider on DynamoDB Local (the budget's peer), then in memory (kept running for
        the throughput item). Returns the in-memory process, both peers' figures, and why either is
        missing (``errors["dynamodb"]``, ``errors["memory"]``)."""
        from bench import engines
        from bench import peer as peer_mod

        error = engines.node_ready()
        if error:
            return None, {}, {}, {"dynamodb": error, "memory": error}
        proxy = eng.proxy(eng.dynamodb)  # its own counter: node's DynamoDB requests only
        try:
            ddb_proc, ddb_url = engines.start_peer(proxy.url)
        except Exception as exc:
            ddb, ddb_error = {}, f"node-oidc-provider on DynamoDB did not start: {exc}"
        else:
            try:
                ddb = self.guarded("node-oidc-provider on DynamoDB CPU", [], peer_mod.measure, ddb_proc, ddb_url,
                                   self.sizes, eng.pids, 1, proxy.url) or {}
                ddb_error = self.failures.get("node-oidc-provider on DynamoDB CPU", "")
            finally:
                ddb_proc.stop()
        self.raw["peer_dynamodb_cpu"] = ddb
        memory: dict[str, Any] = {}
        try:
            mem_peer = engines.start_peer()
        except Exception as exc:
            return None, ddb, memory, {"dynamodb": ddb_error, "memory": f"node-oidc-provider did not start: {exc}"}
        memory = self.guarded("node-oidc-provider CPU", [], peer_mod.measure, mem_peer[0], mem_peer[1], self.sizes,
                              eng.pids) or {}
        self.raw["peer_cpu"] = memory
        return mem_peer, ddb, memory, {"dynamodb": ddb_error, "memory": self.failures.get("node-oidc-provider CPU", "")}

    def envelope(self, env: dict[str, str]) -> dict[str, Any]:
        spec = {"mode": "warm", "sizes": asdict(self.sizes), "ops": ["code_exchange", "jwks"],
                "experiments": self.experiments}
        result = run_python(["-m", "bench.worker"], env, spec, timeout=3600)
        self.raw["envelope"] = result
        return result

    def login(self, env: dict[str, str], engine_pids: list[int]) -> dict[str, Any]:
        """The browser login, leg by leg (bench/login.py), alone on a CPU as the warm item is."""
        spec = {"sizes": asdict(self.sizes)}
        with cpus.isolated(engine_pids) as cpu:
            spec["cpu"] = cpu
            result = run_python(["-m", "bench.login"], env, spec, timeout=3600)
        self.raw["login"] = result
        return result

    def logout(self, env: dict[str, str], engine_pids: list[int]) -> dict[str, Any]:
        """The logout with a logout app, leg by leg (bench/logout.py), alone on a CPU as the login is."""
        spec = {"sizes": asdict(self.sizes)}
        with cpus.isolated(engine_pids) as cpu:
            spec["cpu"] = cpu
            result = run_python(["-m", "bench.logout"], env, spec, timeout=3600)
        self.raw["logout"] = result
        return result

    def current_login(self, env: dict[str, str], engine_pids: list[int]) -> dict[str, Any]:
        """The current login/consent flow's login and silent renew (bench/login.py, ``run_current``), with
        URLS_LOGIN and URLS_CONSENT set for the handler process (the apps are played by the item)."""
        spec: dict[str, Any] = {"sizes": asdict(self.sizes), "flow": "current"}
        flow_env = {**env, "URLS_LOGIN": "http://127.0.0.1:3000/login", "URLS_CONSENT": "http://127.0.0.1:3000/consent"}
        with cpus.isolated(engine_pids) as cpu:
            spec["cpu"] = cpu
            result = run_python(["-m", "bench.login"], flow_env, spec, timeout=3600)
        self.raw["current_login"] = result
        return result

    def memory(self, env: dict[str, str]) -> dict[str, Any]:
        spec = {"mode": "memory", "sizes": asdict(self.sizes), "experiments": self.experiments}
        result = run_python(["-m", "bench.worker"], env, spec, timeout=3600)
        self.raw["memory"] = result
        return result


def memory_sizing(args: argparse.Namespace, sizes: Sizes) -> int:
    """``--memory``: the memory sizing alone (minutes under the CPU limits); info rows, exit 0."""
    from bench import engines, memory

    started = time.perf_counter()
    eng = engines.start(args.dynamodb_endpoint, args.kms_endpoint, envelope=False)
    raw: dict[str, Any] = {}
    try:
        rows, raw = memory.run(eng.counted(eng.env), eng.pids, sizes, args.smoke)
    except Exception as exc:
        print(f"bench: memory sizing failed: {exc}\n{traceback.format_exc()}", file=sys.stderr)
        rows = memory.unavailable(f"{type(exc).__name__}: {exc}")
    finally:
        eng.stop()
    out = Path(args.out or BENCH / "results-memory.json")
    out.write_text(json.dumps({"generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                               "mode": "memory-smoke" if args.smoke else "memory",
                               "duration_s": round(time.perf_counter() - started, 1),
                               "machine": {"python": platform.python_version(), "platform": platform.platform(),
                                           "cpus": __import__("os").cpu_count()},
                               "rows": [row.to_json() for row in rows], "raw": raw}, indent=1, default=str))
    print(report.table(rows))
    print(f"\n{len(rows)} rows; written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = Sizes.smoke() if args.smoke else Sizes()
    if args.memory:
        return memory_sizing(args, sizes)
    args.out = args.out or str(BENCH / "results.json")
    experiments = [name.strip() for name in args.experiment.split(",") if name.strip()]
    from bench.experiments import NAMES

    unknown = [name for name in experiments if name not in NAMES]
    if unknown:
        _parser().error(f"unknown experiment(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")
    run = Run(sizes, args.profile, experiments)
    started = time.perf_counter()
    from bench import engines

    print("bench: starting DynamoDB Local and moto", file=sys.stderr)
    eng = engines.start(args.dynamodb_endpoint, args.kms_endpoint, envelope=sizes.envelope)
    peer = None
    try:
        warm = run.guarded("warm", [], run.warm, eng.counted(eng.env), eng.pids) or {
            "ops": {op: {"unavailable": run.failures.get("warm", "the warm worker failed")} for op in WARM_OPS}}
        envelope = None
        if not sizes.envelope:
            eng.envelope_error = "skipped in --smoke mode"
        elif eng.envelope_env is not None:
            envelope = run.guarded("envelope", [], run.envelope, eng.counted(eng.envelope_env))
            if envelope is None:
                eng.envelope_error = run.failures.get("envelope", "")
        login = run.guarded("browser login", [], run.login, eng.counted(eng.env), eng.pids)
        current = run.guarded("current flow login", [], run.current_login, eng.counted(eng.env), eng.pids)
        logout = run.guarded("logout", [], run.logout, eng.counted(eng.env), eng.pids)
        peer, peer_ddb, peer_memory, peer_errors = run.peers(eng)
        report.warm_rows(run.rows, warm, peer_ddb, peer_memory, peer_errors, LABELS)
        report.call_rows(run.rows, warm, envelope, eng.envelope_error, LABELS)
        from bench import coldstart

        cold = run.guarded("cold start", ["every function"], coldstart.run, eng.env, warm.get("cold_events") or {},
                           sizes.cold_runs, sizes.cold_functions, not args.smoke, experiments)
        if cold is not None:
            run.rows[0:0] = cold
        memory = run.guarded("memory", ["peak RSS"], run.memory, eng.env)
        if memory is not None:
            report.memory_rows(run.rows, memory)
        if experiments:
            run.rows.append(not_available("throughput (HTTP, loopback)", "hydra-lambda serve",
                                          "experiments patch the handler processes only, not the local server"))
        else:
            run.guarded("throughput (HTTP, loopback)", ["hydra-lambda serve"], report.throughput_rows, run, eng.env,
                        peer, peer_errors["memory"], sizes)
        report.cost_rows(run.rows, warm, peer_ddb)
        from bench.cost import current_rows, login_rows

        run.rows.extend(login_rows(login, run.failures.get("browser login", "")))
        run.rows.extend(current_rows(current, run.failures.get("current flow login", "")))
        from bench.logout import logout_rows

        run.rows.extend(logout_rows(logout, run.failures.get("logout", "")))
    finally:
        if peer is not None:
            peer[0].stop()
        eng.stop()
    results = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "smoke" if args.smoke else "full",
        "experiments": experiments,
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count()},
        "sizes": asdict(sizes),
        "rows": [row.to_json() for row in run.rows],
        "raw": run.raw,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    if experiments:
        print(f"EXPERIMENT RUN ({', '.join(experiments)}): the layer was patched in process; these are not the "
              "committed code's figures.\n")
    print(report.table(run.rows))
    missed = report.missed(run.rows)
    print(f"\n{len(run.rows)} rows, {sum(r.status == 'FAIL' for r in run.rows)} over budget, "
          f"{sum(r.status == 'not available' for r in run.rows)} not available; written to {out} "
          f"({results['duration_s']}s)")
    names = " | ".join(f"{r.section}: {r.item}" for r in missed)
    if args.smoke:  # tiny sizes: the figures mean nothing, so no verdict (the list is for the smoke test)
        print(f"bench --smoke: not judged; a full run would fail on: {names or '(none)'}", file=sys.stderr)
        return 0
    if missed:
        print(f"make bench: {len(missed)} budget(s) missed or not measured: {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
