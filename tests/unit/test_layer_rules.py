"""The layer's shape, read from its import graph (every import statement, function-local ones too;
``if TYPE_CHECKING:`` blocks are annotations, not imports):

- no import cycle anywhere in ``hydra_lambda``;
- only ``endpoints/`` asks the warden and builds wire shapes (imports ``warden`` or ``models``);
- endpoint modules do not import each other, and nothing in the layer imports ``endpoints/``
  (the functions' handlers do);
- only ``storage/`` imports pynamodb;
- the token endpoint loads neither the warden nor Ladon nor re2 (checked in a fresh interpreter).

Each rule's check is itself checked: a graph or a source that breaks it is caught."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "hydra_lambda"
Graph = dict[str, set[str]]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_names(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every dotted name ``module`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    names: set[str] = set()
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                anchor = anchor.rpartition(".")[0]
            base = f"{anchor}.{base}" if base else anchor
        names.add(base)
        names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _resolve(name: str, modules: set[str]) -> str | None:
    """The layer module a dotted name lands in (its longest prefix that is a module)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def dependencies(module: str, source: str, modules: set[str], is_package: bool = False) -> set[str]:
    """The layer modules ``module`` imports (the root package ``hydra_lambda`` itself left out)."""
    out = {_resolve(name, modules) for name in imported_names(source, module, is_package)}
    return {dep for dep in out if dep and dep != module and dep != "hydra_lambda"}


def layer_graph() -> Graph:
    modules = set(MODULES)
    return {name: dependencies(name, path.read_text("utf-8"), modules, path.name == "__init__.py")
            for name, path in MODULES.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in index:
                connect(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


ENDPOINTS = "hydra_lambda.endpoints"
STORAGE = "hydra_lambda.storage"


def warden_and_wire_violations(graph: Graph) -> list[str]:
    """Modules outside ``endpoints/`` that ask the warden or build wire shapes (``models``)."""
    guarded = ("hydra_lambda.warden", "hydra_lambda.models")
    return sorted(f"{module} -> {dep}" for module, deps in graph.items() for dep in deps
                  if any(_in(dep, g) for g in guarded) and not _in(module, ENDPOINTS)
                  and not any(_in(module, g) for g in guarded) and not _in(module, "hydra_lambda.http"))


def endpoint_violations(graph: Graph) -> list[str]:
    """Endpoint modules importing each other, and anything else in the layer importing endpoints/."""
    out = []
    for module, deps in graph.items():
        for dep in deps:
            if _in(dep, ENDPOINTS) and dep != ENDPOINTS and module != ENDPOINTS:
                out.append(f"{module} -> {dep}")
    return sorted(out)


def pynamodb_violations(sources: dict[str, str]) -> list[str]:
    """Modules outside ``storage/`` that import pynamodb."""
    return sorted(module for module, source in sources.items() if not _in(module, STORAGE)
                  and any(_in(name, "pynamodb") for name in imported_names(source, module)))


# ---------------------------------------------------------------- the rules, on the layer


def test_the_graph_is_read() -> None:
    graph = layer_graph()
    assert "hydra_lambda.tokens.lookup" in graph["hydra_lambda.warden"]
    assert "hydra_lambda.tokens.lookup" in graph["hydra_lambda.endpoints.userinfo"]
    assert {"hydra_lambda.endpoints.token", "hydra_lambda.clients.registry",
            "hydra_lambda.storage.tables"} <= set(graph)


def test_the_layer_has_no_import_cycle() -> None:
    assert cycles(layer_graph()) == []


def test_only_endpoints_ask_the_warden_and_build_wire_shapes() -> None:
    assert warden_and_wire_violations(layer_graph()) == []


def test_endpoint_modules_import_no_endpoint_and_no_concept_imports_them() -> None:
    assert endpoint_violations(layer_graph()) == []


def test_only_storage_imports_pynamodb() -> None:
    assert pynamodb_violations({name: path.read_text("utf-8") for name, path in MODULES.items()}) == []


def test_endpoint_modules_are_named_after_their_routes() -> None:
    """One hop from template.yaml: each route's first path segments name its endpoint module."""
    template = (ROOT / "template.yaml").read_text("utf-8")
    paths = {line.split("Path:", 1)[1].strip() for line in template.splitlines() if line.strip().startswith("Path: /")}
    expected = {
        "/oauth2/token": "token", "/oauth2/introspect": "introspect", "/oauth2/revoke": "revoke",
        "/oauth2/auth": "auth", "/userinfo": "userinfo", "/oauth2/flush": "flush", "/clients": "clients",
        "/oauth2/consent/requests": "consent_requests", "/.well-known": "well_known", "/keys": "keys",
        "/policies": "policies", "/warden/token/allowed": "warden", "/warden/allowed": "warden",
        "/warden/groups": "warden_groups", "/oauth2/register": "register",
        "/admin/oauth2/auth/requests/login": "login_requests",
        "/admin/oauth2/auth/requests/consent": "flow_consent_requests",
        "/admin/oauth2/auth/sessions/consent": "consent_sessions",
        "/oauth2/sessions/logout": "logout", "/admin/oauth2/auth/requests/logout": "logout_requests",
        "/admin/oauth2/auth/sessions/login": "login_sessions",
        "/admin/clients": "admin_clients", "/admin/oauth2/introspect": "admin_tokens",
        "/admin/oauth2/tokens": "admin_tokens",
        "/admin/trust/grants/jwt-bearer/issuers": "trust_issuers",
        "/admin/keys": "admin_keys",
        "/oauth2/device/auth": "device_auth", "/oauth2/device/verify": "device_verify",
        "/admin/oauth2/auth/requests/device": "device_requests",
        "/health/alive": "health", "/health/ready": "health", "/version": "health",
    }
    served = {path for path in paths if path != "/health/status"}
    for path in served:
        prefix = max((p for p in expected if path == p or path.startswith(p + "/")), key=len, default=None)
        assert prefix is not None, f"{path}: no endpoint module named after it"
        assert f"{ENDPOINTS}.{expected[prefix]}" in MODULES, path


_IMPORT_CHECK = """
import json, sys
sys.path.insert(0, sys.argv[1]) if len(sys.argv) > 1 else None
__import__(sys.argv[2] if len(sys.argv) > 2 else "app")
print(json.dumps(sorted(m for m in ("hydra_lambda.warden", "ladon", "re2", "hydra_lambda.policies",
                                    "hydra_lambda.storage.policies") if m in sys.modules)))
"""


@pytest.mark.parametrize("where, module", [(str(ROOT / "functions" / "oauth2"), "app"),
                                           ("", "hydra_lambda.endpoints.token")], ids=["oauth2-app", "endpoint"])
def test_the_token_endpoint_loads_no_warden_ladon_or_re2(where: str, module: str) -> None:
    loaded = _fresh_import(where, module)
    assert loaded == []


def _fresh_import(where: str, module: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", _IMPORT_CHECK, where or str(ROOT), module], capture_output=True,
                          text=True, timeout=60, check=False, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- each check catches what it is for


def test_the_fresh_import_check_sees_the_warden() -> None:
    assert "hydra_lambda.warden" in _fresh_import("", "hydra_lambda.endpoints.introspect")


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_warden_and_wire_check_catches_a_concept() -> None:
    assert warden_and_wire_violations({"hydra_lambda.clients.registry": {"hydra_lambda.warden"}}) != []
    assert warden_and_wire_violations({"hydra_lambda.consent.requests": {"hydra_lambda.models.responses"}}) != []
    assert warden_and_wire_violations({"hydra_lambda.endpoints.clients": {"hydra_lambda.warden",
                                                                          "hydra_lambda.models.responses"}}) == []


def test_the_endpoint_check_catches_both_directions() -> None:
    assert endpoint_violations({"hydra_lambda.endpoints.token": {"hydra_lambda.endpoints.revoke"}}) != []
    assert endpoint_violations({"hydra_lambda.tokens.issuer": {"hydra_lambda.endpoints.token"}}) != []
    assert endpoint_violations({"hydra_lambda.endpoints.token": {"hydra_lambda.tokens.issuer"}}) == []


def test_the_pynamodb_check_sees_every_form_of_import() -> None:
    for source in ("import pynamodb", "from pynamodb.models import Model",
                   "def f():\n    from pynamodb.exceptions import PutError"):
        assert pynamodb_violations({"hydra_lambda.bootstrap": source}) == ["hydra_lambda.bootstrap"], source
    assert pynamodb_violations({"hydra_lambda.storage.clients": "import pynamodb"}) == []
    assert pynamodb_violations({"hydra_lambda.bootstrap": "if TYPE_CHECKING:\n    import pynamodb"}) == []


def test_relative_and_aliased_imports_are_resolved() -> None:
    modules = {"hydra_lambda.tokens", "hydra_lambda.tokens.lookup", "hydra_lambda.tokens.opaque", "hydra_lambda.clock"}
    assert dependencies("hydra_lambda.tokens.lookup", "from . import opaque\nfrom hydra_lambda import clock as c",
                        modules) == {"hydra_lambda.tokens", "hydra_lambda.tokens.opaque", "hydra_lambda.clock"}
