"""Item 6, the cost line: dollars per million client_credentials tokens on AWS, beside Cognito.

Prices: us-east-1, on-demand, no free tier, as listed in bench/README.md (with their date)."""

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
TOKENS_TABLE_GSIS = 3  # by_request, by_client, by_expiry: a token row lands in all three


def per_million(duration_ms: float, writes: float, reads: float) -> dict[str, float]:
    """Dollars per million requests of one operation at ``duration_ms`` billed duration."""
    billed_ms = math.ceil(duration_ms)
    parts = {
        "lambda_duration": MEMORY_MB / 1024 * billed_ms / 1000 * PRICES["lambda_arm64_gb_second"],
        "lambda_request": PRICES["lambda_request"],
        "http_api": PRICES["http_api_request"],
        # A write of an item under 1 KB is 1 WRU on the table plus 1 WRU per GSI it is projected into.
        "dynamodb_writes": writes * (1 + TOKENS_TABLE_GSIS) * PRICES["dynamodb_wru"],
        "dynamodb_reads": reads * PRICES["dynamodb_rru"],  # strongly consistent, under 4 KB: 1 RRU
    }
    return {name: value * 1e6 for name, value in parts.items()}


def cost_line(cc: dict[str, Any]) -> dict[str, Any]:
    """The cost at the measured warm duration, and at a 256 MB projection of the CPU time."""
    calls = cc["calls"]
    measured = per_million(cc["wall_ms"], calls["dynamodb_writes"], calls["dynamodb_reads"])
    io_ms = max(0.0, cc["wall_ms"] - cc["cpu_ms"])
    projected_ms = cc["cpu_ms"] * FULL_VCPU_MB / MEMORY_MB + io_ms
    projected = per_million(projected_ms, calls["dynamodb_writes"], calls["dynamodb_reads"])
    return {
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
