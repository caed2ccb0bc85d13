"""``hydra-lambda-keys``: the deploy-time tool that makes a signing key the stack does not rotate itself
(KMS mode with your own SigningKeys, or envelope mode), on moto's KMS and Secrets Manager. The key it
makes must sign ID tokens that verify, be tagged for the stack, and come with the rotation deploys."""

from __future__ import annotations

import uuid

import pytest
from hydra_lambda import keys
from hydra_lambda_local import signing_keys

from tests.support_keys import kms, secrets, verify_against_jwks
from tests.support_keys import signing_keys as using_keys

CLAIMS = {"iss": "http://127.0.0.1:4444", "sub": "alice", "aud": "app", "iat": 1, "exp": 4_000_000_000}


def _ref(out: str) -> str:
    first = out.splitlines()[0]
    assert first.startswith("New ")
    return first.rsplit(" ", 1)[1]


def test_envelope_key_is_sealed_signs_and_prints_the_deploys(capsys: pytest.CaptureFixture[str]) -> None:
    wrapping = kms().create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    stack = f"tool-{uuid.uuid4().hex[:8]}"
    assert signing_keys.main(["envelope", "--stack", stack, "--envelope-kms-key", wrapping,
                              "--key-spec", "ECC_NIST_P256", "--current", "arn:old"]) == 0
    out = capsys.readouterr().out
    arn = _ref(out)
    assert secrets().describe_secret(SecretId=arn)["Name"].startswith(f"{stack}/id-token/")
    assert f"SIGNING_KEYS=arn:old,{arn}" in out and f"SIGNING_KEYS={arn},arn:old" in out
    keys.forget()
    with using_keys([arn], mode="envelope"):
        token = keys.sign(CLAIMS)
        published = keys.jwks()
    assert verify_against_jwks(token, published) == CLAIMS
    keys.forget()


def test_kms_key_is_tagged_for_the_stack(capsys: pytest.CaptureFixture[str]) -> None:
    stack = f"tool-{uuid.uuid4().hex[:8]}"
    assert signing_keys.main(["kms", "--stack", stack]) == 0
    key_id = _ref(capsys.readouterr().out)
    tags = kms().list_resource_tags(KeyId=key_id)["Tags"]
    assert {"TagKey": "hydra-lambda:stack", "TagValue": stack} in tags
    assert kms().describe_key(KeyId=key_id)["KeyMetadata"]["KeySpec"] == "RSA_2048"


def test_an_aws_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = signing_keys.main(["envelope", "--stack", "s", "--envelope-kms-key", "no-such-key"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and err.startswith("hydra-lambda-keys: ")
    assert "Traceback" not in err
