"""The ``hydra-lambda`` command line: ``serve`` and ``consent-app`` run the local tooling; every other
command speaks only HTTP to an API (``--endpoint``/HYDRA_URL) with a client's credentials
(``--client-id``/``--client-secret`` or HYDRA_CLIENT_ID/HYDRA_CLIENT_SECRET), like the classic ``hydra`` CLI."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable
from importlib import metadata
from typing import Any

from hydra_lambda_local import cli_current, cli_jwk, consent_app, device_token, user_token
from hydra_lambda_local.api import (
    AdminApi,
    CliError,
    Credentials,
    client_credentials_token,
    client_post,
    read_secret,
    segment,
)

ID_TOKEN_SET = "hydra.openid.id-token"
POLICY_LISTS = ("subjects", "resources", "actions")
ROOT_REDIRECT_URI = "http://localhost:4445/callback"


def _connection_options() -> argparse.ArgumentParser:
    """Accepted before or after any subcommand (SUPPRESS: a later level never resets an earlier one)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument("--endpoint", default=argparse.SUPPRESS,
                       help="the API's base URL (default: $HYDRA_URL or http://127.0.0.1:4444)")
    group.add_argument("--client-id", default=argparse.SUPPRESS, help="default: $HYDRA_CLIENT_ID")
    group.add_argument("--client-secret", default=argparse.SUPPRESS,
                       help="default: $HYDRA_CLIENT_SECRET (prefer it or --client-secret-file: arguments show in ps)")
    group.add_argument("--client-secret-file", default=argparse.SUPPRESS, metavar="PATH",
                       help="read the client's secret from the first line of PATH ('-' for stdin)")
    group.add_argument("--allow-plain-http", action="store_true", default=argparse.SUPPRESS,
                       help="allow an http:// endpoint on another host (secrets then travel in clear text)")
    return parent


CONNECTION = _connection_options()


def _sub(sub: Any, name: str, help_text: str, **kwargs: Any) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_text, description=help_text, parents=[CONNECTION], **kwargs)


def _paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--offset", type=int, default=None)


def _document_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--file", help=f"a JSON {what} document ('-' for stdin); the flags below are then ignored")


def _document_collection(sub: Any, name: str, title: str, noun: str, plural: str, create_text: str,
                         id_help: str | None = None) -> tuple[Any, list[argparse.ArgumentParser]]:
    """list, get, delete, create and update of a collection of JSON documents; returns its actions
    (to add more) and the create and update parsers, which take the same field flags."""
    actions = _sub(sub, name, title).add_subparsers(dest="action", required=True, metavar="ACTION")
    _paging(_sub(actions, "list", f"list {plural}"))
    for action in ("get", "delete"):
        _sub(actions, action, f"{action} a {noun}").add_argument("id")
    create = _sub(actions, "create", create_text)
    _document_options(create, noun)
    create.add_argument("--id", default="", help=id_help)
    update = _sub(actions, "update", f"change a {noun} (flags change those fields of the current document)")
    update.add_argument("id")
    _document_options(update, noun)
    return actions, [create, update]


def _import_parser(actions: Any, plural: str) -> None:
    parser = _sub(actions, "import", f"create the {plural} of JSON files (each one document or a list), in "
                  "order; stops at the first failure and says what was created")
    parser.add_argument("files", nargs="+", metavar="FILE", help="a JSON file ('-' for stdin)")


def _add_clients(sub: Any) -> None:
    actions, parsers = _document_collection(sub, "clients", "OAuth 2.0 clients (/clients)", "client", "clients",
                                            "create a client; prints it once with its secret")
    _import_parser(actions, "clients")
    for parser in parsers:
        parser.add_argument("-n", "--name", default="", help="client_name")
        parser.add_argument("--secret", default="", help="default on create: a generated secret (prefer "
                            "--secret-file: arguments show in ps)")
        parser.add_argument("--secret-file", default="", metavar="PATH",
                            help="read the client's secret from the first line of PATH ('-' for stdin)")
        parser.add_argument("-c", "--callbacks", action="append", default=[], help="redirect URI; repeat for several")
        parser.add_argument("-g", "--grant-types", action="append", default=[], help="repeat for several")
        parser.add_argument("-r", "--response-types", action="append", default=[], help="repeat for several")
        parser.add_argument("-a", "--allowed-scopes", action="append", default=[], help="scope; repeat for several")
        parser.add_argument("--owner", default="")
        parser.add_argument("--logo-uri", default="")
        parser.add_argument("--policy-uri", default="")
        parser.add_argument("--tos-uri", default="")
        parser.add_argument("--public", action="store_true", help="no secret; the code flow then needs PKCE")


def _add_policies(sub: Any) -> None:
    actions, parsers = _document_collection(
        sub, "policies", "access control policies (/policies)", "policy", "policies",
        "create a policy (or every policy of a JSON list given with --file)", id_help="default: a random UUID")
    _import_parser(actions, "policies")
    for field_name in POLICY_LISTS:
        edits = _sub(actions, field_name, f"add or remove {field_name} of a policy").add_subparsers(
            dest="edit", required=True, metavar="EDIT")
        for edit in ("add", "remove"):
            parser = _sub(edits, edit, f"{edit} {field_name} of a policy (read, changed, written back)")
            parser.add_argument("id")
            parser.add_argument("values", nargs="+", metavar=field_name[:-1].upper())
    for parser in parsers:
        parser.add_argument("--description", default=None)
        parser.add_argument("-s", "--subjects", action="append", default=[], help="repeat for several")
        parser.add_argument("-r", "--resources", action="append", default=[], help="repeat for several")
        parser.add_argument("-a", "--actions", action="append", default=[], help="repeat for several")
        parser.add_argument("--allow", dest="effect", action="store_const", const="allow", default=None,
                            help="effect allow (create needs --allow or --deny)")
        parser.add_argument("--deny", dest="effect", action="store_const", const="deny")
        parser.add_argument("--conditions", default="", help='JSON, e.g. {"owner":{"type":"EqualsSubjectCondition"}}')


def _add_groups(sub: Any) -> None:
    groups = _sub(sub, "groups", "warden groups (/warden/groups)")
    actions = groups.add_subparsers(dest="action", required=True, metavar="ACTION")
    _sub(actions, "list", "list groups").add_argument("--member", default=None, help="only groups with this member")
    _sub(actions, "find", "the groups a subject is a member of").add_argument("subject")
    for name in ("get", "delete"):
        _sub(actions, name, f"{name} a group").add_argument("id")
    create = _sub(actions, "create", "create a group")
    create.add_argument("--id", default="", help="default: a random UUID")
    create.add_argument("-m", "--members", action="append", default=[], help="repeat for several")
    for name, text in (("add-members", "add subjects to a group"), ("remove-members", "remove subjects")):
        parser = _sub(actions, name, text)
        parser.add_argument("id")
        parser.add_argument("members", nargs="+")


ALG_HELP = "RS256 (default), PS256 or ES256: rotates the key set of that algorithm"
FORCE_HELP = ("rotate even if the last step was less than the minimum interval ago (for a compromised key: "
              "cached JWKS copies and live ID tokens of the old key stop verifying)")


def _add_keys(sub: Any) -> None:
    keys = _sub(sub, "keys", "JSON Web Keys of the ID-token set (public keys only: private keys stay in KMS)")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    get = _sub(actions, "get", "print the set's public keys, or one key with --kid")
    get.add_argument("--set", dest="key_set", default=ID_TOKEN_SET)
    get.add_argument("--kid", default="", help="one key; write --kid=KID (a kid may start with '-')")
    rotate = _sub(actions, "rotate", "make a new signing key for the set and print it")
    rotate.add_argument("--set", dest="key_set", default=ID_TOKEN_SET)
    rotate.add_argument("--alg", default="RS256", help=ALG_HELP)
    rotate.add_argument("--force", action="store_true", help=FORCE_HELP)
    create = _sub(actions, "create", "the classic name of rotate: a new signing key for SET")
    create.add_argument("key_set", nargs="?", default=ID_TOKEN_SET, metavar="SET")
    create.add_argument("-a", "--alg", default="RS256", help=ALG_HELP)
    create.add_argument("--force", action="store_true", help=FORCE_HELP)
    delete = _sub(actions, "delete", "delete a key set or one key (the server refuses: keys leave by rotation)")
    delete.add_argument("key_set", metavar="SET")
    delete.add_argument("kid", nargs="?", default="")


def _add_token(sub: Any) -> None:
    token = _sub(sub, "token", "tokens: flush expired ones, get one as a client or as a user")
    actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    flush = _sub(actions, "flush", "remove expired tokens, codes and consent requests now (/oauth2/flush)")
    flush.add_argument("--not-after", default=None, help="RFC 3339 date-time; default: now")
    client = _sub(actions, "client", "print an access token of the client_credentials grant")
    client.add_argument("--scope", default="", help="space-separated scopes (default: none)")
    client.add_argument("--json", action="store_true", help="print the whole token response as JSON")
    revoke = _sub(actions, "revoke", "revoke an access or refresh token of this client (/oauth2/revoke)")
    revoke.add_argument("token")
    validate = _sub(actions, "validate", "introspect a token (/oauth2/introspect) and print the answer; exit 0 when "
                    "it is active, 1 when not")
    validate.add_argument("token")
    user = _sub(actions, "user", "sign a user in through the browser (code flow with PKCE) and print the tokens")
    user.add_argument("--scope", default="openid offline")
    user.add_argument("--redirect-uri", default=ROOT_REDIRECT_URI,
                      help=f"a loopback URI the client has registered (default: {ROOT_REDIRECT_URI}, the root "
                           "client's)")
    user.add_argument("--no-open", dest="open_browser", action="store_false",
                      help="print the address to visit instead of opening a browser")
    user.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the browser (default 300)")
    _device_options(_sub(actions, "device", DEVICE_HELP))


DEVICE_HELP = ("sign a user in for this client with the device flow (RFC 8628): print the verification URI and the "
               "user code, poll, print the tokens (a public client needs only --client-id)")


def _device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", default="openid offline")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the user (default 600)")


def _add_other(sub: Any) -> None:
    _sub(sub, "connect", "check the endpoint and the client's credentials, and print the lines that keep them for "
         "this shell (the secret is never printed)")
    sub.add_parser("version", help="print the version of hydra-lambda")


def _add_local(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the API locally with the real handlers (what `make run` does)")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 4444")
    serve.add_argument("--admin-port", type=int, default=None,
                       help="the admin routes without a token, on 127.0.0.1 only (Hydra's admin port); "
                            "default: $ADMIN_PORT or 4445; 0: none")
    serve.add_argument("--template", default="", help="path to template.yaml")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.add_argument("--persist", action="store_true",
                       help="keep tables, system secret, root client and signing keys across restarts (in --data-dir, "
                            "with DynamoDB Local: needs `npm ci --prefix tests/node` and Java 17)")
    serve.add_argument("--data-dir", default="", help="persistent mode's folder (default: .local-data in the checkout)")
    serve.add_argument("--flow", choices=("classic", "current"), default="",
                       help="current: the current login/consent/logout flow, URLS_* set to the example app's pages "
                            "(`make run FLOW=current`); classic: the classic consent flow (the default when URLS_LOGIN "
                            "is unset)")
    consent_app.add_parser(sub)


# The current `hydra` CLI's habit: VERB NOUN (`create jwk`, `get jwk`...). Each verb is one parser whose
# nouns several modules add (cli_jwk); NOUN_COMMANDS runs (verb, noun).
def _add_current(sub: Any) -> None:
    """The current hydra CLI's verbs (``create client``, ``perform client-credentials``, ...: cli_current),
    with the nouns of ``create/get/delete jwk`` (cli_jwk) and ``perform device-code``."""
    nouns = cli_current.add_parsers(sub, [CONNECTION])
    cli_jwk.add_parsers(nouns.__getitem__, CONNECTION)
    _device_options(_sub(nouns["perform"], "device-code", DEVICE_HELP))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hydra-lambda", description=__doc__, parents=[CONNECTION])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_clients, _add_policies, _add_groups, _add_keys, _add_token, _add_current, _add_other,
                _add_local):
        add(sub)
    return top


# ---------------------------------------------------------------------------------------------
# Commands


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _read_document(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        return json.loads(text)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", 2) from None
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}", 2) from None


def _split(values: list[str]) -> list[str]:
    return [part for value in values for part in value.split(",") if part]


def _client_changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    secret = read_secret(args.secret_file, "--secret-file") if args.secret_file else args.secret
    for key, value in (("id", getattr(args, "id", "") if args.action == "create" else ""),
                       ("client_name", args.name), ("client_secret", secret), ("owner", args.owner),
                       ("logo_uri", args.logo_uri), ("policy_uri", args.policy_uri), ("tos_uri", args.tos_uri)):
        if value:
            changes[key] = value
    for key, values in (("redirect_uris", args.callbacks), ("grant_types", args.grant_types),
                        ("response_types", args.response_types)):
        if values:
            changes[key] = _split(values)
    if args.allowed_scopes:
        changes["scope"] = " ".join(part for value in args.allowed_scopes for part in value.replace(",", " ").split())
    if args.public:
        changes["public"] = True
    return changes


def _list_get_delete(api: AdminApi, base: str, noun: str, args: argparse.Namespace,
                     params: dict[str, Any] | None = None) -> bool:
    """``list``, ``get`` and ``delete``, the same for every collection; False for the other actions."""
    if args.action == "list":
        _print(api.call("GET", base, params=params or None))
    elif args.action == "get":
        _print(api.call("GET", f"{base}/{segment(args.id)}"))
    elif args.action == "delete":
        api.call("DELETE", f"{base}/{segment(args.id)}")
        print(f"deleted {noun} {args.id}")
    else:
        return False
    return True


def _update(api: AdminApi, base: str, args: argparse.Namespace,
            changes: Callable[[argparse.Namespace], dict[str, Any]]) -> None:
    """``update``: the ``--file`` document, or the current document with the flags' changes."""
    path = f"{base}/{segment(args.id)}"
    document = _read_document(args.file) if args.file else {**api.call("GET", path), **changes(args)}
    _print(api.call("PUT", path, document))


def _list_params(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The list's query parameters the user gave (the other actions have none of these options)."""
    return {name: value for name in names if (value := getattr(args, name, None)) is not None}


def run_clients(args: argparse.Namespace, credentials: Credentials) -> int:
    api = AdminApi(credentials, "hydra.clients")
    if _list_get_delete(api, "/clients", "client", args, _list_params(args, "limit", "offset")):
        return 0
    if args.action == "import":
        _create_all(api, "/clients", "client", _documents_of(args.files))
    elif args.action == "create":
        _print(api.call("POST", "/clients", _read_document(args.file) if args.file else _client_changes(args)))
    else:
        _update(api, "/clients", args, _client_changes)
    return 0


def _policy_changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key, values in (("subjects", args.subjects), ("resources", args.resources), ("actions", args.actions)):
        if values:
            changes[key] = _split(values)
    if args.description is not None:
        changes["description"] = args.description
    if args.effect is not None:
        changes["effect"] = args.effect
    if args.conditions:
        try:
            changes["conditions"] = json.loads(args.conditions)
        except ValueError as exc:
            raise CliError(f"--conditions is not JSON: {exc}", 2) from None
    return changes


def run_policies(args: argparse.Namespace, credentials: Credentials) -> int:
    api = AdminApi(credentials, "hydra.policies")
    if _list_get_delete(api, "/policies", "policy", args, _list_params(args, "limit", "offset")):
        return 0
    if args.action == "import":
        _create_all(api, "/policies", "policy", _documents_of(args.files))
    elif args.action in POLICY_LISTS:
        _edit_policy_list(api, args.id, args.action, args.edit, _split(args.values))
    elif args.action == "create":
        if args.file:
            document = _read_document(args.file)
        elif args.effect is None:
            raise CliError("policies create needs --allow or --deny (the effect is never implied)", 2)
        else:
            document = {"id": args.id or str(uuid.uuid4()), "description": "", "subjects": [], "resources": [],
                        "actions": [], "conditions": {}, **_policy_changes(args)}
        if isinstance(document, list):  # a policy set: one POST each, in order
            _create_all(api, "/policies", "policy", [(args.file, index, one) for index, one in enumerate(document)])
        else:
            _print(api.call("POST", "/policies", document))
    else:
        _update(api, "/policies", args, _policy_changes)
    return 0


def _edit_policy_list(api: AdminApi, policy_id: str, field_name: str, edit: str, values: list[str]) -> None:
    """``policies subjects|resources|actions add|remove ID VALUE...``: read, change, write back."""
    path = f"/policies/{segment(policy_id)}"
    policy = api.call("GET", path)
    current = list(policy.get(field_name) or [])
    if edit == "add":
        changed = current + [value for value in dict.fromkeys(values) if value not in current]
    else:
        missing = [value for value in values if value not in current]
        if missing:
            raise CliError(f"policy {policy_id} has no {field_name} {', '.join(missing)}: nothing changed", 2)
        changed = [value for value in current if value not in values]
    _print(api.call("PUT", path, {**policy, field_name: changed}))


def _documents_of(paths: list[str]) -> list[tuple[str, int | None, Any]]:
    """(file, index in its list or None, document) of every document of every file, all read before
    anything is created (a file that cannot be read or parsed creates nothing)."""
    found: list[tuple[str, int | None, Any]] = []
    for path in paths:
        document = _read_document(path)
        if isinstance(document, list):
            found += [(path, index, one) for index, one in enumerate(document)]
        else:
            found.append((path, None, document))
    return found


def _create_all(api: AdminApi, base: str, noun: str, documents: list[tuple[str, int | None, Any]]) -> None:
    """POST each document in order and print the created ones as a JSON list; at the first failure,
    still print what was created and say which document failed and what exists now."""
    created: list[Any] = []
    for path, index, document in documents:
        try:
            created.append(api.call("POST", base, document))
        except CliError as exc:
            _print(created)
            where = f"{path}" + (f" [{index}]" if index is not None else "")
            ids = ", ".join(str(one.get("id")) for one in created if isinstance(one, dict)) or "none"
            raise CliError(f"{where}: {exc.message}; created {len(created)} of {len(documents)} {noun} "
                           f"document(s) before it ({ids}); the rest were not sent") from None
    _print(created)


def run_groups(args: argparse.Namespace, credentials: Credentials) -> int:
    api = AdminApi(credentials, "hydra.warden.groups")
    if args.action == "find":
        _print(api.call("GET", "/warden/groups", params={"member": args.subject}))
        return 0
    if _list_get_delete(api, "/warden/groups", "group", args, _list_params(args, "member")):
        return 0
    if args.action == "create":
        group = {"id": args.id or str(uuid.uuid4()), "members": _split(args.members)}
        _print(api.call("POST", "/warden/groups", group))
    else:
        method = "POST" if args.action == "add-members" else "DELETE"
        api.call(method, f"/warden/groups/{segment(args.id)}/members", {"members": args.members})
        done = "added to" if method == "POST" else "removed from"
        print(f"{len(args.members)} member(s) {done} group {args.id}")
    return 0


def run_keys(args: argparse.Namespace, credentials: Credentials) -> int:
    path = f"/keys/{segment(args.key_set)}"
    if args.action == "get":
        api = AdminApi(credentials, "hydra.keys.get")
        _print(api.call("GET", path + (f"/{segment(args.kid)}" if args.kid else "")))
    elif args.action == "delete":
        api = AdminApi(credentials, "hydra.keys.delete")
        api.call("DELETE", path + (f"/{segment(args.kid)}" if args.kid else ""))
        print(f"deleted {args.key_set}" + (f" key {args.kid}" if args.kid else ""))
    else:
        api = AdminApi(credentials, "hydra.keys.create")
        body: dict[str, Any] = {"alg": args.alg, "kid": ""}
        if args.force:
            body["force"] = True
        _print(api.call("POST", path, body))
    return 0


def run_token(args: argparse.Namespace, credentials: Credentials) -> int:
    if args.action == "flush":
        api = AdminApi(credentials, "hydra.oauth2.flush")
        answer = api.call("POST", "/oauth2/flush", {"notAfter": args.not_after} if args.not_after else None,
                          headers={"Prefer": "return=representation"})
        _print(answer) if answer is not None else print("flushed (the server did not say what it removed)")
    elif args.action == "client":
        token = client_credentials_token(credentials, args.scope)
        _print(token) if args.json else print(token["access_token"])
    elif args.action == "revoke":
        client_post(credentials, "/oauth2/revoke", {"token": args.token})
        print("revoked (or it was not a live token of this client: the server answers the same)")
    elif args.action == "validate":
        answer = client_post(credentials, "/oauth2/introspect", {"token": args.token}).json()
        _print(answer)
        return 0 if answer.get("active") is True else 1
    elif args.action == "device":
        return device_token.run(credentials, scope=args.scope, timeout=args.timeout)
    else:
        return user_token.run(credentials, scope=args.scope, redirect_uri=args.redirect_uri,
                              open_browser=args.open_browser, timeout=args.timeout)
    return 0


def run_perform(args: argparse.Namespace, credentials: Credentials) -> int:
    return device_token.run(credentials, scope=args.scope, timeout=args.timeout)


def run_connect(args: argparse.Namespace, credentials: Credentials) -> int:
    """Classic ``hydra connect`` wrote a config file; here the environment holds the settings, so this
    checks them (a token for the client) and prints the export line, never the secret."""
    client_credentials_token(credentials, "")
    print(f"connected to {credentials.endpoint} as client '{credentials.client_id}'", file=sys.stderr)
    print(f"export HYDRA_URL={credentials.endpoint} HYDRA_CLIENT_ID={credentials.client_id}  "
          "# and HYDRA_CLIENT_SECRET, or --client-secret-file")
    return 0


NOUN_COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, Credentials], int]] = {
    ("create", "jwk"): cli_jwk.run, ("get", "jwk"): cli_jwk.run, ("delete", "jwk"): cli_jwk.run,
    ("perform", "device-code"): run_perform,
}


def run_current(args: argparse.Namespace, credentials: Credentials) -> int:
    return NOUN_COMMANDS.get((args.command, args.noun), cli_current.run)(args, credentials)


COMMANDS: dict[str, Callable[[argparse.Namespace, Credentials], int]] = {
    "clients": run_clients, "policies": run_policies, "groups": run_groups, "keys": run_keys, "token": run_token,
    "connect": run_connect, **dict.fromkeys(cli_current.VERBS, run_current),
}


def _version() -> str:
    try:
        return metadata.version("hydra-lambda")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _run_local(args: argparse.Namespace) -> int:
    if args.command == "version":
        print(f"hydra-lambda {_version()}")
        return 0
    if args.command == "consent-app":
        return consent_app.run_cli(args)
    # Lazy: 260 ms of imports (the layer, pynamodb; python -X importtime) that the commands speaking
    # HTTP do not need.
    from hydra_lambda_local.serve import serve, serve_port

    port = serve_port(args.port)
    if port is None:
        return 2
    return serve(args.host, port, args.template, args.verbose, args.persist, args.data_dir, args.flow,
                 args.admin_port)


def _closed_pipe() -> int:
    """The reader went away (``hydra-lambda clients list | head -1``): stop quietly, as a process
    killed by SIGPIPE would (exit 141), with stdout pointed at /dev/null so the interpreter's final
    flush cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        return _closed_pipe()


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    if args.command not in COMMANDS:
        return _run_local(args)
    try:
        return COMMANDS[args.command](args, Credentials.from_args(args))
    except BrokenPipeError:
        raise
    except CliError as exc:
        print(f"hydra-lambda: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hydra-lambda: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a CLI reports in one line; it never dumps a traceback
        print(f"hydra-lambda: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
