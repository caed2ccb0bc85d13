"""The private admin entry: the Lambda handler of the private admin API (``PrivateAdminApi`` in
template.yaml: a private API Gateway REST API reachable only through the operator's VPC endpoints),
also what ``make run``'s loopback admin port calls.

Hydra serves its admin API on a port only the operator's network reaches, without tokens, and Ory's
generated SDKs send none. :func:`private_entry` makes the handler that does the same for a function's
routes: it takes the REST API's events (payload format 1.0), serves only the admin routes
(:data:`ADMIN_PATHS`; anything else is 404 before any route runs), marks the call as come through
here (``http/trust.py``: ``Credentials.private_network``, which the warden serves without a token),
and answers in the REST API's response format. The public handlers (``lambda_entry``) never mark a
call: the mark comes from which handler Lambda invokes, never from the request, and the template
lets only the private API invoke these handlers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from hydra_lambda.config import read_at_init
from hydra_lambda.errors import NotFound
from hydra_lambda.http.responses import error_response
from hydra_lambda.http.trust import served_privately
from hydra_lambda.observability import logger, metrics

_SEGMENT = r"[^/]+"
# The admin routes, and only those: never /oauth2/auth, /oauth2/token, /oauth2/revoke, /userinfo,
# /oauth2/register, the well-known documents. Matched whole (fullmatch: no newline slips past "$"),
# one path segment per parameter.
ADMIN_PATHS = re.compile(
    "(?:"
    f"/clients(?:/{_SEGMENT})?"
    f"|/policies(?:/{_SEGMENT})?"
    f"|/warden/(?:allowed|token/allowed|groups(?:/{_SEGMENT}(?:/members)?)?)"
    f"|/keys/{_SEGMENT}(?:/{_SEGMENT})?"
    f"|/oauth2/consent/requests/{_SEGMENT}(?:/accept|/reject)?"
    "|/oauth2/introspect|/oauth2/flush"
    f"|/admin(?:/{_SEGMENT})+"
    ")"
)


def is_admin_path(path: str) -> bool:
    return ADMIN_PATHS.fullmatch(path) is not None


def http_event(event: dict[str, Any]) -> dict[str, Any]:
    """A REST API proxy event (payload format 1.0) as the HTTP API event (2.0) our resolvers read.

    A REST API keeps the path percent-encoded (without the stage); an HTTP API hands it on decoded
    once, and so does this (``a%2541`` becomes ``a%41``, never ``aA``), so a route reads the same id
    whichever API the call came through.
    """
    context = event.get("requestContext") or {}
    path = unquote(str(event.get("path") or "/"), encoding="utf-8", errors="replace")
    method = str(event.get("httpMethod") or context.get("httpMethod") or "GET").upper()
    route_key = f"{method} {event.get('resource') or ''}"
    headers, cookies = _headers_and_cookies(event)
    multi_query = event.get("multiValueQueryStringParameters") or {
        k: [v] for k, v in (event.get("queryStringParameters") or {}).items()}
    converted: dict[str, Any] = {
        "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": _raw_query(multi_query),
        "headers": headers, "requestContext": _request_context(context, method, path, route_key),
        "isBase64Encoded": bool(event.get("isBase64Encoded")),
    }
    if cookies:
        converted["cookies"] = cookies
    if multi_query:
        converted["queryStringParameters"] = {k: ",".join(v) for k, v in multi_query.items()}
    if event.get("body") is not None:
        converted["body"] = event["body"]
    return converted


def _headers_and_cookies(event: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Header names lower-cased, repeats comma-joined, the Cookie header split into ``cookies`` (as an
    HTTP API event has them)."""
    multi_headers = event.get("multiValueHeaders") or {k: [v] for k, v in (event.get("headers") or {}).items()}
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, values in multi_headers.items():
        key = name.lower()
        if key == "cookie":
            cookies += [part.strip() for value in values for part in str(value).split(";") if part.strip()]
            continue
        joined = ",".join(str(v) for v in values or ())
        headers[key] = f"{headers[key]},{joined}" if key in headers else joined
    return headers, cookies


def _request_context(context: dict[str, Any], method: str, path: str, route_key: str) -> dict[str, Any]:
    identity = context.get("identity") or {}
    return {
        "accountId": context.get("accountId", ""),
        # Not the private API's id: with ISSUER empty the resolver would take it for the issuer's (the
        # template gives the private functions the public API's URL as ISSUER instead).
        "apiId": "",
        "domainName": context.get("domainName", ""),
        "http": {"method": method, "path": path, "protocol": context.get("protocol", "HTTP/1.1"),
                 "sourceIp": identity.get("sourceIp", ""), "userAgent": identity.get("userAgent", "")},
        "requestId": context.get("requestId", ""),
        "routeKey": route_key,
        "stage": "$default",  # the path has no stage in it (powertools strips a named stage's)
        "time": context.get("requestTime", ""),
        "timeEpoch": context.get("requestTimeEpoch", 0),
    }


def _raw_query(multi_query: dict[str, list[str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, values in multi_query.items() for v in values)


def rest_response(result: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API handler's answer (payload 2.0: ``cookies`` beside the headers) as a REST API proxy
    answer (``multiValueHeaders`` carries the Set-Cookie lines)."""
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    multi = {str(k): [str(x) for x in v] for k, v in (result.get("multiValueHeaders") or {}).items()}
    if result.get("cookies"):
        multi["Set-Cookie"] = [str(c) for c in result["cookies"]]
    answer: dict[str, Any] = {"statusCode": int(result.get("statusCode", 200)), "headers": headers,
                              "body": result.get("body") or "", "isBase64Encoded": bool(result.get("isBase64Encoded"))}
    if multi:
        answer["multiValueHeaders"] = multi
    return answer


def _not_admin(event: dict[str, Any]) -> dict[str, Any]:
    request_id = (event.get("requestContext") or {}).get("requestId", "")
    response = error_response(NotFound("The private admin API serves the admin routes only."), request_id)
    return rest_response({"statusCode": response.status_code, "headers": dict(response.headers),
                          "body": response.body})


def serve_private(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One call of the private admin API: a REST event in, a REST answer out; admin routes only."""
    converted = http_event(event)
    if not is_admin_path(converted["rawPath"]):
        logger.info("private admin API: not an admin route", extra={"method": converted["routeKey"].split()[0]})
        return _not_admin(event)
    logger.append_keys(admin_mode="private-network")
    with served_privately():
        return rest_response(app.resolve(converted, context))


def private_entry(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler of ``app``'s admin routes on the private admin API (the public one is
    ``http.app.lambda_entry``): the same logs, metrics and settings check at import."""
    read_at_init()

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    def private_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
        return serve_private(app, event, context)

    return private_handler
