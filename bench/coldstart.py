"""Item 1, cold start: per function, fresh interpreters that import ``functions/<group>/app.py`` and
serve one first request, against the floor (fresh interpreters that import boto3 and create the
clients that function needs). Runs alternate, the median of each is reported."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import BENCH, ROOT, TEMPLATE, Row, not_available, verdict

CHILD = BENCH / "_cold_child.py"
BUDGET_RATIO = 1.25


def functions_and_services() -> dict[str, tuple[Path, list[str]]]:
    """Each function's code folder and the AWS clients it needs (from its template policies).

    Secrets Manager is left out: the benchmark sets SYSTEM_SECRET, so no handler reads a secret."""
    from hydra_lambda.local.routes import load_template

    template = load_template(TEMPLATE)
    out = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        if not any(event.get("Type") == "HttpApi" for event in (props.get("Events") or {}).values()):
            continue  # scheduled only: no user waits on its cold start
        text = json.dumps(props.get("Policies") or [])
        services = []
        if "DynamoDB" in text or "dynamodb:" in text:
            services.append("dynamodb")
        if "kms:" in text:
            services.append("kms")
        out[logical_id] = (ROOT / str(props["CodeUri"]), services)
    return out


def _run(spec: dict[str, Any], env: dict[str, str], importtime: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec))
        args = [sys.executable, *(["-X", "importtime"] if importtime else []), str(CHILD), str(spec_path),
                str(out_path)]
        proc = subprocess.run(args, cwd=tmp, env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no output")
        result = json.loads(out_path.read_text())
        if importtime:
            result["imports"] = _top_imports(proc.stderr)
        return result


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _top_imports(stderr: str, count: int = 10) -> list[tuple[str, float]]:
    """The heaviest top-level imports (cumulative ms) from ``-X importtime``."""
    top = []
    for line in stderr.splitlines():
        found = _IMPORT_LINE.match(line)
        if found and len(found.group(3)) <= 1:
            top.append((found.group(4), int(found.group(2)) / 1000))
    return sorted(top, key=lambda item: -item[1])[:count]


def run(env: dict[str, str], first_requests: dict[str, Any], runs: int, only: tuple[str, ...] = (),
        thorough: bool = True, experiments: list[str] | None = None) -> list[Row]:
    """``only``: these functions (default all); ``thorough``: a warm-up run first and an -X importtime run."""
    rows = []
    endpoints = {"dynamodb": env["DYNAMODB_ENDPOINT"], "kms": env["KMS_ENDPOINT"]}
    budget = f"<= {BUDGET_RATIO}x floor"
    for function, (code_dir, services) in functions_and_services().items():
        if only and function not in only:
            continue
        item = f"cold start {function}"
        first = first_requests.get(function) or {"error": "no first request prepared"}
        if "event" not in first:
            rows.append(not_available("cold start", item, first.get("error", ""), budget))
            continue
        if not (code_dir / "app.py").is_file():
            rows.append(not_available("cold start", item, f"{code_dir}/app.py does not exist", budget))
            continue
        handler_spec = {"mode": "handler", "code_dir": str(code_dir), "event": first["event"],
                        "experiments": experiments or [], "root": str(ROOT)}
        floor_spec = {"mode": "floor", "services": services, "endpoints": endpoints}
        try:
            if thorough:
                _run(handler_spec, env)  # compile .pyc files and warm the page cache; not counted
                _run(floor_spec, env)
            handler, floor = [], []
            for _ in range(runs):
                handler.append(_run(handler_spec, env))
                floor.append(_run(floor_spec, env))
            profile = _run(handler_spec, env, importtime=True) if thorough else {}
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            rows.append(not_available("cold start", item, f"{type(exc).__name__}: {exc}", budget))
            continue
        h = statistics.median(r["total_ms"] for r in handler)
        f = statistics.median(r["total_ms"] for r in floor)
        h_cpu = statistics.median(r["cpu_ms"] for r in handler)
        f_cpu = statistics.median(r["cpu_ms"] for r in floor)
        statuses = sorted({r["status"] for r in handler})
        ok = h <= BUDGET_RATIO * f and all(s < 500 for s in statuses)
        rows.append(Row(
            "cold start", item,
            f"{h:.0f} ms vs floor {f:.0f} ms = {h / f:.2f}x (CPU {h_cpu:.0f} vs {f_cpu:.0f} ms = {h_cpu / f_cpu:.2f}x)",
            budget, verdict(ok), round(h / f, 3), "x floor",
            detail={
                "first_request": first["request"],
                "handler_ms": round(h, 1),
                "handler_import_ms": round(statistics.median(r["import_ms"] for r in handler), 1),
                "handler_first_request_ms": round(statistics.median(r["rest_ms"] for r in handler), 1),
                "handler_cpu_ms": round(h_cpu, 1),
                "floor_ms": round(f, 1),
                "floor_cpu_ms": round(f_cpu, 1),
                "floor_services": services,
                "statuses": statuses,
                "runs": runs,
                "heaviest_imports_ms": profile.get("imports", []),
            },
        ))
    return rows
