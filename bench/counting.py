"""The AWS requests and DynamoDB capacity a handler process uses, read from the counting proxies its
endpoints point at (bench/awsproxy.py; their count URLs are in ``BENCH_COUNTERS``). Nothing inside
the process is hooked, so whatever client makes the calls is counted, and the handler's CPU time is
its own. Snapshots are taken between measured requests, never inside them."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from bench.awsproxy import fetch_counts

DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


def counters() -> list[str]:
    return [url for url in os.environ.get("BENCH_COUNTERS", "").split(",") if url]


def snapshot(urls: list[str] | None = None) -> dict[str, Counter[str]]:
    """The proxies' totals, merged: ``calls`` per ``service:Operation``, ``read_units`` and
    ``write_units`` per DynamoDB operation, ``units_by_place`` per table or ``table/index``."""
    out: dict[str, Counter[str]] = {"calls": Counter(), "read_units": Counter(), "write_units": Counter(),
                                    "units_by_place": Counter()}
    for url in counters() if urls is None else urls:
        counts = fetch_counts(url)
        for key, counter in out.items():
            counter.update(counts[key])
    return out


def summarize(before: dict[str, Counter[str]], after: dict[str, Counter[str]], requests: int) -> dict[str, Any]:
    """Per request between two snapshots: DynamoDB reads and writes (requests), the capacity units
    DynamoDB reported (read and write request units, and where they landed), KMS calls, each API."""
    delta = {key: after[key] - before[key] for key in after}
    calls = delta["calls"]

    def count(service: str, ops: frozenset[str] | None = None) -> float:
        return sum(n for key, n in calls.items()
                   if key.split(":")[0] == service and (ops is None or key.split(":")[1] in ops)) / requests

    return {
        "dynamodb_reads": count("dynamodb", DYNAMODB_READS),
        "dynamodb_writes": count("dynamodb", DYNAMODB_WRITES),
        "read_units": sum(delta["read_units"].values()) / requests,
        "write_units": sum(delta["write_units"].values()) / requests,
        "units_by_place": {k: v / requests for k, v in sorted(delta["units_by_place"].items())},
        "kms_calls": count("kms"),
        "kms_sign": count("kms", frozenset({"Sign"})),
        "other_aws_calls": sum(n for key, n in calls.items()
                               if key.split(":")[0] not in ("dynamodb", "kms")) / requests,
        "by_api": {key: n / requests for key, n in sorted(calls.items())},
    }
