"""The resolver every function builds on: one place maps errors to responses, answers 404/405/413,
and keeps tracebacks out of responses."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from hydra_lambda.config import adopt_api_issuer, get_settings, read_at_init
from hydra_lambda.errors import (
    AdminError,
    BadRequest,
    FlowAdminError,
    Handled,
    HydraError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    TemporarilyUnavailable,
)
from hydra_lambda.http import cors
from hydra_lambda.http.responses import error_response
from hydra_lambda.observability import count, logger, metrics, tracer, tracing_enabled
from hydra_lambda.transient import is_transient

FLOW_ADMIN_PREFIX = "/admin/"


class HydraResolver(APIGatewayHttpResolver):
    """APIGatewayHttpResolver plus our error mapping, 405 with ``Allow``, and a body size limit.

    ``oauth_paths`` are the routes whose framework-level errors (413, 500, 503) use the RFC 6749
    shape; every other route uses the classic admin shape.
    """

    def __init__(self, oauth_paths: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._oauth_paths = frozenset(oauth_paths)
        self._methods: list[tuple[re.Pattern[str], set[str]]] = []
        self.exception_handler(HydraError)(self._render_error)
        self.exception_handler(Exception)(self._render_unexpected)
        self.not_found(self._not_found)

    def route(self, rule: str, method: Any, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        methods = {method} if isinstance(method, str) else set(method)
        pattern = self._compile_regex(rule)
        for known, allowed in self._methods:
            if known.pattern == pattern.pattern:
                allowed.update(m.upper() for m in methods)
                break
        else:
            self._methods.append((pattern, {m.upper() for m in methods}))
        return super().route(rule, method, *args, **kwargs)

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        if not get_settings().issuer:
            adopt_api_issuer((event.get("requestContext") or {}).get("apiId", ""))
        origin = cors.allowed_origin(event)
        if origin and cors.is_preflight(event):
            return cors.preflight(origin, self.allowed_methods(event.get("rawPath", "")))
        result = self._reject_body(event) or super().resolve(event, context)
        return cors.decorate(result, origin) if origin else result

    def allowed_methods(self, path: str) -> list[str]:
        return sorted({m for pattern, methods in self._methods if pattern.match(path) for m in methods})

    def _reject_body(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """413 for a body over the limit, 400 for a binary body: before any route runs."""
        body = event.get("body") or ""
        limit = get_settings().max_body_bytes
        # base64 inflates by 4/3; the decoded size is what the limit is about.
        size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8"))
        if size > limit:
            path = event.get("rawPath", "")
            error: HydraError = (
                InvalidRequest("The request body is too large.", status=413)
                if path in self._oauth_paths
                else PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            )
            return self._build_plain(error_response(self._flow_shape(error, path), self._request_id(event)))
        if event.get("isBase64Encoded") and not _is_utf8(body):
            # Every body this API reads is JSON or form text; powertools' decoded_body would raise.
            path = event.get("rawPath", "")
            kind = InvalidRequest if path in self._oauth_paths else BadRequest
            error = kind("The request body is not valid UTF-8.")
            return self._build_plain(error_response(self._flow_shape(error, path), self._request_id(event)))
        return None

    def _build_plain(self, response: Response) -> dict[str, Any]:
        return {
            "statusCode": response.status_code,
            "headers": {k: v if isinstance(v, str) else ", ".join(v) for k, v in response.headers.items()},
            "body": response.body,
            "isBase64Encoded": False,
            "cookies": [str(c) for c in response.cookies],
        }

    @staticmethod
    def _request_id(event: dict[str, Any]) -> str:
        headers = event.get("headers") or {}
        return headers.get("x-request-id") or (event.get("requestContext") or {}).get("requestId", "")

    def request_id(self) -> str:
        return self._request_id(self.current_event.raw_event)

    def _is_oauth(self) -> bool:
        return self.current_event.path in self._oauth_paths

    def _flow_shape(self, error: HydraError, path: str | None = None) -> HydraError:
        """On the current API's admin routes (``/admin/...``) every error is Hydra's
        ``errorOAuth2`` (Ory's SDKs parse it), but a handled request's 410 ``{redirect_to}``."""
        path = self.current_event.path if path is None else path
        if path.startswith(FLOW_ADMIN_PREFIX) and not isinstance(error, Handled):
            return FlowAdminError.of(error)
        return error

    def _render_error(self, error: HydraError) -> Response:
        count(f"Error_{getattr(error, 'error', None) or error.status}")
        if error.status >= 500:
            logger.warning("request failed", extra={"error": type(error).__name__, "status": error.status})
        return error_response(self._flow_shape(error), self.request_id())

    def _render_unexpected(self, exc: Exception) -> Response:
        if is_transient(exc):
            count("DependencyUnavailable")
            logger.warning("dependency unavailable", extra={"error": type(exc).__name__, "detail": str(exc)[:200]})
            error: HydraError = TemporarilyUnavailable() if self._is_oauth() else ServiceUnavailable()
        else:
            logger.exception("unexpected error")
            error = ServerError() if self._is_oauth() else AdminError("An internal error occurred; it has been logged.")
        return error_response(self._flow_shape(error), self.request_id())

    def _not_found(self, _exc: Exception) -> Response:
        path = self.current_event.path
        allowed = self.allowed_methods(path)
        error: HydraError = MethodNotAllowed(allowed) if allowed else NotFound(f"No route for {path}")
        if allowed and path in self._oauth_paths:  # an OAuth endpoint answers in RFC 6749 JSON, always
            method = self.current_event.request_context.http.method
            error = InvalidRequest(f"The method {method[:16]} is not allowed here; use {', '.join(allowed)}.",
                                   status=405, headers={"Allow": ", ".join(allowed)})
        return error_response(self._flow_shape(error), self.request_id())


def _is_utf8(encoded: str) -> bool:
    try:
        base64.b64decode(encoded).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def lambda_entry(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler for ``app``: structured logs correlated by the API Gateway request id, the
    invocation's metrics flushed as CloudWatch EMF when it ends, and an X-Ray trace on Lambda (never
    with the response as metadata: responses carry tokens). Made when the function's module is
    imported, where the settings are read and checked (``read_at_init``)."""
    read_at_init()

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # The API Gateway request id, read directly: powertools' correlation_id_path runs a JMESPath
        # query per request for the same value.
        logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
        return app.resolve(event, context)

    if tracing_enabled():
        return tracer().capture_lambda_handler(lambda_handler, capture_response=False)
    return lambda_handler
