"""Item 6, the cost lines: dollars per million client_credentials tokens and per million
introspections on AWS, beside Cognito's M2M token price.

DynamoDB's part is the capacity DynamoDB Local reported for the measured requests (the counting proxy
asks for ``ReturnConsumedCapacity``, indexes included): on-demand, one consumed capacity unit is one
request unit. Prices: us-east-1, on-demand, no free tier, as listed in bench/README.md (with their date)."""

from __future__ import annotations

import math
from typing import Any

PRICES = {
    "lambda_arm64_gb_second": 0.0000133334,  # first 7.5 billion GB-s a month
    "lambda_request": 0.20 / 1e6,
    "http_api_request": 1.00 / 1e6,  # first 300 million a month
    "dynamodb_wru": 0.625 / 1e6,  # on-demand, since the November 2024 price cut
    "dynamodb_rru": 0.125 / 1e6,
    "cognito_m2m_token": 2.25 / 1000,  # first tier; plus $6 per app client per month, left out here
}
PRICES_DATE = "prices as published for us-east-1 in 2025 (see bench/README.md)"
MEMORY_MB = 256  # template.yaml Globals.Function.MemorySize
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, CPU share scales with memory
BUDGETS = {"client_credentials": 2.00, "introspection": 1.45}  # dollars per million, issue 13


def per_million(duration_ms: float, write_units: float, read_units: float) -> dict[str, float]:
    """Dollars per million requests of one operation at ``duration_ms`` billed duration, with the
    DynamoDB request units it consumed (per request, as measured)."""
    billed_ms = math.ceil(duration_ms)
    parts = {
        "lambda_duration": MEMORY_MB / 1024 * billed_ms / 1000 * PRICES["lambda_arm64_gb_second"],
        "lambda_request": PRICES["lambda_request"],
        "http_api": PRICES["http_api_request"],
        "dynamodb_writes": write_units * PRICES["dynamodb_wru"],
        "dynamodb_reads": read_units * PRICES["dynamodb_rru"],
    }
    return {name: value * 1e6 for name, value in parts.items()}


def cost_line(cc: dict[str, Any]) -> dict[str, Any]:
    """The cost at the measured warm duration, and at a 256 MB projection of the CPU time
    (``cc``: one operation's warm figures)."""
    calls = cc["calls"]
    units = (calls["write_units"], calls["read_units"])
    measured = per_million(cc["wall_ms"], *units)
    io_ms = max(0.0, cc["wall_ms"] - cc["cpu_ms"])
    projected_ms = cc["cpu_ms"] * FULL_VCPU_MB / MEMORY_MB + io_ms
    projected = per_million(projected_ms, *units)
    return {
        "write_units": units[0],
        "read_units": units[1],
        "units_by_place": calls.get("units_by_place", {}),
        "measured_duration_ms": cc["wall_ms"],
        "measured_per_million": sum(measured.values()),
        "measured_parts": measured,
        "projected_duration_ms": projected_ms,
        "projected_per_million": sum(projected.values()),
        "projected_parts": projected,
        "cognito_per_million": PRICES["cognito_m2m_token"] * 1e6,
        "prices": PRICES,
        "prices_date": PRICES_DATE,
    }
