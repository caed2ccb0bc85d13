"""Secrets the server must be able to read back, sealed at rest: AES-256-GCM (the ``cryptography``
package) under a key derived with HKDF-SHA256 from the system secret, so the clients table alone
reveals nothing. Only ``client_secret_jwt`` clients need this (the server recomputes their HMAC
assertions with the cleartext secret); every other client secret stays hash-only.

Each system secret derives its own sealing key (``system_secret.keys()``, first one seals): a value
sealed before a rotation still opens while the old secret is listed. The associated data binds a
sealed value to what it belongs to (a client's id): a value copied onto another row does not open.
"""

from __future__ import annotations

import base64
import os

from hydra_lambda import system_secret
from hydra_lambda.cache import TimedCache, forever

PREFIX = "aesgcm1."
_INFO = b"hydra-lambda sealing v1"
_NONCE_BYTES = 12
# The derived keys of the current system secrets (one entry: new secrets replace the old set).
_keys: TimedCache[tuple[bytes, ...], tuple[bytes, ...]] = TimedCache("sealing keys", forever, max_entries=1)


class Unsealable(Exception):
    """The value was not sealed by any of the configured system secrets for this context."""


def _sealing_keys() -> tuple[bytes, ...]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    secrets = system_secret.keys()
    found = _keys.get(secrets)
    if found is not None:
        return found
    derived = tuple(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key) for key in secrets)
    return _keys.put(secrets, derived)


def seal(plaintext: str, context: str) -> str:
    """``plaintext`` encrypted and authenticated under the signing system secret, bound to ``context``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_sealing_keys()[0]).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def unseal(value: str, context: str) -> str:
    """The plaintext of ``seal(plaintext, context)``; Unsealable if no configured secret opens it."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not value.startswith(PREFIX):
        raise Unsealable("not a sealed value")
    body = value[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise Unsealable("not a sealed value") from None
    nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    for key in _sealing_keys():
        try:
            return AESGCM(key).decrypt(nonce, sealed, context.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError):
            continue
    raise Unsealable("no configured system secret opens the value")
