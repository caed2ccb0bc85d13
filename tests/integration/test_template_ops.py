"""template.yaml and samconfig.toml as an operator meets them (issue 28, Deploy): published aliases and
canary deploys, parameters checked as config.py checks them, edge throttles, key policies and what the
roles may do with keys, stages, job retries and alarms, the layer's lock file, data kept."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hydra_lambda import config
from hydra_lambda_local.routes import load_routes, load_template

from tests.integration.test_template import _resources_of, _statements, translate
from tests.support import ROOT, TEMPLATE


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _functions(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _resources_of(translated, "AWS::Lambda::Function")


def _public_functions(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The functions of every stack: not the private admin API's (PrivateAdminApi=true only)."""
    return {n: f for n, f in _functions(translated).items() if f.get("Condition") != "WithPrivateAdminApi"}


# ---------------------------------------------------------------- 1. versions and canaries


def test_every_function_serves_through_a_published_alias_that_deploys_gradually(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    functions = _public_functions(translated)
    assert len(functions) == 8  # LogoutFunction: the back-channel logout queue's consumer
    for name in set(_functions(translated)) - set(functions):  # the private admin API's: no deployment group
        assert resources[f"{name}Aliaslive"]["Properties"]["Name"] == "live"
        assert f"{name}DeploymentGroup" not in resources  # SAM would make it without the condition
    for name in functions:
        alias = resources[f"{name}Aliaslive"]
        assert alias["Type"] == "AWS::Lambda::Alias" and alias["Properties"]["Name"] == "live"
        group = resources[f"{name}DeploymentGroup"]["Properties"]
        assert group["AlarmConfiguration"] == {"Enabled": True, "Alarms": [{"Name": {"Ref": "FunctionErrorsAlarm"}}]}
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    param = translated["Parameters"]["DeploymentType"]
    assert param["Default"].startswith(("Canary", "Linear"))
    assert set(param["AllowedValues"]) - {"AllAtOnce"} and all(
        v == "AllAtOnce" or v.startswith(("Canary", "Linear")) for v in param["AllowedValues"])
    template = load_template(TEMPLATE)
    preference = template["Globals"]["Function"]["DeploymentPreference"]
    assert preference["Type"] == {"Ref": "DeploymentType"}


def test_routes_and_schedules_invoke_the_alias_never_the_unpublished_function(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    body = json.dumps(resources["HttpApi"]["Properties"]["Body"])
    uris = re.findall(r"functions/\$\{(\w+)\}/invocations", body)
    assert uris and all(uri.endswith("Aliaslive") for uri in uris), uris
    rules = _resources_of(translated, "AWS::Events::Rule")
    assert len(rules) == 4  # the flush and the key rotation (SIGNING_KEYS; PS256 and ES256 sets when configured)
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"]["Ref"].endswith("Aliaslive"), target
    for permission in _resources_of(translated, "AWS::Lambda::Permission").values():
        assert permission["Properties"]["FunctionName"]["Ref"].endswith("Aliaslive"), permission


# ---------------------------------------------------------------- 2. a bad setting fails the deploy

# Settings the template does not set, each with its reason; every other option is set on every function
# that could read it.
NOT_ON_LAMBDA = {
    "CONSENT_APP_PORT": "the local example consent app",
    "CONSENT_APP_USERS": "the local example consent app",
    "ADMIN_PORT": "make run's loopback admin port; on AWS the private admin API (PrivateAdminApi) serves that role",
    "SYSTEM_SECRET": "the stack reads it from SYSTEM_SECRET_ARN (a parameter would show it in the console)",
    "FORCE_ROOT_CLIENT_CREDENTIALS": "a secret: the root client is generated and written to RootClientSecret",
    "AWS_REGION": "set by Lambda",
    "DYNAMODB_ENDPOINT": "local endpoints",
    "KMS_ENDPOINT": "local endpoints",
    "SECRETSMANAGER_ENDPOINT": "local endpoints",
    "FETCH_ALLOW_LOOPBACK": "tests and make run only: on AWS it would let a client make a function fetch from itself",
}


def _environment(template: dict[str, Any]) -> dict[str, Any]:
    """Every variable the template sets, Globals and functions together."""
    env = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            env |= resource["Properties"].get("Environment", {}).get("Variables", {})
    return env


def _parameter_options(template: dict[str, Any]) -> list[tuple[str, dataclasses.Field[Any]]]:
    """(parameter, option) for each variable the template sets straight from a parameter."""
    env = _environment(template)
    out = []
    for option in config.Settings.options():
        value = env.get(option.metadata["variables"][0])
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in template["Parameters"]:
            out.append((value["Ref"], option))
    return out


def test_every_setting_the_code_reads_on_lambda_is_set_by_the_template(template: dict[str, Any]) -> None:
    env = _environment(template)
    for option in config.Settings.options():
        variable = option.metadata["variables"][0]
        assert (variable in env) != (variable in NOT_ON_LAMBDA), variable
    mapped = {param for param, _ in _parameter_options(template)}
    assert {"CorsAllowedOrigins", "UserinfoEndpoint", "DiscoveryScopesSupported", "DiscoveryClaimsSupported",
            "RefreshTokenGracePeriod", "MaxBodyBytes", "ClientCacheTime", "PolicyCacheTime",
            "SystemSecretCacheTime", "AccessTokenLifespan"} <= mapped


def _config_accepts(option: dataclasses.Field[Any], value: str) -> bool:
    env = {"AWS_LAMBDA_FUNCTION_NAME": "check", option.metadata["variables"][0]: value}
    # URLS_LOGIN and URLS_CONSENT are set together (one alone is a ConfigError of its own).
    paired = {"URLS_LOGIN": "URLS_CONSENT", "URLS_CONSENT": "URLS_LOGIN"}.get(option.metadata["variables"][0])
    if paired and value:
        env[paired] = "https://login.example.com/app"
    try:
        config.Settings.from_env(env)
    except config.ConfigError:
        return False
    return True


def _template_accepts(param: dict[str, Any], value: str) -> bool:
    """What CloudFormation checks before anything is created (Java's matches(): the whole value)."""
    if "AllowedValues" in param and value not in [str(v) for v in param["AllowedValues"]]:
        return False
    if "AllowedPattern" in param and not re.fullmatch(param["AllowedPattern"], value):
        return False
    if param["Type"] == "Number":
        try:
            number = float(value)
        except ValueError:
            return False
        if number < param.get("MinValue", -1e300) or number > param.get("MaxValue", 1e300):
            return False
    return True


def _duration_samples(option: dataclasses.Field[Any]) -> tuple[list[str], list[str]]:
    """(single-unit whole values, which template and config must judge alike; other forms, where the
    template may be stricter than config but never looser)."""
    low, high = option.metadata["bounds"]
    numbers = sorted({0, 1, 2, 9, 10, 59, 60, 61, 299, 300, 301, 3600, 86399, 87599, 87600, 87601, 100000,
                      999999, 5256000, 5256001, 99999999, 315360000, 315360001, low, high, high + 1,
                      max(low - 1, 0), high // 60, high // 60 + 1, high // 3600, high // 3600 + 1})
    exact = [f"{n}{unit}" for n in numbers for unit in ("", "s", "m", "h")]
    exact = [v for v in exact if len(v) <= 12]
    other = ["", " ", "banana", "1d", "-1h", "1H", "1.5h", "0.5s", "1h30m", "1h30m15s", "2m30s", "0h", "0m0s",
             "87599h59m59s", "87600h0m1s", "1h60m", "1m60s", "10ms", "1h ", " 1h", "1e3", "0x10", "٣s",
             "5m1s", "4m59s", "1h1s"]
    return exact, other


DURATION_OPTIONS = [(p, o) for p, o in _parameter_options(load_template(TEMPLATE)) if str(o.type) == "Seconds"]


@pytest.mark.parametrize(("param", "option"), DURATION_OPTIONS, ids=[p for p, _ in DURATION_OPTIONS])
def test_each_duration_parameter_accepts_exactly_what_config_accepts(param: str, option: Any) -> None:
    spec = load_template(TEMPLATE)["Parameters"][param]
    assert spec["Type"] == "String" and "AllowedPattern" in spec, param
    assert _template_accepts(spec, spec["Default"]) and _config_accepts(option, spec["Default"])
    assert config.parse_duration(spec["Default"]) == config.parse_duration(option.metadata["default"])
    exact, other = _duration_samples(option)
    for value in exact:
        assert _template_accepts(spec, value) == _config_accepts(option, value), (param, value)
    for value in other:
        if _template_accepts(spec, value):  # never a value that deploys and then fails every init
            assert _config_accepts(option, value), (param, value)
    compound = [v for v in other if len(re.findall(r"[hms]", v)) >= 2 and _config_accepts(option, v)]
    assert any(_template_accepts(spec, v) for v in compound), param  # 1h30m, 4m30s forms deploy too


@pytest.mark.parametrize("pair", [(p, o) for p, o in _parameter_options(load_template(TEMPLATE))
                                  if str(o.type) != "Seconds"], ids=lambda pair: pair[0])
def test_each_other_parameter_refuses_what_config_refuses(pair: tuple[str, Any]) -> None:
    param, option = pair
    spec = load_template(TEMPLATE)["Parameters"][param]
    meta = option.metadata
    assert {"AllowedPattern", "AllowedValues", "MinValue"} & set(spec), f"{param} accepts anything"
    if meta["choices"]:
        assert sorted(spec["AllowedValues"]) == sorted(meta["choices"])
    if meta["bounds"]:  # whole numbers: a pattern (a Number parameter would let 7.5 or 1e3 through)
        low, high = meta["bounds"]
        assert spec["Type"] == "String" and "AllowedPattern" in spec, param
        top = high if high is not None else 10**12
        for number in sorted({0, 1, low - 1, low, low + 1, 9, 10, 99, top - 1, top, top + 1, 10 * top}):
            for value in (str(number), f"{number}.0", f"{number}.5", f"0{number}", f"{number:e}"):
                if value == str(number):
                    assert _template_accepts(spec, value) == _config_accepts(option, value), (param, value)
                elif _template_accepts(spec, value):
                    assert _config_accepts(option, value), (param, value)
    samples = [
        "", "*", "x", "https://auth.example.org", "https://auth.example.org/userinfo", "https://a.org:8443/u?x=1",
        "https://a.org:99999/u", "https://a.org:0", "http://a.org", "https://a.org#f", "https://u@a.org",
        "https://a.org/ x", "https://A.org", "https://app.example.org,http://localhost:3000", "https://a.org/",
        "https://a.org,", "http://localhost:65535", "http://localhost:65536", "openid,offline,photos.read",
        "rn:hydra", "rn:hydra:", "kms", "envelope", "KMS", "1", "0", "7", "30", "31", "1048576", "-1", "1.5",
        "banana", "a b", "ftp://a.org",
    ]
    default = str(spec.get("Default", ""))
    if default or "Default" in spec:
        assert _template_accepts(spec, default) and _config_accepts(option, default), param
    for value in samples:
        if _template_accepts(spec, value):
            assert _config_accepts(option, value), (param, value)


@pytest.mark.parametrize(("param", "good"), [
    ("CorsAllowedOrigins", ["", "*", "https://app.example.org", "https://a.example.org,http://localhost:3000"]),
    ("UserinfoEndpoint", ["", "https://auth.example.org/userinfo", "https://a.org:8443/u?tenant=a"]),
    ("Issuer", ["", "https://auth.example.org", "https://auth.example.org:8443/tenant-a"]),
    ("ConsentUrl", ["https://login.example.org/consent", "https://login.example.org/c?app=a"]),
    ("DiscoveryScopesSupported", ["", "photos.read,offline"]),
    ("AccessTokenLifespan", ["1h", "90m", "1h30m", "3600", "87600h"]),
    ("RefreshTokenGracePeriod", ["0s", "30s", "5m", "4m30s"]),
    ("ClientCacheTime", ["0", "0s", "10s", "1h"]),
])
def test_values_operators_write_deploy(param: str, good: list[str]) -> None:
    spec = load_template(TEMPLATE)["Parameters"][param]
    for value in good:
        assert _template_accepts(spec, value), (param, value)


def test_the_lifespans_that_took_every_function_down_no_longer_deploy(template: dict[str, Any]) -> None:
    for param, option in _parameter_options(template):
        if str(option.type) == "Seconds":
            assert not _template_accepts(template["Parameters"][param], "banana"), param


# ---------------------------------------------------------------- 3. edge protection

PUBLIC_ROUTES = {"ANY /oauth2/auth", "ANY /.well-known/openid-configuration",
                 "ANY /.well-known/oauth-authorization-server", "ANY /.well-known/jwks.json", "ANY /userinfo",
                 "ANY /health/status", "ANY /health/alive", "ANY /health/ready", "ANY /version"}


def test_every_route_is_throttled_and_the_public_ones_tighter(translated: dict[str, Any]) -> None:
    (stage,) = _resources_of(translated, "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["DefaultRouteSettings"] == {"ThrottlingRateLimit": {"Ref": "DefaultRateLimit"},
                                             "ThrottlingBurstLimit": {"Ref": "DefaultBurstLimit"}}
    routes = {route.route_key for route in load_routes(TEMPLATE)}
    public = {r for r in routes if r.split(" ")[-1].startswith(("/.well-known/", "/oauth2/auth", "/userinfo",
                                                                   "/health", "/version", "/oauth2/sessions/logout"))}
    assert PUBLIC_ROUTES <= public
    for route in public:
        assert props["RouteSettings"][route] == {"ThrottlingRateLimit": {"Ref": "PublicRateLimit"},
                                                 "ThrottlingBurstLimit": {"Ref": "PublicBurstLimit"}}, route
    assert set(props["RouteSettings"]) <= routes  # a setting for a route that does not exist fails the deploy
    params = translated["Parameters"]
    assert params["PublicRateLimit"]["Default"] < params["DefaultRateLimit"]["Default"]
    assert params["PublicBurstLimit"]["Default"] < params["DefaultBurstLimit"]["Default"]


@pytest.mark.parametrize(("function", "param"), [("OAuth2Function", "TokenReservedConcurrency"),
                                                 ("DiscoveryFunction", "PublicReservedConcurrency"),
                                                 ("FlushFunction", "FlushReservedConcurrency")])
def test_reserved_concurrency_is_a_parameter_off_by_default(translated: dict[str, Any], function: str,
                                                            param: str) -> None:
    spec = translated["Parameters"][param]
    assert spec["Default"] == 0 and spec["MinValue"] == 0
    value = translated["Resources"][function]["Properties"]["ReservedConcurrentExecutions"]
    condition, reserved, off = value["Fn::If"]
    assert reserved == {"Ref": param} and off == {"Ref": "AWS::NoValue"}  # 0 would throttle everything
    assert translated["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": param}, 0]}]}


# ---------------------------------------------------------------- 4. keys

ACCOUNT, REGION, STACK = "111122223333", "us-east-1", "stk"
_PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK}


def _resolve(node: Any) -> Any:
    """The template's intrinsics for one stack: pseudo parameters, Subs of them, role ARNs by name."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in _PSEUDO:
            return _PSEUDO[node["Ref"]]
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            for key, value in _PSEUDO.items():
                text = text.replace("${" + key + "}", value)
            return re.sub(r"\$\{(\w+)\.Arn\}", lambda m: _role_arn(m.group(1)), text)
        if set(node) == {"Fn::GetAtt"}:
            return _role_arn(node["Fn::GetAtt"][0])
        return {k: _resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v) for v in node]
    return node


def _role_arn(logical: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{STACK}-{logical}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            expected, actual = [str(v) for v in _as_list(expected)], context.get(key)
            if operator == "StringEquals":
                ok = actual is not None and all(str(a) in expected for a in _as_list(actual))
            elif operator == "StringNotEquals":
                ok = actual is None or not any(str(a) in expected for a in _as_list(actual))
            elif operator == "ForAllValues:StringEquals":
                ok = actual is None or all(str(a) in expected for a in _as_list(actual))
            elif operator in ("ArnEquals", "ArnLike"):
                ok = actual is not None and any(fnmatchcase(str(actual), e) for e in expected)
            elif operator == "NumericGreaterThanEquals":
                ok = actual is not None and float(actual) >= float(expected[0])
            else:
                raise AssertionError(f"operator {operator} not modelled")
            if not ok:
                return False
    return True


def _decide(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any]) -> bool:
    """IAM's answer for one request under one identity policy: an explicit Deny wins, else an Allow."""
    verdicts = set()
    for statement in statements:
        if not any(fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement["Action"])):
            continue
        if not any(fnmatchcase(resource, r) for r in _as_list(statement["Resource"])):
            continue
        if _condition_holds(statement.get("Condition", {}), context):
            verdicts.add(statement["Effect"])
    return "Deny" not in verdicts and "Allow" in verdicts


# kms mode, the stack's key, rotation on
_CONDITIONS = {"RotatableStackKey": True, "RotatableKeys": True, "EnvelopeMode": False,
               "TokenHookFunctionGiven": False}  # its lambda:InvokeFunction: tests/integration/test_token_hook.py


def _policy(translated: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """The function's statements in kms mode with the stack's own key and scheduled rotation."""
    out = []
    for statement in _statements(translated, function):
        if "Fn::If" in statement:
            condition, yes, no = statement["Fn::If"]
            statement = yes if _CONDITIONS[condition] else no
        if "Action" in statement:
            out.append(_resolve(statement))
    return out


KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TAGS = {"aws:RequestTag/hydra-lambda:stack": STACK}
NEW_KEY = {**TAGS, "aws:TagKeys": ["hydra-lambda:stack", "hydra-lambda:scheduled-rotation"],
           "aws:RequestTag/hydra-lambda:scheduled-rotation": "true", "kms:KeyUsage": "SIGN_VERIFY",
           "kms:KeySpec": "RSA_2048"}
KEY_REQUESTS = [
    # (what, action, resource, context, allowed)
    ("create a signing key tagged for the stack", "kms:CreateKey", "*", NEW_KEY, True),
    ("tag it while creating it", "kms:TagResource", "*", NEW_KEY, True),
    ("create a key tagged for another stack", "kms:CreateKey", "*",
     {**NEW_KEY, "aws:RequestTag/hydra-lambda:stack": "other"}, False),
    ("create an untagged key", "kms:CreateKey", "*", {"kms:KeyUsage": "SIGN_VERIFY", "kms:KeySpec": "RSA_2048"},
     False),
    ("create a key with tags of its own choosing", "kms:CreateKey", "*",
     {**NEW_KEY, "aws:TagKeys": ["hydra-lambda:stack", "owner"]}, False),
    ("create an encryption key", "kms:CreateKey", "*", {**NEW_KEY, "kms:KeyUsage": "ENCRYPT_DECRYPT"}, False),
    ("tag an account key into the stack's set", "kms:TagResource", KEY, TAGS | {"aws:TagKeys": [
        "hydra-lambda:stack"]}, False),
    ("mark the stack's own key as rotation-made (so it may be deleted)", "kms:TagResource", KEY,
     {"aws:ResourceTag/hydra-lambda:stack": STACK, **TAGS,
      "aws:TagKeys": ["hydra-lambda:stack", "hydra-lambda:scheduled-rotation"],
      "aws:RequestTag/hydra-lambda:scheduled-rotation": "true"}, False),
    ("untag a key", "kms:UntagResource", KEY, {"aws:ResourceTag/hydra-lambda:stack": STACK,
                                               "aws:TagKeys": ["hydra-lambda:stack"]}, False),
    ("delete the stack's own key", "kms:ScheduleKeyDeletion", KEY,
     {"aws:ResourceTag/hydra-lambda:stack": STACK, "kms:ScheduleKeyDeletionPendingWindowInDays": 30}, False),
    ("delete a key a rotation made", "kms:ScheduleKeyDeletion", KEY,
     {"aws:ResourceTag/hydra-lambda:stack": STACK, "aws:ResourceTag/hydra-lambda:scheduled-rotation": "true",
      "kms:ScheduleKeyDeletionPendingWindowInDays": 30}, True),
    ("disable an account key", "kms:DisableKey", KEY, {}, False),
]


@pytest.mark.parametrize("function", ["AdminFunction", "KeyRotationFunction"])
@pytest.mark.parametrize(("what", "action", "resource", "context", "allowed"), KEY_REQUESTS,
                         ids=[r[0] for r in KEY_REQUESTS])
def test_roles_that_make_keys_cannot_bring_another_key_into_the_stacks_set(
        translated: dict[str, Any], function: str, what: str, action: str, resource: str,
        context: dict[str, Any], allowed: bool) -> None:
    assert _decide(_policy(translated, function), action, resource, context) is allowed, what


@pytest.mark.parametrize("function", ["OAuth2Function", "DiscoveryFunction", "ClientsFunction", "ConsentFunction",
                                      "FlushFunction"])
def test_other_roles_create_and_tag_no_key(translated: dict[str, Any], function: str) -> None:
    for _what, action, resource, context, _allowed in KEY_REQUESTS:
        if action in ("kms:CreateKey", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion"):
            assert not _decide(_policy(translated, function), action, resource, context), (function, action)


def _key_policy_allows(policy: dict[str, Any], principal_arn: str, action: str, context: dict[str, Any]) -> bool:
    """Whether the key policy lets a principal of this account (IAM allowing) make the call."""
    root = f"arn:aws:iam::{ACCOUNT}:root"
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow" or statement["Principal"] != {"AWS": root}:
            continue
        if not any(fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement["Action"])):
            continue
        if _condition_holds(statement.get("Condition", {}), {"aws:PrincipalArn": principal_arn, **context}):
            return True
    return False


SIGNING_USES = [
    ("OAuth2FunctionRole", "kms:Sign", True), ("DiscoveryFunctionRole", "kms:Sign", False),
    ("AdminFunctionRole", "kms:Sign", False), ("KeyRotationFunctionRole", "kms:Sign", False),
    ("SomeoneElse", "kms:Sign", False),
    ("OAuth2FunctionRole", "kms:GetPublicKey", True), ("DiscoveryFunctionRole", "kms:GetPublicKey", True),
    ("AdminFunctionRole", "kms:GetPublicKey", True), ("SomeoneElse", "kms:GetPublicKey", False),
    ("ClientsFunctionRole", "kms:GetPublicKey", True), ("ClientsFunctionRole", "kms:Sign", False),
    ("SomeoneElse", "kms:DisableKey", True),  # administration: through IAM, as AWS requires
    ("SomeoneElse", "kms:PutKeyPolicy", True),
]


@pytest.mark.parametrize(("role", "action", "allowed"), SIGNING_USES)
def test_the_signing_key_policy_names_the_roles_that_may_use_it(translated: dict[str, Any], role: str,
                                                                 action: str, allowed: bool) -> None:
    policy = _resolve(translated["Resources"]["SigningKey"]["Properties"]["KeyPolicy"])
    assert _key_policy_allows(policy, _role_arn(role), action, {}) is allowed


def test_keys_a_rotation_makes_get_the_signing_keys_policy(translated: dict[str, Any]) -> None:
    from hydra_lambda.keys.policy import key_policy

    resources = translated["Resources"]
    for function in ("AdminFunction", "KeyRotationFunction"):
        env = _resolve(resources[function]["Properties"]["Environment"]["Variables"])
        signers = tuple(env["SIGNING_KEY_SIGNER_ROLES"].split(","))
        readers = tuple(env["SIGNING_KEY_READER_ROLES"].split(","))
        made = json.loads(key_policy(signers, readers) or "{}")
        stack_key = _resolve(resources["SigningKey"]["Properties"]["KeyPolicy"])
        assert made == stack_key, function
    assert key_policy((), ()) is None  # unset (locally, `hydra-lambda-keys kms`): KMS's default


def test_the_envelope_key_rotates_and_only_the_oauth2_role_decrypts(translated: dict[str, Any]) -> None:
    props = translated["Resources"]["EnvelopeKey"]["Properties"]
    assert props["EnableKeyRotation"] is True
    policy = _resolve(props["KeyPolicy"])
    context = {"kms:EncryptionContext:hydra-lambda": "id-token-signing-key"}
    assert _key_policy_allows(policy, _role_arn("OAuth2FunctionRole"), "kms:Decrypt", context)
    for role in ("DiscoveryFunctionRole", "AdminFunctionRole", "SomeoneElse"):
        assert not _key_policy_allows(policy, _role_arn(role), "kms:Decrypt", context), role
    assert not _key_policy_allows(policy, _role_arn("OAuth2FunctionRole"), "kms:Decrypt", {})
    assert _key_policy_allows(policy, _role_arn("Operator"), "kms:Encrypt", context)  # sealing a new key
    for key in ("SigningKey", "EnvelopeKey", "AlarmTopicKey"):
        for statement in translated["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]:
            assert statement["Action"] != "kms:*" or key == "AlarmTopicKey", key


# ---------------------------------------------------------------- 5. stages


def _samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def _overrides(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())


def test_dev_and_prod_profiles_are_two_stacks_and_only_dev_syncs(template: dict[str, Any]) -> None:
    samconfig = _samconfig()
    dev, prod = samconfig["default"], samconfig["prod"]
    dev_stack = dev["global"]["parameters"]["stack_name"]
    prod_stack = prod["deploy"]["parameters"]["stack_name"]
    assert dev_stack != prod_stack
    assert _overrides(dev["deploy"]["parameters"]["parameter_overrides"])["Stage"] == "dev"
    assert dev_stack.endswith("-dev") and prod_stack.endswith("-prod")
    assert _overrides(prod["deploy"]["parameters"]["parameter_overrides"])["Stage"] == "prod"
    # sam sync takes its stack name from the sync or global section: prod has neither.
    assert "sync" not in prod and "global" not in prod
    assert _overrides(dev["sync"]["parameters"]["parameter_overrides"])["Stage"] == "dev"
    assert prod["deploy"]["parameters"]["confirm_changeset"] is True
    assert "Default" not in template["Parameters"]["Stage"]  # never a stage by accident


@pytest.mark.parametrize("profile", ["default", "prod"])
def test_a_first_deploy_needs_only_the_consent_url(template: dict[str, Any], profile: str) -> None:
    config_env = _samconfig()[profile]
    deploy = config_env["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in deploy["capabilities"] and deploy["resolve_s3"] is True
    assert (config_env.get("global", {}).get("parameters", {}) | deploy)["region"]
    given = _overrides(deploy["parameter_overrides"])
    required = {name for name, p in template["Parameters"].items() if "Default" not in p}
    assert required == {"Stage"}
    assert required <= set(given)
    # The README's one value; empty (and no UrlsLogin/UrlsConsent), the rule refuses the deploy.
    assert given["ConsentUrl"] == "" and not given.get("UrlsLogin")
    assert _refused_without_an_app(template)
    params = template["Parameters"]
    for name, value in given.items():
        assert _template_accepts(params[name], value), (profile, name)


def _refused_without_an_app(template: dict[str, Any]) -> bool:
    """The rule refusing a deploy with neither ConsentUrl nor UrlsLogin and UrlsConsent."""
    rule = template["Rules"]["SomeAppAnswersTheBrowser"]
    text = str(rule["Assertions"][0]["Assert"])
    return "RuleCondition" not in rule and all(name in text for name in ("ConsentUrl", "UrlsLogin", "UrlsConsent"))


_TAGGABLE = {"AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::SecretsManager::Secret",
             "AWS::SQS::Queue"}


def test_every_stateful_or_running_resource_is_tagged_with_its_stage(translated: dict[str, Any]) -> None:
    for name, resource in translated["Resources"].items():
        if resource["Type"] not in _TAGGABLE:
            continue
        tags = resource["Properties"]["Tags"]
        stage = [t for t in tags if t["Key"] == "hydra-lambda:stage"]
        assert stage and stage[0]["Value"] == {"Ref": "Stage"}, name
    (stage,) = _resources_of(translated, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["Tags"]["hydra-lambda:stage"] == {"Ref": "Stage"}


# ---------------------------------------------------------------- 6. jobs and alarms


@pytest.mark.parametrize("function", ["FlushFunction", "KeyRotationFunction"])
def test_scheduled_jobs_retry_then_land_in_the_failure_queue(translated: dict[str, Any], function: str) -> None:
    resources = translated["Resources"]
    invoke = next(r["Properties"] for r in _resources_of(translated, "AWS::Lambda::EventInvokeConfig").values()
                  if r["Properties"]["FunctionName"] == {"Ref": function})
    assert invoke["Qualifier"] == "live" and 1 <= invoke["MaximumRetryAttempts"] <= 2
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["JobFailureQueue", "Arn"]}
    rule = next(r for r in _resources_of(translated, "AWS::Events::Rule").values()
                if r["Properties"]["Targets"][0]["Arn"] == {"Ref": f"{function}Aliaslive"})
    target = rule["Properties"]["Targets"][0]
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["JobFailureQueue", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    send = [s for p in resources[f"{function}Role"]["Properties"]["Policies"]
            for s in p["PolicyDocument"]["Statement"] if "sqs:SendMessage" in _as_list(s["Action"])]
    assert send, function  # the destination needs the role to send
    policy = resources["JobFailureQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Principal"] == {"Service": "events.amazonaws.com"} and "aws:SourceArn" in str(policy)
    alarm = resources["JobFailureAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["JobFailureQueue", "QueueName"]}
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_function_error_alarm_covers_every_function(translated: dict[str, Any]) -> None:
    alarm = translated["Resources"]["FunctionErrorsAlarm"]["Properties"]
    watched: dict[str, set[str]] = {}
    for metric in alarm["Metrics"]:
        if "Fn::If" in metric:
            assert metric["Fn::If"][0] == "ScheduledRotation"
            metric = metric["Fn::If"][1]
        if "MetricStat" in metric:
            stat = metric["MetricStat"]["Metric"]
            watched.setdefault(stat["Dimensions"][0]["Value"]["Ref"], set()).add(stat["MetricName"])
    assert watched == {name: {"Errors", "Throttles"} for name in _public_functions(translated)}
    with_rotation, without = alarm["Metrics"][0]["Expression"]["Fn::If"][1:]
    ids = {m["Id"] for m in alarm["Metrics"] if "Id" in m} | {m["Fn::If"][1]["Id"] for m in alarm["Metrics"]
                                                             if "Fn::If" in m}
    assert set(re.findall(r"[et]\d", with_rotation)) == ids - {"total"}
    assert "e7" not in without and "t7" not in without


def test_the_flush_alarm_fires_on_one_failed_daily_run(translated: dict[str, Any]) -> None:
    alarm = translated["Resources"]["FlushFailureAlarm"]["Properties"]
    periods = {m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m}
    (period,) = periods
    # A daily schedule gives one datapoint per day: the alarm must need no more datapoints than the
    # runs its evaluation window holds.
    runs_in_window = alarm["EvaluationPeriods"] * period // 86400
    assert period >= 86400 and alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]) <= max(runs_in_window, 1)
    assert alarm["EvaluationPeriods"] * period <= 7 * 86400  # CloudWatch's limit for an alarm's range
    assert alarm["Threshold"] == 1


def test_latency_throttle_and_concurrency_alarms(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    latency = resources["ApiLatencyAlarm"]["Properties"]
    assert latency["ExtendedStatistic"] == "p99" and latency["Threshold"] == {"Ref": "LatencyAlarmMilliseconds"}
    assert latency["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]
    throttles = resources["DynamoDBThrottleAlarm"]["Properties"]["Metrics"]
    tables = {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"] for m in throttles if "MetricStat" in m}
    assert tables == set(_resources_of(translated, "AWS::DynamoDB::Table"))
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in throttles if "MetricStat" in m}
    assert names == {"ReadThrottleEvents", "WriteThrottleEvents"}
    concurrency = resources["ConcurrencyAlarm"]["Properties"]
    assert concurrency["MetricName"] == "ConcurrentExecutions" and "Dimensions" not in concurrency
    assert concurrency["Threshold"] == {"Ref": "ConcurrencyAlarmThreshold"}


# ---------------------------------------------------------------- 7. what is deployed is what was tested


def _lock() -> dict[str, tuple[str, str, list[str]]]:
    """name -> (version, marker, hashes) of shared/requirements.lock."""
    out, current = {}, None
    for line in (ROOT / "shared" / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?$", line)
        if match:
            current = match.group(1).lower()
            out[current] = (match.group(2), (match.group(3) or "").strip(), [])
        elif line.strip().startswith("--hash=sha256:") and current:
            out[current][2].append(line.strip().split(":", 1)[1].rstrip(" \\"))
    return out


def test_the_lock_pins_every_layer_dependency_with_hashes() -> None:
    from packaging.requirements import Requirement

    lock = _lock()
    assert len(lock) >= 10
    for name, (_version, _marker, hashes) in lock.items():
        assert hashes and all(len(h) == 64 for h in hashes), name
    for line in (ROOT / "shared" / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            assert requirement.specifier.contains(lock[requirement.name.lower()][0]), line


def test_the_test_environment_runs_the_locked_versions() -> None:
    from importlib.metadata import version

    from packaging.markers import Marker

    for name, (locked, marker, _hashes) in _lock().items():
        if not marker or Marker(marker).evaluate():
            assert version(name) == locked, f"{name} {version(name)} installed, {locked} locked: run make"


def test_sam_build_and_make_install_from_the_lock() -> None:
    layer = (ROOT / "shared" / "Makefile").read_text()
    assert re.search(r"--require-hashes[^\n]*-r requirements\.lock", layer)
    assert "requirements.txt" not in re.sub(r"#.*", "", layer)
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r shared/requirements.lock" in makefile
    assert re.search(r"^\$\(VENV\)/\.test-deps: .*\$\(VENV\)/\.layer-deps", makefile, re.M)


# ---------------------------------------------------------------- 8. data and logs


def test_tables_refuse_deletion_and_logs_are_json_at_the_log_level(translated: dict[str, Any]) -> None:
    for name, table in _resources_of(translated, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
    levels = translated["Parameters"]["LogLevel"]["AllowedValues"]
    assert set(levels) <= {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}  # Lambda's names
    for name, function in _functions(translated).items():
        logging = function["Properties"]["LoggingConfig"]
        assert logging["LogFormat"] == "JSON" and logging["ApplicationLogLevel"] == {"Ref": "LogLevel"}, name
        assert function["Properties"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}


def test_the_readme_says_what_deleting_the_stack_keeps(translated: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    (line,) = [block for block in readme.split("\n- ") if block.startswith("**Deleting the stack**")]
    named = set(re.findall(r"`(\w+)`", line)) & set(translated["Resources"])
    # SAM keeps published versions on updates (Retain); a version goes with its function.
    kept = {name for name, r in translated["Resources"].items()
            if r.get("DeletionPolicy") == "Retain" and r["Type"] != "AWS::Lambda::Version"}
    assert named == kept
    assert "DeletionProtectionEnabled" in line and "import" in line  # how to delete them, how to re-attach


def test_every_role_allowed_kms_sign_is_named_by_the_signing_keys_policies(template: dict[str, Any]) -> None:
    """An IAM grant of kms:Sign is useless unless the key's own policy names the role: the back-channel
    logout consumer signs logout tokens, so the keys' policies must let its role sign (moto enforces no
    key policy, so only this check sees it)."""
    resources = template["Resources"]
    signers = set()
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function" or name.startswith("Private"):
            continue
        if "kms:Sign" in json.dumps(resource["Properties"].get("Policies") or []):
            signers.add(f"{name}Role")
    assert "LogoutFunctionRole" in signers and "OAuth2FunctionRole" in signers
    keys = [r for r in resources.values() if r["Type"] == "AWS::KMS::Key"
            and any(s.get("Sid") == "StackFunctionsSign" for s in r["Properties"]["KeyPolicy"]["Statement"])]
    assert keys
    for key in keys:
        sign = next(s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "StackFunctionsSign")
        named = {ref["GetAtt"].split(".")[0] if isinstance(ref["GetAtt"], str) else ref["GetAtt"][0]
                 for ref in sign["Condition"]["ArnEquals"]["aws:PrincipalArn"]}
        assert signers <= named, signers - named
