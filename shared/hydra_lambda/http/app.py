"""The resolver every function builds on: routes API Gateway HTTP API (payload 2.0) events to the
functions' routes, maps errors to responses in one place, answers 404/405/413, and keeps tracebacks
out of responses.

It replaces powertools' ``APIGatewayHttpResolver``, keeping its route syntax and event accessors:
importing powertools' event handler package (every resolver it has, AppSync's with asyncio) cost each
cold start about 22 ms of CPU, and its resolve about 17 us per request, for features we never used.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from hydra_lambda.config import adopt_issuer, get_settings
from hydra_lambda.errors import (
    AdminError,
    BadRequest,
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
from hydra_lambda.http.responses import Response, error_response
from hydra_lambda.observability import count, logger, metrics, tracer, tracing_enabled
from hydra_lambda.transient import is_transient

# A path parameter (``<name>`` in a rule): one segment of URI characters, as powertools matched it.
_PARAMETER = re.compile(r"<(\w+)>")
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"

Route = Callable[..., Response]


class Headers(dict[str, str]):
    """Request headers; names are looked up case-insensitively (API Gateway lower-cases them)."""

    def __init__(self, raw: dict[str, str] | None) -> None:
        super().__init__((name.lower(), value) for name, value in (raw or {}).items())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


class Event:
    """The parts of an HTTP API event the routes read (named as powertools' event class named them)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw_event = raw
        self.headers = Headers(raw.get("headers"))
        context = raw.get("requestContext") or {}
        self.method: str = ((context.get("http") or {}).get("method") or "").upper()
        path: str = raw.get("rawPath") or "/"
        stage = context.get("stage") or "$default"
        # A named stage prefixes rawPath (/prod/clients); routes are written without it.
        self.path = path[len(stage) + 1 :] if stage != "$default" and path.startswith(f"/{stage}") else path

    @property
    def raw_query_string(self) -> str:
        return self.raw_event.get("rawQueryString") or ""

    @property
    def query_string_parameters(self) -> dict[str, str]:
        return self.raw_event.get("queryStringParameters") or {}

    @property
    def decoded_body(self) -> str | None:
        body: str | None = self.raw_event.get("body")
        if body and self.raw_event.get("isBase64Encoded"):
            return base64.b64decode(body).decode("utf-8")
        return body

    @property
    def resolved_cookies_field(self) -> dict[str, str]:
        """The request's cookies by name (HTTP API moves the Cookie header to ``cookies``)."""
        out: dict[str, str] = {}
        for segment in "; ".join(self.raw_event.get("cookies") or []).split(";"):
            name, sep, value = segment.strip().partition("=")
            if sep:
                out[name.strip()] = value.strip()
        return out


class HydraResolver:
    """Routes by method and path, plus our error mapping, 405 with ``Allow``, and a body size limit.

    Rules are paths with ``<name>`` parameters, passed to the route as keyword arguments (raw, as in
    ``rawPath``). Rules without parameters are tried first, then the others, each in the order they
    were registered. ``oauth_paths`` are the routes whose framework-level errors (413, 500, 503) use
    the RFC 6749 shape; every other route uses the classic admin shape.
    """

    def __init__(self, oauth_paths: tuple[str, ...] = ()) -> None:
        self._oauth_paths = frozenset(oauth_paths)
        self._static: list[tuple[str, re.Pattern[str], Route]] = []
        self._dynamic: list[tuple[str, re.Pattern[str], Route]] = []
        self._methods: list[tuple[re.Pattern[str], set[str]]] = []
        self.current_event: Event = Event({})
        self.lambda_context: Any = None

    # -- registration --------------------------------------------------------------------------
    def route(self, rule: str, method: str | list[str] | tuple[str, ...]) -> Callable[[Route], Route]:
        methods = {method.upper()} if isinstance(method, str) else {m.upper() for m in method}
        pattern = _compile(rule)
        for known, allowed in self._methods:
            if known.pattern == pattern.pattern:
                allowed.update(methods)
                break
        else:
            self._methods.append((pattern, set(methods)))
        table = self._dynamic if _PARAMETER.search(rule) else self._static

        def register(func: Route) -> Route:
            table.extend((m, pattern, func) for m in sorted(methods))
            return func

        return register

    def get(self, rule: str) -> Callable[[Route], Route]:
        return self.route(rule, "GET")

    def post(self, rule: str) -> Callable[[Route], Route]:
        return self.route(rule, "POST")

    def put(self, rule: str) -> Callable[[Route], Route]:
        return self.route(rule, "PUT")

    def patch(self, rule: str) -> Callable[[Route], Route]:
        return self.route(rule, "PATCH")

    def delete(self, rule: str) -> Callable[[Route], Route]:
        return self.route(rule, "DELETE")

    # -- resolution ----------------------------------------------------------------------------
    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        adopt_issuer((event.get("requestContext") or {}).get("domainName", ""))
        origin = cors.allowed_origin(event)
        if origin and cors.is_preflight(event):
            return cors.preflight(origin, self.allowed_methods(event.get("rawPath", "")))
        rejected = self._reject_body(event)
        if rejected is not None:
            result = rejected.to_lambda()
        else:
            self.current_event, self.lambda_context = Event(event), context
            result = self._dispatch().to_lambda()
        return cors.decorate(result, origin) if origin else result

    def _dispatch(self) -> Response:
        method, path = self.current_event.method, self.current_event.path
        for table in (self._static, self._dynamic):
            for allowed, pattern, func in table:
                if allowed != method:
                    continue
                found = pattern.match(path)
                if found is not None:
                    try:
                        return func(**found.groupdict())
                    except HydraError as error:
                        return self._render_error(error)
                    except Exception as exc:
                        return self._render_unexpected(exc)
        return self._not_found()

    def allowed_methods(self, path: str) -> list[str]:
        return sorted({m for pattern, methods in self._methods if pattern.match(path) for m in methods})

    def _reject_body(self, event: dict[str, Any]) -> Response | None:
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
            return error_response(error, self._request_id(event))
        if event.get("isBase64Encoded") and not _is_utf8(body):
            # Every body this API reads is JSON or form text; decoded_body would raise.
            path = event.get("rawPath", "")
            kind = InvalidRequest if path in self._oauth_paths else BadRequest
            error = kind("The request body is not valid UTF-8.")
            return error_response(error, self._request_id(event))
        return None

    @staticmethod
    def _request_id(event: dict[str, Any]) -> str:
        headers = event.get("headers") or {}
        return headers.get("x-request-id") or (event.get("requestContext") or {}).get("requestId", "")

    def request_id(self) -> str:
        return self._request_id(self.current_event.raw_event)

    def _is_oauth(self) -> bool:
        return self.current_event.path in self._oauth_paths

    def _render_error(self, error: HydraError) -> Response:
        count(f"Error_{getattr(error, 'error', None) or error.status}")
        if error.status >= 500:
            logger.warning("request failed", extra={"error": type(error).__name__, "status": error.status})
        return error_response(error, self.request_id())

    def _render_unexpected(self, exc: Exception) -> Response:
        if is_transient(exc):
            count("DependencyUnavailable")
            logger.warning("dependency unavailable", extra={"error": type(exc).__name__, "detail": str(exc)[:200]})
            error: HydraError = TemporarilyUnavailable() if self._is_oauth() else ServiceUnavailable()
        else:
            logger.exception("unexpected error")
            error = ServerError() if self._is_oauth() else AdminError("An internal error occurred; it has been logged.")
        return error_response(error, self.request_id())

    def _not_found(self) -> Response:
        path = self.current_event.path
        allowed = self.allowed_methods(path)
        error: HydraError = MethodNotAllowed(allowed) if allowed else NotFound(f"No route for {path}")
        return error_response(error, self.request_id())


def _compile(rule: str) -> re.Pattern[str]:
    """The whole-path pattern of a rule (its fixed parts literal: the dot of /.well-known too)."""
    parts = _PARAMETER.split(rule)  # literal, name, literal, name, ..., literal
    regex = "".join(f"(?P<{part}>{_SEGMENT})" if index % 2 else re.escape(part) for index, part in enumerate(parts))
    return re.compile(f"^{regex}$")


def _is_utf8(encoded: str) -> bool:
    try:
        base64.b64decode(encoded).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def lambda_entry(app: HydraResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler for ``app``: structured logs correlated by the API Gateway request id, the
    invocation's metrics flushed as CloudWatch EMF when it ends, and an X-Ray trace on Lambda (never
    with the response as metadata: responses carry tokens)."""

    @metrics.log_metrics
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    if tracing_enabled():
        return tracer().capture_lambda_handler(lambda_handler, capture_response=False)
    return lambda_handler
