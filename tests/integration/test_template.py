"""template.yaml: lints, translates offline, has no dependency cycle, and matches the code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra_lambda.storage import tables
from hydra_lambda_local.routes import load_routes, load_template

from tests.support import ROOT, TEMPLATE

_FN = {"Sub", "GetAtt", "If", "Not", "Equals", "And", "Or", "Join", "Select", "Split", "FindInMap", "Base64"}


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
    assert sum(t == "AWS::DynamoDB::Table" for t in types.values()) == 5
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
    from hydra_lambda_local.routes import load_handler

    routes = load_routes(TEMPLATE)
    assert routes
    for route in routes:
        assert callable(load_handler(route)), route


def test_every_route_has_an_event_sample_that_does_not_5xx() -> None:
    from hydra_lambda_local.events import FakeContext
    from hydra_lambda_local.routes import find_route

    samples = {}
    for path in sorted((ROOT / "events").glob("*.json")):
        event = json.loads(path.read_text())
        samples.setdefault(event.get("routeKey"), []).append((path, event))
    routes = load_routes(TEMPLATE)
    for route in routes:
        assert route.route_key in samples, f"no events/ sample for {route.route_key}"
    from hydra_lambda_local.routes import load_handler

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
    private = {n for n in functions if resources[n].get("Condition") == "WithPrivateAdminApi"}

    def watched(alarm: str) -> set[str]:
        return {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
                for m in alarms[alarm]["Properties"]["Metrics"] if "MetricStat" in m}

    assert watched("FunctionErrorsAlarm") == functions - private
    assert watched("PrivateAdminErrorsAlarm") == private  # the private admin API's, made with them
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


# ---------------------------------------------------------------- what a deploy needs (issue 15)


def _resources_of(translated: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in translated["Resources"].items() if r["Type"] == kind}


def test_alarm_topic_is_under_a_key_cloudwatch_may_use(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    topic = resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}  # not alias/aws/sns: CloudWatch cannot use that
    statements = resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1 and cloudwatch[0]["Effect"] == "Allow"
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])
    for alarm in _resources_of(translated, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_secrets_are_kept_with_the_tables(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    for name in ("SystemSecret", "RootClientSecret", *_resources_of(translated, "AWS::DynamoDB::Table")):
        assert resources[name]["DeletionPolicy"] == "Retain", name
        assert resources[name]["UpdateReplacePolicy"] == "Retain", name


def _evaluate(node: Any, params: dict[str, str]) -> Any:
    """Fn::Equals/Not/And/Or and Ref over parameter values: enough for the template's Rules."""
    if isinstance(node, dict) and len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref":
            return params[value]
        args = [_evaluate(v, params) for v in value] if isinstance(value, list) else value
        if key == "Fn::Equals":
            return args[0] == args[1]
        if key == "Fn::Not":
            return not args[0]
        if key == "Fn::And":
            return all(args)
        if key == "Fn::Or":
            return any(args)
    return node


def _rules_pass(template: dict[str, Any], **overrides: str) -> bool:
    params = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()} | overrides
    for rule in template["Rules"].values():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], params):
            continue
        if not all(_evaluate(a["Assert"], params) for a in rule["Assertions"]):
            return False
    return True


@pytest.mark.parametrize(("overrides", "deploys"), [
    ({}, True),
    ({"SigningMode": "envelope"}, False),  # discovery and JWKS would answer 500
    ({"SigningMode": "envelope", "SigningKeys": "arn:aws:secretsmanager:eu-west-1:1:secret:s/id-token/a"}, True),
    ({"CreateEnvelopeKey": "true"}, True),  # the README's first envelope step
    ({"KeyRotationSchedule": "rate(30 days)"}, True),
    ({"KeyRotationSchedule": "rate(30 days)", "SigningKeys": "alias/other"}, False),
    ({"KeyRotationSchedule": "rate(30 days)", "SigningMode": "envelope", "SigningKeys": "s"}, False),
    ({"IdTokenSigningAlgorithms": "RS256,PS256,ES256"}, True),
    ({"IdTokenSigningAlgorithms": "RS256,ES256", "KeyRotationSchedule": "rate(30 days)"}, True),
    ({"IdTokenSigningAlgorithms": "RS256,PS256", "SigningKeys": "alias/other"}, True),
    # the PS256 and ES256 sets are KMS aliases, which envelope mode cannot read
    ({"IdTokenSigningAlgorithms": "RS256,ES256", "SigningMode": "envelope", "SigningKeys": "s"}, False),
])
def test_rules_refuse_what_cannot_work(translated: dict[str, Any], overrides: dict[str, str], deploys: bool) -> None:
    template = dict(translated)
    template["Parameters"] = {**translated["Parameters"], "ConsentUrl": {"Default": "https://consent.test/c"}}
    assert _rules_pass(template, **overrides) is deploys


def test_the_envelope_key_exists_before_envelope_mode(translated: dict[str, Any]) -> None:
    conditions = translated["Conditions"]
    assert translated["Resources"]["EnvelopeKey"]["Condition"] == "WithEnvelopeKey"
    params = {"SigningMode": "kms", "CreateEnvelopeKey": "true"}
    with_key = conditions["WithEnvelopeKey"]["Fn::Or"]
    assert with_key[0] == {"Condition": "EnvelopeMode"}
    assert _evaluate(with_key[1], params) is True


@pytest.mark.parametrize(("value", "valid"), [
    ("", True), ("https://auth.example.org", True), ("https://auth.example.org:8443/tenant-a", True),
    ("http://auth.example.org", False), ("https://auth.example.org/?x=1", False), ("https://a.org/#f", False),
    ("https://a.org ", False), ("auth.example.org", False),
])
def test_issuer_parameter_accepts_only_https_base_urls(value: str, valid: bool) -> None:
    import re

    pattern = load_template(TEMPLATE)["Parameters"]["Issuer"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is valid


def test_nothing_deploys_pointing_at_a_placeholder() -> None:
    import tomllib

    # ConsentUrl is empty by default: a deploy with neither it nor UrlsLogin/UrlsConsent is refused by a rule.
    assert load_template(TEMPLATE)["Rules"]["SomeAppAnswersTheBrowser"]["Assertions"]
    text = (Path(ROOT) / "samconfig.toml").read_text()
    assert "example.com" not in text
    config = tomllib.loads(text)
    assert config["default"]["global"]["parameters"]["region"]
    assert config["prod"]["deploy"]["parameters"]["region"]
    # Each profile names ConsentUrl with an empty value: the deploy is refused until it is filled in.
    for profile in ("default", "prod"):
        assert "ConsentUrl= " in config[profile]["deploy"]["parameters"]["parameter_overrides"] + " "


def test_every_log_group_has_the_retention_parameter(translated: dict[str, Any]) -> None:
    params = translated["Parameters"]
    assert params["LogRetentionDays"]["Default"] == 30
    groups = _resources_of(translated, "AWS::Logs::LogGroup")
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    for name, function in _resources_of(translated, "AWS::Lambda::Function").items():
        ref = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert ref in groups, name
        assert function.get("Condition") == groups[ref].get("Condition"), name
    (stage,) = _resources_of(translated, "AWS::ApiGatewayV2::Stage").values()
    access = stage["Properties"]["AccessLogSettings"]
    assert access["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(access["Format"])
    assert {"requestId", "status", "routeKey"} <= set(fields)
    assert not any(s in access["Format"] for s in ("querystring", "header", "body", "authorizer"))


def test_token_introspection_and_revocation_routes_are_throttled(translated: dict[str, Any]) -> None:
    (stage,) = _resources_of(translated, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["RouteSettings"]
    params = translated["Parameters"]
    for route, prefix in (("ANY /oauth2/token", "Token"), ("ANY /oauth2/introspect", "Introspection"),
                          ("ANY /oauth2/revoke", "Revocation")):
        assert settings[route] == {"ThrottlingRateLimit": {"Ref": f"{prefix}RateLimit"},
                                   "ThrottlingBurstLimit": {"Ref": f"{prefix}BurstLimit"}}, route
        assert params[f"{prefix}RateLimit"]["Type"] == "Number" and params[f"{prefix}RateLimit"]["Default"] > 0
    routes = {route.route_key for route in load_routes(TEMPLATE)}
    assert set(settings) <= routes


def test_alarm_math_uses_valid_forms_and_the_flush_alarm_sees_a_crash(translated: dict[str, Any]) -> None:
    alarms = _resources_of(translated, "AWS::CloudWatch::Alarm")
    expressions = {name: [m["Expression"] for m in a["Properties"].get("Metrics", []) if "Expression" in m]
                   for name, a in alarms.items()}
    assert "MAX([" not in json.dumps(expressions)
    (rate,) = expressions["Api5xxRateAlarm"]
    assert rate.startswith("IF(FILL(requests, 0) > 0") and "FILL(errors, 0)" in rate
    (flush,) = expressions["FlushFailureAlarm"]
    # A crash: Lambda counts an error, the code emits no FlushIncomplete. The sum must still be >= 1.
    crash = {"errors": 1.0, "incomplete": None}
    value = eval(flush.replace("FILL(", "_fill("), {"_fill": lambda v, d: d if v is None else v}, crash)
    threshold = alarms["FlushFailureAlarm"]["Properties"]["Threshold"]
    assert value >= threshold


# Every DynamoDB action each function's role allows: what its code calls (tests/integration/test_deploy.py records
# the calls the built functions make and checks them against these policies), nothing that scans or
# batch-reads where nothing does.
DYNAMODB_ACTIONS = {
    "DiscoveryFunction": {("TokensTable", "GetItem"), ("ClientsTable", "GetItem"), ("PoliciesTable", "Scan")},
    "ClientsFunction": {("ClientsTable", "GetItem"), ("ClientsTable", "PutItem"), ("ClientsTable", "DeleteItem"),
                        ("ClientsTable", "UpdateItem"), ("ClientsTable", "ConditionCheckItem"),  # subject claims
                        ("ClientsTable/index", "Query"), ("TokensTable", "GetItem"), ("TokensTable", "DeleteItem"),
                        ("TokensTable", "BatchWriteItem"), ("TokensTable/index", "Query"), ("PoliciesTable", "Scan")},
    "OAuth2Function": {("ClientsTable", a) for a in ("GetItem", "PutItem", "Scan", "ConditionCheckItem")}
    | {("ClientsTable", "UpdateItem")}  # a JWT bearer grant's subject claimed (subject#... rows only)
    | {("TokensTable", a) for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
                                     "ConditionCheckItem", "BatchGetItem")}  # a revocation reads a grant's rows
    | {("TokensTable/index", "Query")}
    | {("ConsentTable", a) for a in ("GetItem", "PutItem", "UpdateItem", "ConditionCheckItem")}
    | {("SessionsTable", "GetItem"), ("SessionsTable", "PutItem"),  # the current flow's login and consent sessions
       ("SessionsTable/index", "Query")}  # remembered consent (by_subject)
    | {("SessionsTable", "UpdateItem"), ("SessionsTable", "DeleteItem")}  # logout requests, ended login sessions
    | {("PoliciesTable", a) for a in ("GetItem", "PutItem", "UpdateItem", "Scan", "ConditionCheckItem")},
    "ConsentFunction": {("ConsentTable", "GetItem"), ("ConsentTable", "UpdateItem"), ("ClientsTable", "GetItem"),
                        ("ClientsTable", "UpdateItem"), ("ClientsTable", "ConditionCheckItem"),  # subject claims
                        ("TokensTable", "GetItem"), ("PoliciesTable", "Scan"),
                        ("TokensTable", "ConditionCheckItem"),  # the device accept (RFC 8628: storage/device.py)
                        # consent sessions: listed (by_subject), revoked with the tokens of their grants
                        ("SessionsTable", "BatchWriteItem"), ("SessionsTable/index", "Query"),
                        ("TokensTable", "BatchGetItem"), ("TokensTable", "UpdateItem"), ("TokensTable", "DeleteItem"),
                        ("TokensTable", "BatchWriteItem"), ("TokensTable/index", "Query"),
                        # logout requests (answered), login sessions ended
                        ("SessionsTable", "GetItem"), ("SessionsTable", "UpdateItem"), ("SessionsTable", "DeleteItem")},
    "LogoutFunction": {("ClientsTable", "GetItem")},  # the back-channel consumer: the client, then sign and POST
    "FlushFunction": {("TokensTable", "GetItem"), ("ClientsTable", "GetItem"), ("TokensTable", "BatchWriteItem"),
                      ("TokensTable", "Query"),  # expired token keys: a key range of the table itself
                      ("ConsentTable", "BatchWriteItem"), ("ConsentTable/index", "Query"), ("PoliciesTable", "Scan")},
    "AdminFunction": {("PoliciesTable", a) for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan")}
    | {("TokensTable", "GetItem"), ("ClientsTable", "GetItem"),
       ("TokensTable", "PutItem"), ("TokensTable", "DeleteItem"),  # the rotation lease (POST /keys)
       # the JWT bearer grant's trusted issuers (trust#... rows, listed under trust-issuer) and application
       # key sets (jwks#... rows)
       ("ClientsTable", "PutItem"), ("ClientsTable", "DeleteItem"), ("ClientsTable/index", "Query")},
    "KeyRotationFunction": {("TokensTable", "PutItem"), ("TokensTable", "DeleteItem")},  # the rotation lease
}


def _statements(translated: dict[str, Any], function: str) -> list[Any]:
    resources = translated["Resources"]
    role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [s for p in resources[role]["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def _granted(statement: dict[str, Any]) -> set[tuple[str, str]]:
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    resource = statement["Resource"]
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        target = resource["Fn::GetAtt"][0]
    elif isinstance(resource, dict) and "Fn::Sub" in resource and "/index/*" in str(resource["Fn::Sub"]):
        target = str(resource["Fn::Sub"]).split(".Arn")[0].lstrip("${") + "/index"
    else:
        target = json.dumps(resource)
    return {(target, a.split(":", 1)[1]) for a in actions if a.startswith("dynamodb:")}


def test_each_function_may_call_only_what_it_calls(translated: dict[str, Any]) -> None:
    for function, expected in DYNAMODB_ACTIONS.items():
        granted: set[tuple[str, str]] = set()
        kms_sign = []
        for statement in _statements(translated, function):
            if "Fn::If" in statement:
                branches = [b for b in statement["Fn::If"][1:] if isinstance(b, dict) and "Action" in b]
            else:
                branches = [statement]
            for branch in branches:
                granted |= _granted(branch)
                actions = branch["Action"] if isinstance(branch["Action"], list) else [branch["Action"]]
                assert not any(a in {"dynamodb:*", "kms:*"} for a in actions), function
                if "kms:Sign" in actions:
                    kms_sign.append(branch)
        assert granted == expected, (function, granted ^ expected)
        if function not in ("OAuth2Function", "LogoutFunction"):
            assert kms_sign == [], function  # only the OAuth2 function (and the logout tokens' consumer) signs
    (sign,) = [b for s in _statements(translated, "OAuth2Function") if "Fn::If" in s
               for b in s["Fn::If"][1:] if isinstance(b, dict) and b.get("Action") == ["kms:Sign"]]
    # Keys tagged for this stack only (the stack's key and those its rotations make).
    assert sign["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"}
    assert sign["Condition"]["StringEquals"]["aws:ResourceTag/hydra-lambda:stack"] == {"Ref": "AWS::StackName"}
    assert sign["Condition"]["StringEquals"]["kms:KeyUsage"] == "SIGN_VERIFY"
    from hydra_lambda.keys.jwk import KMS_ALGORITHM

    assert set(sign["Condition"]["StringEquals"]["kms:SigningAlgorithm"]) == set(KMS_ALGORITHM.values())


def test_retired_rotation_keys_are_scheduled_for_deletion(translated: dict[str, Any]) -> None:
    import re

    params = translated["Parameters"]["RetiredKeyDeletionDays"]
    assert [d for d in range(100) if re.fullmatch(params["AllowedPattern"], str(d))] == list(range(7, 31))
    resources = translated["Resources"]
    rule = next(r for r in resources.values() if r["Type"] == "AWS::Events::Rule"
                and "deletion_window_days" in json.dumps(r["Properties"]))
    assert "${RetiredKeyDeletionDays}" in json.dumps(rule["Properties"]["Targets"])
    deletes = [s for s in _statements(translated, "KeyRotationFunction") if "kms:ScheduleKeyDeletion" in s["Action"]]
    assert len(deletes) == 1
    assert deletes[0]["Condition"]["StringEquals"]["aws:ResourceTag/hydra-lambda:scheduled-rotation"] == "true"


def test_the_stack_key_signs_through_the_alias_triple_the_keys_api_rotates(translated: dict[str, Any]) -> None:
    """POST /keys/hydra.openid.id-token rotates the stack's key with or without a schedule: the
    functions sign through <alias>,<alias>-next,<alias>-previous and re-read the aliases hourly, and
    the function serving /keys may make keys tagged for this stack and move only its aliases, with
    the scheduled rotation's timeout for its step."""
    admin = translated["Resources"]["AdminFunction"]["Properties"]
    variables = admin["Environment"]["Variables"]
    condition, triple, chosen = variables["SIGNING_KEYS"]["Fn::If"]
    assert condition == "UseStackSigningKey" and chosen == {"Ref": "SigningKeys"}
    assert triple == {"Fn::Sub": "${SigningKeyAlias},${SigningKeyAlias}-next,${SigningKeyAlias}-previous"}
    assert variables["SIGNING_KEYS_CACHE_SECONDS"]["Fn::If"] == ["SigningThroughAliases", "3600", "0"]
    assert variables["RETIRED_KEY_DELETION_DAYS"] == {"Ref": "RetiredKeyDeletionDays"}
    assert admin["Timeout"] == translated["Resources"]["KeyRotationFunction"]["Properties"]["Timeout"] == 60
    granted = {b["Sid"]: b for s in _statements(translated, "AdminFunction") if "Fn::If" in s
               for b in s["Fn::If"][1:] if isinstance(b, dict) and "Sid" in b and s["Fn::If"][0] == "RotatableKeys"}
    assert granted["CreateKeysTaggedForThisStack"]["Condition"]["StringEquals"][
        "aws:RequestTag/hydra-lambda:stack"] == {"Ref": "AWS::StackName"}
    assert "kms:UpdateAlias" in granted["ManageThisStacksAliases"]["Action"]
    assert "-id-token*" in granted["ManageThisStacksAliases"]["Resource"]["Fn::Sub"]
    assert granted["DeleteKeysRotationRetired"]["Condition"]["StringEquals"][
        "aws:ResourceTag/hydra-lambda:scheduled-rotation"] == "true"
    lease = granted["RotationLease"]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
    # The alias's name written out (a Ref to the alias would be a cycle: its key's policy names the roles).
    alias_name = translated["Resources"]["SigningKeyAlias"]["Properties"]["AliasName"]["Fn::Sub"]
    assert lease == [{"Fn::Sub": f"lock#key-rotation:{alias_name}{suffix}"} for suffix in ("", "-ps256", "-es256")]


@pytest.mark.parametrize(("alg", "spec"), [("PS256", "RSA_2048"), ("ES256", "ECC_NIST_P256")])
def test_each_algorithm_of_id_token_signing_algorithms_has_its_own_key_set(translated: dict[str, Any], alg: str,
                                                                           spec: str) -> None:
    """IdTokenSigningAlgorithms (default RS256 only) adds the PS256 and ES256 sets: a stack KMS key of
    the right spec each, behind its own alias triple (SIGNING_KEYS_<alg>), which KMS may sign with
    (RSASSA_PSS_SHA_256, ECDSA_SHA_256), the API and the schedule rotate, each under its own lease."""
    params = translated["Parameters"]["IdTokenSigningAlgorithms"]
    assert params["Default"] == "RS256"
    assert params["AllowedValues"] == ["RS256", "RS256,PS256", "RS256,ES256", "RS256,PS256,ES256"]
    resources = translated["Resources"]
    condition = f"With{alg}Keys"
    for chosen, present in (("RS256", False), (f"RS256,{alg}", True), ("RS256,PS256,ES256", True)):
        assert _evaluate(translated["Conditions"][condition], {"IdTokenSigningAlgorithms": chosen}) is present
    key = resources[f"SigningKey{alg}"]
    assert key["Condition"] == condition and key["DeletionPolicy"] == "Retain"
    assert key["Properties"]["KeySpec"] == spec and key["Properties"]["KeyUsage"] == "SIGN_VERIFY"
    assert key["Properties"]["KeyPolicy"] == resources["SigningKey"]["Properties"]["KeyPolicy"]
    assert key["Properties"]["Tags"] == resources["SigningKey"]["Properties"]["Tags"]  # the stack's tag: IAM
    alias = resources[f"SigningKey{alg}Alias"]
    assert alias["Condition"] == condition
    assert alias["Properties"]["AliasName"] == {"Fn::Sub": f"alias/${{AWS::StackName}}-id-token-{alg.lower()}"}
    for function in ("OAuth2Function", "DiscoveryFunction", "AdminFunction"):
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        name = f"SigningKey{alg}Alias"
        assert variables[f"SIGNING_KEYS_{alg}"]["Fn::If"] == [
            condition, {"Fn::Sub": f"${{{name}}},${{{name}}}-next,${{{name}}}-previous"}, ""]
    sign = next(s for s in _statements(translated, "OAuth2Function") if "Fn::If" in s
                and s["Fn::If"][2].get("Sid") == "SignIdTokens")["Fn::If"][2]
    assert sign["Condition"]["StringEquals"]["kms:SigningAlgorithm"] == [
        "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_256", "ECDSA_SHA_256"]
    # /clients refuses an algorithm no set signs: it reads the public keys (never signs).
    clients = {a for s in _statements(translated, "ClientsFunction") for a in s["Action"] if a.startswith("kms:")}
    assert clients == {"kms:GetPublicKey", "kms:DescribeKey"}
    rule = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::Rule"
                and f"id-token-{alg.lower()}" in json.dumps(r["Properties"]))
    assert rule["State"] == {"Fn::If": [condition, "ENABLED", "DISABLED"]}
    event = json.loads(rule["Targets"][0]["Input"]["Fn::Sub"].replace("${RetiredKeyDeletionDays}", "30"))
    assert event["alias"] == f"alias/${{AWS::StackName}}-id-token-{alg.lower()}" and event["key_spec"] == spec


# Rights that change keys or rows: the public function (unauthenticated internet traffic) holds none.
KEY_MANAGEMENT = ("kms:Create*", "kms:Update*", "kms:Disable*", "kms:ScheduleKeyDeletion", "kms:TagResource",
                  "kms:UntagResource", "kms:Delete*", "kms:Enable*", "kms:CancelKeyDeletion", "kms:Put*")
TABLE_WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                "dynamodb:TransactWriteItems", "dynamodb:ConditionCheckItem")


def _actions_in_any_branch(translated: dict[str, Any], function: str) -> set[str]:
    out: set[str] = set()
    for statement in _statements(translated, function):
        branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
        for branch in branches:
            if isinstance(branch, dict) and "Action" in branch:
                out |= set(branch["Action"] if isinstance(branch["Action"], list) else [branch["Action"]])
    return out


def _matches(action: str, pattern: str) -> bool:
    """``action`` (which may itself be a wildcard, as IAM allows) grants something ``pattern`` names."""
    from fnmatch import fnmatchcase

    service, _, name = pattern.partition(":")
    example = f"{service}:{name.replace('*', 'Anything')}"
    return fnmatchcase(action.lower(), pattern.lower()) or fnmatchcase(example.lower(), action.lower())


def test_the_public_discovery_function_manages_no_keys_and_writes_nothing(translated: dict[str, Any]) -> None:
    """Least privilege: the function answering the well-known documents, the JWKS and unknown routes
    may read public keys (and the rows that authorize a Bearer), never make, move, disable or delete a
    key nor write a row; the classic /keys API (which rotates keys) is the admin function's."""
    actions = _actions_in_any_branch(translated, "DiscoveryFunction")
    assert {"kms:GetPublicKey", "kms:DescribeKey"} <= actions  # the guard is not vacuous: it publishes keys
    forbidden = sorted(a for a in actions for p in (*KEY_MANAGEMENT, *TABLE_WRITES) if _matches(a, p))
    assert forbidden == [], forbidden
    secrets = {a for a in actions if a.startswith("secretsmanager:")}
    assert secrets == {"secretsmanager:GetSecretValue"}, secrets
    admin = _actions_in_any_branch(translated, "AdminFunction")
    assert {"kms:CreateKey", "kms:UpdateAlias", "kms:ScheduleKeyDeletion", "kms:GetPublicKey"} <= admin
    routes = load_routes(TEMPLATE)
    keys = {route.route_key: route.function for route in routes if route.path.startswith("/keys")}
    assert set(keys) == {"ANY /keys/{set}", "ANY /keys/{set}/{kid}"}, keys
    assert set(keys.values()) == {"AdminFunction"}, keys
    discovery_paths = [event["Properties"].get("Path", "") for event in
                       load_template(TEMPLATE)["Resources"]["DiscoveryFunction"]["Properties"]["Events"].values()]
    assert discovery_paths and not [path for path in discovery_paths if path.startswith("/keys")]
