"""The key policy of the signing keys a rotation makes: the same as the template's SigningKey."""

from __future__ import annotations

import json

# What the account root may do with a signing key (administration through IAM, as AWS requires of a
# key someone must be able to manage): never sign nor read the public key, which only named roles may.
KEY_ADMIN_ACTIONS = (
    "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias", "kms:Describe*", "kms:List*", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:PutKeyPolicy", "kms:EnableKey", "kms:EnableKeyRotation", "kms:DisableKey",
    "kms:DisableKeyRotation", "kms:RevokeGrant", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
)


def key_policy(signers: tuple[str, ...], readers: tuple[str, ...]) -> str | None:
    """The template's SigningKey policy for a key a rotation makes (None: no roles set, KMS's default):
    roles named by aws:PrincipalArn under the account root, so IAM must allow them too."""
    if not signers:
        return None
    partition, account = signers[0].split(":")[1], signers[0].split(":")[4]
    root = {"AWS": f"arn:{partition}:iam::{account}:root"}

    def allow(sid: str, actions: list[str], roles: tuple[str, ...] = ()) -> dict[str, object]:
        statement: dict[str, object] = {"Sid": sid, "Effect": "Allow", "Principal": root, "Action": actions,
                                        "Resource": "*"}
        if roles:
            statement["Condition"] = {"ArnEquals": {"aws:PrincipalArn": list(roles)}}
        return statement

    return json.dumps({"Version": "2012-10-17", "Statement": [
        allow("AccountAdministers", list(KEY_ADMIN_ACTIONS)),
        allow("StackFunctionsSign", ["kms:Sign"], signers),
        allow("StackFunctionsReadThePublicKey", ["kms:GetPublicKey"], readers or signers),
    ]})
