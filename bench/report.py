"""Turn the raw figures into table rows (figure, budget, pass/FAIL/info/not available), and print them."""

from __future__ import annotations

from typing import Any

from bench.common import Row, not_available, verdict

# x node-oidc-provider on DynamoDB, per request (issue 27: what botocore and pynamodb allow through
# public APIs, measured on a runtime-only environment of Lambda's Python)
CPU_RATIO_BUDGETS = {"client_credentials": 1.25, "introspection": 0.9}
MEMORY_BUDGET_MB = 128
GROWTH_TOLERANCE_MB = 1.0  # allocator noise; a leak of 20 KB per 1,000 requests would show over 10,000
PEER_OPS = ("client_credentials", "introspection")
PEER = "node-oidc-provider on DynamoDB"


def cpu_budget(name: str) -> str:
    return f"<= {CPU_RATIO_BUDGETS[name]:g}x {PEER}" if name in CPU_RATIO_BUDGETS else ""


def _ops(raw: dict[str, Any]) -> dict[str, Any]:
    return raw.get("ops") or {}


def warm_rows(rows: list[Row], warm: dict[str, Any], peer: dict[str, Any], peer_memory: dict[str, Any],
              peer_errors: dict[str, str], labels: dict[str, str]) -> None:
    """Our handler's CPU per request per operation; for client_credentials and introspection against
    node-oidc-provider on DynamoDB (``peer``), with node in memory (``peer_memory``) as information."""
    section = "warm CPU per request"
    env = warm.get("python") or {}
    where = (f"Python {env['version']}{', runtime-only' if env.get('runtime_only') else ', test virtualenv'}"
             if env else "")
    for name, figures in _ops(warm).items():
        item = labels[name]
        budget = cpu_budget(name)
        if "unavailable" in figures:
            rows.append(not_available(section, item, figures["unavailable"], budget))
            continue
        cpu = figures["cpu_ms"]
        text = f"{cpu:.3f} ms CPU ({figures['wall_ms']:.2f} ms wall, n={figures['requests']}; {where})"
        if name not in PEER_OPS:
            rows.append(Row(section, item, text, "", "info", round(cpu, 4), "ms", detail=figures))
            continue
        node = (peer.get(name) or {}).get("cpu_ms")
        if not node:
            reason = peer_errors.get("dynamodb") or "no figure"
            rows.append(not_available(section, item, f"{text}; {PEER}: {reason}", budget))
            continue
        ratio = cpu / node
        if not env.get("runtime_only"):
            rows.append(not_available(section, item, f"{text}; {PEER} {node:.3f} ms = {ratio:.2f}x; not measured on "
                                      "the runtime-only environment (make .venv-runtime/.installed)", budget))
            continue
        memory_node = (peer_memory.get(name) or {}).get("cpu_ms")
        beside = f"; node in memory {memory_node:.3f} ms = {cpu / memory_node:.2f}x (info)" if memory_node else ""
        rows.append(Row(section, item, f"{text}; {PEER} {node:.3f} ms = {ratio:.2f}x{beside}", budget,
                        verdict(ratio <= CPU_RATIO_BUDGETS[name]), round(ratio, 3), f"x {PEER}",
                        detail={**figures, "node_dynamodb_cpu_ms": node, "node_memory_cpu_ms": memory_node}))
    for label, figures in ((PEER, peer), ("node-oidc-provider in memory", peer_memory)):
        for name in PEER_OPS:
            if name not in figures:
                continue
            p = figures[name]
            calls = f"; {_calls_text(p['calls'])}" if p.get("calls") else ""
            rows.append(Row(section, f"{label} {labels[name]}",
                            f"{p['cpu_ms']:.3f} ms CPU (n={p['requests']}, {p['errors']} errors, {p['concurrency']} "
                            f"in flight, after {len(p.get('warm_up_passes_ms', []))} warm-up passes){calls}", "",
                            "info", round(p["cpu_ms"], 4), "ms", detail=p))


def _call_budget(name: str, calls: dict[str, Any]) -> tuple[str, bool | None]:
    # Per-request averages, rounded to 2 decimals: a warm container re-reads its policy cache every
    # POLICY_CACHE_SECONDS, which amortizes to far below 0.01 calls per request (it shows in by_api).
    reads, writes, kms = (round(calls[k], 2) for k in ("dynamodb_reads", "dynamodb_writes", "kms_calls"))
    if name == "client_credentials":
        return "1 write, <= 1 read, 0 KMS", writes == 1 and reads <= 1 and kms == 0
    if name == "introspection":
        return "1 read, 0 writes, 0 KMS", reads == 1 and writes == 0 and kms == 0
    if name in ("jwks", "discovery", "health"):
        return "0 DynamoDB, 0 KMS", reads == 0 and writes == 0 and kms == 0
    if name in ("code_exchange", "refresh"):
        id_tokens = calls.get("id_tokens", 0)
        ok = id_tokens > 0 and round(calls["kms_sign"] / id_tokens, 2) == 1 and kms == round(calls["kms_sign"], 2)
        return "1 KMS Sign per ID token, no other KMS", ok
    return "0 KMS", kms == 0


def _calls_text(calls: dict[str, Any]) -> str:
    parts = [f"{calls['dynamodb_reads']:g} reads", f"{calls['dynamodb_writes']:g} writes",
             f"{calls['read_units']:g} RRU", f"{calls['write_units']:g} WRU", f"{calls['kms_calls']:g} KMS"]
    if calls.get("other_aws_calls"):
        parts.append(f"{calls['other_aws_calls']:g} other")
    apis = ", ".join(f"{k.split(':')[1]} {v:g}" for k, v in calls["by_api"].items())
    return "; ".join(parts) + (f" ({apis})" if apis else "")


def call_rows(rows: list[Row], warm: dict[str, Any], envelope: dict[str, Any] | None, envelope_error: str,
              labels: dict[str, str]) -> None:
    section = "AWS requests per op"
    for name, figures in _ops(warm).items():
        if "unavailable" in figures:
            budget = _call_budget(name, {"dynamodb_reads": 0, "dynamodb_writes": 0, "kms_calls": 0, "kms_sign": 0})[0]
            rows.append(not_available(section, labels[name], figures["unavailable"], budget))
            continue
        calls = figures["calls"]
        budget, ok = _call_budget(name, calls)
        rows.append(Row(section, labels[name], _calls_text(calls), budget, verdict(bool(ok)),
                        calls["dynamodb_reads"] + calls["dynamodb_writes"] + calls["kms_calls"], "calls",
                        detail=calls))
    item = "code exchange, envelope mode"
    budget = "0 KMS"
    exchange = (_ops(envelope or {}).get("code_exchange")) if envelope else None
    if envelope is None or exchange is None:
        rows.append(not_available(section, item, envelope_error or "envelope run failed", budget))
    elif "unavailable" in exchange:
        rows.append(not_available(section, item, exchange["unavailable"], budget))
    else:
        calls = exchange["calls"]
        rows.append(Row(section, item, _calls_text(calls) + f"; {exchange['cpu_ms']:.2f} ms CPU", budget,
                        verdict(calls["kms_calls"] == 0), calls["kms_calls"], "KMS calls", detail=exchange))


def memory_rows(rows: list[Row], memory: dict[str, Any]) -> None:
    section = "memory"
    samples = memory["samples"]
    peak_mb = memory["peak_rss_bytes"] / 2**20
    rows.append(Row(section, f"peak RSS over {memory['requests']:,} mixed requests",
                    f"{peak_mb:.1f} MB ({memory['errors']} errors; {len(memory['mix'])} operations, "
                    f"{memory['elapsed_s']:.0f} s)", f"<= {MEMORY_BUDGET_MB} MB",
                    verdict(peak_mb <= MEMORY_BUDGET_MB and memory["errors"] == 0), round(peak_mb, 2), "MB",
                    detail={k: v for k, v in memory.items() if k != "samples"}))
    half = memory["requests"] // 2
    mid = min(samples, key=lambda s: abs(s[0] - half))[1]
    end = samples[-1][1]
    growth = (end - mid) / 2**20
    rows.append(Row(section, "RSS growth over the second half", f"{growth:+.2f} MB ({mid / 2**20:.1f} -> "
                    f"{end / 2**20:.1f} MB)", f"<= {GROWTH_TOLERANCE_MB:g} MB (none)",
                    verdict(growth <= GROWTH_TOLERANCE_MB), round(growth, 3), "MB",
                    detail={"samples": samples}))


def throughput_rows(run: Any, env: dict[str, str], peer: Any, peer_error: str, sizes: Any) -> None:
    from bench import engines, httpload, throughput
    from bench.common import PEER_CLIENT_ID, PEER_CLIENT_SECRET

    section = "throughput (HTTP, loopback)"
    server, url = engines.start_local_server(env)
    try:
        client_id, secret = throughput.hydra_client(url)
        ours = throughput.run(f"{url}/oauth2/token", f"{url}/oauth2/introspect",
                              httpload.basic_header(client_id, secret), sizes)
    finally:
        server.stop()
    theirs: dict[str, Any] = {}
    if peer is not None:
        theirs = throughput.run(f"{peer[1]}/token", f"{peer[1]}/token/introspection",
                                httpload.basic_header(PEER_CLIENT_ID, PEER_CLIENT_SECRET), sizes)
    run.raw["throughput"] = {"hydra": ours, "node": theirs}
    for name in ("client_credentials", "introspection"):
        mine = ours[name]
        node = theirs.get(name)
        beside = f"; node-oidc-provider {node['rps']:.0f}/s" if node else f"; node: {peer_error or 'n/a'}"
        rows: list[Row] = run.rows
        rows.append(Row(section, f"hydra-lambda serve {name}",
                        f"{mine['rps']:.0f}/s, {mine['errors']} errors, p50 {mine['p50_ms'] or 0:.1f} ms{beside}",
                        "0 errors", verdict(mine["errors"] == 0 and mine["completed"] > 0), round(mine["rps"], 1),
                        "req/s", detail={"hydra": mine, "node": node}))
        if node:
            rows.append(Row(section, f"node-oidc-provider {name}",
                            f"{node['rps']:.0f}/s, {node['errors']} errors, p50 {node['p50_ms'] or 0:.1f} ms", "",
                            "info", round(node["rps"], 1), "req/s", detail=node))


def cost_rows(rows: list[Row], warm: dict[str, Any], peer: dict[str, Any]) -> None:
    """Dollars per million on AWS from the measured capacity and the duration projected to the template's
    MemorySize."""
    from bench.cost import BUDGETS, MEMORY_MB, cost_line

    section = "cost"
    for name, budget_usd in BUDGETS.items():
        item = f"$ per million {'client_credentials tokens' if name == 'client_credentials' else 'introspections'}"
        budget = f"<= ${budget_usd:.2f}"
        figures = _ops(warm).get(name)
        if not figures or "unavailable" in figures:
            rows.append(not_available(section, item, (figures or {}).get("unavailable", "no warm figure"), budget))
            continue
        line = cost_line(figures)
        node = (peer.get(name) or {}).get("calls")
        node_units = f"; {PEER}: {node['write_units']:g} WRU + {node['read_units']:g} RRU" if node else ""
        places = ", ".join(f"{k} {v:g}" for k, v in line["units_by_place"].items())
        rows.append(Row(section, item,
                        f"${line['projected_per_million']:.2f} at {line['projected_duration_ms']:.1f} ms "
                        f"({MEMORY_MB} MB arm64 projection; ${line['measured_per_million']:.2f} at "
                        f"{line['measured_duration_ms']:.1f} ms measured); "
                        f"DynamoDB {line['write_units']:g} WRU + {line['read_units']:g} RRU measured "
                        f"({places}){node_units}; Cognito M2M ${line['cognito_per_million']:,.0f}",
                        budget, verdict(line["projected_per_million"] <= budget_usd),
                        round(line["projected_per_million"], 4), "$/M", detail=line))


def missed(rows: list[Row]) -> list[Row]:
    """Rows whose budget was missed, or could not be checked."""
    return [r for r in rows if r.status == "FAIL" or (r.status == "not available" and r.budget)]


def table(rows: list[Row]) -> str:
    headers = ("item", "figure", "budget", "result")
    body = [(f"{r.section}: {r.item}", r.figure, r.budget or "-", r.status) for r in rows]
    widths = [min(90, max(len(h), *(len(b[i]) for b in body))) if body else len(h) for i, h in enumerate(headers)]
    widths[1] = min(widths[1], 110)

    def fmt(cells: tuple[str, ...]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    lines = [fmt(headers), "-+-".join("-" * w for w in widths)]
    for row in body:
        lines.append(fmt(row))
    return "\n".join(lines)
