"""The benchmark suite in its tiny mode: it runs end to end and writes well-formed results.

No figure is judged here (a benchmark is not a test): only that every item produced a row with a
number, or says "not available" with a reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

SECTIONS = {"cold start", "warm CPU per request", "AWS requests per op", "memory", "throughput (HTTP, loopback)",
            "cost"}
STATUSES = {"pass", "FAIL", "info", "not available"}
WARM_ITEMS = {"client_credentials token", "introspection", "revoke", "authorization code exchange (openid)",
              "refresh", "JWKS", "discovery document", "client get", "client list", "health"}


def test_bench_smoke_writes_well_formed_results(aws: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out),
         "--dynamodb-endpoint", aws["DYNAMODB_ENDPOINT"], "--kms-endpoint", aws["KMS_ENDPOINT"]],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "item" in proc.stdout and "| budget" in proc.stdout and "| result" in proc.stdout

    results = json.loads(out.read_text())
    assert results["mode"] == "smoke"
    assert results["sizes"]["warm_requests"] < 20
    rows = results["rows"]
    assert {row["section"] for row in rows} == SECTIONS
    for row in rows:
        assert row["status"] in STATUSES, row
        assert row["item"] and row["figure"], row
        if row["status"] == "not available":
            assert row["figure"] == "not available" and row["detail"]["reason"], row
        else:
            assert isinstance(row["value"], int | float) and row["unit"], row
        if row["status"] in ("pass", "FAIL"):
            assert row["budget"], row

    warm = {row["item"] for row in rows if row["section"] == "warm CPU per request"}
    calls = {row["item"] for row in rows if row["section"] == "AWS requests per op"}
    assert warm >= WARM_ITEMS and calls >= WARM_ITEMS
    # The foundation's health route always exists: its figures are real numbers, never "not available".
    health = [row for row in rows if row["item"] == "health"]
    assert health and all(row["status"] != "not available" for row in health)
    assert next(r for r in health if r["section"] == "AWS requests per op")["detail"]["dynamodb_reads"] == 0
    memory = next(row for row in rows if row["section"] == "memory" and row["item"].startswith("peak RSS"))
    if memory["status"] != "not available":
        assert memory["detail"]["requests"] == results["sizes"]["memory_requests"]
