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
            "cost", "browser login", "current flow login", "logout"}
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

    # The peer on DynamoDB through the AWS SDK for JavaScript ran, and its requests were counted.
    peer = {row["item"]: row for row in rows if row["item"].startswith("node-oidc-provider on DynamoDB")}
    assert set(peer) == {"node-oidc-provider on DynamoDB client_credentials token",
                         "node-oidc-provider on DynamoDB introspection"}, rows
    token = peer["node-oidc-provider on DynamoDB client_credentials token"]["detail"]
    assert token["errors"] == 0 and token["calls"]["dynamodb_writes"] == 1 and token["calls"]["write_units"] >= 1
    cost = {row["item"]: row for row in rows if row["section"] == "cost"}
    assert set(cost) == {"$ per million client_credentials tokens", "$ per million introspections",
                         "$ per million browser logins", "$ per million current-flow logins",
                         "$ per million silent renews", "$ per million logouts"}
    _check_login_rows(rows, cost.pop("$ per million browser logins"), results["sizes"]["flow_requests"])
    _check_current_rows(rows, [cost.pop("$ per million current-flow logins"), cost.pop("$ per million silent renews")],
                        results["sizes"]["flow_requests"])
    _check_logout_rows(rows, cost.pop("$ per million logouts"), results["sizes"]["flow_requests"])
    for row in cost.values():
        if row["status"] != "not available":
            line = row["detail"]
            assert line["write_units"] + line["read_units"] > 0, row
            # The line is the request prices plus the measured units at their prices, plus the duration.
            prices, parts = line["prices"], line["projected_parts"]
            assert parts["http_api"] == prices["http_api_request"] * 1e6
            assert parts["lambda_request"] == prices["lambda_request"] * 1e6
            assert parts["dynamodb_writes"] == line["write_units"] * prices["dynamodb_wru"] * 1e6
            assert parts["dynamodb_reads"] == line["read_units"] * prices["dynamodb_rru"] * 1e6
            assert round(sum(parts.values()), 4) == row["value"]

    # What a full run would fail on (smoke mode judges nothing): exactly the FAIL rows and the rows
    # with a budget that could not be measured; rows without a budget never.
    would_fail = next(line for line in proc.stderr.splitlines() if line.startswith("bench --smoke: not judged"))
    named = set(would_fail.split("would fail on: ", 1)[1].split(" | ")) - {"(none)"}
    assert named == {f"{row['section']}: {row['item']}" for row in rows
                     if row["status"] == "FAIL" or (row["status"] == "not available" and row["budget"])}


def _check_login_rows(rows: list[dict], cost: dict, logins: int) -> None:
    """The browser login: one row per leg, in order, each served by the function the template routes
    it to, with its AWS requests counted; the capacity of a login is the legs' sum, and its dollars
    per million are the five invocations' prices plus those units (no budget: the rows are info)."""
    login = [row for row in rows if row["section"] == "browser login"]
    assert [row["status"] for row in login] == ["info"] * 6, login
    legs, total = login[:5], login[5]
    assert [row["item"].split(" (")[0][:2] for row in legs] == ["1.", "2.", "3.", "4.", "5."]
    assert [row["detail"]["function"] for row in legs] == ["OAuth2Function", "ConsentFunction", "ConsentFunction",
                                                           "OAuth2Function", "OAuth2Function"]
    for row in legs:
        assert row["detail"]["requests"] == logins and row["detail"]["cpu_ms"] > 0, row
    calls = [row["detail"]["calls"] for row in legs]
    assert calls[0]["dynamodb_writes"] >= 1 and calls[2]["dynamodb_writes"] >= 1  # the consent request, its answer
    assert calls[4]["kms_sign"] == 1  # the ID token
    assert total["item"] == "DynamoDB capacity per login" and total["detail"]["complete_logins"] == logins
    units = sum(c["read_units"] + c["write_units"] for c in calls)
    assert abs(total["value"] - units) < 1e-3 and units > 0
    line = cost["detail"]
    assert cost["status"] == "info" and not cost["budget"] and line["invocations"] == 5
    prices = line["prices"]
    assert line["request_prices_per_million"] == 5 * (prices["http_api_request"] + prices["lambda_request"]) * 1e6
    dynamodb = sum(c["read_units"] for c in calls) * prices["dynamodb_rru"] + sum(
        c["write_units"] for c in calls) * prices["dynamodb_wru"]
    assert abs(line["dynamodb_per_million"] - dynamodb * 1e6) < 1e-6
    assert round(sum(leg["projected_per_million"] for leg in line["legs"].values()), 4) == cost["value"]
    assert cost["value"] > line["request_prices_per_million"] + line["dynamodb_per_million"]  # plus the durations


def test_the_counting_proxy_measures_capacity_and_hands_back_the_plain_answer(aws: dict[str, str]) -> None:
    """What the capacity figures rest on: DynamoDB Local takes the proxy's rewritten (unsigned) body,
    counts the sparse index a row lands in, and the client sees the answer it asked for."""
    from bench.awsproxy import check

    found = check(aws["DYNAMODB_ENDPOINT"])
    assert found["client_sees_capacity"] is False
    assert found["asked_for_it"]["CapacityUnits"] == 0.5
    table = found["asked_for_it"]["TableName"]
    assert table.startswith("bench-proxy-check")
    tally = found["tally"]
    assert tally["calls"]["dynamodb:PutItem"] == 2 and tally["calls"]["dynamodb:GetItem"] == 3
    # Two puts: one outside the sparse index (1 unit), one in it (table 1 + index 1); strong 1 + weak 0.5 + 0.5.
    assert tally["write_units"]["PutItem"] == 3.0 and tally["read_units"]["GetItem"] == 2.0
    assert tally["units_by_place"][f"{table}/by_g"] == 1.0



def _check_current_rows(rows: list[dict], costs: list[dict], requests: int) -> None:
    """The current flow: the capacity of a login and of a silent renew, each over its eight legs (the
    login and consent apps are asked in both), every one complete; their dollars per million."""
    current = [row for row in rows if row["section"] == "current flow login"]
    assert [row["item"].split(" (")[0] for row in current] == ["DynamoDB capacity per login",
                                                               "DynamoDB capacity per silent renew"], current
    for row, cost in zip(current, costs, strict=True):
        assert row["status"] == "info" and row["value"] > 0, row
        assert len(row["detail"]["legs"]) == 8 and row["detail"]["complete"] == requests == row["detail"]["requests"]
        assert cost["status"] == "info" and cost["detail"]["invocations"] == 8 and cost["value"] > 0, cost

def _check_logout_rows(rows: list[dict], cost: dict, logouts: int) -> None:
    """The logout item (bench/logout.py): four legs, every logout ended its session, and its capacity
    is what the legs consumed (the request written and consumed, the session deleted, a grant revoked)."""
    legs = [row for row in rows if row["section"] == "logout" and row["item"][:2] in ("1.", "2.", "3.", "4.")]
    assert len(legs) == 4 and all(row["status"] == "info" for row in legs), legs
    (capacity,) = [row for row in rows if row["item"] == "DynamoDB capacity per logout"]
    assert capacity["status"] == "info" and capacity["value"] > 0, capacity
    assert f"{logouts} of {logouts} logouts ended their session" in capacity["figure"], capacity
    writes = sum(row["detail"]["calls"]["write_units"] for row in legs)
    assert writes > 0 and legs[1]["detail"]["calls"]["write_units"] == 0  # the logout app's GET writes nothing
    assert cost["status"] == "info" and cost["value"] > 0, cost
