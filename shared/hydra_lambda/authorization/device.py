"""The device authorization grant (RFC 8628) without HTTP: the device authorization request, the user
code the device page accepts, and the token endpoint's polling.

- ``start``: a device code (256 random bits; only its digest is stored) and a user code (8 letters
  of a 20-letter alphabet without vowels, ``BCDF-GHJK``: 20^8 ~ 2^34.6, RFC 8628 section 6.1; only
  its HMAC under the system secret is stored), valid ``DEVICE_CODE_LIFESPAN``.
- ``accept_user_code``: the device page's admin call; each device challenge allows
  ``MAX_GUESSES`` wrong user codes, then refuses every code, the right one too (section 5.1).
- ``poll``: ``authorization_pending`` while the user is on the way, ``slow_down`` when polled
  faster than the interval (which then grows by 5 s), ``expired_token``, ``access_denied``; once
  approved, the tokens of the grant's authorization code, redeemed once (the issuer's conditional
  transaction: of two racing polls exactly one receives tokens).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from hydra_lambda import clock, sealing, system_secret
from hydra_lambda.clients.model import Client
from hydra_lambda.config import get_settings
from hydra_lambda.errors import (
    AccessDenied,
    AuthorizationPending,
    BadRequest,
    ExpiredToken,
    Gone,
    InvalidGrant,
    NotFound,
    SlowDown,
)
from hydra_lambda.storage import device as store
from hydra_lambda.tokens import issuer, lookup
from hydra_lambda.tokens.issuer import TokenResponse

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 section 6.1's example: no vowels, no look-alikes
USER_CODE_LENGTH = 8
INTERVAL = 5  # seconds between polls (RFC 8628 section 3.2's default)
MAX_GUESSES = 5  # wrong user codes per device challenge
_CREATE_ATTEMPTS = 4  # user codes drawn before giving up (a live code already holds the key)
_USER_CODE_LABEL = b"hydra-lambda user code\x00"
_DEVICE_VERIFIER_LABEL = b"hydra-lambda device verifier\x00"
_SEAL_CONTEXT = "device-code-grant"
LIFESPAN_GRANT = "device_authorization"  # the client's device_authorization_grant_*_lifespan


@dataclass(frozen=True)
class DeviceAuthorization:
    """What ``start`` answers (RFC 8628 section 3.2)."""

    device_code: str
    user_code: str
    expires_in: int
    interval: int


# ---------------------------------------------------------------------------------------------
# Codes


def new_user_code() -> str:
    """``XXXX-XXXX`` from the alphabet, uniformly (``secrets.choice``)."""
    raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_user_code(given: str) -> str | None:
    """The code as typed, case-insensitive, dashes and spaces ignored (RFC 8628 section 6.1); None
    when it cannot be a user code."""
    cleaned = "".join(ch for ch in given[:64].upper() if ch not in "- \t")
    if len(cleaned) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in cleaned):
        return None
    return cleaned


def _user_code_keys(normalized: str) -> list[str]:
    """The row key of a user code under each system secret (the signing one first)."""
    return [hmac.new(key, _USER_CODE_LABEL + normalized.encode(), hashlib.sha256).hexdigest()
            for key in system_secret.keys()]


def device_signature(device_code: str) -> str:
    return hashlib.sha256(b"device code\x00" + device_code.encode("utf-8", "surrogatepass")).hexdigest()


def device_verifier(challenge: str) -> str:
    """What the admin accept hands out (in ``redirect_to``) so the browser can go on: an HMAC of the
    challenge under the system secret, never stored."""
    digest = hmac.new(system_secret.keys()[0], _DEVICE_VERIFIER_LABEL + challenge.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def device_verifier_matches(challenge: str, value: str) -> bool:
    found = False
    for key in system_secret.keys():
        digest = hmac.new(key, _DEVICE_VERIFIER_LABEL + challenge.encode(), hashlib.sha256).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        found |= hmac.compare_digest(expected.encode(), value.encode())
    return found and bool(value)


# ---------------------------------------------------------------------------------------------
# The device authorization request


def start(client: Client, scopes: list[str]) -> DeviceAuthorization:
    """Store a new device grant for ``client`` asking ``scopes`` (already checked)."""
    lifespan = get_settings().device_code_lifespan
    device_code = secrets.token_urlsafe(32)
    grant = store.DeviceGrant(signature=device_signature(device_code), client_id=client.id, scopes=list(scopes),
                              expires_at=clock.now_int() + lifespan, interval=INTERVAL)
    for _ in range(_CREATE_ATTEMPTS):
        user_code = new_user_code()
        try:
            store.create_grant(grant, _user_code_keys(normalize_user_code(user_code) or "")[0])
        except store.ConditionFailed:
            continue  # a live user code holds this key: draw another
        return DeviceAuthorization(device_code=device_code, user_code=user_code, expires_in=lifespan,
                                   interval=INTERVAL)
    raise RuntimeError("no free user code after several draws")  # 2^34 codes: never in practice


# ---------------------------------------------------------------------------------------------
# The device page's admin call


def accept_user_code(challenge_id: str, user_code: str) -> str:
    """Bind the device challenge to the device grant of ``user_code``; the device verifier. 404 for
    an unknown challenge, 410 once answered or out of guesses, 400 for a wrong code (a guess)."""
    challenge = store.get_challenge(challenge_id)
    if challenge is None:
        raise NotFound("The device challenge does not exist or has expired.")
    if challenge.state != store.PENDING:
        raise Gone("The device challenge was already answered; start again at the verification URI.")
    if challenge.attempts >= MAX_GUESSES:
        raise Gone("Too many wrong user codes were entered for this device challenge; start again at the "
                   "verification URI.")
    normalized = normalize_user_code(user_code)
    found = store.find_user_code(_user_code_keys(normalized)) if normalized else None
    if found is None:
        raise _miss(challenge_id)
    key, signature = found
    try:
        store.accept_challenge(challenge_id, key, signature, MAX_GUESSES)
    except store.ConditionFailed:
        raise _miss(challenge_id) from None
    return device_verifier(challenge_id)


def _miss(challenge_id: str) -> Exception:
    """A wrong (or used, or expired) user code: one guess less."""
    try:
        left = MAX_GUESSES - store.count_miss(challenge_id, MAX_GUESSES)
    except store.ConditionFailed:
        return Gone("Too many wrong user codes were entered for this device challenge, or it was answered "
                    "meanwhile; start again at the verification URI.")
    return BadRequest(f"The user code is invalid, expired or already used ({left} attempts left).")


# ---------------------------------------------------------------------------------------------
# The token endpoint


def poll(client: Client, device_code: str) -> TokenResponse:
    """The token endpoint's answer to a device polling with ``device_code``."""
    grant = store.get_grant(device_signature(device_code))
    if grant is None or grant.client_id != client.id:
        raise InvalidGrant("The device code is invalid or was issued to another client.")
    if grant.expired:
        raise ExpiredToken()
    if grant.state == store.DENIED:
        raise AccessDenied("The user denied the device authorization.", status=400)
    if grant.state == store.PENDING:
        if not store.poll(grant.signature, grant.interval):
            raise SlowDown(f"Poll at most every {grant.interval + 5} seconds.")
        raise AuthorizationPending()
    return _redeem(client, grant)


def _redeem(client: Client, grant: store.DeviceGrant) -> TokenResponse:
    """The approved grant's tokens: its authorization code redeemed once (a conditional transaction)."""
    try:
        code = sealing.unseal(grant.code_sealed or "", _SEAL_CONTEXT)
    except sealing.Unsealable:
        raise InvalidGrant("The device code can no longer be redeemed.") from None
    row = lookup.find(code, ("code",), include_used=True)
    if row is None:
        raise ExpiredToken("The device authorization expired before the device redeemed it.")
    if row.used_at is not None or row.client_id != client.id:
        raise InvalidGrant("The device code was already used.")
    response = issuer.issue_from(client, row, include_nonce=False, grant=LIFESPAN_GRANT)
    if response is None:
        raise InvalidGrant("The device code was already used.")
    return response


def approve(device_sig: str, code: str) -> None:
    """Record the grant's authorization code (sealed) on the pending device row; ConditionFailed when
    the row expired or was answered meanwhile."""
    store.approve(device_sig, sealing.seal(code, _SEAL_CONTEXT))
