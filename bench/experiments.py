"""Optimisations tried by patching the running code, never committed here: ``python -m bench
--experiment NAME[,NAME]`` measures what a change to the layer would give before anyone makes it.
Results of such a run say so (``results.json`` ``experiments``, and a banner over the table).

- ``shared-client``: one botocore DynamoDB client for every pynamodb model (instead of one session
  and client per model), as ``storage/tables.py`` ``bind()`` could do.
- ``client-cache``: client records cached per container for 30 s on the client-authentication path
  of the token, introspection and revocation endpoints (``client_auth.get_client``).
"""

from __future__ import annotations

import time
from typing import Any

NAMES = ("shared-client", "client-cache")


def shared_client() -> None:
    from hydra_lambda.storage import tables

    original = tables.bind

    def bind(settings: Any = None) -> None:
        original(settings)
        first = tables.MODELS[0]._get_connection().connection
        client = first.client
        for model in tables.MODELS[1:]:
            model._get_connection().connection._client = client

    tables.bind = bind


def client_cache(ttl: float = 30.0) -> None:
    from hydra_lambda import client_auth, clients

    original = clients.get_client
    cache: dict[str, tuple[float, Any]] = {}

    def get_client(client_id: str) -> Any:
        now = time.monotonic()
        hit = cache.get(client_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = original(client_id)
        if found is not None:
            cache[client_id] = (now + ttl, found)
        return found

    client_auth.get_client = get_client  # type: ignore[attr-defined]


def apply(names: list[str]) -> None:
    for name in names:
        if name == "shared-client":
            shared_client()
        elif name == "client-cache":
            client_cache()
        elif name:
            raise ValueError(f"unknown experiment {name!r} (known: {', '.join(NAMES)})")
