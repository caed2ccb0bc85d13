"""The private admin API (issue 24 item 2, second mode): the admin routes served without a token
through the private entry (each function's ``private_handler``: the private REST API on AWS, make run's
admin port locally), and never that way through the public handlers, whatever a caller sends."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hydra_lambda import warden
from hydra_lambda.credentials import Credentials
from hydra_lambda.http.forms import credentials
from hydra_lambda.http.trust import on_private_entry, served_privately
from hydra_lambda.observability import logger
from hydra_lambda_local.events import FakeContext, build_event, build_rest_event
from hydra_lambda_local.harness import call_private
from hydra_lambda_local.routes import find_private_route, find_route, load_handler, load_routes

from tests.support import TEMPLATE, admin_headers, call, client_credentials_token, new_client, unique

ROUTES = load_routes(TEMPLATE)


def _public_handler(method: str, path: str) -> Any:
    found = find_route(ROUTES, method, path)
    assert found is not None, path
    return load_handler(found[0])


def _private_handler(method: str, path: str) -> Any:
    found = find_private_route(ROUTES, method, path)
    assert found is not None, path
    return load_handler(found[0])


def _status(out: dict[str, Any]) -> int:
    return int(out["statusCode"])


# ---------------------------------------------------------------- the private entry serves without a token


def test_the_private_entry_serves_the_clients_api_without_a_token_and_the_public_one_demands_it() -> None:
    client_id, _ = new_client("pa")
    private = call_private("GET", "/clients", query={"limit": "500"})
    assert private.status == 200, private.body
    assert private.headers["content-type"].startswith("application/json")
    public = call("GET", "/clients")
    assert public.status == 401, public.body
    one = call_private("GET", f"/clients/{client_id}")
    assert one.status == 200 and one.json["id"] == client_id


def test_every_classic_admin_route_answers_on_the_private_entry_without_a_token() -> None:
    policy = {"id": unique("pol"), "description": "d", "subjects": ["alice"], "effect": "allow",
              "resources": ["rn:photos:1"], "actions": ["read"], "conditions": {}}
    assert call_private("POST", "/policies", json_body=policy).status == 201
    assert call_private("GET", f"/policies/{policy['id']}").json["id"] == policy["id"]
    assert call_private("GET", "/policies").status == 200
    decision = call_private("POST", "/warden/allowed", json_body={"subject": "alice", "resource": "rn:photos:1",
                                                                  "action": "read", "context": {}})
    assert decision.status == 200 and decision.json == {"allowed": True}
    token = client_credentials_token("hydra.clients")
    allowed = call_private("POST", "/warden/token/allowed", json_body={"token": token, "scopes": ["hydra.clients"],
                                                                       "resource": "rn:hydra:clients",
                                                                       "action": "get", "context": {}})
    assert allowed.status == 200 and allowed.json["allowed"] is True
    group = unique("grp")
    assert call_private("POST", "/warden/groups", json_body={"id": group, "members": ["alice"]}).status == 201
    assert call_private("GET", f"/warden/groups/{group}").json["members"] == ["alice"]
    assert call_private("DELETE", f"/warden/groups/{group}").status == 204
    assert call_private("DELETE", f"/policies/{policy['id']}").status == 204
    keys = call_private("GET", "/keys/hydra.openid.id-token")
    assert keys.status == 200 and keys.json["keys"]
    # A consent request that does not exist: the lookup answers (404), not the warden (401).
    missing = call_private("GET", f"/oauth2/consent/requests/{unique('nope')}")
    assert missing.status == 404, missing.body
    flushed = call_private("POST", "/oauth2/flush", headers={"Prefer": "return=representation"})
    assert flushed.status == 200 and "removed" in flushed.json


def test_introspection_on_the_private_entry_needs_no_caller_credentials() -> None:
    token = client_credentials_token("hydra.clients")
    answer = call_private("POST", "/oauth2/introspect", form={"token": token})
    assert answer.status == 200, answer.body
    assert answer.json["active"] is True and answer.json["scope"] == "hydra.clients"
    assert call_private("POST", "/oauth2/introspect", form={"token": "hl_at_forged.sig"}).json == {"active": False}
    public = call("POST", "/oauth2/introspect", form={"token": token})
    assert public.status == 401 and public.json["error"] == "invalid_client"


def test_the_private_entry_may_do_what_only_root_may() -> None:
    """The operator's network holds every right: a client id the policies single out may be given
    (the public API asks for the right to write policies), as on Hydra's admin port."""
    named = unique("singled")
    policy = {"id": unique("pol"), "description": "d", "subjects": [named], "effect": "allow",
              "resources": ["rn:x"], "actions": ["y"], "conditions": {}}
    assert call_private("POST", "/policies", json_body=policy).status == 201
    body = {"id": named, "grant_types": ["client_credentials"], "client_secret": "s3cret-enough"}
    created = call_private("POST", "/clients", json_body=body)
    assert created.status == 201, created.body
    assert call_private("DELETE", f"/clients/{named}").status == 204
    assert call_private("DELETE", f"/policies/{policy['id']}").status == 204


# ---------------------------------------------------------------- admin routes only


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/oauth2/token"), ("GET", "/oauth2/auth"), ("GET", "/userinfo"), ("POST", "/oauth2/revoke"),
    ("POST", "/oauth2/register"), ("GET", "/.well-known/openid-configuration"), ("GET", "/.well-known/jwks.json"),
    ("GET", "/health/status"), ("GET", "/clients/a/b"), ("GET", "/oauth2/introspect/x"),
])
def test_the_private_api_routes_nothing_but_admin_routes(method: str, path: str) -> None:
    with pytest.raises(LookupError):
        call_private(method, path)


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/auth", "/userinfo", "/oauth2/revoke",
                                  "/clients/..%2F..%2Foauth2%2Ftoken", "/oauth2/introspect/", "/oauth2/token%00",
                                  "/%6Fauth2/token"])
def test_each_private_handler_refuses_a_path_that_is_not_an_admin_route(path: str) -> None:
    """Whatever API Gateway routed (a template mistake, a greedy resource): the function's private
    handler serves admin routes only, before any route runs."""
    private_handler = _private_handler("POST", "/oauth2/introspect")  # the OAuth2 function's
    event = build_rest_event("POST", path, resource="/{proxy+}", body="grant_type=client_credentials",
                             headers=[("Content-Type", "application/x-www-form-urlencoded")])
    out = private_handler(event, FakeContext())
    assert _status(out) == 404, out
    assert "access_token" not in out["body"]


# ---------------------------------------------------------------- the public edge can never set the mode

_HOSTILE_HEADERS = [
    ("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Host", "localhost:4445"), ("Forwarded", "for=127.0.0.1"),
    ("X-Real-IP", "127.0.0.1"), ("X-Amzn-Vpce-Id", "vpce-0123456789abcdef0"), ("X-Private-Network", "true"),
    ("X-Hydra-Private-Admin", "1"), ("Host", "127.0.0.1:4445"), ("X-Amzn-Apigateway-Api-Id", "private"),
]


@pytest.mark.parametrize(("name", "value"), _HOSTILE_HEADERS)
def test_no_header_makes_a_public_call_private(name: str, value: str) -> None:
    answer = call("GET", "/clients", headers={name: value})
    assert answer.status == 401, (name, answer.body)


def test_no_crafted_request_context_or_event_shape_makes_a_public_call_private() -> None:
    public_handler = _public_handler("GET", "/clients")
    event = build_event("GET", "/clients", route_key="ANY /clients", source_ip="127.0.0.1")
    event["requestContext"].update({"apiId": "private", "identity": {"vpceId": "vpce-0123", "sourceIp": "127.0.0.1"}})
    event["privateNetwork"] = True
    event["requestContext"]["privateNetwork"] = True
    assert _status(public_handler(event, FakeContext())) == 401
    # A REST-shaped event (what the private API sends) handed to the public handler: still public.
    rest = build_rest_event("GET", "/clients", resource="/clients")
    rest.update({"rawPath": "/clients", "version": "2.0", "routeKey": "ANY /clients",
                 "requestContext": {**rest["requestContext"], "stage": "$default",
                                    "http": {"method": "GET", "path": "/clients", "sourceIp": "127.0.0.1"}}})
    assert _status(public_handler(rest, FakeContext())) == 401


def test_the_mode_ends_with_the_private_call_whatever_happens() -> None:
    """A private call, then a public one on the same thread: the public one is public again; and a
    private call that fails leaves nothing behind either."""
    assert call_private("GET", "/clients").status == 200
    assert call("GET", "/clients").status == 401
    assert not on_private_entry()
    with pytest.raises(RuntimeError), served_privately():
        assert credentials(None).private_network is True
        raise RuntimeError("boom")
    assert not on_private_entry() and credentials(None).private_network is False
    assert call("GET", "/clients").status == 401


@pytest.mark.parametrize("authorization", [None, "", "Bearer x", "Basic Og==", "Private true", "Trusted 1"])
def test_credentials_from_any_header_are_never_from_the_private_network(authorization: str | None) -> None:
    assert credentials(authorization, "127.0.0.1").private_network is False
    with served_privately():
        assert credentials(authorization, "10.0.0.1").private_network is True


def test_the_warden_trusts_the_type_not_the_empty_subject() -> None:
    """A plain subject with the same text (an anonymous caller, a stored or sent value, a slice of
    the private subject) is judged by the policies; only the private entry's own subject holds every
    right."""
    assert warden.is_private_network(warden.PRIVATE_NETWORK)
    assert not warden.is_private_network("") and not warden.is_private_network(warden.PRIVATE_NETWORK[:])
    assert not warden.is_private_network(str(warden.PRIVATE_NETWORK)) and not warden.is_private_network(
        json.loads(json.dumps(warden.PRIVATE_NETWORK)))
    assert warden.is_allowed(warden.PRIVATE_NETWORK, "policies", "create")
    assert not warden.is_allowed("", "policies", "create")
    assert not warden.is_allowed(warden.PRIVATE_NETWORK + "", "policies", "create")
    with pytest.raises(Exception) as refused:
        warden.require_access(Credentials(), scope="hydra.clients", resource="clients", action="get")
    assert getattr(refused.value, "status", None) == 401
    truthy = Credentials(private_network=1)  # type: ignore[arg-type]  # only True itself counts
    with pytest.raises(Exception) as refused:
        warden.require_access(truthy, scope="hydra.clients", resource="clients", action="get")
    assert getattr(refused.value, "status", None) == 401
    access = warden.require_access(Credentials(private_network=True), scope="hydra.clients", resource="clients",
                                   action="get")
    assert access.private_network and access.token is None and warden.is_private_network(access.subject)


def test_a_bearer_token_on_the_public_api_still_works_beside_the_private_entry() -> None:
    assert call("GET", "/clients", headers=admin_headers("hydra.clients")).status == 200


def test_the_log_says_which_mode_served_a_call_and_holds_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    token = client_credentials_token("hydra.clients")
    previous = logger.log_level
    logger.setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="hydra-lambda"):
            call_private("GET", "/clients", headers={"Authorization": f"Bearer {token}"})
            private = list(caplog.records)
            caplog.clear()
            call("GET", "/clients", headers={"Authorization": f"Bearer {token}"})
            public = list(caplog.records)
    finally:
        logger.setLevel(previous)
    served = [r for r in private if getattr(r, "admin_mode", "") == "private-network"]
    assert served and served[0].scope == "hydra.clients" and served[0].action == "get"
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in private)
    assert token not in text and token.split(".")[0] not in text
    assert not [r for r in public if getattr(r, "admin_mode", "") == "private-network"]
