"""The private admin entry's event adapter (REST API payload 1.0 in, HTTP API 2.0 to our resolvers, a
REST answer out) and its admin-route allowlist: pure functions, no engine."""

from __future__ import annotations

import base64

import pytest
from hydra_lambda.http.private_admin import http_event, is_admin_path, rest_response
from hydra_lambda_local.events import build_rest_event


def test_a_rest_event_becomes_the_http_api_event_our_handlers_read() -> None:
    event = build_rest_event(
        "post", "/oauth2/consent/requests/a%2541/accept", resource="/oauth2/consent/requests/{id}/accept",
        query="x=1&x=2&y=%20z", body='{"subject":"alice"}',
        headers=[("Content-Type", "application/json"), ("X-Thing", "1"), ("X-Thing", "2"), ("Cookie", "a=1; b=2")],
        path_parameters={"id": "a%41"},
    )
    converted = http_event(event)
    assert converted["version"] == "2.0"
    # Decoded once, as an HTTP API hands a path on: a%2541 is a%41, never aA.
    assert converted["rawPath"] == "/oauth2/consent/requests/a%41/accept"
    assert converted["requestContext"]["http"]["method"] == "POST"
    assert converted["requestContext"]["http"]["path"] == converted["rawPath"]
    assert converted["headers"]["x-thing"] == "1,2" and converted["headers"]["content-type"] == "application/json"
    assert "cookie" not in converted["headers"] and converted["cookies"] == ["a=1", "b=2"]
    assert converted["queryStringParameters"] == {"x": "1,2", "y": " z"}
    assert converted["rawQueryString"] == "x=1&x=2&y=%20z"
    assert converted["body"] == '{"subject":"alice"}' and converted["isBase64Encoded"] is False
    # Never the private API's id (with ISSUER empty it would become the issuer), never a named stage.
    assert converted["requestContext"]["apiId"] == "" and converted["requestContext"]["stage"] == "$default"


def test_a_binary_body_stays_base64_and_an_empty_event_is_still_an_event() -> None:
    event = build_rest_event("PUT", "/clients/x", resource="/clients/{id}", body=b"\xff\x00",
                             headers=[("Content-Type", "application/octet-stream")])
    converted = http_event(event)
    assert converted["isBase64Encoded"] is True and base64.b64decode(converted["body"]) == b"\xff\x00"
    bare = http_event({"httpMethod": "GET", "path": "/clients"})
    assert bare["rawPath"] == "/clients" and bare["headers"] == {} and "body" not in bare


def test_an_answer_goes_back_in_the_rest_api_shape_cookies_included() -> None:
    answer = rest_response({"statusCode": 201, "headers": {"Location": "/clients/x"}, "body": "{}",
                            "cookies": ["a=1; Path=/", "b=2"], "isBase64Encoded": False})
    assert answer == {"statusCode": 201, "headers": {"Location": "/clients/x"}, "body": "{}",
                      "isBase64Encoded": False, "multiValueHeaders": {"Set-Cookie": ["a=1; Path=/", "b=2"]}}
    assert "multiValueHeaders" not in rest_response({"statusCode": 204})


@pytest.mark.parametrize("path", [
    "/clients", "/clients/abc", "/policies", "/policies/p1", "/warden/allowed", "/warden/token/allowed",
    "/warden/groups", "/warden/groups/g", "/warden/groups/g/members", "/keys/hydra.openid.id-token",
    "/keys/hydra.openid.id-token/kid", "/oauth2/consent/requests/c", "/oauth2/consent/requests/c/accept",
    "/oauth2/consent/requests/c/reject", "/oauth2/introspect", "/oauth2/flush",
    "/admin/oauth2/auth/requests/login", "/admin/oauth2/auth/requests/login/accept",
])
def test_admin_routes_are_admin_paths(path: str) -> None:
    assert is_admin_path(path)


@pytest.mark.parametrize("path", [
    "/oauth2/token", "/oauth2/auth", "/oauth2/revoke", "/userinfo", "/oauth2/register", "/oauth2/register/x",
    "/.well-known/openid-configuration", "/.well-known/jwks.json", "/health/status", "/", "", "/admin", "/admin/",
    "/clients/", "/clients/a/b", "/clients/../oauth2/token", "/oauth2/introspect/", "/oauth2/flush/x",
    "/oauth2/consent/requests/c/accept/x", "/warden/groups/g/members/x", "/keys", "/keys/a/b/c", "//clients",
    "/clients\n", "/oauth2/token\x00/clients", "/CLIENTS", "/oauth2/consent/requests",
])
def test_nothing_else_is(path: str) -> None:
    assert not is_admin_path(path)
