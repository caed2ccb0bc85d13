"""The current ``hydra`` CLI's JSON Web Key commands, over ``/admin/keys`` (a Bearer token of the
client, as every other command):

    hydra-lambda create jwk SET --alg RS256 [--use sig] [--kid KID] [--public]
    hydra-lambda get jwk SET [SET...] [--public]
    hydra-lambda delete jwk SET [--kid KID]

``create`` generates a key into SET (made if absent) and prints the new key, private part included
unless ``--public``; ``get`` prints each set (one JSON document for one set; an object by set name for
several). The stack's own set (``hydra.openid.id-token``) holds AWS KMS keys: the server answers its
public keys and refuses to create one there (KMS never exports a private key)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from hydra_lambda_local.api import AdminApi, Credentials, segment

ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512")
PRIVATE = ("d", "p", "q", "dp", "dq", "qi", "k")
PUBLIC_HELP = "print public members only (a JWKS to publish; symmetric HS* keys have none and are left out)"


def add_parsers(nouns_of: Callable[[str], Any], connection: argparse.ArgumentParser) -> None:
    """Add the ``jwk`` noun to the verbs ``create``, ``get`` and ``delete`` (``nouns_of(verb)``: that
    verb's noun subparsers, shared with the other current commands)."""
    create = nouns_of("create").add_parser("jwk", parents=[connection], help="generate a key into a JSON Web Key set",
                                           description="Generate a key into SET (made if absent) and print it.")
    create.add_argument("key_set", metavar="SET")
    create.add_argument("--alg", default="RS256", choices=ALGS, help="the key's algorithm (default RS256)")
    create.add_argument("--use", default="sig", choices=("sig", "enc"), help="the key's use (default sig)")
    create.add_argument("--kid", default="", help="the key's id (default: a random UUID); write --kid=KID")
    create.add_argument("--public", action="store_true", help=PUBLIC_HELP)
    get = nouns_of("get").add_parser("jwk", parents=[connection], help="print JSON Web Key sets",
                                     description="Print the keys of each SET (private parts included unless --public).")
    get.add_argument("key_sets", nargs="+", metavar="SET")
    get.add_argument("--public", action="store_true", help=PUBLIC_HELP)
    delete = nouns_of("delete").add_parser("jwk", parents=[connection], help="delete a JSON Web Key set or one key",
                                           description="Delete SET, or only its key KID.")
    delete.add_argument("key_set", metavar="SET")
    delete.add_argument("--kid", default="", help="one key only; write --kid=KID")


def _public(key_set: dict[str, Any]) -> dict[str, Any]:
    keys = [{k: v for k, v in key.items() if k not in PRIVATE} for key in key_set.get("keys", [])
            if key.get("kty") != "oct"]
    return {"keys": keys}


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def run(args: argparse.Namespace, credentials: Credentials) -> int:
    if args.command == "create":
        api = AdminApi(credentials, "hydra.keys.create")
        made = api.call("POST", f"/admin/keys/{segment(args.key_set)}",
                        {"alg": args.alg, "kid": args.kid, "use": args.use})
        _print(_public(made) if args.public else made)
    elif args.command == "get":
        api = AdminApi(credentials, "hydra.keys.get")
        found = {name: api.call("GET", f"/admin/keys/{segment(name)}") for name in args.key_sets}
        if args.public:
            found = {name: _public(key_set) for name, key_set in found.items()}
        _print(found[args.key_sets[0]] if len(found) == 1 else found)
    else:
        api = AdminApi(credentials, "hydra.keys.delete")
        api.call("DELETE", f"/admin/keys/{segment(args.key_set)}" + (f"/{segment(args.kid)}" if args.kid else ""))
        print(f"deleted {args.key_set}" + (f" key {args.kid}" if args.kid else ""))
    return 0
