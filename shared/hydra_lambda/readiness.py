"""Is this function ready to serve (``/health/ready``)? What every token-serving request needs, each
checked cheaply: the clients and tokens tables answer (one GetItem of a missing key each, the data
plane), the signing keys load (cached per container: no AWS call when warm) and the system secret
loads (cached likewise). The answer is kept ``READY_CACHE_SECONDS`` per container, failures too, so a
load balancer or an uptime checker polling the route costs DynamoDB at most two half read units per
container per window, and a failing dependency is not hammered.

The failures are named by what failed, never by the exception: the route is public, and an error
text can carry table names, ARNs or endpoints. The exception goes to the log (its type and AWS
error code only)."""

from __future__ import annotations

from collections.abc import Callable

from hydra_lambda import keys, system_secret
from hydra_lambda.cache import TimedCache
from hydra_lambda.observability import logger
from hydra_lambda.storage import health as probes

READY_CACHE_SECONDS = 5.0

# The checks in order, each with the words that name its failure.
CHECKS: tuple[tuple[str, str, Callable[[], object]], ...] = (
    ("clients_table", "the clients table does not answer", probes.probe_clients_table),
    ("tokens_table", "the tokens table does not answer", probes.probe_tokens_table),
    ("signing_keys", "the signing keys cannot be read", keys.all_keys),
    ("system_secret", "the system secret cannot be read", system_secret.keys),
)

_answers: TimedCache[str, tuple[tuple[str, str], ...]] = TimedCache(
    "readiness", lambda: READY_CACHE_SECONDS, max_entries=1)


def failures() -> dict[str, str]:
    """``{check: what failed}`` for every check that failed now or within the cache window; {} when ready."""
    found = _answers.get("ready")
    if found is None:
        found = _answers.put("ready", tuple(_run()))
    return dict(found)


def _run() -> list[tuple[str, str]]:
    failed = []
    for name, text, check in CHECKS:
        try:
            check()
        except Exception as exc:  # any failure means not ready; what it was goes to the log only
            logger.warning("readiness check failed", extra={"check": name, "error": _kind(exc)})
            failed.append((name, text))
    return failed


def _kind(exc: BaseException) -> str:
    """The exception's type, its AWS error code when it has one, and its cause's type (no message)."""
    response = getattr(exc, "response", None) or {}
    code = getattr(exc, "cause_response_code", None) or response.get("Error", {}).get("Code")
    cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else ""
    return ":".join(part for part in (type(exc).__name__, code or "", cause) if part)
