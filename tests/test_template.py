"""template.yaml: lints, translates offline, has no dependency cycle, and matches the code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra_lambda.local.routes import load_routes, load_template
from hydra_lambda.storage import tables

from tests.support import ROOT, TEMPLATE

_FN = {"Sub", "GetAtt", "If", "Not", "Equals", "Join", "Select", "Split", "FindInMap", "Base64"}


def _long_form(node: Any) -> Any:
    if isinstance(node, dict):
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return {"Ref": _long_form(value)}
            if key in _FN:
                value = _long_form(value)
                if key == "GetAtt" and isinstance(value, str):
                    value = value.split(".", 1)
                return {f"Fn::{key}": value}
        return {k: _long_form(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_long_form(item) for item in node]
    return node


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate()


def translate() -> dict[str, Any]:
    """The template as CloudFormation sees it after the SAM transform (offline)."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = _long_form(load_template(TEMPLATE))
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = "s3://placeholder/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, {}, NoManagedPolicies())


def test_cfn_lint_passes() -> None:
    cfn_lint = str(Path(sys.executable).parent / "cfn-lint")
    # -c I: informational checks too (e.g. I3011, deletion policies of stateful resources); a finding
    # is fixed or suppressed in the template with its reason, never here.
    result = subprocess.run([cfn_lint, "-c", "I", "--", str(TEMPLATE)], capture_output=True, text=True,
                            env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_translates_to_the_expected_resources(translated: dict[str, Any]) -> None:
    types = {name: res["Type"] for name, res in translated["Resources"].items()}
    assert types["HttpApi"] == "AWS::ApiGatewayV2::Api"
    assert sum(t == "AWS::DynamoDB::Table" for t in types.values()) == 4
    assert types["SigningKey"] == "AWS::KMS::Key"
    assert types["SystemSecret"] == "AWS::SecretsManager::Secret"
    assert any(t == "AWS::Lambda::LayerVersion" for t in types.values())
    functions = [n for n, t in types.items() if t == "AWS::Lambda::Function"]
    for name in functions:
        props = translated["Resources"][name]["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["arm64"]


def _refs(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                out.add(value)
            elif key == "Fn::GetAtt":
                out.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                import re

                out.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if not isinstance(value, str):
                    _refs(value[1], out)
            else:
                _refs(value, out)
    elif isinstance(node, list):
        for item in node:
            _refs(item, out)
    return out


def test_no_dependency_cycle(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    graph = {}
    for name, res in resources.items():
        deps = _refs(res.get("Properties", {}), set())
        extra = res.get("DependsOn", [])
        deps.update([extra] if isinstance(extra, str) else extra)
        graph[name] = {d for d in deps if d in resources}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 1:
            raise AssertionError("dependency cycle: " + " -> ".join([*path, node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for dep in graph[node]:
            visit(dep, [*path, node])
        state[node] = 2

    for name in graph:
        visit(name, [])


def test_every_route_maps_to_a_handler_that_imports() -> None:
    from hydra_lambda.local.routes import load_handler

    routes = load_routes(TEMPLATE)
    assert routes
    for route in routes:
        assert callable(load_handler(route)), route


def test_every_route_has_an_event_sample_that_does_not_5xx() -> None:
    from hydra_lambda.local.events import FakeContext
    from hydra_lambda.local.routes import find_route

    samples = {}
    for path in sorted((ROOT / "events").glob("*.json")):
        event = json.loads(path.read_text())
        samples.setdefault(event.get("routeKey"), []).append((path, event))
    routes = load_routes(TEMPLATE)
    for route in routes:
        assert route.route_key in samples, f"no events/ sample for {route.route_key}"
    from hydra_lambda.local.routes import load_handler

    for route_key, entries in samples.items():
        if route_key is None:
            continue
        for path, event in entries:
            found = find_route(routes, event["requestContext"]["http"]["method"], event["rawPath"])
            assert found is not None and found[0].route_key == route_key, path
            result = load_handler(found[0])(event, FakeContext())
            assert result["statusCode"] < 500, (path, result)


def _template_tables() -> dict[str, dict[str, Any]]:
    template = load_template(TEMPLATE)
    return {n: r["Properties"] for n, r in template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"}


@pytest.mark.parametrize(
    ("logical", "model"),
    [("ClientsTable", tables.ClientRecord), ("TokensTable", tables.TokenRecord),
     ("ConsentTable", tables.ConsentRecord), ("PoliciesTable", tables.PolicyRecord)],
)
def test_tables_match_the_pynamodb_models(logical: str, model: Any) -> None:
    props = _template_tables()[logical]
    meta = model._get_schema()
    key_schema = sorted((k["AttributeName"], k["KeyType"]) for k in props["KeySchema"])
    assert key_schema == sorted((k["AttributeName"], k["KeyType"]) for k in meta["key_schema"])
    declared = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert declared == {a["AttributeName"]: a["AttributeType"] for a in meta["attribute_definitions"]}

    def shape(index: dict[str, Any], keys: str, projection: str) -> tuple[list[tuple[str, str]], str]:
        return sorted((k["AttributeName"], k["KeyType"]) for k in index[keys]), index[projection]["ProjectionType"]

    template_indexes = {i["IndexName"]: shape(i, "KeySchema", "Projection")
                        for i in props.get("GlobalSecondaryIndexes", [])}
    model_indexes = {i["index_name"]: shape(i, "key_schema", "projection")
                     for i in meta.get("global_secondary_indexes", [])}
    assert template_indexes == model_indexes
    has_ttl = any(getattr(attr, "__class__", None).__name__ == "TTLAttribute"
                  for attr in model.get_attributes().values())
    assert ("TimeToLiveSpecification" in props) == has_ttl
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_layer_requirements_match_pyproject() -> None:
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [line.strip() for line in (ROOT / "shared" / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert sorted(lines) == sorted(deps)


def test_samconfig_exists_with_deploy_defaults() -> None:
    import tomllib

    config = tomllib.loads((Path(ROOT) / "samconfig.toml").read_text())
    deploy = config["default"]["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in str(deploy["capabilities"])


def test_operators_get_alarms_on_a_topic_and_a_dashboard() -> None:
    import re

    resources = load_template(TEMPLATE)["Resources"]
    alarms = {name: res for name, res in resources.items() if res["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"Api5xxRateAlarm", "FunctionErrorsAlarm", "DynamoDBThrottleAlarm", "DependencyUnavailableAlarm",
            "FlushFailureAlarm"} <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    functions = {n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"} - {"KeyRotationFunction"}
    watched = {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
               for m in alarms["FunctionErrorsAlarm"]["Properties"]["Metrics"] if "MetricStat" in m}
    assert watched == functions
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    assert len(widgets) >= 6


def test_custom_metrics_in_alarms_are_ones_the_code_emits() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "shared" / "hydra_lambda").rglob("*.py"))
    resources = load_template(TEMPLATE)["Resources"]
    for name in ("DependencyUnavailableAlarm", "FlushFailureAlarm"):
        text = json.dumps(resources[name]["Properties"])
        for metric in ("DependencyUnavailable", "FlushIncomplete"):
            if metric in text:
                assert f'"{metric}"' in source or f"'{metric}'" in source, metric
