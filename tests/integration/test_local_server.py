"""The local server: real handlers behind real HTTP, routes from template.yaml, API Gateway events."""

from __future__ import annotations

import socket
import subprocess
import sys

import requests
from hydra_lambda_local.events import build_event
from hydra_lambda_local.routes import find_route, load_routes

from tests.support import ROOT, TEMPLATE, LocalServer


def test_health_over_http(server: LocalServer) -> None:
    response = requests.get(f"{server.url}/health/status", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_route_and_wrong_method(server: LocalServer) -> None:
    missing = requests.get(f"{server.url}/definitely/not/here", timeout=5)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/json"
    assert missing.json()["error"]["code"] == 404
    wrong = requests.put(f"{server.url}/health/status", timeout=5)
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET"


def test_body_over_the_limit_is_413(server: LocalServer) -> None:
    response = requests.post(f"{server.url}/health/status", data=b"x" * (1024 * 1024 + 1), timeout=10)
    assert response.status_code == 413
    assert "Traceback" not in response.text


def test_routes_come_from_the_template() -> None:
    routes = load_routes(TEMPLATE)
    found = find_route(routes, "GET", "/health/status")
    assert found is not None and found[0].function == "DiscoveryFunction"
    fallback = find_route(routes, "GET", "/x/y")
    assert fallback is not None and fallback[0].route_key == "$default"


def test_events_look_like_api_gateway_payload_v2() -> None:
    event = build_event(
        "POST", "/oauth2/token", query="a=1&a=2&b=%20x",
        headers=[("Content-Type", "application/x-www-form-urlencoded"), ("X-Thing", "1"), ("x-thing", "2"),
                 ("Cookie", "a=1; b=2")],
        body=b"grant_type=client_credentials", route_key="ANY /oauth2/token",
    )
    assert event["version"] == "2.0"
    assert event["rawQueryString"] == "a=1&a=2&b=%20x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": " x"}
    assert event["headers"]["x-thing"] == "1,2"
    assert "cookie" not in event["headers"] and event["cookies"] == ["a=1", "b=2"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["isBase64Encoded"] is False and event["body"] == "grant_type=client_credentials"
    binary = build_event("POST", "/x", headers=[("Content-Type", "application/octet-stream")], body=b"\xff\x00")
    assert binary["isBase64Encoded"] is True


def test_port_in_use_prints_one_clear_line(aws: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "hydra_lambda_local.cli", "serve", "--port", str(port)],
            cwd=ROOT, env={**aws, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode != 0
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_config_prints_one_clear_line(aws: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hydra_lambda_local.cli", "serve", "--port", "0"],
        cwd=ROOT, env={**aws, "ACCESS_TOKEN_LIFESPAN": "soon"}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "ACCESS_TOKEN_LIFESPAN" in result.stderr
    assert "Traceback" not in result.stderr


def test_any_method_reaches_the_handlers_as_on_api_gateway(server: LocalServer) -> None:
    for method in ("TRACE", "PATCH", "DELETE"):
        response = requests.request(method, f"{server.url}/health/status", timeout=5)
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "GET"
        assert response.headers["Content-Type"] == "application/json"
