"""Item 5, throughput over HTTP on loopback: ``hydra-lambda serve`` (DynamoDB Local, moto KMS) and
node-oidc-provider, each under the same bounded load generator (fixed concurrency, fixed duration)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from bench import httpload
from bench.common import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, Sizes

FORM = "application/x-www-form-urlencoded"
CC = urlencode({"grant_type": "client_credentials", "scope": "read"})


def hydra_client(url: str) -> tuple[str, str]:
    """A client on the local server, created through its admin API with the root client's token."""
    root = httpload.basic_header(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    admin = httpload.token(url, root, {"grant_type": "client_credentials", "scope": "hydra.clients"})
    status, body = httpload.request(f"{url}/clients", "POST", headers={"Authorization": f"Bearer {admin}"},
                                    json_body={"id": f"bench-load-{secrets.token_hex(6)}",
                                               "client_name": "bench-load", "grant_types": ["client_credentials"],
                                               "scope": "read write"})
    if status not in (200, 201):
        raise RuntimeError(f"POST /clients answered {status}: {str(body)[:200]}")
    return str(body.get("id") or body["client_id"]), str(body["client_secret"])


def run(token_url: str, introspect_url: str, authorization: str, sizes: Sizes) -> dict[str, Any]:
    """Requests per second for client_credentials and introspection against one server."""
    headers = {"authorization": authorization, "content-type": FORM}
    out: dict[str, Any] = {}
    cc = httpload.load(token_url, headers=headers, bodies=[CC], concurrency=sizes.load_concurrency,
                       seconds=sizes.load_seconds)
    out["client_credentials"] = {**cc, "rps": cc["completed"] / cc["elapsed_s"]}
    pool = [httpload.token(token_url, authorization, {"grant_type": "client_credentials", "scope": "read"})
            for _ in range(sizes.token_pool)]
    intro = httpload.load(introspect_url, headers=headers, bodies=[urlencode({"token": t}) for t in pool],
                          concurrency=sizes.load_concurrency, seconds=sizes.load_seconds)
    out["introspection"] = {**intro, "rps": intro["completed"] / intro["elapsed_s"]}
    return out
