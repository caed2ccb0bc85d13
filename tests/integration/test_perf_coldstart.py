"""Cold start: read routes never import pydantic nor boto3, and the pydantic-free response shapes
in ``models.responses`` give exactly what pydantic makes of them (``TypeAdapter``).

Speed itself is measured by ``make bench`` (cold start per function), never asserted here."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from hydra_lambda.clients.model import Client
from hydra_lambda.endpoints import client_wire
from hydra_lambda.errors import BadRequest
from hydra_lambda.models import responses
from hydra_lambda.models.flush import FlushInactiveOAuth2TokensRequest, flush_cutoff
from pydantic import TypeAdapter, ValidationError

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, TEMPLATE, basic, client_credentials_token
from tests.support_flows import Flow, make_client

MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _same_json(plain_body: dict[str, Any], model_body: dict[str, Any]) -> None:
    """Equal, key order included: the response bodies are byte for byte the same."""
    assert list(plain_body.items()) == list(model_body.items())


# ---------------------------------------------------------------- the response shapes


@pytest.mark.parametrize("client, secret", [
    (Client(id="minimal", created_at=MOMENT, updated_at=MOMENT), None),
    (Client(id="full", client_name="Full", redirect_uris=["https://a.example/cb", "com.example.app:/cb"],
            grant_types=["client_credentials", "refresh_token"], response_types=["code", "code id_token"],
            scope="read write", owner="alice", policy_uri="https://a.example/p", tos_uri="https://a.example/t",
            client_uri="https://a.example", logo_uri="https://a.example/l.png", contacts=["ops@a.example"],
            created_at=MOMENT, updated_at=MOMENT), "s3cret-just-set"),
    (Client(id="public", public=True, grant_types=[], created_at=MOMENT, updated_at=MOMENT), None),
], ids=["minimal", "full-with-secret", "public"])
def test_client_wire_is_the_oauth2client_shape(client: Client, secret: str | None) -> None:
    wire = client_wire(client, secret)
    _same_json(wire, _dump(responses.OAuth2Client, wire))
    assert ("client_secret" in wire) is (secret is not None)
    assert list(wire) == [f.name for f in dataclasses.fields(responses.OAuth2Client) if f.name in wire]


@pytest.mark.parametrize("asked", [{}, {"requestedPrompt": "login", "requestedMaxAge": 60, "requestedAcr": ["a"],
                                       "loginHint": "al", "uiLocales": ["fr"], "idTokenHintClaims": {"sub": "a"}}])
def test_consent_request_is_the_shape_dump(asked: dict[str, object]) -> None:
    values = {"id": "c0ffee", "requestedScopes": ["openid", "offline"], "clientId": "app",
              "expiresAt": "2026-01-02T03:04:05Z", "redirectUrl": "https://issuer/oauth2/auth?consent=c0ffee"}
    body = responses.OAuth2ConsentRequest(**values, **asked).body()  # type: ignore[arg-type]
    _same_json(body, _dump(responses.OAuth2ConsentRequest, {**values, **asked}))
    assert body == {**values, **asked}


@pytest.mark.parametrize("fields", [
    {"active": False},
    {"active": True, "scope": "a b", "client_id": "app", "sub": "alice", "exp": 2, "iat": 1, "iss": "https://i",
     "aud": "one", "ext": {"tenant": "acme"}, "token_type": "access_token"},
    {"active": True, "scope": "", "client_id": "app", "exp": 2, "iat": 1, "iss": "https://i", "aud": ["a", "b"],
     "token_type": "refresh_token"},
], ids=["inactive", "full", "no-subject-two-audiences"])
def test_token_introspection_body_is_the_shape_dump(fields: dict[str, Any]) -> None:
    body = responses.OAuth2TokenIntrospection(**fields).body()
    _same_json(body, _dump(responses.OAuth2TokenIntrospection, fields))
    assert responses.INACTIVE.body() == {"active": False}


def _dump(shape: type, values: dict[str, Any]) -> dict[str, Any]:
    """What pydantic makes of ``values`` validated as ``shape`` (None fields left out)."""
    adapter = TypeAdapter(shape)
    return adapter.dump_python(adapter.validate_python(values), mode="json", exclude_none=True)


@pytest.mark.parametrize("body, cutoff", [
    ({}, None),
    ({"notAfter": None}, None),
    ({"notAfter": "2026-01-02T03:04:05Z"}, 1767323045),
    ({"notAfter": "2026-01-02t03:04:05.123456789+01:00"}, 1767319445),
    ({"notAfter": "2026-01-02 03:04:05z"}, 1767323045),
    ({"notAfter": "0001-01-01T00:00:00Z"}, None),  # Go's zero time: now
    ({"not_after": "2026-01-02T03:04:05Z"}, 1767323045),  # the field name works too (populate_by_name)
    ({"notAfter": None, "not_after": "2026-01-02T03:04:05Z"}, None),  # the alias wins
    ({"notAfter": "2026-01-02T03:04:05Z", "other": 1}, 1767323045),  # other fields are ignored
    ({"notAfter": "2026-01-02T03:04:05"}, BadRequest),  # no offset
    ({"notAfter": "2026-13-01T00:00:00Z"}, BadRequest),
    ({"notAfter": "2026-01-02"}, BadRequest),
    ({"notAfter": ""}, BadRequest),
    ({"notAfter": 1767323045}, BadRequest),
    ({"notAfter": True}, BadRequest),
    ({"notAfter": ["2026-01-02T03:04:05Z"]}, BadRequest),
    ({"not_after": 5}, BadRequest),
])
def test_flush_body_is_read_as_the_model_validates_it(body: dict[str, Any], cutoff: Any) -> None:
    try:
        FlushInactiveOAuth2TokensRequest.model_validate(body)
        model_accepts = True
    except ValidationError:
        model_accepts = False
    if cutoff is BadRequest:
        assert not model_accepts
        with pytest.raises(BadRequest, match="notAfter"):
            flush_cutoff(body)
    else:
        assert model_accepts
        assert flush_cutoff(body) == cutoff


# ---------------------------------------------------------------- what a cold start imports

_CHILD = """
import json, sys
spec = json.load(sys.stdin)
sys.path.insert(0, spec["code_dir"])
import app

class Context:
    function_name = spec["function"]
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + spec["function"]
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/test"
    log_stream_name = "test"

    @staticmethod
    def get_remaining_time_in_millis():
        return 60_000

statuses = [app.lambda_handler(event, Context())["statusCode"] for event in spec["events"]]
print()  # after any metrics line on stdout
print(json.dumps({"statuses": statuses, "loaded": sorted(name for name in spec["watch"] if name in sys.modules)}))
"""
NOT_ON_READ_PATHS = ("pydantic", "boto3")


def _event(method: str, path: str, headers: dict[str, str], body: str | None = None) -> tuple[str, Any, dict]:
    from hydra_lambda_local.events import build_event
    from hydra_lambda_local.routes import find_route, load_routes

    found = find_route(load_routes(TEMPLATE), method, path)
    assert found is not None
    route, params = found
    event = build_event(method, path, headers=list(headers.items()), body=body, route_key=route.route_key,
                        path_parameters=params or None)
    return route.function, route.code_dir, event


def _fresh_process(requests: list[tuple[str, str, dict[str, str], str | None]]) -> dict[str, Any]:
    """Serve ``requests`` (all routed to one function) in a fresh interpreter, as a new container."""
    built = [_event(*request) for request in requests]
    assert len({function for function, _, _ in built}) == 1
    function, code_dir, _ = built[0]
    spec = {"function": function, "code_dir": str(code_dir), "events": [event for _, _, event in built],
            "watch": list(NOT_ON_READ_PATHS)}
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(spec), capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def admin() -> dict[str, str]:
    token = client_credentials_token("hydra.clients hydra.consent hydra.oauth2.flush hydra.introspect hydra.keys.get")
    return {"Authorization": f"Bearer {token}"}


def test_client_reads_import_neither_pydantic_nor_boto3(admin: dict[str, str]) -> None:
    client_id, _ = make_client()
    out = _fresh_process([("GET", f"/clients/{client_id}", admin, None), ("GET", "/clients", admin, None),
                          ("GET", f"/admin/clients/{client_id}", admin, None), ("GET", "/admin/clients", admin, None)])
    assert out == {"statuses": [200, 200, 200, 200], "loaded": []}


def test_consent_request_read_imports_neither_pydantic_nor_boto3(admin: dict[str, str]) -> None:
    client_id, _ = make_client()
    flow = Flow(client_id)
    assert flow.start().status == 302
    out = _fresh_process([("GET", f"/oauth2/consent/requests/{flow.consent_id}", admin, None)])
    assert out == {"statuses": [200], "loaded": []}


def test_flush_route_imports_no_boto3(admin: dict[str, str]) -> None:
    # The flush body is read by its pydantic model (models.flush): an admin route asked for rarely
    # (the schedule never parses a body), so it pays pydantic's import instead of a parser of its own.
    headers = {**admin, "Content-Type": "application/json"}
    out = _fresh_process([("POST", "/oauth2/flush", headers, json.dumps({"notAfter": "2000-01-01T00:00:00Z"}))])
    assert out == {"statuses": [204], "loaded": ["pydantic"]}


def test_token_and_introspection_import_neither_pydantic_nor_boto3(admin: dict[str, str]) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    token = admin["Authorization"][len("Bearer "):]
    out = _fresh_process([
        ("POST", "/oauth2/token", {**basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), **form},
         "grant_type=client_credentials&scope=hydra.consent"),
        ("POST", "/oauth2/introspect", {**admin, **form}, f"token={token}"),
        ("POST", "/oauth2/introspect", {**admin, **form}, "token=hl_at_forged.forged"),
    ])
    assert out == {"statuses": [200, 200, 200], "loaded": []}


def test_discovery_and_jwks_import_neither_pydantic_nor_boto3(admin: dict[str, str]) -> None:
    out = _fresh_process([("GET", "/.well-known/openid-configuration", {}, None),
                          ("GET", "/.well-known/jwks.json", admin, None), ("GET", "/health/status", {}, None)])
    assert out == {"statuses": [200, 200, 200], "loaded": []}


def test_client_writes_still_validate_with_pydantic(admin: dict[str, str]) -> None:
    """The guard above is not vacuous: a write route does load pydantic, in the same kind of process."""
    headers = {**admin, "Content-Type": "application/json"}
    out = _fresh_process([("POST", "/clients", headers, json.dumps({"client_name": "x", "bogus": 1}))])
    assert out == {"statuses": [400], "loaded": ["pydantic"]}
