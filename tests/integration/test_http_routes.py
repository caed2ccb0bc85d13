"""HTTP behaviour that reads DynamoDB on the way (client authentication, the routes CORS answers for):
log lines carry the client id and never a credential; CORS preflights."""

from __future__ import annotations

import json

import pytest

from tests.support import call


def test_log_lines_carry_the_client_id_and_never_a_credential(caplog: pytest.LogCaptureFixture) -> None:
    from hydra_lambda.observability import logger

    from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic

    result = call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                  form={"grant_type": "client_credentials", "scope": "not-allowed-scope"})
    assert result.status == 400
    # Keys appended during an invocation stay until the next one starts: probe with a line now.
    logger.warning("probe", extra={"client_secret": ROOT_CLIENT_SECRET, "refresh_token": "hl_rt_x",
                                   "code": "hl_ac_y", "kept": "visible"})
    record = next(r for r in caplog.records if r.getMessage() == "probe")
    line = json.loads(logger.registered_formatter.format(record))
    assert line["client_id"] == ROOT_CLIENT_ID
    assert line["client_secret"] == line["refresh_token"] == line["code"] == "[redacted]"
    assert line["kept"] == "visible"
    assert ROOT_CLIENT_SECRET not in json.dumps(line)


def test_cors_preflight_lists_the_route_methods(cors_for_spa: None) -> None:
    result = call("OPTIONS", "/oauth2/token", headers={
        "Origin": "https://spa.example.com", "Access-Control-Request-Method": "POST"})
    assert result.status == 204
    assert result.headers["access-control-allow-methods"] == "POST"
    assert "Authorization" in result.headers["access-control-allow-headers"]


def test_cors_never_on_the_authorize_endpoint(cors_for_spa: None) -> None:
    preflight = call("OPTIONS", "/oauth2/auth", headers={
        "Origin": "https://spa.example.com", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status == 405
    page = call("GET", "/oauth2/auth", query="client_id=x", headers={"Origin": "https://spa.example.com"})
    assert "access-control-allow-origin" not in page.headers
