"""``hydra-lambda token user``: the authorization code flow from a terminal, as the classic
``hydra token user`` did. A one-shot callback server on the loopback address, the browser opened at
``/oauth2/auth`` (PKCE S256 and a random state, by authlib), the state checked, the code exchanged."""

from __future__ import annotations

import hmac
import html
import json
import re
import secrets
import sys
import threading
import webbrowser
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from hydra_lambda_local.api import TIMEOUT, CliError, Credentials, error_message, no_redirects, unreachable

PAGE = ("<!doctype html><html lang=en><head><meta charset=utf-8><title>hydra-lambda</title></head>"
        "<body style=\"font:16px system-ui,sans-serif;margin:3rem\"><h1 id=result>{heading}</h1>"
        "<p>You can close this window and go back to the terminal.</p></body></html>")


@dataclass
class Callback:
    query: dict[str, list[str]] | None = None


def _handler(path: str, result: Callback, done: threading.Event, state: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never logged
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != path or done.is_set():
                self.send_error(404)
                return
            query = parse_qs(url.query)
            if not state or not hmac.compare_digest(_one(query, "state").encode(), state[0].encode()):
                # Not the answer to our request (another page or process calling the loopback port):
                # refused, and the sign-in in progress keeps waiting for its own callback.
                self._page(400, "This answer does not belong to the sign-in in progress")
                return
            result.query = query
            failed = "error" in query or "code" not in query
            self._page(200, "Sign-in failed" if failed else "Signed in")
            done.set()

        def _page(self, status: int, heading: str) -> None:
            body = PAGE.format(heading=heading).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _listen(redirect_uri: str, result: Callback, done: threading.Event, state: list[str]) -> HTTPServer:
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
        raise CliError("--redirect-uri must be http://127.0.0.1:<port>/<path> or http://localhost:<port>/<path> "
                       "(the callback server listens on the loopback address)", 2)
    try:
        return HTTPServer(("127.0.0.1", parts.port), _handler(parts.path or "/", result, done, state))
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{parts.port} for the callback ({exc.strerror or exc}); "
                       "choose another port with --redirect-uri (the client must have it registered)") from None


def preflight(url: str, redirect_uri: str, endpoint: str) -> None:
    """Ask ``/oauth2/auth`` once without a browser, following nothing: a request the server refuses (a
    redirect URI the client has not registered, an unknown client, a scope it may not ask for) fails
    here with the server's reason instead of a browser page and a wait for a callback that never
    comes. (It costs one consent request, which expires unused.)"""
    try:
        response = requests.get(url, allow_redirects=False, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise unreachable(endpoint, exc) from None
    location = response.headers.get("Location", "")
    if response.is_redirect and location.startswith(redirect_uri):
        query = parse_qs(urlsplit(location).query)
        if "error" in query:
            description = _one(query, "error_description")
            raise CliError(f"authorization refused: {_one(query, 'error')}" + (f": {description}" if description
                                                                                 else ""))
    elif not response.is_redirect and response.status_code >= 400:
        paragraphs = [html.unescape(re.sub(r"<[^>]+>", "", part))
                      for part in re.findall(r"<p>(.*?)</p>", response.text, re.S)]
        reason = " ".join(paragraphs[:2]) or error_message(response)
        raise CliError(f"the server refused the sign-in request (HTTP {response.status_code}): {reason}")


def _one(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name) or [""]
    return values[0]


def run(credentials: Credentials, *, scope: str, redirect_uri: str, open_browser: bool, timeout: float) -> int:
    token = sign_in(credentials, scope=scope, redirect_uri=redirect_uri, open_browser=open_browser, timeout=timeout)
    print(json.dumps(token, indent=2, sort_keys=True))
    return 0


def sign_in(credentials: Credentials, *, scope: str, redirect_uri: str, open_browser: bool, timeout: float,
            extra: dict[str, str] | None = None) -> dict[str, Any]:
    """The whole flow; the token response. ``extra``: more authorization request parameters."""
    if not credentials.client_id:
        raise CliError("set --client-id (or HYDRA_CLIENT_ID): the client that signs the user in", 2)
    result, done, expected = Callback(), threading.Event(), []
    server = _listen(redirect_uri, result, done, expected)
    session = no_redirects(OAuth2Session(
        credentials.client_id, credentials.client_secret or None, scope=scope, redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if credentials.client_secret else "none",
    ))
    verifier = secrets.token_urlsafe(48)
    url, state = session.create_authorization_url(credentials.endpoint + "/oauth2/auth", code_verifier=verifier,
                                                  state=secrets.token_urlsafe(24), **(extra or {}))
    expected.append(state)
    try:
        preflight(url, redirect_uri, credentials.endpoint)
    except CliError:
        server.server_close()
        raise
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        opened = open_browser and webbrowser.open(url)
        print("Opened your browser to sign in. If it did not open, visit:" if opened
              else "Open this address in a browser to sign in:", file=sys.stderr)
        print(f"  {url}", file=sys.stderr, flush=True)
        if not done.wait(timeout):
            raise CliError(f"no answer at {redirect_uri} within {timeout:.0f}s")
    finally:
        server.shutdown()
        server.server_close()
    query = result.query or {}
    if not hmac.compare_digest(_one(query, "state").encode(), state.encode()):
        raise CliError("the callback's state does not match this request: ignored (possible forgery)")
    if "error" in query:
        description = _one(query, "error_description")
        raise CliError(f"authorization refused: {_one(query, 'error')}" + (f": {description}" if description else ""))
    try:
        token = session.fetch_token(credentials.endpoint + "/oauth2/token", grant_type="authorization_code",
                                    code=_one(query, "code"), code_verifier=verifier, timeout=TIMEOUT)
    except OAuthError as exc:
        detail = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
        raise CliError(f"the code exchange failed ({detail})") from None
    except requests.RequestException as exc:
        raise unreachable(credentials.endpoint, exc) from None
    finally:
        session.close()
    return dict(token)
