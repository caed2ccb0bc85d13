"""The route table, read from ``template.yaml`` so local routes can never drift from deployed ones."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import yaml
from hydra_lambda.http.private_admin import is_admin_path

from hydra_lambda_local.events import build_event, build_rest_event, gateway_path


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that accepts CloudFormation short-form tags (!Ref, !Sub, !GetAtt...)."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _any_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass
class Route:
    method: str  # an HTTP method, or ANY
    path: str  # API Gateway syntax: /clients/{id}, or $default
    function: str  # logical id in the template
    code_dir: Path
    handler: str  # module.attribute
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        if self.path == "$default":
            self.pattern = re.compile(r"^/.*$")
            return
        regex = ""
        for part in re.split(r"(\{[^}]+\})", self.path):
            if part.startswith("{") and part.endswith("+}"):
                regex += f"(?P<{part[1:-2]}>.+)"
            elif part.startswith("{"):
                regex += f"(?P<{part[1:-1]}>[^/]+)"
            else:
                regex += re.escape(part)
        self.pattern = re.compile(f"^{regex}$")

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers exact paths, then paths with parameters, then $default."""
        if self.path == "$default":
            return (2, 0, 0)
        return (1 if "{" in self.path else 0, -len(self.path), 0 if self.method != "ANY" else 1)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method.upper()):
            return None
        found = self.pattern.match(path)
        return None if found is None else found.groupdict()


def load_routes(template_path: Path) -> list[Route]:
    template = load_template(template_path)
    root = template_path.parent
    routes: list[Route] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        code_dir = root / str(props.get("CodeUri", "."))
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            eprops = event.get("Properties") or {}
            routes.append(
                Route(
                    method=str(eprops.get("Method", "ANY")).upper(),
                    path=str(eprops.get("Path", "$default")),
                    function=logical_id,
                    code_dir=code_dir,
                    handler=str(props.get("Handler", "app.lambda_handler")),
                )
            )
    routes.sort(key=lambda r: r.specificity)
    return routes


def find_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


PRIVATE_HANDLER = "app.private_handler"


def find_private_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The private admin API's route for ``path`` (decoded), from the public route table: an admin
    route only (``hydra_lambda.http.private_admin.ADMIN_PATHS``), served by its function's
    ``private_handler`` (what the template's private twin of that function runs); None otherwise."""
    if not is_admin_path(path):
        return None
    found = find_route(routes, method, path)
    if found is None or found[0].path == "$default":
        return None
    route, params = found
    return Route(route.method, route.path, route.function, route.code_dir, PRIVATE_HANDLER), params


_loaded: dict[Path, ModuleType] = {}


def routed_event(
    routes: list[Route],
    method: str,
    path: str,
    *,
    query: str | dict[str, str] = "",
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    cookies: list[str] | None = None,
) -> tuple[Route, dict[str, Any]] | None:
    """The route for a request given as Python values (a JSON or form body, cookies, a query dict) and
    the payload-2.0 event API Gateway would hand it; None when no route matches. For tests and bench."""
    path = gateway_path(path)
    hdrs = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body)
        hdrs.setdefault("Content-Type", "application/json")
    if form is not None:
        body = urlencode(form)
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    if cookies:
        hdrs["Cookie"] = "; ".join(cookies)
    found = find_route(routes, method, path)
    if found is None:
        return None
    route, params = found
    raw_query = urlencode(query) if isinstance(query, dict) else query
    event = build_event(method, path, query=raw_query, headers=list(hdrs.items()), body=body,
                        route_key=route.route_key, path_parameters=params or None)
    return route, event


def private_event(
    routes: list[Route],
    method: str,
    path: str,
    *,
    query: str | dict[str, str] = "",
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    body: str | bytes | None = None,
) -> tuple[Route, dict[str, Any]] | None:
    """The private admin API's route for a request given as Python values, and the REST API event
    (payload 1.0) it would get; None when the private API serves no such route. For tests."""
    hdrs = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body)
        hdrs.setdefault("Content-Type", "application/json")
    if form is not None:
        body = urlencode(form)
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    found = find_private_route(routes, method, gateway_path(path))
    if found is None:
        return None
    route, params = found
    raw_query = urlencode(query) if isinstance(query, dict) else query
    event = build_rest_event(method, path, resource=route.path, query=raw_query, headers=list(hdrs.items()),
                             body=body, path_parameters=params or None)
    return route, event


def load_handler(route: Route) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Import the function's module from its CodeUri folder, once, under a unique module name."""
    module_name, _, attr = route.handler.rpartition(".")
    file = (route.code_dir / f"{module_name.replace('.', '/')}.py").resolve()
    module = _loaded.get(file)
    if module is None:
        unique = f"hydra_fn_{route.code_dir.name}_{module_name}".replace(".", "_")
        spec = importlib.util.spec_from_file_location(unique, file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
        _loaded[file] = module
    return getattr(module, attr)
