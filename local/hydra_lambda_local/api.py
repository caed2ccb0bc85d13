"""The admin API over HTTP, as the CLI uses it: a client_credentials token (authlib), then JSON calls.

Every failure becomes a ``CliError`` with one line to show: the server's own message for a 4xx/5xx,
"cannot reach" for the network, the OAuth error for a refused token request. No request follows a
redirect: a 307/308 would re-send the body (a new client's secret) and the credentials to another
host, a 302 would turn a POST into a GET and report success."""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

DEFAULT_ENDPOINT = "http://127.0.0.1:4444"
TIMEOUT = 30.0


class CliError(Exception):
    """A failure the CLI reports as one line (``exit_code`` 1 for the server or network, 2 for input)."""

    def __init__(self, message: str, exit_code: int = 1, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.status = status  # the HTTP status of the answer that failed, 0 when there was none


def read_secret(path: str, option: str) -> str:
    """A secret from a file, or stdin for ``-`` (its first line; arguments would show in ``ps``)."""
    try:
        text = sys.stdin.readline() if path == "-" else open(path, encoding="utf-8").readline()
    except OSError as exc:
        raise CliError(f"cannot read {option} {path}: {exc.strerror or exc}", 2) from None
    secret = text.rstrip("\r\n")
    if not secret:
        raise CliError(f"{option} {path} holds no secret", 2)
    return secret


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(endpoint: str, allow_plain_http: bool) -> None:
    """Plain http only to this machine: elsewhere it would send the client's secret and every token
    in clear text. Refused unless ``--allow-plain-http``, which still warns."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--endpoint must be an http(s) URL, not {endpoint!r}", 2)
    if parts.scheme == "https" or is_loopback(parts.hostname):
        return
    if not allow_plain_http:
        raise CliError(f"refusing plain http to {parts.hostname}: the client's secret and tokens would cross the "
                       "network in clear text; use https, or pass --allow-plain-http if you must", 2)
    print(f"hydra-lambda: warning: plain http to {parts.hostname}: credentials and tokens travel in clear text",
          file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Credentials:
    endpoint: str
    client_id: str
    client_secret: str

    @classmethod
    def from_args(cls, args: Any) -> Credentials:
        """``--endpoint``/``--client-id``/``--client-secret-file`` (or ``--client-secret``), else
        HYDRA_URL/HYDRA_CLIENT_ID/HYDRA_CLIENT_SECRET."""
        endpoint = getattr(args, "endpoint", None) or os.environ.get("HYDRA_URL") or DEFAULT_ENDPOINT
        check_transport(endpoint, bool(getattr(args, "allow_plain_http", False)))
        client_id = getattr(args, "client_id", None) or os.environ.get("HYDRA_CLIENT_ID", "")
        secret_file = getattr(args, "client_secret_file", None)
        secret = (read_secret(secret_file, "--client-secret-file") if secret_file else
                  getattr(args, "client_secret", None) or os.environ.get("HYDRA_CLIENT_SECRET", ""))
        return cls(endpoint.rstrip("/"), client_id, secret)

    def require(self) -> Credentials:
        if not self.client_id or not self.client_secret:
            raise CliError("set --client-id and --client-secret (or HYDRA_CLIENT_ID and HYDRA_CLIENT_SECRET); "
                           "`make run` prints the root client's", 2)
        return self


def error_message(response: requests.Response) -> str:
    """The message of an error answer: the admin error object, RFC 6749 JSON, API Gateway's, or the text."""
    try:
        data = response.json()
    except ValueError:
        text = " ".join(response.text.split())[:200]
        return f"HTTP {response.status_code}" + (f": {text}" if text else "")
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            detail = error.get("reason") or ""
            message = str(error.get("message") or error.get("status") or "")
            return f"HTTP {response.status_code}: {message}" + (f" ({detail})" if detail and detail != message else "")
        if isinstance(error, str):
            description = data.get("error_description")
            return f"HTTP {response.status_code}: {error}" + (f": {description}" if description else "")
        if data.get("message"):
            return f"HTTP {response.status_code}: {data['message']}"
    return f"HTTP {response.status_code}"


def refuse_redirect(response: requests.Response, *_args: Any, **_kwargs: Any) -> requests.Response:
    """A ``requests`` response hook: a redirect is an error naming where it pointed, raised before
    ``requests`` could follow it."""
    if response.is_redirect:
        location = response.headers.get("Location", "")
        raise CliError(f"{response.request.method} {urlsplit(response.request.url or '').path}: HTTP "
                       f"{response.status_code} redirected to {location or '(no Location)'}; not followed "
                       "(check --endpoint or HYDRA_URL: it must be the API's own address)")
    return response


def no_redirects(session: requests.Session) -> requests.Session:
    session.hooks["response"].append(refuse_redirect)
    session.max_redirects = 0
    return session


def unreachable(endpoint: str, exc: requests.RequestException) -> CliError:
    if isinstance(exc, requests.ConnectionError):
        reason = "connection refused or no such host"
    elif isinstance(exc, requests.Timeout):
        reason = f"no answer within {TIMEOUT:.0f}s"
    else:
        reason = type(exc).__name__
    return CliError(f"cannot reach {endpoint} ({reason}); check --endpoint or HYDRA_URL")


def client_credentials_token(credentials: Credentials, scope: str) -> dict[str, Any]:
    """The token response of a client_credentials grant (client_secret_basic)."""
    credentials.require()
    session = no_redirects(OAuth2Session(credentials.client_id, credentials.client_secret, scope=scope,
                                         token_endpoint_auth_method="client_secret_basic"))
    try:
        return dict(session.fetch_token(credentials.endpoint + "/oauth2/token", grant_type="client_credentials",
                                        timeout=TIMEOUT))
    except OAuthError as exc:
        detail = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
        raise CliError(f"the server refused a token for client '{credentials.client_id}' ({detail})") from None
    except ValueError:  # not JSON (requests' JSONDecodeError is also a RequestException): not this API
        raise CliError(f"{credentials.endpoint}/oauth2/token answered no token: is --endpoint a hydra-lambda "
                       "API?") from None
    except requests.RequestException as exc:
        raise unreachable(credentials.endpoint, exc) from None
    finally:
        session.close()


@dataclass
class AdminApi:
    """Admin calls with a Bearer token for ``scope``, fetched on first use; ``tokenless``: no token (the
    private admin API, or ``make run``'s admin port 4445, as Hydra's admin port)."""

    credentials: Credentials
    scope: str
    _token: str = field(default="", repr=False)
    tokenless: bool = False

    def token(self) -> str:
        if self.tokenless:
            return ""
        if not self._token:
            self._token = str(client_credentials_token(self.credentials, self.scope)["access_token"])
        return self._token

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Any:
        """The parsed JSON answer (None when empty); CliError unless 2xx."""
        token = self.token()
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), "Accept": "application/json",
                   **(headers or {})}
        url = self.credentials.endpoint + path
        with no_redirects(requests.Session()) as session:
            try:
                response = session.request(method, url, json=body, params=params, headers=headers, timeout=TIMEOUT,
                                           allow_redirects=False)
            except requests.RequestException as exc:
                raise unreachable(self.credentials.endpoint, exc) from None
        if response.status_code >= 300:
            raise CliError(f"{method} {path}: {error_message(response)}", status=response.status_code)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{method} {path}: the answer is not JSON") from None


def client_post(credentials: Credentials, path: str, form: dict[str, str] | list[tuple[str, str]],
                anonymous: bool = False) -> requests.Response:
    """A form POST to an OAuth endpoint with the client's credentials (client_secret_basic: each half
    URL-encoded, RFC 6749 section 2.3.1), or none when ``anonymous`` (the private admin API); CliError
    unless 2xx."""
    auth = None if anonymous else (quote(credentials.require().client_id, safe=""),
                                   quote(credentials.client_secret, safe=""))
    with no_redirects(requests.Session()) as session:
        try:
            response = session.post(credentials.endpoint + path, data=form, auth=auth, timeout=TIMEOUT,
                                    headers={"Accept": "application/json"}, allow_redirects=False)
        except requests.RequestException as exc:
            raise unreachable(credentials.endpoint, exc) from None
    if response.status_code >= 300:
        raise CliError(f"POST {path}: {error_message(response)}", status=response.status_code)
    return response


def segment(value: str) -> str:
    """One path segment (an id), percent-encoded."""
    return quote(value, safe="")
