"""The ``hydra-lambda`` command line."""

from __future__ import annotations

import argparse
import os
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hydra-lambda", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API locally with the real handlers")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 4444")
    serve.add_argument("--template", default="", help="path to template.yaml")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    from hydra_lambda.keys.rotation import add_parser as add_keys_parser

    add_keys_parser(sub)
    from hydra_lambda.admin_cli import add_parsers as add_admin_parsers

    add_admin_parsers(sub)
    from hydra_lambda.local.consent_app import add_parser as add_consent_app_parser

    add_consent_app_parser(sub)
    from hydra_lambda.flush import add_parser as add_flush_parser

    add_flush_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from hydra_lambda.local.serve import serve

        try:
            port = args.port if args.port is not None else int(os.environ.get("PORT") or 4444)
        except ValueError:
            print("hydra-lambda: PORT must be a number", file=sys.stderr)
            return 2
        return serve(args.host, port, args.template, args.verbose)
    if args.command == "keys":
        from hydra_lambda.keys.rotation import run as run_keys

        return run_keys(args)
    if args.command == "consent-app":
        from hydra_lambda.local.consent_app import run_cli

        return run_cli(args)
    if args.command == "flush":
        from hydra_lambda.flush import run_cli as run_flush

        return run_flush(args)
    if args.command in ("policies", "clients"):
        from hydra_lambda import admin_cli

        return admin_cli.run_policies(args) if args.command == "policies" else admin_cli.run_clients(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
