"""Making signing keys: a new KMS or envelope key and the steps to roll it in (``runbook``), and the
scheduled rotation (``scheduled_step``). Operators rotate through the API (``hydra-lambda keys rotate``).

Rotation never breaks a verifier when done in three deploys (``SIGNING_KEYS`` is an ordered list:
the first signs, all are published):

1. publish: append the new key (``old,new``); relying parties see it in the JWKS;
2. switch, once every cached JWKS has expired (``JWKS_MAX_AGE`` after step 1): ``new,old``;
3. retire, once every token the old key signed has expired (``ID_TOKEN_LIFESPAN`` after step 2,
   plus the JWKS max-age): ``new``.
"""

from __future__ import annotations

import math

from hydra_lambda import clock, keys
from hydra_lambda.aws import client
from hydra_lambda.config import get_settings
from hydra_lambda.keys.policy import key_policy
from hydra_lambda.storage import locks

KEY_SPECS = ("RSA_2048", "RSA_4096", "ECC_NIST_P256")
STACK_TAG = "hydra-lambda:stack"
ROTATED_TAG = "hydra-lambda:scheduled-rotation"
# How long relying parties may cache /.well-known/jwks.json (the Cache-Control max-age).
JWKS_MAX_AGE = 3600


def create_kms_key(key_spec: str, stack: str = "", *, scheduled: bool = False) -> str:
    """A new asymmetric SIGN_VERIFY key; returns its id."""
    tags = [{"TagKey": STACK_TAG, "TagValue": stack}] if stack else []
    if scheduled:
        tags.append({"TagKey": ROTATED_TAG, "TagValue": "true"})
    settings = get_settings()
    policy = key_policy(settings.signing_key_signer_roles, settings.signing_key_reader_roles)
    created = client("kms").create_key(
        KeySpec=key_spec, KeyUsage="SIGN_VERIFY", Tags=tags, **({"Policy": policy} if policy else {}),
        Description=f"hydra-lambda ID token signing key{f' ({stack})' if stack else ''}, created by keys rotate",
    )
    return created["KeyMetadata"]["KeyId"]


def create_envelope_key(key_spec: str, kms_key: str, secret_name: str) -> str:
    """A new locally generated key, sealed under ``kms_key`` into a new secret; returns the secret ARN."""
    from hydra_lambda.keys.envelope import generate, seal  # lazy: 30 ms, not on the rotation schedule's path

    secret = seal(generate(key_spec), kms_key)
    created = client("secretsmanager").create_secret(
        Name=secret_name, SecretString=secret, Description="hydra-lambda ID token signing key (envelope mode)"
    )
    return created["ARN"]


def runbook(current: list[str], new: str, id_token_lifespan: int) -> str:
    publish = ",".join([*current[:1], new, *current[1:]]) if current else new
    switch = ",".join([new, *current])
    retire = new
    wait_switch = JWKS_MAX_AGE
    wait_retire = id_token_lifespan + JWKS_MAX_AGE
    steps = [
        ("1. publish, now:", publish),
        (f"2. switch, {wait_switch}s or more after step 1:", switch),
        (f"3. retire, {wait_retire}s or more after step 2:", retire),
    ]
    width = max(len(label) for label, _ in steps)
    lines = [
        "Rotation steps (each is a deploy: sam deploy --parameter-overrides SigningKeys=<value>):",
        *(f"  {label.ljust(width)}  SIGNING_KEYS={value}" for label, value in steps),
        "Then disable the old key(s) (aws kms disable-key) and schedule their deletion when nothing needs them.",
    ]
    if not current:
        lines = [f"First key: SIGNING_KEYS={new}"]
    return "\n".join(lines)


# Scheduled rotation (template parameter KeyRotationSchedule): SIGNING_KEYS is then
# "<alias>,<alias>-next,<alias>-previous" and every run is one step of the same three-step rotation,
# pipelined: the key published one run ago starts signing, the one that signed until now is kept
# for verification one more interval, and the one before is disabled and, once it has left the
# JWKS that way, scheduled for deletion after ``deletion_window_days`` (KMS allows 7 to 30 days, during
# which `aws kms cancel-key-deletion` brings it back).
DELETION_WINDOW_DAYS = (7, 30)


def _alias_target(alias: str) -> str | None:
    kms = client("kms")
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    except kms.exceptions.NotFoundException:
        return None


def _point(alias: str, key_id: str) -> None:
    kms = client("kms")
    try:
        kms.update_alias(AliasName=alias, TargetKeyId=key_id)
    except kms.exceptions.NotFoundException:
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)


def _made_by_schedule(key_id: str) -> bool:
    tags = client("kms").list_resource_tags(KeyId=key_id).get("Tags", [])
    return {"TagKey": ROTATED_TAG, "TagValue": "true"} in tags


def scheduled_step(alias: str, key_spec: str = "RSA_2048", stack: str = "",
                   deletion_window_days: int | None = None) -> dict[str, str | None]:
    """One scheduled rotation: previous <- current <- next <- a new key; the old previous is disabled
    (only keys this schedule created: never the stack's own key or one an operator made) and, with
    ``deletion_window_days``, scheduled for deletion after that many days."""
    if key_spec not in KEY_SPECS:
        raise ValueError(f"key_spec must be one of {', '.join(KEY_SPECS)}")
    low, high = DELETION_WINDOW_DAYS
    if deletion_window_days is not None and not low <= deletion_window_days <= high:
        raise ValueError(f"deletion_window_days must be between {low} and {high}")
    next_alias, previous_alias = f"{alias}-next", f"{alias}-previous"
    current, upcoming, previous = (_alias_target(a) for a in (alias, next_alias, previous_alias))
    if current is None:
        raise ValueError(f"{alias} does not exist: nothing to rotate")
    new = create_kms_key(key_spec, stack, scheduled=True)
    retired: str | None = None
    if upcoming is not None:
        _point(previous_alias, current)
        _point(alias, upcoming)
        retired = previous
        current, previous = upcoming, current
    _point(next_alias, new)
    if retired is not None and retired not in {current, previous, new} and _made_by_schedule(retired):
        client("kms").disable_key(KeyId=retired)
        if deletion_window_days is not None:
            client("kms").schedule_key_deletion(KeyId=retired, PendingWindowInDays=deletion_window_days)
    else:
        retired = None
    return {"current": current, "next": new, "previous": previous, "disabled": retired,
            "deletion_scheduled": retired if retired is not None and deletion_window_days is not None else None}


# One rotation step on request (POST /keys/hydra.openid.id-token, which `keys rotate` calls): the
# same step as the schedule, for deployments that sign through the alias triple.
# Each algorithm rotates its own set (SIGNING_KEYS_PS256, SIGNING_KEYS_ES256) when configured; RS256, and
# ES256 without its own set, rotate SIGNING_KEYS (whose key type then decides its algorithm).
ALGORITHM_KEY_SPECS = {"RS256": "RSA_2048", "PS256": "RSA_2048", "ES256": "ECC_NIST_P256"}
# Longer than any step takes (a CreateKey and a few alias moves) and than the function's timeout.
ROTATION_LEASE_SECONDS = 120


class NotRotatable(ValueError):
    """This deployment does not sign through ``<alias>,<alias>-next,<alias>-previous``."""


class RotationInProgress(RuntimeError):
    """Another rotation holds the lease."""


class RotationTooSoon(RuntimeError):
    """The last step ran less than :func:`minimum_interval` ago."""

    def __init__(self, seconds_left: int, interval: int) -> None:
        super().__init__(
            f"The last rotation step ran less than {interval} s ago (the minimum interval: the longer of the "
            f"JWKS cache max-age, {JWKS_MAX_AGE} s, and ID_TOKEN_LIFESPAN, plus SIGNING_KEYS_CACHE_SECONDS): "
            f"another step now would make a key sign before every cached JWKS knows it, or drop a key whose "
            f"ID tokens are still valid. Try again in {seconds_left} s, or, if a key is compromised, send "
            '"force": true to rotate at once.'
        )
        self.seconds_left, self.interval = seconds_left, interval


def minimum_interval() -> int:
    """Seconds between two steps. A step publishes a key that the next step makes sign, and retires
    the key that stopped signing at the step before; other containers follow within
    SIGNING_KEYS_CACHE_SECONDS. So the next step must wait until every relying party's cached JWKS has
    the new key (the JWKS max-age after the last container serves it) and every ID token and JWT
    access token (RFC 9068) the retired key signed has expired (ID_TOKEN_LIFESPAN, ACCESS_TOKEN_LIFESPAN
    after the last container signed with it; a client's longer own lifespan is not waited for)."""
    settings = get_settings()
    signed_for = max(settings.id_token_lifespan, settings.access_token_lifespan)
    return max(JWKS_MAX_AGE, signed_for) + settings.signing_keys_cache_seconds


def _last_step_at(alias: str) -> float | None:
    """When the last step ran: the KMS ``CreationDate`` of the key it made and put behind
    ``<alias>-next`` (set by KMS, never changed, read through DescribeKey); None before the first."""
    kms = client("kms")
    try:
        created = kms.describe_key(KeyId=f"{alias}-next")["KeyMetadata"].get("CreationDate")
    except kms.exceptions.NotFoundException:
        return None
    return created.timestamp() if created is not None else None


def _check_interval(alias: str) -> None:
    last = _last_step_at(alias)
    if last is None:
        return
    interval = minimum_interval()
    left = math.ceil(last + interval - clock.now())
    if left > 0:
        raise RotationTooSoon(left, interval)


def rotating_set(alg: str) -> tuple[str, tuple[str, ...]]:
    """The setting and the refs of the set a step for ``alg`` rotates: its dedicated set when
    configured, else SIGNING_KEYS (RS256, or ES256 as before dedicated sets); PS256 needs its own."""
    dedicated = keys.DEDICATED_SETS.get(alg)
    refs = tuple(getattr(get_settings(), dedicated.lower())) if dedicated else ()
    if refs and dedicated:
        return dedicated, refs
    if alg == "PS256":
        raise NotRotatable("SIGNING_KEYS_PS256 is not configured: there is no PS256 key set to rotate")
    return keys.DEFAULT_SET, get_settings().signing_keys


def rotating_alias(signing_mode: str, signing_keys: tuple[str, ...], setting: str = "SIGNING_KEYS") -> str:
    """The alias the step moves, if the set (``setting``) is the alias triple in kms mode."""
    if signing_mode != "kms":
        raise NotRotatable(
            "SIGNING_MODE=envelope: the signing keys are Secrets Manager secrets, which this API does not "
            "rotate; make a new one with `hydra-lambda-keys envelope` and deploy the steps it prints"
        )
    alias = signing_keys[0] if signing_keys else ""
    if not alias.startswith("alias/") or tuple(signing_keys) != (alias, f"{alias}-next", f"{alias}-previous"):
        raise NotRotatable(
            f"{setting} is {','.join(signing_keys) or 'empty'}, not <alias>,<alias>-next,<alias>-previous: "
            "this API rotates only the stack's own KMS key (deploy with SigningKeys empty, optionally with a "
            "KeyRotationSchedule); keys you chose yourself are rotated by deploys, see `hydra-lambda-keys kms` "
            "and the README section 'Rotating the ID token signing key'"
        )
    return alias


def _stack_of(key_id: str) -> str:
    """The hydra-lambda:stack tag of the key behind the alias: the new key is tagged the same."""
    tags = client("kms").list_resource_tags(KeyId=key_id).get("Tags", [])
    return next((tag["TagValue"] for tag in tags if tag["TagKey"] == STACK_TAG), "")


def locked_step(alias: str, key_spec: str = "RSA_2048", stack: str = "",
                deletion_window_days: int | None = None, *, force: bool = False) -> dict[str, str | None]:
    """``scheduled_step`` under a lease on the alias, which the schedule and the API both take, so two
    steps never interleave their alias moves (two unguarded steps could both read the same aliases and
    leave ``-previous`` equal to the signing key, disable a key that still signs, or orphan a new key).
    RotationInProgress when another step holds it; RotationTooSoon within :func:`minimum_interval` of
    the last step unless ``force`` (a compromised key: its tokens must stop verifying now)."""
    owner = locks.acquire(f"key-rotation:{alias}", ROTATION_LEASE_SECONDS)
    if owner is None:
        raise RotationInProgress("Another rotation of the signing keys is in progress; try again when it is done")
    try:
        if not force:
            _check_interval(alias)
        return scheduled_step(alias, key_spec, stack, deletion_window_days)
    finally:
        locks.release(f"key-rotation:{alias}", owner)
        keys.forget()  # this container serves the new set at once; others within SIGNING_KEYS_CACHE_SECONDS


def rotate_now(alg: str, deletion_window_days: int | None, *, force: bool = False) -> dict[str, str | None]:
    """One step on request (POST /keys/hydra.openid.id-token) of the set of ``alg`` (see
    :func:`rotating_set`), for sets that sign through an alias triple; the new key is tagged for the
    stack of the key it will replace."""
    if alg not in ALGORITHM_KEY_SPECS:
        raise ValueError(f"alg must be one of {', '.join(ALGORITHM_KEY_SPECS)}")
    setting, refs = rotating_set(alg)
    alias = rotating_alias(get_settings().signing_mode, refs, setting)
    current = _alias_target(alias)
    stack = _stack_of(current) if current is not None else ""
    return locked_step(alias, ALGORITHM_KEY_SPECS[alg], stack, deletion_window_days, force=force)
