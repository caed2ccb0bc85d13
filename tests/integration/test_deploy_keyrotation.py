"""Scheduled rotation: a key the schedule retires leaves the JWKS, is disabled, and is scheduled for
deletion after the configured window; the stack's own key never is (moto KMS)."""

from __future__ import annotations

import uuid

import pytest
from hydra_lambda.aws import client
from hydra_lambda.keys.rotation import create_kms_key, scheduled_step


def _state(key_id: str) -> str:
    return client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def test_retired_keys_are_scheduled_for_deletion_after_the_window() -> None:
    kms = client("kms")
    alias = f"alias/test-{uuid.uuid4().hex[:8]}-id-token"
    stack_key = create_kms_key("ECC_NIST_P256", "test-stack")
    kms.create_alias(AliasName=alias, TargetKeyId=stack_key)
    first = scheduled_step(alias, "ECC_NIST_P256", "test-stack", 7)
    scheduled_step(alias, "ECC_NIST_P256", "test-stack", 7)
    third = scheduled_step(alias, "ECC_NIST_P256", "test-stack", 7)
    assert third["disabled"] is None and third["deletion_scheduled"] is None  # the stack's key: kept
    assert _state(stack_key) == "Enabled"
    fourth = scheduled_step(alias, "ECC_NIST_P256", "test-stack", 7)
    assert fourth["disabled"] == first["next"] == fourth["deletion_scheduled"]
    assert _state(first["next"]) == "PendingDeletion"
    meta = kms.describe_key(KeyId=first["next"])["KeyMetadata"]
    assert (meta["DeletionDate"] - meta["CreationDate"]).days >= 7
    for still in (fourth["current"], fourth["previous"], fourth["next"]):
        assert _state(still) == "Enabled"  # the keys the JWKS still publishes


def test_without_a_window_retired_keys_are_only_disabled() -> None:
    kms = client("kms")
    alias = f"alias/test-{uuid.uuid4().hex[:8]}-id-token"
    kms.create_alias(AliasName=alias, TargetKeyId=create_kms_key("ECC_NIST_P256", "test-stack"))
    first = scheduled_step(alias, "ECC_NIST_P256", "test-stack")
    for _ in range(3):
        last = scheduled_step(alias, "ECC_NIST_P256", "test-stack")
    assert last["disabled"] == first["next"] and last["deletion_scheduled"] is None
    assert _state(first["next"]) == "Disabled"


@pytest.mark.parametrize("days", [0, 6, 31])
def test_the_window_must_be_one_kms_accepts(days: int) -> None:
    with pytest.raises(ValueError, match="deletion_window_days"):
        scheduled_step("alias/whatever", "RSA_2048", "test-stack", days)


def test_keys_a_rotation_makes_carry_the_policy_naming_the_stack_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    """As deployed (the template passes the roles): the new key's policy lets only the OAuth2 role sign
    and the three roles read the public key, and leaves administration to the account."""
    import json

    from hydra_lambda import config

    signer = "arn:aws:iam::123456789012:role/stk-OAuth2FunctionRole-X"
    readers = [signer, "arn:aws:iam::123456789012:role/stk-DiscoveryFunctionRole-Y"]
    monkeypatch.setenv("SIGNING_KEY_SIGNER_ROLES", signer)
    monkeypatch.setenv("SIGNING_KEY_READER_ROLES", ",".join(readers))
    config.reset_settings()
    try:
        kms = client("kms")
        alias = f"alias/test-{uuid.uuid4().hex[:8]}-id-token"
        kms.create_alias(AliasName=alias, TargetKeyId=create_kms_key("ECC_NIST_P256", "test-stack"))
        made = scheduled_step(alias, "ECC_NIST_P256", "test-stack")["next"]
        policy = json.loads(kms.get_key_policy(KeyId=made, PolicyName="default")["Policy"])
    finally:
        monkeypatch.undo()
        config.reset_settings()
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["StackFunctionsSign"]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [signer]
    assert by_sid["StackFunctionsReadThePublicKey"]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == readers
    admin = by_sid["AccountAdministers"]
    assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert not {"kms:Sign", "kms:*", "kms:GetPublicKey"} & set(admin["Action"])


def test_a_role_list_that_is_not_role_arns_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda import config

    for bad in ("alice", "arn:aws:iam::123456789012:user/alice",
                "arn:aws:iam::123456789012:role/a,arn:aws:iam::210987654321:role/b"):
        monkeypatch.setenv("SIGNING_KEY_SIGNER_ROLES", bad)
        with pytest.raises(config.ConfigError, match="SIGNING_KEY_SIGNER_ROLES"):
            config.Settings.from_env()
