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
