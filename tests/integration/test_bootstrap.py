"""First start: the root client and default policies, created once even when cold starts race."""

from __future__ import annotations

import json
import threading

import pytest
from hydra_lambda import bootstrap
from hydra_lambda.config import ConfigError, reset_settings

from tests.support import basic, call, dynamodb_calls


def _random_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_ROOT_CLIENT_CREDENTIALS", "")
    reset_settings()


def _all_clients() -> list[str]:
    from hydra_lambda.storage.tables import ClientRecord

    return [record.id for record in ClientRecord.scan(consistent_read=True)]


def test_first_start_creates_the_root_client_and_policies(fresh_install: pytest.MonkeyPatch) -> None:
    from hydra_lambda.clients.registry import get_client
    from hydra_lambda.storage import policies

    _random_credentials(fresh_install)
    created = bootstrap.ensure_root_client()
    assert created is not None
    client_id, secret = created
    assert len(secret) == 43
    assert bootstrap.ensure_root_client() is None  # credentials are handed out once
    client = get_client(client_id)
    assert client is not None
    assert client.scope == "hydra.* openid offline hydra"
    assert client.grant_types == ["client_credentials", "authorization_code", "refresh_token"]
    assert client.response_types == ["code", "token", "id_token"]
    assert client.redirect_uris == ["http://localhost:4445/callback"]
    assert client.secret_hash and client.secret_hash.startswith("hs256$")
    admin = policies.get("default-admin-policy")
    assert admin is not None and admin.subjects == [client_id]
    assert admin.resources == ["rn:hydra:<.*>"] and admin.actions == ["<.*>"] and admin.effect == "allow"
    jwks = policies.get("default-oidc-id-token-public-policy")
    assert jwks is not None and jwks.subjects == ["<.*>"] and jwks.actions == ["get"]
    assert jwks.resources == ["rn:hydra:keys:hydra.openid.id-token:<.*>"]
    result = call("POST", "/oauth2/token", headers=basic(client_id, secret),
                  form={"grant_type": "client_credentials", "scope": "hydra hydra.*"})
    assert result.status == 200
    listing = call("GET", "/clients", headers={"Authorization": f"Bearer {result.json['access_token']}"})
    assert listing.status == 200 and [c["id"] for c in listing.json] == [client_id]


def test_forced_credentials_are_url_decoded(fresh_install: pytest.MonkeyPatch) -> None:
    fresh_install.setenv("FORCE_ROOT_CLIENT_CREDENTIALS", "my%3Aadmin:s%40cret%2Bvalue%3A1")
    reset_settings()
    assert bootstrap.ensure_root_client() == ("my:admin", "s@cret+value:1")
    result = call("POST", "/oauth2/token", headers=basic("my:admin", "s@cret+value:1"),
                  form={"grant_type": "client_credentials"})
    assert result.status == 200


@pytest.mark.parametrize("raw", ["no-colon", ":secret-only", "id:short"])
def test_bad_forced_credentials_are_a_config_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("FORCE_ROOT_CLIENT_CREDENTIALS", raw)
    reset_settings()
    try:
        with pytest.raises(ConfigError, match="FORCE_ROOT_CLIENT_CREDENTIALS"):
            bootstrap.forced_credentials()
    finally:
        monkeypatch.undo()
        reset_settings()


def test_racing_cold_starts_create_one_root_client(fresh_install: pytest.MonkeyPatch) -> None:
    from hydra_lambda.storage import policies

    _random_credentials(fresh_install)
    racers = 6
    barrier = threading.Barrier(racers)
    results: list[tuple[str, str] | None] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait(10)
            results.append(bootstrap.ensure_root_client())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    winners = [r for r in results if r is not None]
    assert len(results) == racers and len(winners) == 1
    assert _all_clients() == [winners[0][0]]
    admin = policies.get("default-admin-policy")
    assert admin is not None and admin.subjects == [winners[0][0]]


def test_existing_clients_mean_no_new_root(fresh_install: pytest.MonkeyPatch) -> None:
    from hydra_lambda.clients.registry import create_client

    _random_credentials(fresh_install)
    create_client({"id": "already-here"})
    assert bootstrap.ensure_root_client() is None
    assert _all_clients() == ["already-here"]


def test_a_warm_installation_costs_one_read() -> None:
    with dynamodb_calls() as seen:
        assert bootstrap.ensure_root_client() is None
    assert seen == ["GetItem"]


def test_on_aws_the_credentials_go_to_secrets_manager_not_to_logs(
    fresh_install: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from hydra_lambda.aws import client

    _random_credentials(fresh_install)
    secrets = client("secretsmanager")
    arn = secrets.create_secret(Name=f"root-{id(fresh_install)}", SecretString="not-yet-created")["ARN"]
    fresh_install.setenv("ROOT_CLIENT_SECRET_ARN", arn)
    reset_settings()
    with dynamodb_calls() as seen:
        bootstrap.on_cold_start()
        bootstrap.on_cold_start()  # once per container
    assert seen.count("TransactWriteItems") == 1
    value = secrets.get_secret_value(SecretId=arn)["SecretString"]
    client_id, _, secret = value.partition(":")
    assert _all_clients() == [client_id] and len(secret) == 43
    bootstrap.reset()  # a second container: finds the root, leaves the secret alone
    bootstrap.on_cold_start()
    assert secrets.get_secret_value(SecretId=arn)["SecretString"] == value
    captured = capsys.readouterr()
    logs = captured.out + captured.err + json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert secret not in logs


def test_oauth2_function_bootstraps_on_its_first_invocation(fresh_install: pytest.MonkeyPatch) -> None:
    fresh_install.setenv("FORCE_ROOT_CLIENT_CREDENTIALS", "first-call-root:first-call-secret")
    reset_settings()
    assert _all_clients() == []
    result = call("POST", "/oauth2/token", headers=basic("first-call-root", "first-call-secret"),
                  form={"grant_type": "client_credentials", "scope": "hydra.clients"})
    assert result.status == 200
    assert _all_clients() == ["first-call-root"]


def test_bootstrap_failure_is_logged_without_detail_and_retried(
    fresh_install: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("secret-ish detail")

    fresh_install.setattr(bootstrap, "first_start", broken)
    bootstrap.on_cold_start()
    bootstrap.on_cold_start()
    assert len(calls) == 2  # not marked done: the next invocation tries again
    assert "secret-ish detail" not in caplog.text


def _bootstrap_failures(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [{key: getattr(record, key, None) for key in ("error", "aws_error_code", "reason")}
            for record in caplog.records if record.getMessage() == "root client bootstrap failed; will retry"]


def test_a_failed_first_start_logs_the_aws_error_code_not_the_credentials(
    fresh_install: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from hydra_lambda.aws import client

    _random_credentials(fresh_install)
    arn = client("secretsmanager").create_secret(Name=f"gone-{id(fresh_install)}", SecretString="x")["ARN"]
    client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    fresh_install.setenv("ROOT_CLIENT_SECRET_ARN", arn)  # publishing the credentials fails
    reset_settings()
    bootstrap.on_cold_start()
    [failure] = _bootstrap_failures(caplog)
    assert failure["aws_error_code"] == "ResourceNotFoundException" and failure["reason"] is None
    pending = bootstrap.pending_root()  # the same credentials the next cold start will publish
    assert pending is not None and pending.secret
    captured = capsys.readouterr()
    assert pending.secret not in captured.out + captured.err + caplog.text


def test_a_failed_first_start_logs_a_configuration_errors_message(
    fresh_install: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _random_credentials(fresh_install)
    fresh_install.setenv("SYSTEM_SECRET", "")  # nor SYSTEM_SECRET_ARN: generated credentials cannot be derived
    reset_settings()
    bootstrap.on_cold_start()
    assert _bootstrap_failures(caplog) == [
        {"error": "ConfigError", "aws_error_code": None, "reason": "set SYSTEM_SECRET (or SYSTEM_SECRET_ARN on AWS)"}
    ]


def test_a_failed_first_start_logs_the_code_inside_pynamodbs_wrapper(
    fresh_install: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _random_credentials(fresh_install)
    from hydra_lambda.storage.tables import bind

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLICIES_TABLE", f"no-such-table-{id(patch)}")  # the marker's read fails
        reset_settings()
        bootstrap.on_cold_start()
    reset_settings()
    bind()  # the models on the test tables again (the fixture's cleanup scans them directly)
    [failure] = _bootstrap_failures(caplog)
    assert failure["aws_error_code"] == "ResourceNotFoundException" and failure["error"] != "ClientError"
