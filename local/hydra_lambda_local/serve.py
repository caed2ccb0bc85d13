"""``hydra-lambda serve``: backends, then the HTTP server, until Ctrl-C."""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from urllib.parse import quote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from hydra_lambda.bootstrap import ensure_root_client, forced_credentials
from hydra_lambda.clients.registry import get_client
from hydra_lambda.config import PORTS, ConfigError, get_settings, reset_settings
from hydra_lambda.passwords import verify_secret
from pynamodb.exceptions import PynamoDBException

from hydra_lambda_local.backends import Backends, prepare
from hydra_lambda_local.consent_app import FLOW_PAGES, flow_urls, is_local_default, start_for_serve
from hydra_lambda_local.persist import DEFAULT_DATA_DIR, describe, prepare_persistent
from hydra_lambda_local.server import LocalServer

LOOPBACK = "127.0.0.1"


def find_template(explicit: str = "") -> Path:
    candidates = [Path(explicit)] if explicit else []
    candidates += [Path.cwd() / "template.yaml", Path(__file__).resolve().parents[2] / "template.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError("template.yaml not found: run from the checkout or pass --template")


def _start_consent_app(host: str, port: int, root: tuple[str, str] | None) -> str:
    """The example consent app, when CONSENT_URL is its local default; it makes its own client with
    the root client's credentials (just created, or FORCE_ROOT_CLIENT_CREDENTIALS)."""
    settings = get_settings()
    api_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"  # noqa: S104
    _, line = start_for_serve(api_url, settings.consent_url, settings.consent_app_port,
                              settings.consent_app_users, root or forced_credentials())
    return line


def choose_flow(flow: str) -> str:
    """``--flow current``: point the current flow's URLS_* at the example app's pages (each one left as
    it is when already set); ``--flow classic`` refuses URLS_LOGIN/URLS_CONSENT; no --flow: the
    environment decides. "" when done, else why not."""
    # Read from the environment here: the settings are made (and cached) only after this.
    chosen = [name for name, _ in FLOW_PAGES[:2] if os.environ.get(name)]
    if flow == "classic" and chosen:
        return f"--flow classic: {' and '.join(chosen)} set in the environment turn the current flow on; unset them"
    if flow != "current" or len(chosen) == 2:
        return ""
    reset_settings()  # from the environment as it is now
    settings = get_settings()
    if not is_local_default(settings.consent_url, settings.consent_app_port):
        return ("--flow current sends the current flow to the example app, which runs only when CONSENT_URL is "
                "unset; set URLS_LOGIN and URLS_CONSENT to your own app's pages instead")
    for name, url in flow_urls(settings.consent_url).items():
        os.environ.setdefault(name, url)
    reset_settings()  # made again with the URLS_* just set
    return ""


def flow_line() -> str:
    """Which flow ``/oauth2/auth`` runs, for the console."""
    settings = get_settings()
    if settings.current_flow:
        logout = settings.urls_logout or "(URLS_LOGOUT unset)"
        return f"  flow: current (login {settings.urls_login}, consent {settings.urls_consent}, logout {logout})"
    return "  flow: classic (consent requests at CONSENT_URL; `make run FLOW=current` for login, consent and logout)"


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def engine_failure(exc: BaseException) -> str:
    """One line for an AWS engine that failed at start: which endpoint could not be reached, and what
    to do; else the error's own first line."""
    for cause in _causes(exc):
        if isinstance(cause, EndpointConnectionError):
            url = cause.kwargs.get("endpoint_url", "")
            which = ("DynamoDB (DYNAMODB_ENDPOINT)" if url.rstrip("/") == os.environ.get("DYNAMODB_ENDPOINT", "-")
                     .rstrip("/") else "KMS (KMS_ENDPOINT)" if url.rstrip("/") == os.environ.get("KMS_ENDPOINT", "-")
                     .rstrip("/") else "an AWS endpoint")
            return (f"cannot reach {which} at {url}: start it there, or unset the variable to use the embedded "
                    "engine")
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def serve_port(explicit: int | None) -> int | None:
    """``--port``, else $PORT, else 4444; None (after saying why) when $PORT is not a port number
    (the bounds of the settings' ports)."""
    if explicit is not None:
        return explicit
    low, high = PORTS
    try:
        port = int(os.environ.get("PORT") or 4444)
    except ValueError:
        port = 0
    if not low <= port <= high:
        print(f"hydra-lambda: PORT must be a number from {low} to {high}", file=sys.stderr)
        return None
    return port


def busy_port(host: str, port: int) -> bool:
    """Is ``host:port`` taken (by another ``make run``, say)? Checked before anything is created."""
    if port == 0:
        return False
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _consent_app_port() -> tuple[str, int] | None:
    """(host, port) of the example consent app when this run starts it (CONSENT_URL its local default)."""
    settings = get_settings()
    if not is_local_default(settings.consent_url, settings.consent_app_port):
        return None
    return urlsplit(settings.consent_url).hostname or "127.0.0.1", settings.consent_app_port


def _free_port_after(host: str, port: int, avoid: set[int]) -> int:
    """The first port above ``port`` that is free now and that no other part of this run uses."""
    for candidate in range(port + 1, min(port + 200, PORTS[1] + 1)):
        if candidate not in avoid and not busy_port(host, candidate):
            return candidate
    return 0


def ports_refusal(host: str, port: int) -> str:
    """Why this run cannot have its ports (the API's taken, the consent app's taken: users would be sent
    to another instance's app, or both the same), with a pair that works now; "" when they are free."""
    consent = _consent_app_port()
    consent_host, consent_port = consent if consent else (host, 0)
    if consent_port and consent_port == port:
        return f"PORT and CONSENT_APP_PORT are both {port}: the API and the consent app need a port each"
    api_busy = busy_port(host, port)
    consent_busy = bool(consent_port) and busy_port(consent_host, consent_port)
    if not api_busy and not consent_busy:
        return ""
    new_api = _free_port_after(host, port, {consent_port}) if api_busy else port
    new_consent = _free_port_after(consent_host, consent_port, {port, new_api}) if consent_busy else consent_port
    taken = " and ".join(f"{what} port {number}" for what, number, busy in (
        ("the API's", port, api_busy), ("the consent app's", consent_port, consent_busy)) if busy)
    suggestion = f"PORT={new_api}" + (f" CONSENT_APP_PORT={new_consent}" if consent_port else "")
    verb = "are" if api_busy and consent_busy else "is"
    return f"{taken} {verb} already in use (another `make run`?); run with `make run {suggestion}`"


def admin_port_refusal(port: int, admin_port: int) -> str:
    """Why the admin port (on 127.0.0.1) cannot be had: the API's or the consent app's port, or taken
    (another `make run`?), with a free one to use instead; "" when it is free or there is none (0)."""
    if not admin_port:
        return ""
    consent = _consent_app_port()
    consent_port = consent[1] if consent else 0
    clash = "PORT" if admin_port == port else "CONSENT_APP_PORT" if admin_port == consent_port else ""
    if not clash and not busy_port(LOOPBACK, admin_port):
        return ""
    instead = _free_port_after(LOOPBACK, admin_port, {port, consent_port})
    why = (f"{clash} and ADMIN_PORT are both {admin_port}: the admin port needs its own" if clash else
           f"the admin port {admin_port} is already in use (another `make run`?)")
    return f"{why}; run with `make run ADMIN_PORT={instead}` (or ADMIN_PORT=0: no admin port)"


def _start_admin_port(admin_port: int, template: Path, verbose: bool) -> LocalServer | None:
    """The admin port (ADMIN_PORT): the admin routes without a token, on 127.0.0.1 only (as Hydra's
    admin port is meant to be reached from the operator's network only), served in a thread."""
    if not admin_port:
        return None
    try:
        server = LocalServer(LOOPBACK, admin_port, template, verbose=verbose, private=True)
    except OSError as exc:  # taken since admin_port_refusal looked
        raise RuntimeError(f"the admin port {admin_port}: {exc.strerror or exc}; choose another with "
                           "`make run ADMIN_PORT=...` (or 0: no admin port)") from exc
    server.warm()
    threading.Thread(target=server.serve_forever, name="admin-port", daemon=True).start()
    return server


def _how_to_use(url: str, root: tuple[str, str] | None, forced: tuple[str, str] | None, persistent: bool) -> str:
    """The lines that put the CLI on the PATH and point it at this server with the root client (its
    secret only when it was just created: a secret the operator chose is never echoed)."""
    activate = Path(sys.executable).parent / "activate"
    path_line = f". {activate}" if activate.is_file() else f'export PATH="{Path(sys.executable).parent}:$PATH"'
    lines = ["", "Use the CLI from another terminal (in this checkout):", f"  {path_line}"]
    if root is not None and forced is not None and root[0] == forced[0]:
        root = None  # created from FORCE_ROOT_CLIENT_CREDENTIALS: the operator's secret is never printed
    if root is not None:
        secret = quote(root[1], safe="")
        lifetime = ("kept in the persisted tables, so valid across restarts: save the secret, it is shown only now"
                    if persistent else
                    "the embedded database lives as long as this process: new ones on every start")
    elif forced is not None:
        secret = "<the secret in FORCE_ROOT_CLIENT_CREDENTIALS>"
        lifetime = "from FORCE_ROOT_CLIENT_CREDENTIALS (its secret is not printed), valid across restarts"
    else:
        secret, lifetime = "<root secret>", ("the root client exists from an earlier start and its secret was "
                                             "printed then; FORCE_ROOT_CLIENT_CREDENTIALS=id:secret chooses it")
    client_id = quote((root or forced or ("<root id>", ""))[0], safe="<>")
    lines += [f"  export HYDRA_URL={url} HYDRA_CLIENT_ID={client_id} HYDRA_CLIENT_SECRET={secret}",
              "  hydra-lambda clients list",
              f"  (root client credentials: {lifetime})"]
    return "\n".join(lines)


def _working(forced: tuple[str, str] | None) -> tuple[str, str] | None:
    """The forced root credentials if this installation's tables hold that client with that secret;
    None, with a warning, if they were set after the first start (they only apply to it)."""
    if forced is None:
        return None
    client = get_client(forced[0])
    if client is not None and verify_secret(forced[1], client.secret_hash):
        return forced
    print("hydra-lambda: warning: FORCE_ROOT_CLIENT_CREDENTIALS is not a client of this installation: it only "
          "applies at the first start (on empty tables); use the root credentials printed then", file=sys.stderr,
          flush=True)
    return None


def _stop_on_sigterm() -> None:
    """SIGTERM (a supervisor, a test harness) stops like Ctrl-C: the engines are stopped and, in
    persistent mode, the KMS state saved."""
    def interrupt(*_args: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def serve(host: str, port: int, template: str = "", verbose: bool = False, persist: bool = False,
          data_dir: str = "", flow: str = "", admin_port: int | None = None) -> int:
    """Run until Ctrl-C or SIGTERM; whatever engines were started stop on every way out (a DynamoDB
    Local left running would hold its folder and port). ``admin_port``: ``--admin-port``, else
    ADMIN_PORT (default 4445; 0: none)."""
    started: list[Backends] = []
    admin: list[LocalServer] = []
    try:
        return _serve(host, port, template, verbose, persist, data_dir, started, flow, admin_port, admin)
    except KeyboardInterrupt:
        print("\nhydra-lambda: stopping", flush=True)
        return 130
    finally:
        for server in admin:
            server.shutdown()
            server.server_close()
        for backends in started:
            backends.stop()


def _serve(host: str, port: int, template: str, verbose: bool, persist: bool, data_dir: str,
           started: list[Backends], flow: str, admin_port: int | None, admin: list[LocalServer]) -> int:
    try:
        path = find_template(template)
        local_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
        os.environ.setdefault("ISSUER", f"http://{local_host}:{port}")
        # A laptop's relying parties serve their jwks_uri or request_uri from the same machine.
        os.environ.setdefault("FETCH_ALLOW_LOOPBACK", "true")
        refusal = choose_flow(flow)
        if refusal:
            print(f"hydra-lambda: {refusal}", file=sys.stderr)
            return 2
        if admin_port is None:
            admin_port = get_settings().admin_port
        if not 0 <= admin_port <= PORTS[1]:
            raise ConfigError(f"--admin-port must be a number from 0 (no admin port) to {PORTS[1]}")
        # Another `make run`, say: refused before anything is created.
        refusal = ports_refusal(host, port) or admin_port_refusal(port, admin_port)
        if refusal:
            print(f"hydra-lambda: {refusal}", file=sys.stderr)
            return 1
        persistent = persist or bool(os.environ.get("DYNAMODB_ENDPOINT"))
        _stop_on_sigterm()
        folder = Path(data_dir) if data_dir else DEFAULT_DATA_DIR
        backends = prepare_persistent(folder) if persist else prepare()
        started.append(backends)
        settings = get_settings()
        root = ensure_root_client()
        if root is not None:  # a generated secret is printed once, in the lines below; never logged
            print("hydra-lambda: created the root client (its credentials are below)", flush=True)
        server = LocalServer(host, port, path, verbose=verbose)
        server.warm()
        admin += [started_admin] if (started_admin := _start_admin_port(admin_port, path, verbose)) else []
        consent_line = _start_consent_app(host, port, root)
        forced = _working(forced_credentials()) if root is None else forced_credentials()
    except ConfigError as exc:
        print(f"hydra-lambda: configuration error: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError, PynamoDBException) as exc:
        print(f"hydra-lambda: cannot start: {engine_failure(exc)}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # DynamoDB Local (persistent mode) missing or not starting
        print(f"hydra-lambda: cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"hydra-lambda: {host}:{port} is already in use; choose another port with `make run PORT=...` "
                  "(or --port)", file=sys.stderr)
        else:
            print(f"hydra-lambda: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 1
    url = f"http://{local_host}:{server.server_address[1]}"
    print(f"hydra-lambda listening on http://{host}:{server.server_address[1]} (issuer {settings.issuer})",
          flush=True)
    print(f"  DynamoDB: {backends.dynamodb}  KMS: {backends.kms}", flush=True)
    if admin:
        print(f"  admin API without a token, this machine only (ADMIN_PORT): http://{LOOPBACK}:"
              f"{admin[0].server_address[1]}", flush=True)
    print(consent_line, flush=True)
    print(flow_line(), flush=True)
    if persist:
        print(describe(folder), flush=True)
    print(_how_to_use(url, root, forced, persistent), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nhydra-lambda: stopping", flush=True)
    finally:
        server.server_close()
    return 0
