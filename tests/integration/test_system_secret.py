"""The system secret read from Secrets Manager (moto): a rotated secret reaches a warm container
after its cache age."""

from __future__ import annotations

import hashlib

import pytest
from hydra_lambda import system_secret
from hydra_lambda.config import reset_settings
from hydra_lambda.tokens import opaque as opaque_tokens


def test_a_rotated_secret_in_secrets_manager_reaches_a_warm_container_after_its_cache_age(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The secret read through powertools' SecretsProvider is kept for SYSTEM_SECRET_CACHE_SECONDS
    (no Secrets Manager call meanwhile), then read again: `new,old` put in Secrets Manager makes a warm
    container sign with the new secret while tokens made with the old one still verify."""
    import time

    from tests.support import CLIENT_HOOKS

    old, new = "rotation-old-0123456789abcdef", "rotation-new-0123456789abcdef"
    manager = system_secret.secrets_provider().client
    name = f"test-rotation-{time.time_ns()}"
    arn = manager.create_secret(Name=name, SecretString=old)["ARN"]
    monkeypatch.delenv("SYSTEM_SECRET")
    monkeypatch.setenv("SYSTEM_SECRET_ARN", arn)
    monkeypatch.setenv("SYSTEM_SECRET_CACHE_SECONDS", "1")
    reset_settings()
    system_secret.forget()
    calls: list[str] = []

    def record(event_name: str, **_kwargs: object) -> None:
        calls.append(event_name)

    try:
        with CLIENT_HOOKS.hooked("secretsmanager", "before-call.secrets-manager.GetSecretValue", record):
            old_token, old_sig = opaque_tokens.generate("access")
            manager.put_secret_value(SecretId=arn, SecretString=f"{new},{old}")
            cached_token, _ = opaque_tokens.generate("access")
            assert len(calls) == 1  # the second token used the cached secret
            time.sleep(1.1)
            new_token, new_sig = opaque_tokens.generate("access")
            assert len(calls) == 2
        assert system_secret.keys()[0] == hashlib.sha256(new.encode()).digest()
        assert opaque_tokens.signature_of(old_token, "access") == old_sig
        assert opaque_tokens.signature_of(cached_token, "access") is not None
        assert opaque_tokens.signature_of(new_token, "access") == new_sig
        manager.put_secret_value(SecretId=arn, SecretString=new)
        time.sleep(1.1)
        assert opaque_tokens.signature_of(old_token, "access") is None
        assert opaque_tokens.signature_of(new_token, "access") == new_sig
    finally:
        monkeypatch.undo()
        reset_settings()
        system_secret.forget()
