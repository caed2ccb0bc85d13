"""The AWS services the local server talks to: embedded (moto, in this process) or given endpoints."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from typing import Any

import botocore.session
from hydra_lambda.config import get_settings, reset_settings
from hydra_lambda.storage.tables import bind, create_tables

LOCAL_KEY_ALIAS = "alias/hydra-lambda-id-token"
# As a deployed stack's own key: the alias triple that a rotation moves (see keys.rotation).
LOCAL_SIGNING_KEYS = f"{LOCAL_KEY_ALIAS},{LOCAL_KEY_ALIAS}-next,{LOCAL_KEY_ALIAS}-previous"
# The PS256 and ES256 sets of `make run`, each its own rotatable triple (SIGNING_KEYS_PS256, _ES256).
LOCAL_SETS = {"SIGNING_KEYS_PS256": ("alias/hydra-lambda-id-token-ps256", "RSA_2048"),
              "SIGNING_KEYS_ES256": ("alias/hydra-lambda-id-token-es256", "ECC_NIST_P256")}


def triple(alias: str) -> str:
    return f"{alias},{alias}-next,{alias}-previous"


@dataclass
class Backends:
    dynamodb: str
    kms: str
    embedded: Any = None  # the ThreadedMotoServer when embedded

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def _default_credentials() -> None:
    """Local engines accept any credentials; botocore only needs some to sign with."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
    # CloudWatch EMF lines would flood a terminal; set POWERTOOLS_METRICS_DISABLED=false to see them.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def start_moto() -> tuple[Any, str]:
    from moto.server import ThreadedMotoServer  # lazy: ~0.9 s of imports, for embedded engines only

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def ensure_signing_key(kms_endpoint: str, alias: str = LOCAL_KEY_ALIAS, key_spec: str = "RSA_2048") -> str:
    """A local ID-token signing key: a KMS key behind a fixed alias (by default the RSA key of
    SIGNING_KEYS), created on first use."""
    kms = botocore.session.get_session().create_client("kms", endpoint_url=kms_endpoint or None,
                                                        region_name=get_settings().aws_region)
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    except kms.exceptions.NotFoundException:
        key = kms.create_key(KeySpec=key_spec, KeyUsage="SIGN_VERIFY", Description="hydra-lambda local")
        key_id = key["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        return key_id


_SALT_LABEL = b"hydra-lambda local pairwise salt"


def local_pairwise_salt() -> None:
    """SUBJECT_IDENTIFIERS_PAIRWISE_SALT for a local server that was given none: derived from the
    system secret (kept with ``--persist``, so the pairwise identifiers are too), so pairwise clients
    can be tried. Set the variable, even empty (no pairwise clients), and it is left alone."""
    current = os.environ.get("SYSTEM_SECRET", "").split(",")[0]
    if "SUBJECT_IDENTIFIERS_PAIRWISE_SALT" not in os.environ and current:
        os.environ["SUBJECT_IDENTIFIERS_PAIRWISE_SALT"] = hmac.new(current.encode(), _SALT_LABEL, "sha256").hexdigest()


def prepare(dynamodb_endpoint: str = "", kms_endpoint: str = "") -> Backends:
    """Start or connect to the backends, point the settings at them, and create what is missing."""
    _default_credentials()
    dynamodb_endpoint = dynamodb_endpoint or os.environ.get("DYNAMODB_ENDPOINT", "")
    kms_endpoint = kms_endpoint or os.environ.get("KMS_ENDPOINT", "")
    embedded = None
    if not dynamodb_endpoint or not kms_endpoint:
        embedded, url = start_moto()
        dynamodb_endpoint = dynamodb_endpoint or url
        kms_endpoint = kms_endpoint or url
        os.environ.setdefault("SECRETSMANAGER_ENDPOINT", url)
    os.environ["DYNAMODB_ENDPOINT"] = dynamodb_endpoint
    os.environ["KMS_ENDPOINT"] = kms_endpoint
    if not os.environ.get("SYSTEM_SECRET") and not os.environ.get("SYSTEM_SECRET_ARN"):
        # Tokens then live as long as this process; set SYSTEM_SECRET to keep them across restarts.
        os.environ["SYSTEM_SECRET"] = secrets.token_urlsafe(32)
    local_pairwise_salt()
    reset_settings()
    bind(get_settings())
    create_tables()
    if not os.environ.get("SIGNING_KEYS"):
        ensure_signing_key(kms_endpoint)
        os.environ["SIGNING_KEYS"] = LOCAL_SIGNING_KEYS  # rotatable: POST /keys/hydra.openid.id-token
        # And the PS256 and ES256 sets (unless given: an empty value turns one off), so clients can
        # register id_token_signed_response_alg / userinfo_signed_response_alg PS256 or ES256.
        for setting, (alias, key_spec) in LOCAL_SETS.items():
            if setting not in os.environ:
                ensure_signing_key(kms_endpoint, alias, key_spec)
                os.environ[setting] = triple(alias)
        reset_settings()
    return Backends(dynamodb=dynamodb_endpoint, kms=kms_endpoint, embedded=embedded)
