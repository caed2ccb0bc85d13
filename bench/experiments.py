"""Alternatives tried by patching the running code: ``python -m bench --experiment NAME[,NAME]``
measures what a change to the layer would give (or what a landed one gave) without committing it.
Results of such a run say so (``results.json`` ``experiments``, and a banner over the table).

None is defined now. Landed earlier and since removed from here: ``shared-client`` (one DynamoDB
client for every model), ``client-cache`` (now the default, ``CLIENT_CACHE_SECONDS``) and
``botocore-dynamodb`` (the before of the hand-written DynamoDB client, which issue 13 removes; it
reached into pynamodb's private connection, which the benchmark no longer does).
"""

from __future__ import annotations

NAMES: tuple[str, ...] = ()


def apply(names: list[str]) -> None:
    for name in names:
        if name:
            raise ValueError(f"unknown experiment {name!r} (known: {', '.join(NAMES) or 'none'})")
