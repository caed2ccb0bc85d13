"""The token hook (``tokens.hook``, Ory Hydra's ``oauth2.token_hook``): asked before the tokens of every
grant are issued, with Hydra's request JSON; 200 replaces the tokens' extra claims, 204 keeps them,
403 refuses (``access_denied``), anything else or no answer in time fails closed (``server_error``,
logged without token or claim values). A URL locally (loopback with FETCH_ALLOW_LOOPBACK), a Lambda
function on AWS (botocore's Stubber stands in for Lambda: moto runs functions only with docker)."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from hydra_lambda.config import ConfigError, Settings, reset_settings
from hydra_lambda_local.routes import load_template
from jose import jwt

from tests.support import TEMPLATE, basic, call, new_client
from tests.support_flows import Flow, fragment, make_client, qs, redeem, refresh
from tests.support_lifecycle import introspect

SECRET_CLAIM = "claim-value-never-logged"


class HookServer:
    """A loopback token hook: answers what ``answer`` says (status, body, delay) and keeps each request."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {"status": 204}
        self.requests: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.requests.append({"content_type": self.headers.get("Content-Type"),
                                      "body": json.loads(self.rfile.read(length))})
                time.sleep(hook.answer.get("delay", 0))
                body = hook.answer.get("body")
                raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
                self.send_response(hook.answer["status"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                try:
                    self.wfile.write(raw)
                except BrokenPipeError:  # the server gave up waiting (the timeout case)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token-hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, status: int, body: Any = None, delay: float = 0) -> None:
        self.answer = {"status": status, "body": body, "delay": delay}
        self.requests.clear()


@pytest.fixture(scope="module")
def hook_server() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.server.shutdown()


@contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    reset_settings()
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_settings()


@pytest.fixture
def hook(hook_server: HookServer) -> Iterator[HookServer]:
    with _env(TOKEN_HOOK_URL=hook_server.url, FETCH_ALLOW_LOOPBACK="true", TOKEN_HOOK_TIMEOUT_MS="500"):
        yield hook_server


def _cc(client_id: str, secret: str, scope: str = "read") -> Any:
    return call("POST", "/oauth2/token", headers=basic(client_id, secret),
                form={"grant_type": "client_credentials", "scope": scope})


def _code_grant(client_id: str, **accept: Any) -> str:
    flow = Flow(client_id)
    flow.start()
    assert flow.accept(scopes=["openid", "offline"], **accept).status == 204
    return qs(flow.back().headers["location"])["code"]


def test_a_200_answer_replaces_the_claims_and_the_hook_sees_hydras_request(hook: HookServer) -> None:
    client_id, secret = make_client(access_token_strategy="jwt")
    code = _code_grant(client_id, accessTokenExtra={"tenant": "acme"}, idTokenExtra={"team": "red"})
    hook.set(200, {"session": {"access_token": {"tenant": "acme", "roles": ["admin"]},
                               "id_token": {"team": "blue"}}})
    first = redeem(client_id, secret, code)
    assert first.status == 200, first.body
    (sent,) = hook.requests
    assert sent["content_type"].startswith("application/json")
    body = sent["body"]
    assert body["request"] == {"client_id": client_id, "granted_scopes": ["openid", "offline"],
                               "granted_audience": [], "grant_types": ["authorization_code"], "payload": {}}
    assert body["session"]["extra"] == {"tenant": "acme"} and body["session"]["client_id"] == client_id
    assert body["session"]["id_token"]["subject"] == "alice"
    assert body["session"]["id_token"]["id_token_claims"]["ext"] == {"team": "red"}
    tokens = first.json
    assert jwt.get_unverified_claims(tokens["access_token"])["ext"] == {"tenant": "acme", "roles": ["admin"]}
    assert introspect(tokens["access_token"]).json["ext"] == {"tenant": "acme", "roles": ["admin"]}
    assert jwt.get_unverified_claims(tokens["id_token"])["team"] == "blue"
    # The claims go with the grant: the refresh grant's hook sees them and may change them again.
    hook.set(200, {"session": {"access_token": {"tenant": "acme"}}})  # no id_token: the consent's
    second = refresh(client_id, secret, tokens["refresh_token"])
    assert second.status == 200, second.body
    (sent,) = hook.requests
    assert sent["body"]["request"]["grant_types"] == ["refresh_token"]
    assert sent["body"]["session"]["extra"] == {"tenant": "acme", "roles": ["admin"]}
    assert introspect(second.json["access_token"]).json["ext"] == {"tenant": "acme"}
    assert jwt.get_unverified_claims(second.json["id_token"])["team"] == "red"


def test_204_keeps_and_403_refuses_with_access_denied(hook: HookServer) -> None:
    client_id, secret = new_client("hk", scope="read")
    hook.set(204)
    kept = _cc(client_id, secret)
    assert kept.status == 200 and "ext" not in introspect(kept.json["access_token"]).json
    assert hook.requests[0]["body"]["request"]["grant_types"] == ["client_credentials"]
    assert hook.requests[0]["body"]["session"]["id_token"]["subject"] == client_id
    hook.set(403)
    refused = _cc(client_id, secret)
    assert refused.status == 403 and refused.json["error"] == "access_denied"
    assert set(refused.json) <= {"error", "error_description", "error_hint"}


@pytest.mark.parametrize(("status", "body", "delay"), [
    (500, {"session": {}}, 0),  # another status
    (200, b"not json", 0),  # not JSON
    (200, {"session": {"access_token": ["a"]}}, 0),  # not the shape
    (200, {"nothing": 1}, 0),  # no session
    (302, None, 0),  # a redirect: never followed
    (200, {"session": {}}, 1.0),  # too slow (TOKEN_HOOK_TIMEOUT_MS=500)
], ids=["500", "not-json", "bad-claims", "no-session", "redirect", "timeout"])
def test_anything_else_fails_closed_and_is_logged_without_values(
        hook: HookServer, caplog: pytest.LogCaptureFixture, status: int, body: Any, delay: float) -> None:
    client_id, secret = make_client()
    code = _code_grant(client_id, accessTokenExtra={"tenant": SECRET_CLAIM})
    hook.set(status, body, delay)
    caplog.clear()
    result = redeem(client_id, secret, code)
    assert result.status == 500 and result.json["error"] == "server_error", result.body
    assert "token hook" in result.json["error_description"]
    (line,) = [r for r in caplog.records if "token hook failed" in r.getMessage()]
    assert line.levelname == "ERROR" and line.client_id == client_id and line.grant_type == "authorization_code"
    assert line.reason  # says why
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert SECRET_CLAIM not in logged and code not in logged and secret not in logged
    # Nothing was issued, and the code was not consumed: once the hook answers, it redeems.
    hook.set(204)
    assert redeem(client_id, secret, code).status == 200


def test_the_implicit_grant_asks_the_hook_and_a_refusal_reaches_the_redirect(hook: HookServer) -> None:
    client_id, _ = make_client(response_types=["token"], grant_types=["implicit"])
    hook.set(403)
    flow = Flow(client_id)
    assert flow.start(response_type="token", scope="openid").status == 302
    assert flow.accept(scopes=["openid"]).status == 204
    back = flow.back()
    assert back.status in (302, 303), back.body
    assert fragment(back.headers["location"])["error"] == "access_denied"
    assert hook.requests[0]["body"]["request"]["grant_types"] == ["implicit"]


# ------------------------------------------------------------------------------- a Lambda function


@pytest.fixture
def hook_function() -> Iterator[Stubber]:
    from hydra_lambda import aws

    with _env(TOKEN_HOOK_FUNCTION="arn:aws:lambda:us-east-1:123456789012:function:token-hook:live",
              TOKEN_HOOK_TIMEOUT_MS="2000"), Stubber(aws.client("lambda", timeout=2.0)) as stub:
        yield stub


def _invoked(stub: Stubber, result: Any = None, error: str = "", raw: bytes | None = None) -> None:
    payload = raw if raw is not None else json.dumps(result).encode()
    answer: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(payload), len(payload))}
    if error:
        answer["FunctionError"] = error
    stub.add_response("invoke", answer, {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:"
                                         "token-hook:live", "InvocationType": "RequestResponse", "Payload": ANY})


def test_a_lambda_hook_adds_claims_keeps_refuses_or_fails_closed(hook_function: Stubber) -> None:
    client_id, secret = new_client("lh", scope="read")
    _invoked(hook_function, {"session": {"access_token": {"plan": "gold"}}})
    added = _cc(client_id, secret)
    assert added.status == 200 and introspect(added.json["access_token"]).json["ext"] == {"plan": "gold"}
    _invoked(hook_function, None)
    assert _cc(client_id, secret).status == 200
    _invoked(hook_function, {"statusCode": 200, "body": json.dumps({"session": {"access_token": {"p": 1}}})})
    assert introspect(_cc(client_id, secret).json["access_token"]).json["ext"] == {"p": 1}
    _invoked(hook_function, {"statusCode": 403})
    assert _cc(client_id, secret).json["error"] == "access_denied"
    _invoked(hook_function, {"errorMessage": "boom"}, error="Unhandled")
    assert _cc(client_id, secret).json["error"] == "server_error"
    _invoked(hook_function, raw=b"<html>")
    assert _cc(client_id, secret).json["error"] == "server_error"
    hook_function.add_client_error("invoke", "ResourceNotFoundException", http_status_code=404)
    assert _cc(client_id, secret).status == 500
    hook_function.assert_no_pending_responses()


def test_one_hook_at_a_time_and_the_template_lets_only_the_oauth2_function_invoke_it() -> None:
    with pytest.raises(ConfigError, match="set one of them"):
        Settings.from_env({"ISSUER": "https://a.example", "TOKEN_HOOK_URL": "https://hook.example/t",
                           "TOKEN_HOOK_FUNCTION": "token-hook"})
    with pytest.raises(ConfigError, match="TOKEN_HOOK_FUNCTION"):
        Settings.from_env({"ISSUER": "https://a.example", "TOKEN_HOOK_FUNCTION": "https://hook.example/t"})
    template = load_template(TEMPLATE)
    invokers = []
    for name, resource in template["Resources"].items():
        policies = resource.get("Properties", {}).get("Policies", [])
        for policy in policies if isinstance(policies, list) else []:
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                branches = statement.get("If") or [None]
                if branches[0] == "TokenHookFunctionGiven":
                    assert branches[1]["Action"] == ["lambda:InvokeFunction"]
                    assert len(branches[1]["Resource"]) == 2  # unqualified, and :alias or :version
                    assert branches[2] == {"Ref": "AWS::NoValue"}
                    invokers.append(name)
    assert invokers == ["OAuth2Function"]
    env = template["Resources"]["OAuth2Function"]["Properties"]["Environment"]["Variables"]
    assert env["TOKEN_HOOK_FUNCTION"] == {"Ref": "TokenHookFunction"}
    assert env["TOKEN_HOOK_URL"] == {"Ref": "TokenHookUrl"}
