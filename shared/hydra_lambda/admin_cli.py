"""``hydra-lambda policies ...`` (directly on the policies table) and ``hydra-lambda clients ...``
(through the HTTP API with a client_credentials token, like the classic ``hydra clients`` CLI)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

DEFAULT_ENDPOINT = "http://127.0.0.1:4444"
ADMIN_SCOPE = "hydra.clients"


def add_parsers(sub: Any) -> None:
    policies = sub.add_parser("policies", help="manage access policies (directly in DynamoDB)")
    pol = policies.add_subparsers(dest="action", required=True)
    create = pol.add_parser("create", help="create a policy")
    create.add_argument("--file", help="a JSON policy document, or a list of them (a policy set); '-' for stdin; "
                        "the flags below are then ignored")
    create.add_argument("--id", default="")
    create.add_argument("--description", default="")
    create.add_argument("-s", "--subjects", action="append", default=[], help="repeat for several")
    create.add_argument("-r", "--resources", action="append", default=[], help="repeat for several")
    create.add_argument("-a", "--actions", action="append", default=[], help="repeat for several")
    create.add_argument("--effect", choices=["allow", "deny"], default="deny",
                        help="deny unless told (as the classic CLI)")
    create.add_argument("--conditions", default="", help='JSON, e.g. {"owner":{"type":"EqualsSubjectCondition"}}')
    pol.add_parser("list", help="list every policy")
    for name in ("get", "delete"):
        one = pol.add_parser(name, help=f"{name} a policy")
        one.add_argument("id")

    clients = sub.add_parser("clients", help="manage OAuth 2.0 clients through the HTTP API")
    clients.add_argument("--endpoint", default=os.environ.get("HYDRA_URL", DEFAULT_ENDPOINT),
                         help="base URL of the API (env HYDRA_URL)")
    clients.add_argument("--client-id", default=os.environ.get("HYDRA_CLIENT_ID", ""),
                         help="admin client id (env HYDRA_CLIENT_ID)")
    clients.add_argument("--client-secret", default=os.environ.get("HYDRA_CLIENT_SECRET", ""),
                         help="admin client secret (prefer env HYDRA_CLIENT_SECRET: argv is visible to ps)")
    cli = clients.add_subparsers(dest="action", required=True)
    new = cli.add_parser("create", help="create a client; prints it once with its secret")
    new.add_argument("--file", help="a JSON client document ('-' for stdin); flags below are ignored")
    new.add_argument("--id", default="")
    new.add_argument("-n", "--name", default="")
    new.add_argument("--secret", default="", help="default: a generated secret")
    new.add_argument("-c", "--callbacks", action="append", default=[], help="redirect URI; repeat for several")
    new.add_argument("-g", "--grant-types", action="append", default=[])
    new.add_argument("-r", "--response-types", action="append", default=[])
    new.add_argument("-a", "--allowed-scopes", action="append", default=[], help="scope; repeat for several")
    new.add_argument("--owner", default="")
    new.add_argument("--public", action="store_true")
    listing = cli.add_parser("list", help="list clients")
    listing.add_argument("--limit", type=int, default=None)
    listing.add_argument("--offset", type=int, default=None)
    for name in ("get", "delete"):
        one = cli.add_parser(name, help=f"{name} a client")
        one.add_argument("id")


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _fail(message: str, code: int = 1) -> int:
    print(f"hydra-lambda: {message}", file=sys.stderr)
    return code


def _read_document(path: str) -> Any:
    if path == "-":
        return json.loads(sys.stdin.read())
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return json.loads(text)


# ---------------------------------------------------------------- policies


def run_policies(args: argparse.Namespace) -> int:
    from hydra_lambda.policies import Policy
    from hydra_lambda.storage import policies as store

    if args.action == "list":
        _print([policy.wire() for policy in store.all_policies(fresh=True)])
        return 0
    if args.action == "get":
        found = store.get(args.id)
        if found is None:
            return _fail(f"no policy '{args.id}'")
        _print(found.wire())
        return 0
    if args.action == "delete":
        if not store.delete(args.id):
            return _fail(f"no policy '{args.id}'")
        print(f"deleted policy {args.id}")
        return 0
    try:
        if args.file:
            document = _read_document(args.file)
        else:
            document = {
                "id": args.id, "description": args.description, "subjects": args.subjects,
                "resources": args.resources, "actions": args.actions, "effect": args.effect,
                "conditions": json.loads(args.conditions) if args.conditions else {},
            }
        documents = document if isinstance(document, list) else [document]  # a policy set, or one
        found = [Policy.from_wire(_with_id(one)) for one in documents]  # all checked before any write
    except (ValueError, OSError) as exc:  # InvalidPolicy and JSONDecodeError are ValueErrors
        return _fail(f"invalid policy: {exc}", 2)
    for policy in found:
        try:
            store.create(policy)
        except store.AlreadyExists:
            return _fail(f"a policy with id '{policy.id}' already exists")
    _print(found[0].wire() if not isinstance(document, list) else [policy.wire() for policy in found])
    return 0


def _with_id(document: Any) -> Any:
    if isinstance(document, dict) and not document.get("id"):
        import uuid

        return {**document, "id": str(uuid.uuid4())}
    return document


# ---------------------------------------------------------------- clients (over HTTP)


class ApiError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status


def _request(method: str, url: str, *, headers: dict[str, str], data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        raise ApiError(exc.code, exc.read().decode("utf-8", "replace")) from None


def fetch_token(endpoint: str, client_id: str, client_secret: str, scope: str = ADMIN_SCOPE) -> str:
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
    headers = {
        "Authorization": "Basic " + base64.b64encode(raw).decode("ascii"),
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    body = urlencode({"grant_type": "client_credentials", "scope": scope}).encode()
    _status, text = _request("POST", endpoint.rstrip("/") + "/oauth2/token", headers=headers, data=body)
    return json.loads(text)["access_token"]


def _client_document(args: argparse.Namespace) -> dict[str, Any]:
    if args.file:
        return _read_document(args.file)
    document: dict[str, Any] = {}
    for key, value in (("id", args.id), ("client_name", args.name), ("client_secret", args.secret),
                       ("owner", args.owner)):
        if value:
            document[key] = value
    for key, values in (("redirect_uris", args.callbacks), ("grant_types", args.grant_types),
                        ("response_types", args.response_types)):
        if values:
            document[key] = [part for value in values for part in value.split(",") if part]
    if args.allowed_scopes:
        document["scope"] = " ".join(part for value in args.allowed_scopes for part in value.replace(",", " ").split())
    if args.public:
        document["public"] = True
    return document


def run_clients(args: argparse.Namespace) -> int:
    if not args.client_id or not args.client_secret:
        return _fail("set --client-id and --client-secret (or HYDRA_CLIENT_ID / HYDRA_CLIENT_SECRET)", 2)
    base = args.endpoint.rstrip("/")
    try:
        token = fetch_token(base, args.client_id, args.client_secret)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if args.action == "create":
            data = json.dumps(_client_document(args)).encode()
            _s, text = _request("POST", base + "/clients", data=data,
                                headers={**headers, "Content-Type": "application/json"})
            _print(json.loads(text))
        elif args.action == "list":
            query = {k: v for k, v in (("limit", args.limit), ("offset", args.offset)) if v is not None}
            _s, text = _request("GET", base + "/clients" + (f"?{urlencode(query)}" if query else ""),
                                headers=headers)
            _print(json.loads(text))
        elif args.action == "get":
            _s, text = _request("GET", f"{base}/clients/{quote(args.id, safe='')}", headers=headers)
            _print(json.loads(text))
        else:
            _request("DELETE", f"{base}/clients/{quote(args.id, safe='')}", headers=headers)
            print(f"deleted client {args.id}")
    except ApiError as exc:
        return _fail(str(exc))
    except (urllib.error.URLError, OSError) as exc:
        return _fail(f"cannot reach {base}: {exc}")
    except ValueError as exc:
        return _fail(f"invalid input or answer: {exc}", 2)
    return 0
