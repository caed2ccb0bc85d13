"""Which exceptions mean "a dependency is briefly unavailable" (answer 503, the caller may retry)."""

from __future__ import annotations

_THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
        "InternalServerError",
        "ServiceUnavailable",
        "KMSInternalException",
        "DependencyTimeoutException",
        "KeyUnavailableException",
        "DisabledException",
        "InternalServiceError",
    }
)


def is_transient(exc: BaseException) -> bool:
    """True for throttling, timeouts and connection failures of AWS services, however wrapped."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if name in {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"}:
            return True
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = (response.get("Error") or {}).get("Code", "")
            if code in _THROTTLE_CODES:
                return True
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__ or current.__context__
    return False
