"""Alternatives tried by patching the running code: ``python -m bench --experiment NAME[,NAME]``
measures what a change to the layer would give (or what a landed one gave) without committing it.
Results of such a run say so (``results.json`` ``experiments``, and a banner over the table).

- ``botocore-dynamodb``: DynamoDB through a botocore client again (pynamodb's default), instead of
  the thin client of ``storage/transport.py``: the before of that change.

Landed earlier and since removed from here: ``shared-client`` (one DynamoDB client for every model)
and ``client-cache`` (now the default, ``CLIENT_CACHE_SECONDS``).
"""

from __future__ import annotations

from typing import Any

NAMES = ("botocore-dynamodb",)


def botocore_dynamodb() -> None:
    from hydra_lambda.aws import botocore_session
    from hydra_lambda.storage import tables

    original = tables._share_one_connection

    def share(settings: Any) -> None:
        original(settings)
        connection = tables.MODELS[0]._get_connection().connection
        connection._client = None  # pynamodb makes a botocore client on first use
        connection._local.session = botocore_session()

    tables._share_one_connection = share


def apply(names: list[str]) -> None:
    for name in names:
        if name == "botocore-dynamodb":
            botocore_dynamodb()
        elif name:
            raise ValueError(f"unknown experiment {name!r} (known: {', '.join(NAMES)})")
