"""The import graph: HTTP stays at the edge. Only ``hydra_lambda/http/`` (and the functions' handlers)
may import the HTTP layer or powertools' event handler; every other module of the layer takes and
returns plain typed values. Read from the source (every import statement, function-local ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "hydra_lambda"
EDGE = PACKAGE / "http"
FORBIDDEN = ("hydra_lambda.http", "aws_lambda_powertools.event_handler", "aws_lambda_powertools.shared.cookies")


def _domain_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if EDGE not in p.parents)


def _imported(source: str, path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:  # relative: resolve against the package
            base = ".".join(("hydra_lambda", *path.relative_to(PACKAGE).parent.parts))
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = f"{base}.{node.module}" if node.module else base
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _violations(path: Path, source: str | None = None) -> list[str]:
    text = path.read_text("utf-8") if source is None else source
    return sorted(name for name in _imported(text, path)
                  if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN))


def test_the_domain_list_is_not_empty() -> None:
    modules = {p.relative_to(PACKAGE).as_posix() for p in _domain_modules()}
    assert {"clients/registry.py", "client_auth.py", "warden.py", "endpoints/introspect.py"} <= modules
    assert not any(name.startswith("http/") for name in modules)


@pytest.mark.parametrize("path", _domain_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_domain_module_imports_the_http_layer(path: Path) -> None:
    assert _violations(path) == []


def test_the_check_sees_every_form_of_import() -> None:
    """The check is not vacuous: each way of importing the edge is caught."""
    for source in ("from hydra_lambda.http.forms import bearer_token",
                   "from hydra_lambda import http",
                   "from .http import responses",
                   "import aws_lambda_powertools.event_handler",
                   "def f():\n    from aws_lambda_powertools.event_handler import Response"):
        assert _violations(PACKAGE / "probe.py", source), source
    assert _violations(PACKAGE / "probe.py", "from hydra_lambda import clock, errors") == []
