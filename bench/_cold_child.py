"""One cold start, run as a fresh interpreter: ``python bench/_cold_child.py <spec.json> <out.json>``.

Kept outside the ``bench`` package so nothing but the standard json/time/sys modules is loaded
before the clock starts, for the handler and the floor alike."""

import json
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


main()
