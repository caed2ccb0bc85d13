"""Application key sets: the JSON Web Key sets of ``/admin/keys/<set>`` other than the stack's own.

The stack's sets (:data:`KMS_SETS`) are its AWS KMS signing keys: KMS never exports a private key, so
they serve public keys only and refuse every write (``endpoints.admin_keys``). Every other set name is
an application set, as Ory Hydra keeps them: keys generated here with the ``cryptography`` package
(exported as JWKs by python-jose) or uploaded whole, private parts included, served in full to admins.

A set is stored as one row (``storage.key_sets``): its JWKs as JSON, sealed with the system secret
(``hydra_lambda.sealing``, AES-256-GCM bound to the row's key), so the table alone reveals no key.
Each change reads the row and writes it back on the condition that nobody changed it meanwhile.

Algorithms (python-jose signs and verifies each; it has no EdDSA, so neither have we): RS256, RS384,
RS512 (RSA 2048 bits generated for RS256, 3072 for RS384, 4096 for RS512; uploads of 2048 to 8192
bits), ES256, ES384, ES512 (P-256, P-384, P-521), HS256, HS384, HS512 (random secrets as long as the
hash; uploads at least that long).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from hydra_lambda import sealing
from hydra_lambda.storage import key_sets as store

# The stack's own sets: its KMS keys sign ID tokens (and the JWT access tokens of clients that ask for
# them); both names publish the same public keys, those of /.well-known/jwks.json.
ID_TOKEN_SET = "hydra.openid.id-token"
KMS_SETS = (ID_TOKEN_SET, "hydra.jwt.access-token")
RESERVED_PREFIX = "hydra."  # Ory Hydra's own set names; never an application set here
MAX_KEYS = 32  # per set: the sealed row stays far below DynamoDB's 400 KB item limit (RSA 8192: ~9 KB a key)
SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")  # no ':' (resource names), '/', '#'
KID = re.compile(r"[A-Za-z0-9._~:+=@-]{1,128}")  # no '/', '#', '%', '?' or spaces: kids go in URL paths

# alg -> (kty, curve or generated RSA bits or HMAC secret bytes)
ALGORITHMS: dict[str, tuple[str, Any]] = {
    "RS256": ("RSA", 2048), "RS384": ("RSA", 3072), "RS512": ("RSA", 4096),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
    "HS256": ("oct", 32), "HS384": ("oct", 48), "HS512": ("oct", 64),
}
USES = ("sig", "enc")
RSA_BITS = (2048, 8192)
MAX_SECRET_BYTES = 1024
MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "oct": ("k",)}
PRIVATE_MEMBERS = {"RSA": ("d", "p", "q", "dp", "dq", "qi"), "EC": ("d",), "oct": ("k",)}
COMMON_MEMBERS = ("kty", "kid", "alg", "use")
_ATTEMPTS = 3  # read-modify-write rounds lost to a concurrent change before answering Changed


class InvalidKey(ValueError):
    """An uploaded JWK or a create request that cannot be kept; the message says why (never a key value)."""


class SetNotFound(LookupError):
    pass


class KeyNotFound(LookupError):
    pass


class KidTaken(Exception):
    """The set already holds a key with that kid."""


class SetFull(Exception):
    """The set would hold more than :data:`MAX_KEYS` keys."""


class Changed(Exception):
    """The set kept changing under this request (concurrent writers): nothing was written."""


class Unreadable(Exception):
    """The stored set was sealed under a system secret that is no longer configured."""


def is_kms_set(name: str) -> bool:
    return name in KMS_SETS


def check_set_name(name: str) -> None:
    if not SET_NAME.fullmatch(name):
        raise InvalidKey("A key set name is 1 to 128 characters: letters, digits and . _ ~ - (it must not start "
                         "with a punctuation mark, nor hold '/', '#' or ':').")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidKey(f"Set names starting with '{RESERVED_PREFIX}' are reserved for the stack's own keys "
                         f"({', '.join(KMS_SETS)}).")


def check_kid(kid: str) -> None:
    if not KID.fullmatch(kid):
        raise InvalidKey("A kid is 1 to 128 characters: letters, digits and . _ ~ : + = @ - (never '/', '#', '%', "
                         "'?' or spaces).")


# ---------------------------------------------------------------- generation


def generate(alg: str, kid: str, use: str) -> dict[str, Any]:
    """A new private JWK for ``alg`` (``kid`` empty: a random UUID), from ``cryptography``."""
    from jose import jwk

    if alg not in ALGORITHMS:
        raise InvalidKey(f"alg must be one of {', '.join(ALGORITHMS)} (python-jose has no EdDSA or PS*).")
    _check_use(alg, use)
    kid = kid or str(uuid.uuid4())
    check_kid(kid)
    exported = jwk.construct(_new_key(alg), alg).to_dict()
    return _canonical(exported, kid=kid, alg=alg, use=use)


def _new_key(alg: str) -> Any:
    import os

    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    kty, size = ALGORITHMS[alg]
    if kty == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    if kty == "EC":
        curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[size]
        return ec.generate_private_key(curve)
    return os.urandom(size)


def _check_use(alg: str, use: str) -> None:
    if use not in USES:
        raise InvalidKey("use must be 'sig' or 'enc'.")
    if use == "enc" and ALGORITHMS[alg][0] == "oct":
        raise InvalidKey(f"{alg} is a MAC algorithm: its keys only sign (use 'sig').")


def _canonical(exported: dict[str, Any], *, kid: str, alg: str, use: str) -> dict[str, Any]:
    """The members of a key in one order: kty, kid, alg, use, then the key's own (jose's names)."""
    kty = exported["kty"]
    out: dict[str, Any] = {"kty": kty, "kid": kid, "alg": alg, "use": use}
    for name in (*MEMBERS[kty], *PRIVATE_MEMBERS[kty]):
        if name in exported and name not in out:
            out[name] = exported[name]
    return out


# ---------------------------------------------------------------- uploads


def validate(key: dict[str, Any]) -> dict[str, Any]:
    """An uploaded JWK, checked and in canonical form: string members of one key type only, ``alg``
    one of :data:`ALGORITHMS` and fitting the key (RSA for RS*, the named curve for ES*, a long enough
    secret for HS*), a valid ``kid``, ``use`` sig or enc (``sig`` when absent), and a key python-jose
    (over ``cryptography``) accepts: a private part that does not belong to its public part is refused."""
    for name, value in key.items():
        if not isinstance(value, str):
            raise InvalidKey(f"JWK member '{name}' must be a string.")
    kty, alg, kid = key.get("kty", ""), key.get("alg", ""), key.get("kid", "")
    use = key.get("use") or "sig"
    if kty not in MEMBERS:
        raise InvalidKey("kty must be RSA, EC or oct.")
    if alg not in ALGORITHMS:
        raise InvalidKey(f"alg must be one of {', '.join(ALGORITHMS)} (python-jose has no EdDSA or PS*).")
    check_kid(kid)
    _check_use(alg, use)
    expected_kty, size = ALGORITHMS[alg]
    if kty != expected_kty:
        raise InvalidKey(f"A {kty} key cannot be used with {alg} (it needs a{'n' if expected_kty != 'oct' else ''} "
                         f"{expected_kty} key).")
    allowed = {*COMMON_MEMBERS, *MEMBERS[kty], *PRIVATE_MEMBERS[kty]}
    foreign = sorted(set(key) - allowed)
    if foreign:
        raise InvalidKey(f"Member(s) {', '.join(foreign)} do not belong to a {kty} key here (one key type per JWK; "
                         "x5c, key_ops and other optional members are not kept).")
    _check_material(key, kty, size)
    return _canonical(_construct(key, alg), kid=kid, alg=alg, use=use)


_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _decoded_length(value: str, member: str) -> int:
    if not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        raise InvalidKey(f"JWK member '{member}' is not base64url (RFC 7515 section 2, no padding).")
    return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def _check_material(key: dict[str, Any], kty: str, size: Any) -> None:
    missing = [name for name in MEMBERS[kty] if not key.get(name)]
    if missing:
        raise InvalidKey(f"A {kty} key needs {', '.join(missing)}.")
    if kty == "RSA":
        bits = _decoded_length(key["n"], "n") * 8
        if not RSA_BITS[0] <= bits <= RSA_BITS[1]:
            raise InvalidKey(f"RSA keys have {RSA_BITS[0]} to {RSA_BITS[1]} bits.")
        private = [name for name in PRIVATE_MEMBERS["RSA"] if name in key]
        if private and "d" not in private:
            raise InvalidKey("An RSA private key needs d (its other private members are optional).")
    elif kty == "EC" and key["crv"] != size:
        raise InvalidKey(f"{key['alg']} needs curve {size}.")
    elif kty == "oct":
        length = _decoded_length(key["k"], "k")
        if not size <= length <= MAX_SECRET_BYTES:
            raise InvalidKey(f"{key['alg']} secrets have {size} to {MAX_SECRET_BYTES} bytes (RFC 7518 3.2).")


def _construct(key: dict[str, Any], alg: str) -> dict[str, Any]:
    from jose import jwk
    from jose.exceptions import JOSEError

    try:
        return jwk.construct({k: v for k, v in key.items() if k != "use"}, alg).to_dict()
    except (JOSEError, ValueError, TypeError) as exc:  # never echo the exception: it may quote key material
        raise InvalidKey(f"The {key['kty']} key is not a valid {alg} key ({type(exc).__name__}).") from None


def check_upload(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A whole uploaded set: each key valid, kids unique, at most :data:`MAX_KEYS`."""
    if len(keys) > MAX_KEYS:
        raise InvalidKey(f"A key set holds at most {MAX_KEYS} keys.")
    checked = [validate(key) for key in keys]
    kids = [key["kid"] for key in checked]
    duplicates = sorted({kid for kid in kids if kids.count(kid) > 1})
    if duplicates:
        raise InvalidKey(f"Each kid appears once in a set: {', '.join(duplicates)} more than once.")
    return checked


# ---------------------------------------------------------------- the stored sets


@dataclass(frozen=True)
class KeySet:
    name: str
    keys: list[dict[str, Any]]
    version: int


def _context(name: str) -> str:
    return store.row_key(name)


def load(name: str) -> KeySet | None:
    row = store.get(name)
    if row is None:
        return None
    sealed, version = row
    try:
        keys = json.loads(sealing.unseal(sealed, _context(name)))
    except sealing.Unsealable:
        raise Unreadable(name) from None
    return KeySet(name, keys, version)


def get_set(name: str) -> KeySet:
    found = load(name)
    if found is None or not found.keys:
        raise SetNotFound(name)
    return found


def get_key(name: str, kid: str) -> dict[str, Any]:
    for key in get_set(name).keys:
        if key["kid"] == kid:
            return key
    raise KeyNotFound(kid)


def _write(name: str, keys: list[dict[str, Any]], version: int | None) -> bool:
    sealed = sealing.seal(json.dumps(keys, separators=(",", ":")), _context(name))
    return store.put(name, sealed, version)


def _change(name: str, change: Any) -> Any:
    """Apply ``change(current keys) -> (new keys, result)`` under the row's version; a few rounds when
    a concurrent writer wins, then Changed."""
    for _ in range(_ATTEMPTS):
        current = load(name)
        keys, result = change(list(current.keys) if current else [])
        if len(keys) > MAX_KEYS:
            raise SetFull(name)
        if _write(name, keys, current.version if current else None):
            return result
    raise Changed(name)


def add_generated(name: str, alg: str, kid: str, use: str) -> list[dict[str, Any]]:
    """POST: a new key in the set (made if absent); the set of the new key alone, as Hydra answers."""
    new = generate(alg, kid, use)

    def change(keys: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if any(key["kid"] == new["kid"] for key in keys):
            raise KidTaken(new["kid"])
        return [*keys, new], [new]

    return _change(name, change)


def replace_set(name: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PUT of the set: exactly ``keys`` (already checked by :func:`check_upload`)."""
    return _change(name, lambda _current: (keys, keys))


def put_key(name: str, key: dict[str, Any]) -> dict[str, Any]:
    """PUT of one key (checked by :func:`validate`): replaces the key of its kid, else joins the set."""

    def change(keys: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        if any(old["kid"] == key["kid"] for old in keys):
            return [key if old["kid"] == key["kid"] else old for old in keys], key
        return [*keys, key], key

    return _change(name, change)


def delete_set(name: str) -> None:
    if not store.delete(name):
        raise SetNotFound(name)


def delete_key(name: str, kid: str) -> None:
    """One key out of its set; the set's row goes with its last key."""
    for _ in range(_ATTEMPTS):
        current = load(name)
        if current is None or all(key["kid"] != kid for key in current.keys):
            raise KeyNotFound(kid)
        rest = [key for key in current.keys if key["kid"] != kid]
        done = store.delete(name, current.version) if not rest else _write(name, rest, current.version)
        if done:
            return
    raise Changed(name)
