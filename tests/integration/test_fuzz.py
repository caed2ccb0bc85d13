"""schemathesis against the local server: generated requests (valid and invalid) for every operation of
openapi.yaml never get a 5xx, every response conforms to the document (status, content type, headers,
body), requests the document calls invalid are rejected with a 4xx, and every undeclared method
answers 405 with ``Allow``.

The server runs on tables of its own (``fuzz-*``), so generated clients and tokens never meet the
rest of the suite's data; admin calls carry a client_credentials token of the root client.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hydra_lambda.bootstrap import ADMIN_POLICY_ID, JWKS_POLICY_ID
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, basic

OPENAPI = ROOT / "openapi.yaml"
MAX_EXAMPLES = 15
FUZZ_TABLES = {
    "CLIENTS_TABLE": "fuzz-clients",
    "TOKENS_TABLE": "fuzz-tokens",
    "CONSENT_TABLE": "fuzz-consent",
    "POLICIES_TABLE": "fuzz-policies",
}
# The root client and the first start's policies must survive the fuzzing of DELETE/PUT /clients/{id}
# and /policies/{id}.
PROTECTED_IDS = {ROOT_CLIENT_ID, ADMIN_POLICY_ID, JWKS_POLICY_ID}
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,  # a request openapi.yaml calls invalid gets a 4xx
    st_checks.missing_required_header,
]

config = schemathesis.Config.from_dict({
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": False},
               "fuzzing": {"enabled": True}, "stateful": {"enabled": True}},
})
schema = schemathesis.openapi.from_path(OPENAPI, config=config)


def _request(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
             ) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


@pytest.fixture(scope="module")
def fuzz_server(aws: dict[str, str]) -> Iterator[LocalServer]:
    instance = LocalServer({**aws, **FUZZ_TABLES})
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def admin_token(fuzz_server: LocalServer) -> str:
    status, _, body = _request(
        "POST", f"{fuzz_server.url}/oauth2/token",
        body=b"grant_type=client_credentials&scope=hydra.clients+hydra.consent+hydra.introspect"
             b"+hydra.oauth2.flush+hydra.keys.get+hydra.keys.create+hydra.keys.update+hydra.keys.delete"
             b"+hydra.policies+hydra.warden+hydra.warden.groups+hydra.oauth2.tokens",
        headers={"Content-Type": "application/x-www-form-urlencoded", **basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)},
    )
    assert status == 200, body
    return json.loads(body)["access_token"]


def _auth_headers(case: Any, token: str) -> dict[str, str]:
    """Credentials the operation declares: Basic for the client-authenticated endpoints, else Bearer."""
    if case.path in ("/oauth2/token", "/oauth2/revoke"):
        return basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_generated_requests_get_conforming_answers(case: Any, fuzz_server: LocalServer, admin_token: str) -> None:
    if case.path_parameters and case.path_parameters.get("id") in PROTECTED_IDS:
        case.path_parameters["id"] = "fuzz-" + case.path_parameters["id"]
    # Generated Authorization values would only test the 401 path; the real credentials replace them.
    case.headers = {**(case.headers or {}), **_auth_headers(case, admin_token)}
    case.call_and_validate(base_url=fuzz_server.url, checks=CHECKS)


# /oauth2/auth is fuzzed per operation too: reached in sequences from GET /clients, the listed client
# (whichever the scenarios so far created) decides which of its parameters the link fills, so the same
# draws meet different choices, which hypothesis reports as a flaky strategy in the full suite.
STATEFUL_EXCLUDED = "^/(policies|warden|keys)|^/oauth2/auth$"
# (and /oauth2/register, whose errors are RFC 7591's, in the same JSON shape)
OAUTH_FORM_PATHS = frozenset({"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/userinfo", "/oauth2/register",
                              "/oauth2/device/auth"})


def _declared() -> dict[str, set[str]]:
    methods = {"get", "put", "post", "delete", "patch"}
    return {path: {m.upper() for m in item if m in methods} for path, item in schema.raw_schema["paths"].items()}


def test_undeclared_methods_answer_405_with_allow(fuzz_server: LocalServer, admin_token: str) -> None:
    problems = []
    for path, declared in _declared().items():
        concrete = re.sub(r"\{[^}]+\}", "fuzz-probe", path)
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - declared):
            status, headers, body = _request(method, fuzz_server.url + concrete, body=b"" if method != "GET" else None,
                                             headers={"Authorization": f"Bearer {admin_token}"})
            allow = {m.strip() for m in headers.get("allow", "").split(",") if m.strip()}
            if status != 405 or allow - {"OPTIONS", "HEAD"} != declared:
                problems.append(f"{method} {path}: {status} Allow={sorted(allow)} (declared {sorted(declared)})")
            elif path in OAUTH_FORM_PATHS:  # OAuth endpoints answer in RFC 6749 JSON (#18)
                if json.loads(body)["error"] != "invalid_request":
                    problems.append(f"{method} {path}: the 405 body is not an RFC 6749 error")
            elif path.startswith("/admin/"):  # the current API's routes: Hydra's errorOAuth2
                if json.loads(body)["status_code"] != 405:
                    problems.append(f"{method} {path}: the 405 body is not Hydra's errorOAuth2")
            elif json.loads(body)["error"]["code"] != 405:
                problems.append(f"{method} {path}: the 405 body is not the admin error shape")
    assert not problems, "\n".join(problems)


def test_the_fuzzed_server_logged_no_token_and_no_traceback(fuzz_server: LocalServer, admin_token: str) -> None:
    output = fuzz_server.output()
    assert "hydra-lambda listening" in output
    assert admin_token not in output
    assert not re.search(r"hl_(?:at|rt|ac)_[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}", output)
    assert "Traceback" not in output and "raised:" not in output


def test_stateful_sequences_follow_the_links(fuzz_server: LocalServer, admin_token: str) -> None:
    """Sequences along openapi.yaml's links: a created client is read, updated and deleted, a token
    that was issued is introspected and revoked; every step passes the same checks."""

    # The classic admin APIs (policies, warden, groups, keys) are fuzzed operation by operation above;
    # in sequences their rows (fixed ids answering 201, then 409) change which rules hypothesis can
    # draw between runs, which it reports as a flaky strategy rather than a finding. /oauth2/auth is left
    # out for a like reason (see STATEFUL_EXCLUDED).
    stateful = schema.exclude(path_regex=STATEFUL_EXCLUDED)

    class Machine(stateful.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            if case.path_parameters and case.path_parameters.get("id") in PROTECTED_IDS:
                case.path_parameters["id"] = "fuzz-" + case.path_parameters["id"]
            case.headers = {**(case.headers or {}), **_auth_headers(case, admin_token)}
            return {"base_url": fuzz_server.url}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    Machine.run(settings=settings(max_examples=MAX_EXAMPLES, stateful_step_count=6, deadline=None,
                                  derandomize=True, suppress_health_check=list(HealthCheck)))
