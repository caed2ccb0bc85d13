"""The current ``hydra`` CLI's habits (Ory Hydra v2), beside the classic commands of ``cli.py``: verb
first, then the noun (``create client``, ``get client``, ``list clients``, ``delete client``,
``perform client-credentials``, ``perform authorization-code``, ``introspect token``, ``revoke token``),
``--endpoint``, and ``--format default|json|json-pretty`` (``default``: tab-separated tables as Hydra
prints them; ``json``: one line).

Credentials: the client commands and ``introspect token`` are admin calls. With a client's
credentials (``--client-id``/``--client-secret`` or HYDRA_CLIENT_ID/HYDRA_CLIENT_SECRET) they get a
token for it first; without any, they send none, for the private admin API (``make run``'s admin port
4445, as Hydra's admin port). ``perform`` and ``revoke token`` are the client's own calls (also
OAUTH2_CLIENT_ID/OAUTH2_CLIENT_SECRET, Hydra's names).

Until the current admin routes land, the client commands talk to the classic ``/clients`` routes (one
client store) and print the current shape (``client_id``, no ``id``): ``CLIENTS_PATH`` and
``INTROSPECT_PATH`` are the one place to switch them to ``/admin/clients`` and ``/admin/oauth2/introspect``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hydra_lambda_local import user_token
from hydra_lambda_local.api import AdminApi, CliError, Credentials, client_post, segment

CLIENTS_PATH = "/clients"  # the current API's is /admin/clients
INTROSPECT_PATH = "/oauth2/introspect"  # the current API's is /admin/oauth2/introspect
CLASSIC_CLIENTS = CLIENTS_PATH == "/clients"
FORMATS = ("default", "json", "json-pretty")
VERBS = ("create", "get", "list", "delete", "perform", "introspect", "revoke")
DEFAULT_CALLBACK_PORT = 4446  # Hydra's `perform authorization-code --port`
CLIENT_COLUMNS = (("CLIENT ID", "client_id"), ("CLIENT SECRET", "client_secret"), ("GRANT TYPES", "grant_types"),
                  ("RESPONSE TYPES", "response_types"), ("SCOPE", "scope"), ("AUDIENCE", "audience"),
                  ("REDIRECT URIS", "redirect_uris"))
TOKEN_ROWS = (("ACCESS TOKEN", "access_token"), ("REFRESH TOKEN", "refresh_token"), ("ID TOKEN", "id_token"),
              ("EXPIRY", "expiry"))
INTROSPECTION_ROWS = (("ACTIVE", "active"), ("SUBJECT", "sub"), ("CLIENT ID", "client_id"), ("SCOPE", "scope"),
                      ("EXPIRY", "exp"), ("TOKEN USE", "token_type"))


# ---------------------------------------------------------------------------------------------
# Parsers


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> dict[str, Any]:
    """The verbs, each with its nouns; ``parents`` give the connection options. Answers each verb's
    noun subparsers, so other modules add their nouns (``create jwk``, ``perform device-code``)."""
    verbs: dict[str, Any] = {}

    def verb(name: str, help_text: str) -> Any:
        parser = sub.add_parser(name, help=help_text, description=help_text, parents=parents)
        verbs[name] = parser.add_subparsers(dest="noun", required=True, metavar="NOUN")
        return verbs[name]

    def noun(verbs: Any, names: list[str], help_text: str) -> argparse.ArgumentParser:
        parser = verbs.add_parser(names[0], aliases=names[1:], help=help_text, description=help_text,
                                  parents=parents)
        parser.add_argument("--format", choices=FORMATS, default="default",
                            help="default: tables as Hydra prints them; json: one line; json-pretty: indented")
        return parser

    _client_flags(noun(verb("create", "create a resource (Hydra's habits)"), ["client", "oauth2-client"],
                       "create an OAuth 2.0 client; prints its secret this once"))
    noun(verb("get", "get resources"), ["client", "oauth2-client"], "get OAuth 2.0 clients").add_argument(
        "ids", nargs="+", metavar="ID")
    listing = noun(verb("list", "list resources"), ["clients", "oauth2-clients"], "list OAuth 2.0 clients")
    listing.add_argument("--page-size", type=int, default=100, help="clients per page (default 100, at most 500)")
    listing.add_argument("--page-token", default="", help="the next_page_token of the previous page")
    noun(verb("delete", "delete resources"), ["client", "oauth2-client"], "delete OAuth 2.0 clients").add_argument(
        "ids", nargs="+", metavar="ID")
    perform = verb("perform", "perform OAuth 2.0 flows")
    _token_flags(noun(perform, ["client-credentials"], "get a token of the client_credentials grant"))
    _authorization_code_flags(noun(perform, ["authorization-code"], "sign a user in through the browser (a "
                                   "local callback server; the code flow with PKCE) and print the tokens"))
    introspect = noun(verb("introspect", "introspect tokens"), ["token"], "introspect an access or refresh token")
    introspect.add_argument("token")
    introspect.add_argument("--scope", action="append", default=[], help="scopes the token must hold; repeatable")
    noun(verb("revoke", "revoke tokens"), ["token"], "revoke an access or refresh token of the client").add_argument(
        "token")
    return verbs


def _client_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--file", default="", help="a JSON client document ('-' for stdin); flags add to it")
    for flags, dest, help_text in (
        (("-n", "--name"), "client_name", "the client's name"),
        (("--owner",), "owner", ""), (("--client-uri",), "client_uri", ""), (("--logo-uri",), "logo_uri", ""),
        (("--policy-uri",), "policy_uri", ""), (("--tos-uri",), "tos_uri", ""), (("--jwks-uri",), "jwks_uri", ""),
        (("--subject-type",), "subject_type", "public or pairwise"),
        (("--token-endpoint-auth-method",), "token_endpoint_auth_method",
         "client_secret_basic, client_secret_post, private_key_jwt, client_secret_jwt or none (a public client)"),
        (("--access-token-strategy",), "access_token_strategy", "opaque or jwt"),
        (("--frontchannel-logout-callback",), "frontchannel_logout_uri", ""),
        (("--backchannel-logout-callback",), "backchannel_logout_uri", ""),
    ):
        parser.add_argument(*flags, dest=dest, default=None, help=help_text or argparse.SUPPRESS)
    for flags, dest in ((("-c", "--redirect-uri"), "redirect_uris"), (("-g", "--grant-type"), "grant_types"),
                        (("-r", "--response-type"), "response_types"), (("-s", "--scope"), "scope"),
                        (("--audience",), "audience"), (("--allowed-cors-origin",), "allowed_cors_origins"),
                        (("--contact",), "contacts"), (("--post-logout-callback",), "post_logout_redirect_uris")):
        parser.add_argument(*flags, dest=dest, action="append", default=None,
                            help="repeatable, or comma-separated")
    # Not dest client_secret: that is --client-secret, the calling client's own (the connection options).
    parser.add_argument("--secret", dest="new_client_secret", default=None,
                        help="the new client's secret (default: a generated one; arguments show in ps)")
    parser.add_argument("--skip-consent", action="store_true", default=None)
    parser.add_argument("--skip-logout-consent", action="store_true", default=None)
    parser.add_argument("--metadata", default=None, help="a JSON object")


def _token_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", action="append", default=[], help="repeatable, or comma-separated")
    parser.add_argument("--audience", action="append", default=[], help="repeatable, or comma-separated")


def _authorization_code_flags(parser: argparse.ArgumentParser) -> None:
    _token_flags(parser)
    parser.add_argument("--port", type=int, default=DEFAULT_CALLBACK_PORT,
                        help=f"the callback server's port (default {DEFAULT_CALLBACK_PORT})")
    parser.add_argument("--redirect", default="", help="the redirect URI (default http://127.0.0.1:PORT/callback); "
                        "the client must have it registered")
    parser.add_argument("--prompt", action="append", default=[], help="OpenID Connect prompt values; repeatable")
    parser.add_argument("--max-age", type=int, default=None, help="OpenID Connect max_age in seconds")
    parser.add_argument("--no-open", dest="open_browser", action="store_false",
                        help="print the address to visit instead of opening a browser")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the browser (default 300)")


# ---------------------------------------------------------------------------------------------
# Output


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _table(rows: list[list[str]]) -> str:
    """Tab-separated, each column padded to its widest cell (rows may be shorter)."""
    columns = max(len(row) for row in rows)
    widths = [max((len(row[i]) for row in rows if i < len(row)), default=0) for i in range(columns)]
    return "\n".join("\t".join(cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row))
                     .rstrip() for row in rows)


def emit(args: argparse.Namespace, value: Any, rows: list[list[str]]) -> None:
    """``value`` as JSON, or ``rows`` as a table (the default format)."""
    if args.format == "json":
        print(json.dumps(value, separators=(",", ":"), sort_keys=True))
    elif args.format == "json-pretty":
        print(json.dumps(value, indent=2, sort_keys=True))
    elif rows:
        print(_table(rows))


def _vertical(document: dict[str, Any], names: tuple[tuple[str, str], ...]) -> list[list[str]]:
    return [[title, _cell(document.get(key))] for title, key in names]


def _client_rows(clients: list[dict[str, Any]]) -> list[list[str]]:
    return [[title for title, _ in CLIENT_COLUMNS],
            *[[_cell(client.get(key)) for _, key in CLIENT_COLUMNS] for client in clients]]


# ---------------------------------------------------------------------------------------------
# Clients


def current_shape(client: Any) -> Any:
    """A client in the current API's names: ``client_id``, no classic ``id``."""
    if isinstance(client, dict) and "client_id" in client:
        return {key: value for key, value in client.items() if key != "id"}
    return client


def _request_shape(document: dict[str, Any]) -> dict[str, Any]:
    """What the clients route takes: the classic one names the id ``id``."""
    if CLASSIC_CLIENTS and "client_id" in document:
        document = {**{k: v for k, v in document.items() if k != "client_id"}, "id": document["client_id"]}
    return document


def _admin(credentials: Credentials, scope: str) -> AdminApi:
    return AdminApi(credentials, scope, tokenless=not (credentials.client_id and credentials.client_secret))


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _client_document(args: argparse.Namespace) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if args.file:
        document = _read_json(args.file)
        if not isinstance(document, dict):
            raise CliError(f"{args.file}: a client document is a JSON object", 2)
    if args.new_client_secret is not None:
        document["client_secret"] = args.new_client_secret
    for key in ("client_name", "owner", "client_uri", "logo_uri", "policy_uri", "tos_uri",
                "jwks_uri", "subject_type", "token_endpoint_auth_method", "access_token_strategy",
                "frontchannel_logout_uri", "backchannel_logout_uri", "skip_consent", "skip_logout_consent"):
        if getattr(args, key) is not None:
            document[key] = getattr(args, key)
    for key in ("redirect_uris", "grant_types", "response_types", "audience", "allowed_cors_origins", "contacts",
                "post_logout_redirect_uris"):
        if getattr(args, key) is not None:
            document[key] = _split(getattr(args, key))
    if args.scope is not None:
        document["scope"] = " ".join(part for value in args.scope for part in value.replace(",", " ").split())
    if args.metadata is not None:
        document["metadata"] = _parse_json(args.metadata, "--metadata")
    if CLASSIC_CLIENTS and document.get("token_endpoint_auth_method") == "none":
        document.setdefault("public", True)  # the classic API's word for a client without a secret
    return document


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", 2) from None
    return _parse_json(text, path)


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{where} is not JSON: {exc}", 2) from None


def _not_found(exc: CliError, client_id: str) -> CliError:
    if exc.status == 404:
        return CliError(f"OAuth 2.0 client '{client_id}' does not exist (HTTP 404)")
    return exc


def create_client(args: argparse.Namespace, credentials: Credentials) -> int:
    created = _admin(credentials, "hydra.clients").call("POST", CLIENTS_PATH, _request_shape(_client_document(args)))
    client = current_shape(created)
    emit(args, client, _vertical(client, CLIENT_COLUMNS))
    return 0


def get_clients(args: argparse.Namespace, credentials: Credentials) -> int:
    api = _admin(credentials, "hydra.clients")
    found = []
    for client_id in args.ids:
        try:
            found.append(current_shape(api.call("GET", f"{CLIENTS_PATH}/{segment(client_id)}")))
        except CliError as exc:
            raise _not_found(exc, client_id) from None
    if len(found) == 1:
        emit(args, found[0], _vertical(found[0], CLIENT_COLUMNS))
    else:
        emit(args, found, _client_rows(found))
    return 0


def list_clients(args: argparse.Namespace, credentials: Credentials) -> int:
    if not 1 <= args.page_size <= 500:
        raise CliError("--page-size must be between 1 and 500", 2)
    if args.page_token and not args.page_token.isdigit():
        raise CliError("--page-token must be a next_page_token this command printed", 2)
    offset = int(args.page_token or 0)
    page = _admin(credentials, "hydra.clients").call("GET", CLIENTS_PATH,
                                                     params={"limit": args.page_size, "offset": offset})
    clients = [current_shape(client) for client in page or []]
    last = len(clients) < args.page_size
    next_token = "" if last else str(offset + len(clients))
    emit(args, {"items": clients, "next_page_token": next_token, "is_last_page": last},
         [*_client_rows(clients), [""], ["NEXT PAGE TOKEN", next_token], ["IS LAST PAGE", _cell(last)]])
    return 0


def delete_clients(args: argparse.Namespace, credentials: Credentials) -> int:
    """Each id in turn (as Hydra: one that fails is reported and the rest are still deleted)."""
    api = _admin(credentials, "hydra.clients")
    deleted, failed = [], 0
    for client_id in args.ids:
        try:
            api.call("DELETE", f"{CLIENTS_PATH}/{segment(client_id)}")
            deleted.append(client_id)
        except CliError as exc:
            print(f"hydra-lambda: {_not_found(exc, client_id).message}", file=sys.stderr)
            failed += 1
    emit(args, deleted, [[client_id] for client_id in deleted])
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------
# Tokens


def _client_credentials(credentials: Credentials) -> Credentials:
    """Hydra's OAUTH2_CLIENT_ID/OAUTH2_CLIENT_SECRET when neither flags nor HYDRA_* gave them."""
    return Credentials(credentials.endpoint, credentials.client_id or os.environ.get("OAUTH2_CLIENT_ID", ""),
                       credentials.client_secret or os.environ.get("OAUTH2_CLIENT_SECRET", ""))


def _with_expiry(token: dict[str, Any]) -> dict[str, Any]:
    expires_in = token.get("expires_in")
    if isinstance(expires_in, int | float) and "expiry" not in token:
        moment = datetime.fromtimestamp(datetime.now(UTC).timestamp() + expires_in, UTC)
        return {**token, "expiry": moment.isoformat(timespec="seconds").replace("+00:00", "Z")}
    return token


def _scopes(values: list[str]) -> str:
    return " ".join(part for value in values for part in value.replace(",", " ").split())


def perform_client_credentials(args: argparse.Namespace, credentials: Credentials) -> int:
    form = {"grant_type": "client_credentials"}
    if scope := _scopes(args.scope):
        form["scope"] = scope
    if audience := _split(args.audience):
        form["audience"] = " ".join(audience)
    token = client_post(_client_credentials(credentials), "/oauth2/token", form).json()
    emit(args, token, _vertical(_with_expiry(token), TOKEN_ROWS))
    return 0


def perform_authorization_code(args: argparse.Namespace, credentials: Credentials) -> int:
    redirect = args.redirect or f"http://127.0.0.1:{args.port}/callback"
    extra: dict[str, str] = {}
    if args.prompt:
        extra["prompt"] = " ".join(_split(args.prompt))
    if args.max_age is not None:
        extra["max_age"] = str(args.max_age)
    if audience := _split(args.audience):
        extra["audience"] = " ".join(audience)
    token = user_token.sign_in(_client_credentials(credentials), scope=_scopes(args.scope) or "openid offline_access",
                               redirect_uri=redirect, open_browser=args.open_browser, timeout=args.timeout,
                               extra=extra)
    emit(args, token, _vertical(_with_expiry(token), TOKEN_ROWS))
    return 0


def introspect_token(args: argparse.Namespace, credentials: Credentials) -> int:
    """As an admin: with the client's credentials (a confidential client may introspect), else none
    (the private admin API)."""
    form = [("token", args.token)] + ([("scope", scope)] if (scope := _scopes(args.scope)) else [])
    anonymous = not (credentials.client_id and credentials.client_secret)
    answer = client_post(credentials, INTROSPECT_PATH, form, anonymous=anonymous).json()
    emit(args, answer, _vertical(answer, INTROSPECTION_ROWS))
    return 0


def revoke_token(args: argparse.Namespace, credentials: Credentials) -> int:
    client = _client_credentials(credentials)
    if not client.client_id or not client.client_secret:
        raise CliError("revoke token needs the client's --client-id and --client-secret (or OAUTH2_CLIENT_ID and "
                       "OAUTH2_CLIENT_SECRET): a token is revoked by the client it was issued to", 2)
    client_post(client, "/oauth2/revoke", {"token": args.token})
    # Hydra prints the token back; this prints no token (the answer is the same for a token that was
    # not live, or not this client's: RFC 7009).
    emit(args, {"revoked": True}, [["revoked (or it was not a live token of this client)"]])
    return 0


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, Credentials], int]] = {
    ("create", "client"): create_client, ("create", "oauth2-client"): create_client,
    ("get", "client"): get_clients, ("get", "oauth2-client"): get_clients,
    ("list", "clients"): list_clients, ("list", "oauth2-clients"): list_clients,
    ("delete", "client"): delete_clients, ("delete", "oauth2-client"): delete_clients,
    ("perform", "client-credentials"): perform_client_credentials,
    ("perform", "authorization-code"): perform_authorization_code,
    ("introspect", "token"): introspect_token, ("revoke", "token"): revoke_token,
}


def run(args: argparse.Namespace, credentials: Credentials) -> int:
    return COMMANDS[(args.command, args.noun)](args, credentials)
