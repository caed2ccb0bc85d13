"""Errors a newcomer can act on (issue 28, item 11): each says what is missing and how to get it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, basic, call, free_port
from tests.support_admin import add_policy, bearer, remove_policy, service_client, token


def test_an_admin_401_names_the_token_and_scope_needed() -> None:
    result = call("GET", "/clients")
    assert result.status == 401 and result.json["error"]["message"] == "request_unauthorized"
    reason = result.json["error"]["reason"]
    assert "Bearer" in reason and "hydra.clients" in reason


def test_a_missing_scope_is_403_naming_the_scope() -> None:
    result = call("GET", "/clients", headers=bearer(token(scope="openid")))
    assert result.status == 403, result.body
    assert result.json["error"]["message"] == "insufficient_scope"
    assert "hydra.clients" in result.json["error"]["reason"]


def test_a_denial_by_default_says_so_and_names_subject_action_and_resource() -> None:
    svc_id, svc_secret = service_client()
    result = call("GET", "/clients", headers=bearer(token(svc_id, svc_secret)))
    assert result.status == 403 and result.json["error"]["message"].startswith("Request was denied by default")
    reason = result.json["error"]["reason"]
    assert "denied by default" in reason and svc_id in reason and "rn:hydra:clients" in reason and "get" in reason


def test_a_forceful_denial_names_the_policy() -> None:
    svc_id, svc_secret = service_client()
    allowing = add_policy(subjects=[svc_id], resources=["rn:hydra:clients"], actions=["get"])
    denying = add_policy(subjects=[svc_id], resources=["rn:hydra:clients"], actions=["get"], effect="deny")
    try:
        result = call("GET", "/clients", headers=bearer(token(svc_id, svc_secret)))
    finally:
        remove_policy(allowing)
        remove_policy(denying)
    assert result.status == 403 and denying in result.json["error"]["reason"]
    assert allowing not in result.json["error"]["reason"]


def _introspect(headers: dict[str, str]) -> dict[str, object]:
    result = call("POST", "/oauth2/introspect", headers=headers, form={"token": "hl_at_x.y"})
    assert set(result.json) >= {"error", "error_description"} and isinstance(result.json["error"], str), result.body
    return {"status": result.status, **result.json, "www": result.headers.get("www-authenticate", "")}


def test_introspection_errors_are_in_the_rfc_6749_shape() -> None:
    nothing = _introspect({})
    assert nothing["status"] == 401 and nothing["error"] == "invalid_client"
    bad_secret = _introspect(basic(ROOT_CLIENT_ID, "wrong"))
    assert bad_secret["status"] == 401 and bad_secret["error"] == "invalid_client"
    assert str(bad_secret["www"]).startswith("Basic")
    bad_bearer = _introspect(bearer("hl_at_" + "A" * 43 + "." + "B" * 43))
    assert bad_bearer["status"] == 401 and bad_bearer["error"] == "invalid_token"
    no_scope = _introspect(bearer(token(scope="hydra.clients")))
    assert no_scope["status"] == 403 and no_scope["error"] == "insufficient_scope"
    assert "hydra.introspect" in str(no_scope["error_description"])
    svc_id, svc_secret = service_client(scope="hydra.introspect")
    denied = _introspect(basic(svc_id, svc_secret))
    assert denied["status"] == 403 and denied["error"] == "request_forbidden"
    assert "denied by default" in str(denied["error_description"])
    fine = call("POST", "/oauth2/introspect", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                form={"token": "hl_at_x.y"})
    assert fine.status == 200 and fine.json == {"active": False}


USER_ENV = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}


def _cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hydra_lambda_local.cli", *args], cwd=ROOT, env={**USER_ENV, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_an_unreachable_dynamodb_endpoint_is_one_line() -> None:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        result = _cli("serve", "--port", str(free_port()), timeout=120,
                      env={"DYNAMODB_ENDPOINT": endpoint, "CONSENT_URL": "https://consent.example/consent"})
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"hydra-lambda: cannot start: cannot reach DynamoDB (DYNAMODB_ENDPOINT) at {endpoint}/: start it there, or "
        "unset the variable to use the embedded engine"]


def test_token_user_fails_fast_with_the_servers_reason_on_a_redirect_mismatch(server: LocalServer) -> None:
    unregistered = f"http://127.0.0.1:{free_port()}/callback"
    result = _cli("token", "user", "--no-open", "--timeout", "50", "--redirect-uri", unregistered,
                  env={"HYDRA_URL": server.url, "HYDRA_CLIENT_ID": ROOT_CLIENT_ID,
                       "HYDRA_CLIENT_SECRET": ROOT_CLIENT_SECRET}, timeout=40)
    assert result.returncode == 1, result.stderr
    assert "redirect_uri does not exactly match" in result.stderr and "Traceback" not in result.stderr


def test_the_standalone_consent_app_checks_its_credentials_and_policy_at_start(server: LocalServer) -> None:
    no_policy_id, no_policy_secret = service_client(scope="hydra.consent")
    port = str(free_port())
    for client_id, secret, expected in ((no_policy_id, "wrong-secret", "could not get an access token (HTTP 401"),
                                        (no_policy_id, no_policy_secret, "denied by default")):
        result = _cli("consent-app", "--api", server.url, "--port", port,
                      env={"CONSENT_APP_CLIENT_ID": client_id, "CONSENT_APP_CLIENT_SECRET": secret}, timeout=30)
        assert result.returncode == 1, result.stderr
        assert expected in result.stderr and "rn:hydra:oauth2:consent:requests" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    from_stdin = subprocess.run([sys.executable, "-m", "hydra_lambda_local.cli", "consent-app", "--api", server.url,
                                 "--port", port, "--client-id", no_policy_id, "--client-secret-file", "-"], cwd=ROOT,
                                env=USER_ENV, input=no_policy_secret + "\n", capture_output=True, text=True,
                                timeout=30)
    assert from_stdin.returncode == 1 and "denied by default" in from_stdin.stderr  # the secret was read
