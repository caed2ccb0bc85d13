"""One cold start, run as a fresh interpreter: ``python bench/_cold_child.py <spec.json> <out.json>``.

Kept outside the ``bench`` package so nothing but the standard json/time/sys modules is loaded
before the clock starts, for the handler and the floor alike.

Modes: ``handler`` (``import app`` and one first request), ``floor`` (import boto3 and make the
function's clients), ``stack`` (the floor plus the packages every handler imports) and ``restore``
(SnapStart, simulated: ``import app``, the before-snapshot hook, then ``fork``: the child is the
restored process. It starts from the parent's memory, as a restored execution environment starts
from the snapshot's, and pays the copy-on-write faults of the pages it writes; it has no open
connection, as nothing was opened before the snapshot. It runs the after-restore hook and the first
request (the figure), then ``warm`` more of the same request (the median is the warm figure).
What the simulation leaves out: Lambda loading the snapshot's pages from its cache, and on AWS the
first request's TLS handshake with DynamoDB (here a plain TCP connect on loopback).)"""

import json
import os
import sys
import time


class _Context:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    c0, t0 = time.process_time(), time.perf_counter()
    # The built artifact (run under python3.12 -I -S): the function's folder and the layer, as on Lambda.
    sys.path[:0] = spec.get("paths") or []
    if spec["mode"] == "handler":
        # As the Lambda runtime does: the function's folder on sys.path, then `import app`.
        sys.path.insert(0, spec["code_dir"])
        if spec.get("experiments"):  # python -m bench --experiment: patched on purpose, and labelled
            sys.path.insert(1, spec["root"])
            from bench.experiments import apply

            apply(spec["experiments"])
        import app  # type: ignore[import-not-found]

        t1 = time.perf_counter()
        out = app.lambda_handler(spec["event"], _Context())
        status = out.get("statusCode")
        t2, c2 = time.perf_counter(), time.process_time()
        warm = []  # the same request again, warm (after the clock stopped): the work the request is
        for _ in range(spec.get("warm", 0)):
            t3 = time.perf_counter()
            app.lambda_handler(spec["event"], _Context())
            warm.append((time.perf_counter() - t3) * 1000)
        _write(sys.argv[2], {"total_ms": (t2 - t0) * 1000, "import_ms": (t1 - t0) * 1000, "rest_ms": (t2 - t1) * 1000,
                             "cpu_ms": (c2 - c0) * 1000, "status": status,
                             "warm_ms": sorted(warm)[len(warm) // 2] if warm else None})
        return
    elif spec["mode"] == "restore":
        sys.path.insert(0, spec["code_dir"])
        import app  # type: ignore[import-not-found]
        from hydra_lambda import snapstart

        snapstart.prime()
        _write(sys.argv[2], _restored(app, snapstart, spec))
        return
    else:
        import boto3

        if spec["mode"] == "stack":  # the floor plus the packages every handler imports (none of our code)
            import aws_lambda_powertools.event_handler  # noqa: F401
            import pynamodb.models  # noqa: F401
            from aws_lambda_powertools import Logger, Metrics  # noqa: F401
        t1 = time.perf_counter()
        for service in spec["services"]:
            boto3.client(service, endpoint_url=spec["endpoints"].get(service), region_name="us-east-1")
        status = 0
    t2, c2 = time.perf_counter(), time.process_time()
    with open(sys.argv[2], "w") as handle:
        json.dump({"total_ms": (t2 - t0) * 1000, "import_ms": (t1 - t0) * 1000, "rest_ms": (t2 - t1) * 1000,
                   "cpu_ms": (c2 - c0) * 1000, "status": status}, handle)



def _write(path: str, result: dict) -> None:
    with open(path, "w") as handle:
        json.dump(result, handle)


def _restored(app, snapstart, spec: dict) -> dict:
    """Fork: the child is the restored process; its figures come back through a pipe."""
    import gc

    gc.collect()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            result = _serve_restored(app, snapstart, spec)
        except BaseException as exc:  # reported, then the parent fails the run
            result = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write, "w") as handle:
            json.dump(result, handle)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as handle:
        result = json.loads(handle.read() or '{"error": "the restored process wrote nothing"}')
    os.waitpid(pid, 0)
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def _serve_restored(app, snapstart, spec: dict) -> dict:
    c0, t0 = time.process_time(), time.perf_counter()
    snapstart.after_restore()
    t1 = time.perf_counter()
    out = app.lambda_handler(spec["event"], _Context())
    t2, c2 = time.perf_counter(), time.process_time()
    warm_wall, warm_cpu, statuses = [], [], {out.get("statusCode")}
    for _ in range(spec.get("warm", 20)):
        c3, t3 = time.process_time(), time.perf_counter()
        statuses.add(app.lambda_handler(spec["event"], _Context()).get("statusCode"))
        warm_wall.append((time.perf_counter() - t3) * 1000)
        warm_cpu.append((time.process_time() - c3) * 1000)
    settled = len(warm_wall) // 3  # the first few after a restore still fault pages in: not "warm"
    warm_wall, warm_cpu = sorted(warm_wall[settled:]), sorted(warm_cpu[settled:])
    return {"total_ms": (t2 - t0) * 1000, "restore_ms": (t1 - t0) * 1000, "rest_ms": (t2 - t1) * 1000,
            "cpu_ms": (c2 - c0) * 1000, "warm_ms": warm_wall[len(warm_wall) // 2],
            "warm_cpu_ms": warm_cpu[len(warm_cpu) // 2], "status": max(s or 0 for s in statuses)}


main()
