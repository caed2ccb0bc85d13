"""Which exceptions mean "a dependency is briefly unavailable" (answer 503, the caller may retry)."""

from __future__ import annotations

from typing import Any

_THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "KeyUnavailableException",
        "DisabledException",
        "InternalServiceError",
        "InternalFailure",
        "TransactionInProgressException",
    }
)
# Why DynamoDB cancelled a transaction (TransactionCanceledException carries them): throttling and
# a concurrent transaction on the same item are worth a retry; a failed condition is not.
_TRANSIENT_CANCELLATIONS = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict", "RequestLimitExceeded"}
)
# botocore's network failures (timeouts, refused or dropped connections), by class name so that
# botocore need not be imported here; HTTPClientError and ConnectionError are their bases.
_NETWORK_ERRORS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "HTTPClientError",
        "ProxyConnectionError",
    }
)


def _is_network_error(exc: BaseException) -> bool:
    for cls in type(exc).__mro__:
        if cls.__name__ in _NETWORK_ERRORS:
            return True
        if cls.__name__ == "ConnectionError" and cls.__module__.startswith("botocore"):
            return True
    return False


def _cancellation_codes(exc: BaseException, response: dict[str, Any]) -> set[str]:
    """The reasons of a cancelled transaction: botocore keeps them in the response, pynamodb's
    VerboseClientError in ``cancellation_reasons`` (objects with ``code``, None for fine items)."""
    codes = {(reason or {}).get("Code", "") for reason in response.get("CancellationReasons") or []}
    codes |= {getattr(reason, "code", "") or "" for reason in getattr(exc, "cancellation_reasons", None) or []}
    return codes - {"", "None"}


def _is_transient_response(exc: BaseException, response: dict[str, Any]) -> bool:
    code = (response.get("Error") or {}).get("Code", "")
    if code in _THROTTLE_CODES:
        return True
    if code == "TransactionCanceledException":
        codes = _cancellation_codes(exc, response)
        return bool(codes & _TRANSIENT_CANCELLATIONS) and "ConditionalCheckFailed" not in codes
    return False


def is_transient(exc: BaseException) -> bool:
    """True for throttling, timeouts and connection failures of AWS services, however wrapped
    (pynamodb keeps the botocore error in ``cause``; ``raise ... from`` keeps it in ``__cause__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_network_error(current):
            return True
        response = getattr(current, "response", None)
        if isinstance(response, dict) and _is_transient_response(current, response):
            return True
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__ or current.__context__
    return False
