"""Item 1, cold start: per function, fresh interpreters that import ``functions/<group>/app.py`` and
serve one first request, against the floor (fresh interpreters that import boto3 and create the
clients that function needs). Runs alternate, the median of each is reported.

The budgets (issue 27) are judged on the built artifact under Python 3.12 (``run_built``): without
SnapStart, import + first request <= ``BUDGET_RATIO`` x the floor; with SnapStart, the simulated
restore + first request <= ``RESTORE_BUDGET`` x a warm request of the same function (bench/_cold_child.py
says what the simulation holds). The same figures from the source tree (this virtualenv's Python)
are information."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import BENCH, ROOT, TEMPLATE, Row, not_available, verdict

CHILD = BENCH / "_cold_child.py"
BUDGET_RATIO = 1.6
RESTORE_BUDGET = 3.0
WARM_AFTER_RESTORE = 30  # requests after the restored one (the median of the last two thirds is "warm")


def functions_and_services() -> dict[str, tuple[Path, list[str]]]:
    """Each function's code folder and the AWS clients it needs (from its template policies).

    Secrets Manager is left out: the benchmark sets SYSTEM_SECRET, so no handler reads a secret."""
    from hydra_lambda_local.routes import load_template

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


def _run(spec: dict[str, Any], env: dict[str, str], importtime: bool = False,
         python: list[str] | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec))
        args = [*(python or [sys.executable]), *(["-X", "importtime"] if importtime else []), str(CHILD),
                str(spec_path), str(out_path)]
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
    budget = ""  # judged on the built artifact (run_built)
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
        stack_spec = {**floor_spec, "mode": "stack"}
        try:
            if thorough:
                _run(handler_spec, env)  # compile .pyc files and warm the page cache; not counted
                _run(floor_spec, env)
                _run(stack_spec, env)
            handler, floor, stack = [], [], []
            for _ in range(runs):
                handler.append(_run(handler_spec, env))
                floor.append(_run(floor_spec, env))
                stack.append(_run(stack_spec, env))
            profile = _run(handler_spec, env, importtime=True) if thorough else {}
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            rows.append(not_available("cold start", item, f"{type(exc).__name__}: {exc}", budget))
            continue
        h = statistics.median(r["total_ms"] for r in handler)
        f = statistics.median(r["total_ms"] for r in floor)
        h_cpu = statistics.median(r["cpu_ms"] for r in handler)
        f_cpu = statistics.median(r["cpu_ms"] for r in floor)
        stack_ms = statistics.median(r["total_ms"] for r in stack)
        statuses = sorted({r["status"] for r in handler})
        rows.append(Row(
            "cold start", f"{item} (source tree, {_python_label()})",
            f"{h:.0f} ms vs floor {f:.0f} ms = {h / f:.2f}x (CPU {h_cpu:.0f} vs {f_cpu:.0f} ms = {h_cpu / f_cpu:.2f}x)"
            f"; floor + pynamodb and powertools imports, none of our code: {stack_ms:.0f} ms = {stack_ms / f:.2f}x",
            budget, "info" if all(s < 500 for s in statuses) else "FAIL", round(h / f, 3), "x floor",
            detail={
                "first_request": first["request"],
                "handler_ms": round(h, 1),
                "handler_import_ms": round(statistics.median(r["import_ms"] for r in handler), 1),
                "handler_first_request_ms": round(statistics.median(r["rest_ms"] for r in handler), 1),
                "handler_cpu_ms": round(h_cpu, 1),
                "floor_ms": round(f, 1),
                "floor_cpu_ms": round(f_cpu, 1),
                "floor_services": services,
                # The chosen packages' own import cost: what no change to our code can go below.
                "stack_floor_ms": round(stack_ms, 1),
                "stack_floor_ratio": round(stack_ms / f, 3),
                "statuses": statuses,
                "runs": runs,
                "heaviest_imports_ms": profile.get("imports", []),
            },
        ))
    if thorough and not experiments:
        rows.extend(run_built(env, first_requests, runs, only))
    elif not experiments:  # --smoke: the restore row from the source tree, so its path runs in CI
        for function, (code_dir, _services) in functions_and_services().items():
            if only and function not in only:
                continue
            first = first_requests.get(function) or {}
            rows.append(restore_row(function, first, env, runs, code_dir, [], [sys.executable],
                                    f"source tree, {_python_label()}"))
    return rows


def _python_label(python: str | None = None) -> str:
    if python is None:
        return f"Python {sys.version_info.major}.{sys.version_info.minor}"
    version = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return f"Python {version}"


def restore_row(function: str, first: dict[str, Any], env: dict[str, str], runs: int, code_dir: Path,
                paths: list[str], python: list[str], where: str) -> Row:
    """SnapStart, simulated (bench/_cold_child.py ``restore``): after-restore hook + first request
    against the median warm request of the same process, median of ``runs`` restores."""
    section, item = "cold start", f"SnapStart restore + first request {function} ({where})"
    budget = f"<= {RESTORE_BUDGET:g}x a warm request"
    if "event" not in first:
        return not_available(section, item, first.get("error", "no first request"), budget)
    warm = 4 if function == "FlushFunction" else WARM_AFTER_RESTORE  # each flush request is a whole flush
    spec = {"mode": "restore", "code_dir": str(code_dir), "paths": paths, "event": first["event"],
            "experiments": [], "root": str(ROOT), "warm": warm}
    try:
        figures = [_run(spec, env, python=python) for _ in range(runs)]
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return not_available(section, item, f"{type(exc).__name__}: {exc}", budget)
    first_ms = statistics.median(r["total_ms"] for r in figures)
    warm_ms = statistics.median(r["warm_ms"] for r in figures)
    first_cpu = statistics.median(r["cpu_ms"] for r in figures)
    warm_cpu = statistics.median(r["warm_cpu_ms"] for r in figures)
    ratio = first_ms / warm_ms
    ok = ratio <= RESTORE_BUDGET and all(r["status"] < 500 for r in figures)
    return Row(section, item,
               f"{first_ms:.1f} ms vs warm {warm_ms:.2f} ms = {ratio:.2f}x (CPU {first_cpu:.1f} vs "
               f"{warm_cpu:.2f} ms = {first_cpu / warm_cpu:.2f}x)", budget, verdict(ok), round(ratio, 3),
               "x warm", detail={
                   "first_request": first["request"],
                   "restore_and_first_ms": round(first_ms, 2),
                   "restore_hook_ms": round(statistics.median(r["restore_ms"] for r in figures), 2),
                   "first_request_ms": round(statistics.median(r["rest_ms"] for r in figures), 2),
                   "restore_and_first_cpu_ms": round(first_cpu, 2),
                   "warm_ms": round(warm_ms, 3), "warm_cpu_ms": round(warm_cpu, 3),
                   "warm_requests": warm, "runs": runs,
                   "simulation": "fork after import + before-snapshot hook; the child runs the after-restore "
                                 "hook, opens its own connection; snapshot page loading and TLS not simulated",
               })


# ---------------------------------------------------------------- from the built artifact

BUILT_BUDGET = f"<= {BUDGET_RATIO:g}x (floor + the request warm); with .pyc < without"


def python312() -> str | None:
    """PYTHON312, else pyenv's newest 3.12, else python3.12 on the PATH (the Lambda runtime's Python)."""
    found = os.environ.get("PYTHON312")
    if found:
        return found
    try:
        versions = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True,
                                  check=True).stdout.split()
        best = sorted((v for v in versions if re.fullmatch(r"3\.12\.\d+", v)), key=lambda v: int(v.split(".")[2]))
        if best:
            prefix = subprocess.run(["pyenv", "prefix", best[-1]], capture_output=True, text=True,
                                    check=True).stdout.strip()
            return str(Path(prefix) / "bin" / "python3.12")
    except (OSError, subprocess.CalledProcessError):
        pass
    return shutil.which("python3.12")


def build(python: str) -> Path:
    """``sam build`` of the template into .aws-sam/bench-build, the layer for this machine's architecture."""
    import platform

    sam = os.environ.get("SAM_CLI") or str(ROOT / ".venv-sam" / "bin" / "sam")
    out = ROOT / ".aws-sam" / "bench-build"
    arch = {"x86_64": "x86_64", "amd64": "x86_64"}.get(platform.machine().lower(), "aarch64")
    env = {**os.environ, "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0",
           "LAYER_ARCH": arch, "PYTHON312": python}
    # --no-cached: this build is for this machine's architecture; it must never be the cached layer a
    # later `sam build` for Lambda (arm64) reuses (samconfig.toml turns caching on).
    proc = subprocess.run([sam, "build", "--template-file", str(TEMPLATE), "--build-dir", str(out),
                           "--no-cached"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1200, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"sam build failed: {(proc.stdout + proc.stderr)[-300:]}")
    return out


def _without_bytecode(built: Path) -> Path:
    """The build as it was before the makefile build: the same files, no .pyc."""
    bare = built.parent / "bench-build-no-pyc"
    shutil.rmtree(bare, ignore_errors=True)
    shutil.copytree(built, bare, ignore=shutil.ignore_patterns("__pycache__"))
    return bare


def _traced_env(env: dict[str, str], function: str, code_dir: Path, daemon: str) -> dict[str, str]:
    """As on Lambda with Tracing: Active: a sampled trace id and the X-Ray daemon address (a local sink)."""
    out = {k: v for k, v in env.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    return {**out, "AWS_LAMBDA_FUNCTION_NAME": function, "LAMBDA_TASK_ROOT": str(code_dir),
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": daemon}


def run_built(env: dict[str, str], first_requests: dict[str, Any], runs: int, only: tuple[str, ...] = ()) -> list[Row]:
    """Per function: cold start from the built artifact under Python 3.12 with only the function folder,
    the layer and the standard library (-I -S), X-Ray on, against the floor run the same way (boto3
    from the layer); with the build's .pyc files and without them (Lambda's /opt and /var/task are
    read-only: no .pyc written, -B). Then the SnapStart restore of the same build."""
    import socket

    section = "cold start"
    python = python312()
    if python is None:
        return [not_available(section, "cold start, built artifact", "Python 3.12 not found", BUILT_BUDGET)]
    try:
        built = build(python)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return [not_available(section, "cold start, built artifact", str(exc), BUILT_BUDGET)]
    bare = _without_bytecode(built)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    daemon = f"127.0.0.1:{sink.getsockname()[1]}"
    label = _python_label(python)
    endpoints = {"dynamodb": env["DYNAMODB_ENDPOINT"], "kms": env["KMS_ENDPOINT"]}
    rows = []
    try:
        for function, (_code, services) in functions_and_services().items():
            if only and function not in only:
                continue
            item = f"cold start {function}, built artifact ({label}, X-Ray on)"
            first = first_requests.get(function) or {}
            if "event" not in first:
                rows.append(not_available(section, item, first.get("error", "no first request"), BUILT_BUDGET))
                continue
            layer, code_dir = built / "SharedLayer" / "python", built / function
            traced = _traced_env(env, function, code_dir, daemon)
            try:
                figures = _built_runs(function, first, built, bare, services, endpoints, traced, python, runs)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                rows.append(not_available(section, item, f"{type(exc).__name__}: {exc}", BUILT_BUDGET))
                continue
            rows.append(_built_row(item, figures, runs, python))
            rows.append(restore_row(function, first, traced, runs, code_dir, [str(layer)], [python, "-I", "-S"],
                                    f"built artifact, {label}, X-Ray on"))
    finally:
        sink.close()
    return rows


def _built_runs(function: str, first: dict[str, Any], built: Path, bare: Path, services: list[str],
                endpoints: dict[str, str], env: dict[str, str], python: str,
                runs: int) -> dict[str, list[dict[str, Any]]]:
    """``runs`` + 1 alternating runs of each (the first of each warms the page cache, not counted)."""
    figures: dict[str, list[dict[str, Any]]] = {"pyc": [], "no_pyc": [], "floor": []}
    floor_spec = {"mode": "floor", "services": services, "endpoints": endpoints,
                  "paths": [str(built / "SharedLayer" / "python")]}
    for _ in range(runs + 1):
        for label, tree, flags in (("pyc", built, ["-I", "-S"]), ("no_pyc", bare, ["-I", "-S", "-B"])):
            layer = str(tree / "SharedLayer" / "python")
            spec = {"mode": "handler", "code_dir": str(tree / function), "paths": [layer], "event": first["event"],
                    "experiments": [], "root": str(ROOT), "warm": 3 if label == "pyc" else 0}
            figures[label].append(_run(spec, env, python=[python, *flags]))
        figures["floor"].append(_run(floor_spec, env, python=[python, "-I", "-S"]))
    return {label: runs_[1:] for label, runs_ in figures.items()}


def _built_row(item: str, figures: dict[str, list[dict[str, Any]]], runs: int, python: str) -> Row:
    def median(label: str, key: str = "total_ms") -> float:
        return statistics.median(r[key] for r in figures[label])

    with_pyc, without, floor = median("pyc"), median("no_pyc"), median("floor")
    cpu, floor_cpu = median("pyc", "cpu_ms"), median("floor", "cpu_ms")
    warm = median("pyc", "warm_ms")
    statuses = sorted({r["status"] for r in figures["pyc"] + figures["no_pyc"]})
    # The floor serves nothing; the request's own work, served warm, is added to it, so the ratio is
    # what the cold start costs. It matters for FlushFunction only, whose first request is a whole
    # flush (176 key-range queries, about as long warm as cold): elsewhere a warm request is ~1% of it.
    ratio = with_pyc / (floor + warm)
    ok = ratio <= BUDGET_RATIO and with_pyc < without and all(s < 500 for s in statuses)
    return Row(
        "cold start", item,
        f"{with_pyc:.0f} ms vs floor {floor:.0f} ms + the request warm {warm:.0f} ms = {ratio:.2f}x (raw "
        f"{with_pyc / floor:.2f}x; CPU {cpu:.0f} vs {floor_cpu:.0f} ms); {without:.0f} ms without .pyc",
        BUILT_BUDGET, verdict(ok), round(ratio, 3), "x floor",
        detail={
            "with_pyc_ms": round(with_pyc, 1),
            "with_pyc_import_ms": round(median("pyc", "import_ms"), 1),
            "with_pyc_first_request_ms": round(median("pyc", "rest_ms"), 1),
            "with_pyc_cpu_ms": round(cpu, 1),
            "without_pyc_ms": round(without, 1),
            "without_pyc_import_ms": round(median("no_pyc", "import_ms"), 1),
            "floor_ms": round(floor, 1), "floor_cpu_ms": round(floor_cpu, 1), "warm_request_ms": round(warm, 1),
            "raw_ratio": round(with_pyc / floor, 3),
            "statuses": statuses, "runs": runs, "python": python,
        },
    )
