"""The device authorization grant's rows (RFC 8628), in the tokens table (``tables.DeviceRecord``):

- the device code's row (``device#<n>``, keyed by a digest of the code): client, scopes, state
  (pending -> approved | denied), polling interval and last poll, and once approved the grant's
  authorization code, sealed;
- the user code's row (``user_code#<n>``, keyed by an HMAC of the code), naming the device row; it
  is deleted when a user code is accepted (so each is accepted once);
- the device challenge's row (``device_challenge#<n>``): one browser's visit to the device page,
  bound by a cookie (its hash here), counting wrong user codes.

Every change of state is one conditional write (or one transaction of them): of two racing
requests exactly one wins. Reads are consistent and treat a past ``expires_at`` as absent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from hydra_lambda import clock
from hydra_lambda.storage.tables import (
    DeviceRecord,
    connection,
    ensure_bound,
    is_condition_failure,
    unwrap,
)

SHARDS = 16
PENDING, APPROVED, DENIED, ACCEPTED, USED = "pending", "approved", "denied", "accepted", "used"


class ConditionFailed(Exception):
    """The row was not in the state the write expected (used, expired, gone, or a race lost)."""


@dataclass
class DeviceGrant:
    signature: str
    client_id: str
    scopes: list[str]
    expires_at: int
    state: str = PENDING
    interval: int = 5
    code_sealed: str | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at <= clock.now()


@dataclass
class Challenge:
    id: str
    csrf_hash: str
    expires_at: int
    state: str = PENDING
    attempts: int = 0
    target: str = ""

    @property
    def expired(self) -> bool:
        return self.expires_at <= clock.now()


def _shard(kind: str, signature: str) -> str:
    return f"{kind}#{int(hashlib.sha256(signature.encode()).hexdigest()[:8], 16) % SHARDS}"


def _ttl(expires_at: int) -> datetime:
    return datetime.fromtimestamp(expires_at, UTC)


def _get(kind: str, signature: str, *, expired_too: bool = False) -> DeviceRecord | None:
    try:
        row = connection().get(DeviceRecord, _shard(kind, signature), signature, consistent_read=True)
    except DeviceRecord.DoesNotExist:
        return None
    return None if row.expires_at <= clock.now_int() and not expired_too else row


def _update(kind: str, signature: str, actions: list, condition: object) -> DeviceRecord:
    record = DeviceRecord(_shard(kind, signature), signature)
    try:
        return connection().update(record, actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise ConditionFailed from None
        raise unwrap(exc) from exc


def _live() -> object:
    return DeviceRecord.expires_at > clock.now_int()


# ---------------------------------------------------------------------------------------------
# Device codes and user codes


@ensure_bound
def create_grant(grant: DeviceGrant, user_code_key: str) -> None:
    """The device row and its user code's row in one transaction; ConditionFailed when a live user
    code row holds that key (the caller draws another code)."""
    device = DeviceRecord(_shard("device", grant.signature), grant.signature, expires_at=grant.expires_at,
                          ttl=_ttl(grant.expires_at), state=PENDING, client_id=grant.client_id,
                          scopes=list(grant.scopes), interval=grant.interval, last_poll=0)
    user = DeviceRecord(_shard("user_code", user_code_key), user_code_key, expires_at=grant.expires_at,
                        ttl=_ttl(grant.expires_at), target=grant.signature)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(device, condition=DeviceRecord.shard.does_not_exist())
            tx.save(user, condition=DeviceRecord.shard.does_not_exist() | (DeviceRecord.expires_at < clock.now_int()))
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise ConditionFailed from None
        raise unwrap(exc) from exc


@ensure_bound
def get_grant(signature: str) -> DeviceGrant | None:
    """The device row (expired too, until DynamoDB's TTL removes it: ``expired`` says), or None."""
    row = _get("device", signature, expired_too=True)
    if row is None:
        return None
    return DeviceGrant(signature=row.signature, client_id=row.client_id, scopes=list(row.scopes or []),
                       expires_at=int(row.expires_at), state=row.state, interval=int(row.interval),
                       code_sealed=row.code_sealed)


@ensure_bound
def find_user_code(keys: list[str]) -> tuple[str, str] | None:
    """(user code key, device signature) of the first live user code row among ``keys`` (one per
    system secret), or None."""
    for key in keys:
        row = _get("user_code", key)
        if row is not None:
            return key, row.target
    return None


@ensure_bound
def poll(signature: str, interval: int) -> bool:
    """Record a poll of a pending device row: True when the last one was at least ``interval``
    seconds ago; False (slow_down) otherwise, and the row's interval grows by 5 seconds (RFC 8628
    section 3.5). One conditional write each: racing polls cannot both pass."""
    now = clock.now_int()
    try:
        _update("device", signature, [DeviceRecord.last_poll.set(now)],
                (DeviceRecord.last_poll <= now - interval) & (DeviceRecord.state == PENDING))
        return True
    except ConditionFailed:
        pass
    try:
        _update("device", signature, [DeviceRecord.interval.add(5), DeviceRecord.last_poll.set(now)],
                DeviceRecord.state == PENDING)
    except ConditionFailed:
        pass  # answered meanwhile: the next poll sees it
    return False


@ensure_bound
def approve(signature: str, code_sealed: str) -> None:
    """pending -> approved, with the grant's sealed authorization code; ConditionFailed if the row is
    no longer pending or has expired."""
    _update("device", signature, [DeviceRecord.state.set(APPROVED), DeviceRecord.code_sealed.set(code_sealed)],
            (DeviceRecord.state == PENDING) & _live())


@ensure_bound
def deny(signature: str) -> None:
    """pending -> denied (the user or the login/consent app refused); nothing when no longer pending."""
    try:
        _update("device", signature, [DeviceRecord.state.set(DENIED)], (DeviceRecord.state == PENDING) & _live())
    except ConditionFailed:
        pass


# ---------------------------------------------------------------------------------------------
# Device challenges (the device page's requests)


@ensure_bound
def create_challenge(challenge: Challenge) -> None:
    row = DeviceRecord(_shard("device_challenge", challenge.id), challenge.id, expires_at=challenge.expires_at,
                       ttl=_ttl(challenge.expires_at), state=PENDING, csrf_hash=challenge.csrf_hash)
    try:
        connection().save(row, condition=DeviceRecord.shard.does_not_exist())
    except PutError as exc:
        raise unwrap(exc) from exc


@ensure_bound
def get_challenge(challenge_id: str) -> Challenge | None:
    row = _get("device_challenge", challenge_id)
    if row is None:
        return None
    return Challenge(id=row.signature, csrf_hash=row.csrf_hash, expires_at=int(row.expires_at), state=row.state,
                     attempts=int(row.attempts), target=row.target)


@ensure_bound
def count_miss(challenge_id: str, limit: int) -> int:
    """One more wrong user code for a pending challenge; the count, or ConditionFailed when the
    challenge has no guesses left (or is answered or expired)."""
    row = _update("device_challenge", challenge_id, [DeviceRecord.attempts.add(1)],
                  (DeviceRecord.state == PENDING) & (DeviceRecord.attempts < limit) & _live())
    return int(row.attempts)


@ensure_bound
def accept_challenge(challenge_id: str, user_code_key: str, device_signature: str, limit: int) -> None:
    """ONE transaction: the challenge pending -> accepted (naming the device row, guesses left), the
    user code's row deleted (each user code is accepted once) and the device row still pending."""
    now = clock.now_int()
    challenge = DeviceRecord(_shard("device_challenge", challenge_id), challenge_id)
    user = DeviceRecord(_shard("user_code", user_code_key), user_code_key)
    device = DeviceRecord(_shard("device", device_signature), device_signature)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(challenge, actions=[DeviceRecord.state.set(ACCEPTED), DeviceRecord.target.set(device_signature)],
                      condition=(DeviceRecord.state == PENDING) & (DeviceRecord.attempts < limit)
                      & (DeviceRecord.expires_at > now))
            tx.delete(user, condition=DeviceRecord.expires_at > now)
            tx.condition_check(DeviceRecord, device.shard, device.signature,
                               condition=(DeviceRecord.state == PENDING) & (DeviceRecord.expires_at > now))
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise ConditionFailed from None
        raise unwrap(exc) from exc


@ensure_bound
def use_challenge(challenge_id: str) -> None:
    """accepted -> used: the browser redeemed the device verifier once."""
    _update("device_challenge", challenge_id, [DeviceRecord.state.set(USED)],
            (DeviceRecord.state == ACCEPTED) & _live())
