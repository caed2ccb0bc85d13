"""CORS for browser-based callers, configured by ``CORS_ALLOWED_ORIGINS`` (comma-separated origins,
or ``*``). Off by default, and never on ``/oauth2/auth``: that endpoint is navigated to, not fetched,
and answering it cross-origin would only help an attacker read authorization responses."""

from __future__ import annotations

from typing import Any

from hydra_lambda.config import get_settings

NEVER = frozenset({"/oauth2/auth"})
ALLOWED_HEADERS = "Authorization, Content-Type, X-Request-ID"
MAX_AGE = "600"


def allowed_origin(event: dict[str, Any]) -> str | None:
    """The value of Access-Control-Allow-Origin for this request, or None for no CORS."""
    origins = get_settings().cors_allowed_origins
    origin = (event.get("headers") or {}).get("origin")
    if not origins or not origin or event.get("rawPath") in NEVER:
        return None
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def is_preflight(event: dict[str, Any]) -> bool:
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
    return method == "OPTIONS" and "access-control-request-method" in (event.get("headers") or {})


def preflight(origin: str, methods: list[str]) -> dict[str, Any]:
    return {
        "statusCode": 204,
        "headers": {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
            "Vary": "Origin",
        },
        "body": "",
        "isBase64Encoded": False,
    }


def decorate(result: dict[str, Any], origin: str) -> dict[str, Any]:
    headers = result.setdefault("headers", {})
    if not any(name.lower() == "access-control-allow-origin" for name in headers):
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = "Location, Link, WWW-Authenticate, Retry-After"
        headers["Vary"] = "Origin"
    return result
