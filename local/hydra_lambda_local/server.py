"""``hydra-lambda serve``: an HTTP server that turns requests into API Gateway events for the real
handlers and writes their answers back as API Gateway would.

Two of them run: the public API (every route of template.yaml's HttpApi, payload 2.0 events to each
function's ``lambda_handler``), and the admin port (``private=True``, ``ADMIN_PORT``, on 127.0.0.1
only): what the private admin API is on AWS, the admin routes of the same route table with REST API
events (payload 1.0) to each function's ``private_handler``, which serves them without a token."""

from __future__ import annotations

import base64
import ipaddress
import re
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hydra_lambda.redaction import redact

from hydra_lambda_local.events import FakeContext, build_event, build_rest_event, gateway_path
from hydra_lambda_local.routes import PRIVATE_HANDLER, Route, find_private_route, find_route, load_handler, load_routes

# API Gateway HTTP APIs refuse payloads over 10 MB before Lambda sees them.
GATEWAY_MAX_BODY = 10 * 1024 * 1024
# A path segment that may be a token or a secret: a token prefix (hl_at_, hl_rt_, hl_ac_), a JWT's
# dots, or any long run of token characters. Only unrouted paths are logged with their segments.
_SECRET_LOOKING = re.compile(r"^(?:hl_[a-z]{2}_.*|[\w~%-]*\.[\w~%-]*\..*|[\w~%.-]{24,})$")
# powertools keeps the current event on a class attribute, and Lambda runs one request per
# container at a time: handlers are called one at a time here too.
_invoke_lock = threading.Lock()


def invoke(route: Route, event: dict[str, Any]) -> dict[str, Any]:
    handler = load_handler(route)
    with _invoke_lock:
        return handler(event, FakeContext(route.function))


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY every keep-alive response
    # waits ~40 ms for the client's delayed ACK (Nagle's algorithm).
    disable_nagle_algorithm = True

    logged: tuple[str, str] = ("", "")  # (request path, how the log shows it)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:  # access-log lines carry paths and query strings: no secret in them
            text = format % args
            path = getattr(self, "path", "")
            if path:
                text = text.replace(path, self.logged[1] if self.logged[0] == path else loggable_path(path))
            super().log_message("%s", redact(text))

    def _serve(self) -> None:
        url = urlsplit(self.path)
        self.logged = (self.path, loggable_path(self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if length > GATEWAY_MAX_BODY:
            self._write_plain(413, b'{"message":"Request Entity Too Large"}')
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        path = gateway_path(url.path)
        private = self.server.private
        found = (find_private_route if private else find_route)(self.server.routes, self.command, path)
        if found is None:
            self._write_plain(404, b'{"message":"Not Found"}')
            return
        route, params = found
        if route.path != "$default":  # the route's template: an id in the path may be anything
            self.logged = (self.path, route.path + (f"?{url.query}" if url.query else ""))
        if private:  # what the private REST API hands its functions: the path as sent, percent-encoded
            event = build_rest_event(self.command, url.path, resource=route.path, query=url.query,
                                     headers=list(self.headers.items()), body=body, path_parameters=params or None,
                                     source_ip=self.client_address[0], domain=self.headers.get("Host", "127.0.0.1"))
        else:
            event = build_event(
                self.command,
                path,
                query=url.query,
                headers=list(self.headers.items()),
                body=body,
                route_key=route.route_key,
                path_parameters=params or None,
                source_ip=self.client_address[0],
                domain=self.headers.get("Host", "127.0.0.1"),
            )
        try:
            result = invoke(route, event)
        except Exception:  # a crashed handler is a 500 from API Gateway, with no detail
            self.server.log_crash(route)
            self._write_plain(500, b'{"message":"Internal Server Error"}')
            return
        self._write_result(result)

    def _write_plain(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _write_result(self, result: dict[str, Any]) -> None:
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
        self.send_response(int(result.get("statusCode", 200)))
        headers = {k.lower(): (k, v) for k, v in (result.get("headers") or {}).items()}
        cookies = list(result.get("cookies") or [])
        for name, values in (result.get("multiValueHeaders") or {}).items():
            if name.lower() == "set-cookie":  # a REST API answer's cookies (the admin port's)
                cookies += values
            else:
                headers[name.lower()] = (name, ", ".join(values))
        headers.pop("content-length", None)
        for name, value in headers.values():
            self.send_header(name, str(value))
        for cookie in cookies:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = _serve


def loggable_path(raw: str) -> str:
    """A request path for the access log: every segment that looks like a token or secret blanked."""
    url = urlsplit(raw)
    path = "/".join("[redacted]" if _SECRET_LOOKING.match(part) else part for part in url.path.split("/"))
    return path + (f"?{url.query}" if url.query else "")


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, template: Path, verbose: bool = False, private: bool = False) -> None:
        if private and not is_loopback(host):
            # The admin port serves the admin routes without a token: only this machine may reach it.
            raise ValueError(f"the admin port serves without a token and binds a loopback address only, not {host!r}")
        self.routes = load_routes(template)
        self.verbose = verbose
        self.private = private
        super().__init__((host, port), _Handler)

    def log_crash(self, route: Route) -> None:
        print(redact(f"handler {route.function} raised:\n{traceback.format_exc()}"), flush=True)

    def warm(self) -> None:
        """Import every handler now, so a broken one fails at start, not on the first request."""
        for route in self.routes:
            load_handler(route)
            if self.private and find_private_route([route], route.method, _sample_path(route.path)):
                load_handler(Route(route.method, route.path, route.function, route.code_dir, PRIVATE_HANDLER))


def _sample_path(template: str) -> str:
    """A path the route template matches (each parameter ``x``)."""
    return re.sub(r"\{[^}]+\}", "x", template)


def is_loopback(host: str) -> bool:
    """A loopback address written out (127.0.0.0/8, ::1): never a name that could resolve elsewhere."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
