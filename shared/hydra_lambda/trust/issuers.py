"""Trusted issuers of the JWT bearer grant: what a trust may say (validated here, so nothing invalid
is stored), create, read, list, delete, and ``for_assertion``, the lookup the grant makes.

A trust holds a PUBLIC key only: an RSA key of at least 2048 bits (RS256/384/512) or an EC key on the
curve of its algorithm (ES256 P-256, ES384 P-384, ES512 P-521), the algorithms python-jose verifies
(no PS*, no HMAC: a shared secret would have to be stored and could sign for the issuer). A JWK
carrying private members is refused, not trimmed: whoever sent it has leaked it."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hydra_lambda import clock, scopes
from hydra_lambda.clients.model import ASYMMETRIC_ALGS
from hydra_lambda.errors import BadRequest, Conflict, NotFound
from hydra_lambda.storage import trust as store
from hydra_lambda.trust.model import TrustedIssuer, trust_id

MAX_TEXT = 1024  # issuer and subject
MAX_KID = 256
MAX_SCOPES = 100
MIN_RSA_BITS = 2048
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}


@dataclass(frozen=True)
class NewTrust:
    """What a trust request says (the wire body, read)."""

    issuer: str
    subject: str | None
    allow_any_subject: bool
    scope: list[str]
    jwk: dict[str, Any]
    expires_at: datetime


def create(request: NewTrust) -> TrustedIssuer:
    """Validate and store a new trust; BadRequest naming the first problem, Conflict when a trust of
    the same issuer, subject and kid exists."""
    now = clock.now_int()
    trust = TrustedIssuer(
        issuer=_text(request.issuer, "issuer"),
        subject=_subject(request),
        allow_any_subject=request.allow_any_subject,
        scope=_scope(request.scope),
        jwk=public_jwk(request.jwk),
        created_at=now,
        expires_at=_expiry(request.expires_at, now),
    )
    try:
        store.create(trust)
    except store.AlreadyExists:
        raise Conflict(f"A trust of issuer '{trust.issuer[:80]}' for "
                       f"{'any subject' if trust.allow_any_subject else repr(trust.subject[:80])} with the key "
                       f"'{trust.kid[:80]}' exists already (id {trust.id}).") from None
    return trust


def get(trust_id_: str) -> TrustedIssuer:
    trust = store.get(trust_id_) if _is_id(trust_id_) else None
    if trust is None:
        raise NotFound(f"No trusted JWT issuer has the id '{trust_id_[:80]}'.")
    return trust


def delete(trust_id_: str) -> None:
    if not _is_id(trust_id_) or not store.delete(trust_id_):
        raise NotFound(f"No trusted JWT issuer has the id '{trust_id_[:80]}'.")


def page(size: int, after: str, issuer: str | None) -> tuple[list[TrustedIssuer], bool]:
    """Up to ``size`` trusts in id order after the id ``after`` (of ``issuer`` only, when given), and
    whether more follow."""
    out: list[TrustedIssuer] = []
    for trust in store.listed(after):
        if issuer is not None and trust.issuer != issuer:
            continue
        if len(out) == size:
            return out, True
        out.append(trust)
    return out, False


def for_assertion(issuer: str, subject: str, kid: str) -> TrustedIssuer | None:
    """The live trust that lets ``issuer`` assert ``subject`` with the key ``kid``: the one for that
    subject, else the issuer's any-subject trust of that key. One or two consistent reads by key."""
    now = clock.now()
    for candidate in _candidates(issuer, subject, kid):
        trust = store.get(candidate)
        if trust is not None and not trust.expired(now) and (trust.allow_any_subject or trust.subject == subject):
            return trust
    return None


def _candidates(issuer: str, subject: str, kid: str) -> Iterable[str]:
    yield trust_id(issuer, subject, kid)
    yield trust_id(issuer, "", kid)


def _is_id(value: str) -> bool:
    return len(value) == 36 and all(part.isalnum() and part.isascii() for part in value.split("-"))


# ---------------------------------------------------------------------------------------------
# Validation


def _text(value: str, name: str) -> str:
    if not value or not value.strip():
        raise BadRequest(f"Field '{name}' is required.")
    if len(value) > MAX_TEXT or not value.isprintable():
        raise BadRequest(f"Field '{name}' must be printable text of at most {MAX_TEXT} characters.")
    return value


def _subject(request: NewTrust) -> str:
    if request.subject and request.allow_any_subject:
        raise BadRequest("Both 'subject' and 'allow_any_subject' fields cannot be set at the same time.")
    if request.allow_any_subject:
        return ""
    if not request.subject:
        raise BadRequest("One of 'subject' or 'allow_any_subject' field must be set.")
    return _text(request.subject, "subject")


def _scope(given: list[str]) -> list[str]:
    granted = list(dict.fromkeys(given))
    invalid = [scope for scope in granted if not scopes.is_valid_scope(scope)]
    if invalid:
        raise BadRequest(f"'{invalid[0][:80]}' is not a valid scope.")
    if len(granted) > MAX_SCOPES:
        raise BadRequest(f"Field 'scope' may hold at most {MAX_SCOPES} scopes.")
    return granted


def _expiry(moment: datetime, now: int) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = round(moment.timestamp())
    if seconds <= now:
        raise BadRequest("Field 'expires_at' must be in the future: a trust that has expired trusts nothing.")
    if seconds >= 10**10:
        raise BadRequest("Field 'expires_at' is too far in the future.")
    return seconds


def public_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    """The public RSA or EC signing key ``jwk`` names, with its ``kid`` and ``alg``, validated and
    reduced to its public members; BadRequest otherwise."""
    held = sorted(name for name in PRIVATE_MEMBERS if name in jwk)
    if held:
        raise BadRequest(f"Field 'jwk' holds private key material ({', '.join(held)}): send the public key only, "
                         "and treat this one as leaked.")
    kty, kid, alg, use = jwk.get("kty"), jwk.get("kid"), jwk.get("alg"), jwk.get("use", "sig")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID:
        raise BadRequest("Field 'jwk' must contain JWK with kid header.")
    if kty not in _PUBLIC_MEMBERS:
        raise BadRequest("Field 'jwk' must be an RSA or EC public key (kty RSA or EC).")
    if alg not in ASYMMETRIC_ALGS or alg[:2] != {"RSA": "RS", "EC": "ES"}[kty]:
        raise BadRequest(f"Field 'jwk' needs an alg this server verifies for its kty {kty}: "
                         f"{', '.join(a for a in ASYMMETRIC_ALGS if a[:2] == {'RSA': 'RS', 'EC': 'ES'}[kty])}.")
    if use != "sig":
        raise BadRequest("Field 'jwk' must be a signing key (use sig).")
    members = {name: jwk.get(name) for name in _PUBLIC_MEMBERS[kty]}
    if not all(isinstance(value, str) and value for value in members.values()):
        raise BadRequest(f"Field 'jwk' lacks the public members of an {kty} key ({', '.join(members)}).")
    key = {"kty": kty, "kid": kid, "alg": alg, "use": "sig", **members}
    _check_key(key)
    return key


def _check_key(key: dict[str, Any]) -> None:
    from jose import jwk
    from jose.exceptions import JOSEError

    if key["kty"] == "EC" and key["crv"] != _CURVES[key["alg"]]:
        raise BadRequest(f"Field 'jwk': {key['alg']} signs on the curve {_CURVES[key['alg']]}, not {key['crv']}.")
    if key["kty"] == "RSA" and _bits(key["n"]) < MIN_RSA_BITS:
        raise BadRequest(f"Field 'jwk': an RSA key must have at least {MIN_RSA_BITS} bits.")
    try:
        jwk.construct(key, key["alg"])
    except (JOSEError, ValueError, TypeError, KeyError):
        raise BadRequest("Field 'jwk' is not a valid public key (its members do not make one).") from None


def _bits(value: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()
