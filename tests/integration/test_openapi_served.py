"""Every operation openapi.yaml documents is served, exactly, by the handler template.yaml routes it
to (asked with TRACE, on DynamoDB Local; the document itself is checked in
tests/unit/test_openapi.py)."""

from __future__ import annotations

import re

from hydra_lambda_local.routes import find_route, load_routes

from tests.support import TEMPLATE, call
from tests.unit.test_openapi import HTTP_METHODS, NOT_YET_ROUTED, UNDOCUMENTED_OK, _normal, spec


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x-probe", path)


def _handler_methods(path: str) -> set[str] | None:
    """What the handler that template.yaml routes ``path`` to declares for it, from the ``Allow``
    header of its 405; None when nothing serves the path (404)."""
    result = call("TRACE", _concrete(path))
    if result.status == 404:
        return None
    assert result.status == 405, f"TRACE {path}: {result.status} {result.body}"
    return {m.strip().upper() for m in result.headers["allow"].split(",") if m.strip()}


def served_methods(path: str) -> set[str] | None:
    """The methods template.yaml plus the handler serve on ``path``; None when it is not routed."""
    routes = load_routes(TEMPLATE)
    explicit = {r.method for r in routes if r.path != "$default" and _normal(r.path) == _normal(path)}
    methods = explicit - {"ANY"}
    if ("ANY" in explicit or not explicit) and find_route(routes, "TRACE", _concrete(path)) is not None:
        methods |= _handler_methods(path) or set()
    return methods or None


def test_every_documented_operation_is_served_exactly() -> None:
    problems = []
    for path, item in spec()["paths"].items():
        declared = {m.upper() for m in item if m in HTTP_METHODS}
        served = served_methods(path)
        if served is None:
            if path not in NOT_YET_ROUTED:
                problems.append(f"{path}: documented but template.yaml routes nothing there")
            continue
        served -= UNDOCUMENTED_OK
        if served != declared:
            problems.append(f"{path}: openapi.yaml declares {sorted(declared)}, the handler serves {sorted(served)}")
    assert not problems, "\n".join(problems)
