"""template.yaml's private admin API (PrivateAdminApi): off by default and then absent, a PRIVATE REST
API only the listed VPC endpoints may invoke, serving exactly the public API's admin routes through the
private twins of their functions, which the public HTTP API never reaches."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hydra_lambda.http.private_admin import is_admin_path
from hydra_lambda_local.routes import load_routes, load_template

from tests.integration.test_template import _refs, translate
from tests.support import TEMPLATE

CONDITION = "WithPrivateAdminApi"
TWINS = {"PrivateClientsFunction": "ClientsFunction", "PrivateAdminFunction": "AdminFunction",
         "PrivateConsentFunction": "ConsentFunction", "PrivateOAuth2Function": "OAuth2Function",
         "PrivateFlushFunction": "FlushFunction"}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _sample(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def _private_names(translated: dict[str, Any]) -> set[str]:
    return {n for n, r in translated["Resources"].items() if r.get("Condition") == CONDITION}


def test_it_is_off_by_default_and_needs_vpc_endpoints(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["PrivateAdminApi"]["Default"] == "false"
    assert set(params["PrivateAdminApi"]["AllowedValues"]) == {"true", "false"}
    assert params["PrivateAdminVpcEndpointIds"]["Type"] == "CommaDelimitedList"
    assert params["PrivateAdminVpcEndpointIds"]["Default"] == ""
    assert template["Conditions"][CONDITION] == {"Equals": [{"Ref": "PrivateAdminApi"}, "true"]}
    rule = template["Rules"]["PrivateAdminApiNeedsVpcEndpoints"]
    assert rule["RuleCondition"] == {"Equals": [{"Ref": "PrivateAdminApi"}, "true"]}
    assert "PrivateAdminVpcEndpointIds" in json.dumps(rule["Assertions"])


def test_with_the_parameter_false_nothing_of_it_is_created(translated: dict[str, Any]) -> None:
    """Every resource of it carries the condition (SAM's permissions, versions, aliases, stage and
    deployment included; no CodeDeploy group, which SAM would make without it), and nothing that
    always exists refers to one of them."""
    resources = translated["Resources"]
    private = _private_names(translated)
    assert {"PrivateAdminRestApi", "PrivateAdminLogGroup", "PrivateAdminErrorsAlarm", *TWINS} <= private
    for name, resource in resources.items():
        if "Private" in name or "PrivateAdminRestApi" in json.dumps(resource.get("Properties", {})):
            assert name in private, name
        if name not in private:
            assert not (_refs(resource.get("Properties", {}), set()) & private), name
    assert not [n for n in resources if n.startswith("Private") and "DeploymentGroup" in n]
    for name, output in translated["Outputs"].items():
        if "Private" in json.dumps(output):
            assert output.get("Condition") == CONDITION, name


def test_it_is_a_private_rest_api_that_only_the_listed_vpc_endpoints_may_invoke(translated: dict[str, Any]) -> None:
    api = translated["Resources"]["PrivateAdminRestApi"]
    assert api["Type"] == "AWS::ApiGateway::RestApi"
    props = api["Properties"]
    endpoints = {"Ref": "PrivateAdminVpcEndpointIds"}
    assert props["EndpointConfiguration"] == {"Types": ["PRIVATE"], "VpcEndpointIds": endpoints}
    statements = props["Body"]["x-amazon-apigateway-policy"]["Statement"]
    assert len(statements) == 2
    allow, deny = sorted(statements, key=lambda s: s["Effect"])
    for statement in statements:
        assert statement["Action"] == "execute-api:Invoke" and statement["Principal"] == "*"
        assert statement["Resource"] == "execute-api:/*"
    assert allow["Effect"] == "Allow" and allow["Condition"] == {"StringEquals": {"aws:SourceVpce": endpoints}}
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": endpoints}}


def _public_admin_routes() -> dict[str, str]:
    """Path -> function of every public admin route (what the private API must serve)."""
    return {r.path: r.function for r in load_routes(TEMPLATE)
            if r.path != "$default" and is_admin_path(_sample(r.path))}


def test_it_serves_exactly_the_public_admin_routes_through_their_functions_private_twins(
        translated: dict[str, Any]) -> None:
    paths = translated["Resources"]["PrivateAdminRestApi"]["Properties"]["Body"]["paths"]
    public = _public_admin_routes()
    assert set(paths) == set(public), set(paths) ^ set(public)
    assert {"/clients", "/policies", "/warden/allowed", "/keys/{set}", "/oauth2/consent/requests/{id}/accept",
            "/oauth2/introspect", "/oauth2/flush"} <= set(paths)
    for path, methods in paths.items():
        assert is_admin_path(_sample(path)), path
        (integration,) = [m["x-amazon-apigateway-integration"] for m in methods.values()]
        assert integration["type"] == "aws_proxy"
        (target,) = re.findall(r"functions/\$\{(\w+)Aliaslive\}/invocations", integration["uri"]["Fn::Sub"])
        assert TWINS[target] == public[path], (path, target)


def test_no_route_of_the_public_api_or_oauth_endpoint_is_on_it(translated: dict[str, Any]) -> None:
    paths = set(translated["Resources"]["PrivateAdminRestApi"]["Properties"]["Body"]["paths"])
    for path in ("/oauth2/auth", "/oauth2/token", "/oauth2/revoke", "/userinfo", "/oauth2/register",
                 "/oauth2/register/{id}", "/.well-known/openid-configuration", "/.well-known/jwks.json",
                 "/health/status", "/{proxy+}", "$default"):
        assert path not in paths
        assert not is_admin_path(_sample(path)), path


def test_the_twins_run_the_private_handler_with_their_public_functions_code_and_role(template: dict[str, Any],
                                                                                    translated: dict[str, Any]) -> None:
    resources = template["Resources"]
    for twin, public in TWINS.items():
        props = resources[twin]["Properties"]
        assert resources[twin]["Condition"] == CONDITION
        assert props["Handler"] == "app.private_handler"
        assert props["CodeUri"] == resources[public]["Properties"]["CodeUri"]
        assert props["Role"] == {"GetAtt": f"{public}Role.Arn"}
        assert "Policies" not in props
        events = props["Events"].values()
        assert events and all(e["Type"] == "Api" and e["Properties"]["RestApiId"] == {"Ref": "PrivateAdminRestApi"}
                              for e in events)
        # The issuer is the public API's (the private API's id must never become it).
        issuer = translated["Resources"][twin]["Properties"]["Environment"]["Variables"]["ISSUER"]
        assert issuer == {"Fn::If": ["IssuerGiven", {"Ref": "Issuer"},
                                     {"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}]}


def test_the_public_http_api_never_routes_to_a_trusting_handler(template: dict[str, Any],
                                                              translated: dict[str, Any]) -> None:
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        kinds = {e["Type"] for e in (props.get("Events") or {}).values()}
        if props.get("Handler") == "app.private_handler":
            assert name in TWINS and kinds == {"Api"}, name
        else:
            assert "Api" not in kinds, name
    body = json.dumps(translated["Resources"]["HttpApi"]["Properties"]["Body"])
    assert not any(twin in body for twin in TWINS)
    for route in load_routes(TEMPLATE):
        assert route.handler != "app.private_handler" and route.function not in TWINS, route


def test_each_twin_may_be_invoked_by_the_private_api_only(translated: dict[str, Any]) -> None:
    permissions = {n: r for n, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Permission"}
    for name, permission in permissions.items():
        props = permission["Properties"]
        target = props["FunctionName"]["Ref"].removesuffix("Aliaslive")
        source = json.dumps(props.get("SourceArn"))
        if target in TWINS:
            assert permission.get("Condition") == CONDITION, name
            assert props["Principal"] == "apigateway.amazonaws.com", name
            assert '"__ApiId__": {"Ref": "PrivateAdminRestApi"}' in source, name
        else:
            assert "PrivateAdminRestApi" not in source, name
    invoked = {p["Properties"]["FunctionName"]["Ref"].removesuffix("Aliaslive") for p in permissions.values()}
    assert invoked >= set(TWINS)
