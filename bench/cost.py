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
    # SnapStart for Python: the snapshot cached while a published version is active, per GB of the
    # function's memory and second; each restore, per GB of memory (both scale with MemorySize)
    "snapstart_cache_gb_second": 0.0000015046,
    "snapstart_restore_gb": 0.0001397998,
}
PRICES_DATE = "prices as published for us-east-1 in 2025 (see bench/README.md)"


def template_memory_mb() -> int:
    """template.yaml's Globals.Function.MemorySize: the size every function runs at."""
    from hydra_lambda_local.routes import load_template

    from bench.common import TEMPLATE

    return int(load_template(TEMPLATE)["Globals"]["Function"]["MemorySize"])


MEMORY_MB = template_memory_mb()
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
    """The cost at the measured warm duration, and at a projection of the CPU time to MEMORY_MB (the
    template's MemorySize) (``cc``: one operation's warm figures)."""
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


LOGIN_SECTION = "browser login"
LEG_LABELS = {
    "authorize": "1. GET /oauth2/auth",
    "consent_get": "2. consent app: GET /oauth2/consent/requests/{id}",
    "consent_accept": "3. consent app: PATCH /oauth2/consent/requests/{id}/accept",
    "authorize_back": "4. GET /oauth2/auth (back from consent)",
    "code_exchange": "5. POST /oauth2/token (code exchange)",
}


def login_line(legs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A browser login's cost: each leg is an invocation and an HTTP API request of its own, priced as
    ``cost_line`` prices one operation; the login is their sum."""
    lines = {leg: cost_line(figures) for leg, figures in legs.items()}

    def total(key: str) -> float:
        return sum(line[key] for line in lines.values())

    return {
        "legs": lines,
        "invocations": len(lines),
        "write_units": total("write_units"),
        "read_units": total("read_units"),
        "projected_duration_ms": total("projected_duration_ms"),
        "projected_per_million": total("projected_per_million"),
        "measured_duration_ms": total("measured_duration_ms"),
        "measured_per_million": total("measured_per_million"),
        "request_prices_per_million": len(lines) * (PRICES["http_api_request"] + PRICES["lambda_request"]) * 1e6,
        "dynamodb_per_million": sum(parts["dynamodb_writes"] + parts["dynamodb_reads"]
                                    for parts in (line["projected_parts"] for line in lines.values())),
        "prices": PRICES,
        "prices_date": PRICES_DATE,
    }


def _calls(calls: dict[str, Any]) -> str:
    apis = ", ".join(f"{key.split(':')[1]} {n:g}" for key, n in calls["by_api"].items())
    return (f"{calls['dynamodb_reads']:g} reads, {calls['dynamodb_writes']:g} writes = {calls['read_units']:g} RRU + "
            f"{calls['write_units']:g} WRU, {calls['kms_calls']:g} KMS" + (f" ({apis})" if apis else ""))


def login_rows(login: dict[str, Any] | None, error: str) -> list[Any]:
    """Rows of the browser login item: one per leg (CPU, wall, AWS requests and capacity), the
    capacity of a whole login, and its dollars per million (no budget: see bench/README.md)."""
    from bench.common import Row, not_available

    cost_item = "$ per million browser logins"
    if not login:
        return [not_available(LOGIN_SECTION, "DynamoDB capacity per login", error),
                not_available("cost", cost_item, error)]
    legs = login["legs"]
    rows = []
    for leg, figures in legs.items():
        calls = figures["calls"]
        rows.append(Row(LOGIN_SECTION, f"{LEG_LABELS[leg]} ({figures['function']})",
                        f"{figures['cpu_ms']:.3f} ms CPU ({figures['wall_ms']:.2f} ms wall, n={figures['requests']}); "
                        f"{_calls(calls)}", "", "info", round(figures["cpu_ms"], 4), "ms", detail=figures))
    line = login_line(legs)
    places: dict[str, float] = {}
    for figures in legs.values():
        for place, units in figures["calls"]["units_by_place"].items():
            places[place] = places.get(place, 0.0) + units
    where = ", ".join(f"{place} {units:g}" for place, units in sorted(places.items()))
    complete = f"{login['complete_logins']} of {login['logins']} logins gave an ID token and a refresh token"
    rows.append(Row(LOGIN_SECTION, "DynamoDB capacity per login",
                    f"{line['read_units']:g} RRU + {line['write_units']:g} WRU over {line['invocations']} invocations "
                    f"({where}); {complete}", "", "info", round(line["read_units"] + line["write_units"], 3),
                    "capacity units", detail={"units_by_place": places, **{k: login[k] for k in ("logins",
                                                                                               "complete_logins")}}))
    rows.append(Row("cost", cost_item,
                    f"${line['projected_per_million']:.2f} at {line['projected_duration_ms']:.1f} ms over "
                    f"{line['invocations']} invocations ({MEMORY_MB} MB arm64 projection; "
                    f"${line['measured_per_million']:.2f} at {line['measured_duration_ms']:.1f} ms measured): "
                    f"${line['request_prices_per_million']:.2f} HTTP API and Lambda request prices, "
                    f"${line['dynamodb_per_million']:.2f} DynamoDB ({line['read_units']:g} RRU + "
                    f"{line['write_units']:g} WRU)", "", "info", round(line["projected_per_million"], 4), "$/M",
                    detail=line))
    return rows


CURRENT_SECTION = "current flow login"
CURRENT_LABELS = {
    "authorize": "1. GET /oauth2/auth",
    "login_get": "2. login app: GET /admin/oauth2/auth/requests/login",
    "login_accept": "3. login app: PUT .../login/accept",
    "authorize_login": "4. GET /oauth2/auth (back from login)",
    "consent_get": "5. consent app: GET /admin/oauth2/auth/requests/consent",
    "consent_accept": "6. consent app: PUT .../consent/accept",
    "authorize_back": "7. GET /oauth2/auth (back from consent)",
    "code_exchange": "8. POST /oauth2/token (code exchange)",
}
CURRENT_KINDS = {"login": ("per login (new browser: login and consent screens)", "$ per million current-flow logins"),
                 "silent_renew": ("per silent renew (prompt=none with a session and remembered consent)",
                                  "$ per million silent renews")}


def current_rows(current: dict[str, Any] | None, error: str) -> list[Any]:
    """Rows of the current flow's item: the DynamoDB capacity (and $ per million) of a login by a new
    browser and of a silent renew, each over its eight invocations, and the capacity per leg."""
    from bench.common import Row, not_available

    rows = []
    for kind, (label, cost_item) in CURRENT_KINDS.items():
        item = f"DynamoDB capacity {label}"
        figures = (current or {}).get(kind)
        if not figures:
            rows.append(not_available(CURRENT_SECTION, item, error or "not measured"))
            rows.append(not_available("cost", cost_item, error or "not measured"))
            continue
        legs = figures["legs"]
        line = login_line(legs)
        per_leg = "; ".join(f"{CURRENT_LABELS[leg].split('. ', 1)[0]}: {_calls(f['calls'])}" for leg, f in legs.items())
        complete = f"{figures['complete']} of {figures['requests']} gave an ID token and a refresh token"
        rows.append(Row(CURRENT_SECTION, item,
                        f"{line['read_units']:g} RRU + {line['write_units']:g} WRU over {line['invocations']} "
                        f"invocations; {complete}", "", "info", round(line["read_units"] + line["write_units"], 3),
                        "capacity units", detail={"legs": {CURRENT_LABELS[leg]: f for leg, f in legs.items()},
                                                  "per_leg": per_leg, "requests": figures["requests"],
                                                  "complete": figures["complete"]}))
        rows.append(Row("cost", cost_item,
                        f"${line['projected_per_million']:.2f} at {line['projected_duration_ms']:.1f} ms over "
                        f"{line['invocations']} invocations ({MEMORY_MB} MB arm64 projection): "
                        f"${line['dynamodb_per_million']:.2f} DynamoDB ({line['read_units']:g} RRU + "
                        f"{line['write_units']:g} WRU)", "", "info", round(line["projected_per_million"], 4), "$/M",
                        detail=line))
    return rows
