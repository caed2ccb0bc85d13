"""``hydra-lambda serve``: backends, then the HTTP server, until Ctrl-C."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from hydra_lambda.config import ConfigError, get_settings
from hydra_lambda.local.backends import prepare
from hydra_lambda.local.server import LocalServer


def find_template(explicit: str = "") -> Path:
    candidates = [Path(explicit)] if explicit else []
    candidates += [Path.cwd() / "template.yaml", Path(__file__).resolve().parents[3] / "template.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError("template.yaml not found: run from the checkout or pass --template")


def _start_consent_app(host: str, port: int, root: tuple[str, str] | None) -> str:
    """The example consent app, when CONSENT_URL is its local default; it makes its own client with
    the root client's credentials (just created, or FORCE_ROOT_CLIENT_CREDENTIALS)."""
    from hydra_lambda.bootstrap import forced_credentials
    from hydra_lambda.local.consent_app import start_for_serve

    settings = get_settings()
    api_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"  # noqa: S104
    _, line = start_for_serve(api_url, settings.consent_url, settings.consent_app_port,
                              settings.consent_app_users, root or forced_credentials())
    return line


def serve(host: str, port: int, template: str = "", verbose: bool = False) -> int:
    try:
        path = find_template(template)
        os.environ.setdefault("ISSUER", f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}")  # noqa: S104
        backends = prepare()
        settings = get_settings()
        from hydra_lambda.bootstrap import ensure_root_client

        root = ensure_root_client()
        if root is not None:  # printed once, at creation; never logged
            print(f"hydra-lambda: created the root client\n  client id:     {root[0]}\n"
                  f"  client secret: {root[1]}", flush=True)
        server = LocalServer(host, port, path, verbose=verbose)
        server.warm()
        consent_line = _start_consent_app(host, port, root)
    except ConfigError as exc:
        print(f"hydra-lambda: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"hydra-lambda: {host}:{port} is already in use (set PORT or --port)", file=sys.stderr)
        else:
            print(f"hydra-lambda: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"hydra-lambda listening on http://{host}:{port} (issuer {settings.issuer})", flush=True)
    print(f"  DynamoDB: {backends.dynamodb}  KMS: {backends.kms}", flush=True)
    print(consent_line, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nhydra-lambda: stopping", flush=True)
    finally:
        server.server_close()
        backends.stop()
    return 0
