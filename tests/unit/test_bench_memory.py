"""bench.memory's arithmetic: dollars per million at a memory size, the CPU-share model, the choice."""

from __future__ import annotations

from typing import Any

import pytest

from bench import memory
from bench.cost import PRICES

UNITS = {"write_units": 1.0, "read_units": 0.0}


def test_a_million_requests_cost_the_duration_at_that_size_plus_the_request_prices_and_units() -> None:
    # 1,024 MB for 4 billed ms is 0.004 GB-s per request.
    expected = 1e6 * (0.004 * PRICES["lambda_arm64_gb_second"] + PRICES["lambda_request"]
                      + PRICES["http_api_request"] + PRICES["dynamodb_wru"])
    assert memory.per_million(1024, 4, UNITS) == pytest.approx(expected)
    # The same 4 ms at 256 MB costs a quarter of the duration part, nothing less of the rest.
    assert memory.per_million(1024, 4, UNITS) - memory.per_million(256, 4, UNITS) == pytest.approx(
        1e6 * 0.75 * 0.004 * PRICES["lambda_arm64_gb_second"])


def _runs(mb: int | None, op: str, wall: float, cpu: float) -> list[dict[str, Any]]:
    batch = {"wall_ms": [wall] * 4, "cpu_ms": [cpu] * 4, "throttled": {}}
    return [{"round": 0, "mb": mb, "op": op, "busy": batch, "spaced": batch}]


def _raw(walls: dict[int, float]) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for op in memory.OPS:
        runs += _runs(None, op, 3.0, 1.0)  # unlimited: 1 ms CPU, 2 ms waiting
        for mb, wall in walls.items():
            runs += _runs(mb, op, wall, 1.0)
    return {"sizes_mb": list(walls), "period_us": 20_000, "limit": "cgroup v1", "calibration": {},
            "units": {op: {"write_units": 1.0, "read_units": 0.0} for op in memory.OPS}, "runs": runs,
            "cold": [{"mb": mb, "total_ms": 100.0 * 1769 / mb, "cpu_ms": 90.0} for mb in walls]}


def test_the_model_is_cpu_over_the_share_plus_the_wait_and_the_choice_weighs_cost_and_latency() -> None:
    result = memory.analyse(_raw({256: 9.0, 512: 5.0, 1769: 3.0}))
    assert result["sizes"][256]["client_credentials"]["model_ms"] == pytest.approx(1769 / 256 + 2.0)
    assert result["sizes"][1769]["client_credentials"]["model_ms"] == pytest.approx(3.0)
    # Cost barely moves between sizes (request prices and the write unit dominate), latency does.
    assert result["choice"]["mb"] == 1769
    # When more memory stops buying latency, the smaller size wins on cost.
    assert memory.analyse(_raw({512: 3.0, 1769: 3.0}))["choice"]["mb"] == 512


def test_the_rows_are_info_with_a_number_and_name_the_choice() -> None:
    rows = memory.rows(_raw({256: 9.0, 1024: 4.0}))
    assert {row.status for row in rows} == {"info"} and all(row.value is not None and row.unit for row in rows)
    assert [row.item for row in rows if row.item.startswith("cold start")] == [
        "cold start OAuth2Function at 256 MB", "cold start OAuth2Function at 1024 MB"]
    assert rows[-1].value == 1024.0
