"""``hydra-lambda-keys``: make a new ID-token signing key in your AWS account, at deploy time.

This is not the admin CLI (``hydra-lambda`` only speaks HTTP to a running server). Like ``sam deploy``,
it uses your AWS credentials (the usual botocore chain: ``AWS_PROFILE``, ``AWS_REGION``...), because a
key that the stack does not rotate itself is chosen by the ``SigningKeys`` template parameter, which
only a deploy can change. It makes the key, tagged for the stack so the stack's functions may use it,
and prints the deploys that roll it in without failing a single verification:

- ``hydra-lambda-keys kms --stack S``: a new KMS signing key (KMS mode with your own ``SigningKeys``);
- ``hydra-lambda-keys envelope --stack S --envelope-kms-key ARN``: a new private key, sealed under the
  stack's envelope key (output ``EnvelopeKeyArn``) into the secret ``<stack>/id-token/<UTC time>``.

The stack's own key (``SigningKeys`` empty) needs none of this: ``POST /keys/hydra.openid.id-token``
(``hydra-lambda keys rotate``) rotates it over HTTP, and ``KeyRotationSchedule`` on a schedule.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from hydra_lambda.config import ConfigError, get_settings
from hydra_lambda.keys.rotation import KEY_SPECS, create_envelope_key, create_kms_key, runbook


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hydra-lambda-keys", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help="the stack whose functions may use the key (tag)")
    common.add_argument("--key-spec", choices=KEY_SPECS, default="RSA_2048",
                        help="RSA_2048/RSA_4096 sign RS256, ECC_NIST_P256 signs ES256 (default RSA_2048)")
    common.add_argument("--current", default="",
                        help="the stack's SigningKeys now (comma-separated), to print the rotation deploys")
    sub = top.add_subparsers(dest="mode", required=True, metavar="MODE")
    sub.add_parser("kms", parents=[common], help="a new asymmetric KMS key (SigningMode=kms)")
    envelope = sub.add_parser("envelope", parents=[common],
                              help="a new sealed key in Secrets Manager (SigningMode=envelope)")
    envelope.add_argument("--envelope-kms-key", required=True, help="the stack's output EnvelopeKeyArn")
    envelope.add_argument("--secret-name", default="", help="default: <stack>/id-token/<UTC time>")
    return top


def run(args: argparse.Namespace) -> str:
    """Make the key; returns what to print (its reference and the deploys)."""
    if args.mode == "kms":
        new = create_kms_key(args.key_spec, args.stack)
    else:
        name = args.secret_name or f"{args.stack}/id-token/{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        new = create_envelope_key(args.key_spec, args.envelope_kms_key, name)
    current = [ref.strip() for ref in args.current.split(",") if ref.strip()]
    return f"New {args.mode} signing key: {new}\n{runbook(current, new, get_settings().id_token_lifespan)}"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        print(run(args))
    except ConfigError as exc:
        print(f"hydra-lambda-keys: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # AWS errors (credentials, access denied, no such key) in one line
        print(f"hydra-lambda-keys: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
