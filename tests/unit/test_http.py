"""The shared HTTP layer: parsers and the resolver's framework-level answers."""

from __future__ import annotations

import base64
import json

import pytest
from hydra_lambda.credentials import BasicCredentials, Credentials
from hydra_lambda.errors import BadRequest, InvalidClient, InvalidRequest
from hydra_lambda.http.forms import basic_credentials, bearer_token, credentials, parse_json_object, parse_urlencoded

from tests.support import call


def test_form_parsing_rejects_repeated_parameters() -> None:
    assert parse_urlencoded("a=1&b=two+words&c=") == {"a": "1", "b": "two words", "c": ""}
    with pytest.raises(InvalidRequest, match="more than once"):
        parse_urlencoded("scope=a&scope=b")


@pytest.mark.parametrize("raw", [b"a=\xff\xfe", "a=%ff%fe", "a=%00"])
def test_form_parsing_rejects_invalid_utf8_and_nul(raw: bytes | str) -> None:
    with pytest.raises(InvalidRequest):
        parse_urlencoded(raw)


def test_basic_credentials_are_url_decoded() -> None:
    header = "Basic " + base64.b64encode(b"my%3Aclient:p%40ss+word").decode()
    assert basic_credentials(header) == ("my:client", "p@ss word")
    assert basic_credentials("Bearer abc") is None
    assert basic_credentials(None) is None


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(),
                                    "Basic " + base64.b64encode(b"\xff:x").decode()])
def test_malformed_basic_credentials_are_invalid_client(header: str) -> None:
    with pytest.raises(InvalidClient):
        basic_credentials(header)


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc.def") == "abc.def"
    assert bearer_token("bearer  xyz ") == "xyz"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None


def test_the_authorization_header_becomes_typed_credentials() -> None:
    basic = "Basic " + base64.b64encode(b"my%3Aclient:p%40ss+word").decode()
    assert credentials(basic) == Credentials(basic=BasicCredentials("my:client", "p@ss word"))
    assert credentials(basic).client_credentials() == BasicCredentials("my:client", "p@ss word")
    assert credentials("Bearer abc.def") == Credentials(bearer="abc.def")
    assert credentials(None) == credentials("Digest x") == credentials("Bearer ") == Credentials()
    assert not credentials(None).sent_basic and credentials(None).client_credentials() is None


def test_malformed_basic_credentials_are_refused_only_when_client_credentials_are_read() -> None:
    caller = credentials("Basic !!!")
    assert caller.sent_basic and caller.bearer is None and caller.basic is None
    with pytest.raises(InvalidClient, match="base64"):
        caller.client_credentials()


def test_json_bodies_must_be_objects_of_bounded_depth() -> None:
    assert parse_json_object('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    for bad in ["[]", "nope", '"x"', "{"]:
        with pytest.raises(BadRequest):
            parse_json_object(bad)
    with pytest.raises(BadRequest, match="nested"):
        parse_json_object('{"a":' * 40 + "1" + "}" * 40)
    with pytest.raises(BadRequest):
        parse_json_object("[" * 100000 + "]" * 100000)
    assert parse_json_object("", required=False) == {}


@pytest.mark.parametrize("raw", [
    '{"id": "x\\ud800"}',  # a lone surrogate: not text, cannot be stored or encoded back
    '{"\\udfff": 1}',
    '{"a": ["ok", {"b": "\\udc00"}]}',
    '{"a": NaN}', '{"a": Infinity}', '{"a": [-Infinity]}',  # not JSON (RFC 8259), though Python reads them
])
def test_json_bodies_must_be_real_json_text(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_json_object(raw)


def test_the_depth_limit_counts_objects_and_arrays_not_their_leaves() -> None:
    from hydra_lambda.http.forms import MAX_JSON_DEPTH

    document: dict[str, object] = {"leaf": "text", "number": 1}
    for _ in range(MAX_JSON_DEPTH - 1):
        document = {"a": document}
    assert parse_json_object(json.dumps(document)) == document
    with pytest.raises(BadRequest, match="nested"):
        parse_json_object(json.dumps({"a": document}))


def test_responses_never_write_what_json_cannot_hold() -> None:
    from hydra_lambda.http.responses import dumps

    assert dumps({"a": "é"}) == '{"a":"é"}'
    with pytest.raises(ValueError):
        dumps({"a": float("nan")})


@pytest.mark.parametrize("raw", ["\u00b2", "\u0663", "1\u00b9", "-1", "1.5", " 1", "x", "1" * 10])
def test_paging_parameters_are_ascii_digits_or_400(raw: str) -> None:
    from hydra_lambda.paging import window

    with pytest.raises(BadRequest):
        window(raw, None)
    with pytest.raises(BadRequest):
        window(None, raw)
    assert window("7", "3") == (7, 3)


def test_health_answers_ok() -> None:
    result = call("GET", "/health/status")
    assert result.status == 200
    assert result.json == {"status": "ok"}
    assert result.headers["content-type"] == "application/json"


def test_wrong_method_is_405_with_allow() -> None:
    result = call("DELETE", "/health/status")
    assert result.status == 405
    assert result.headers["allow"] == "GET"
    assert result.json["error"]["code"] == 405


def test_unknown_route_is_a_json_404_with_the_request_id() -> None:
    result = call("GET", "/no/such/thing", headers={"X-Request-ID": "req-123"})
    assert result.status == 404
    error = result.json["error"]
    assert error["code"] == 404 and error["status"] == "Not Found" and error["request"] == "req-123"


def test_oversized_body_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda.config import reset_settings

    monkeypatch.setenv("MAX_BODY_BYTES", "1000")
    reset_settings()
    try:
        result = call("POST", "/health/status", body="x" * 1001)
        assert result.status == 413
        assert json.loads(result.body)["error"]["code"] == 413
        assert call("POST", "/health/status", body="x" * 1000).status == 405
    finally:
        monkeypatch.undo()
        reset_settings()


def test_cors_is_off_by_default() -> None:
    result = call("GET", "/health/status", headers={"Origin": "https://spa.example.com"})
    assert "access-control-allow-origin" not in result.headers


def test_cors_answers_configured_origins_only(cors_for_spa: None) -> None:
    allowed = call("GET", "/health/status", headers={"Origin": "https://spa.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://spa.example.com"
    assert allowed.headers["vary"] == "Origin"
    other = call("GET", "/health/status", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_on_lambda_every_handler_is_traced_without_its_response(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda import observability
    from hydra_lambda.http import app as http_app

    wrapped: list[dict[str, object]] = []

    class FakeTracer:
        def capture_lambda_handler(self, handler, capture_response=None):
            wrapped.append({"capture_response": capture_response})
            return handler

    monkeypatch.setattr(http_app, "tracer", lambda: FakeTracer())
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    http_app.lambda_entry(http_app.HydraResolver())
    assert wrapped == []  # not on Lambda: no tracer, no aws_xray_sdk import
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "hydra-oauth2")
    assert observability.tracing_enabled()
    http_app.lambda_entry(http_app.HydraResolver())
    assert wrapped == [{"capture_response": False}]
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not observability.tracing_enabled()


def test_a_real_tracer_serves_requests_in_a_lambda_like_process() -> None:
    """powertools Tracer with aws_xray_sdk, as on Lambda (segments go to a loopback UDP port)."""
    import subprocess
    import sys

    from tests.support import ROOT

    script = (
        "import sys; sys.path[:0] = ['functions/discovery', 'shared']\n"
        "import app\n"
        "from hydra_lambda_local.events import build_event, FakeContext\n"
        "from hydra_lambda.observability import tracing_enabled\n"
        "assert tracing_enabled()\n"
        "event = build_event('GET', '/health/status', route_key='ANY /health/status')\n"
        "out = app.lambda_handler(event, FakeContext())\n"
        "print(out['statusCode'], out['body'])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_NAME": "hydra-discovery", "LAMBDA_TASK_ROOT": "/tmp",
           "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
           "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "POWERTOOLS_METRICS_DISABLED": "true"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith('200 {"status":"ok"}')


def test_log_lines_carry_the_api_gateway_request_id_as_correlation_id(caplog: pytest.LogCaptureFixture) -> None:
    from hydra_lambda.http.app import HydraResolver, lambda_entry
    from hydra_lambda.observability import logger
    from hydra_lambda_local.events import FakeContext, build_event

    app = HydraResolver()

    @app.get("/probe")
    def probe() -> dict[str, str]:
        logger.warning("probe served")
        return {"ok": "yes"}

    event = build_event("GET", "/probe")
    event["requestContext"]["requestId"] = "req-correlate-123"
    assert lambda_entry(app)(event, FakeContext("ProbeFunction"))["statusCode"] == 200
    record = next(r for r in caplog.records if r.getMessage() == "probe served")
    assert json.loads(logger.registered_formatter.format(record))["correlation_id"] == "req-correlate-123"
