"""Readiness probes of the tables: one eventually consistent GetItem of a key no row holds (half a
read unit, the data plane: DescribeTable is a control-plane call with a low account-wide rate limit,
the wrong thing to put behind a public route)."""

from __future__ import annotations

from hydra_lambda.storage.tables import ClientRecord, TokenRecord, connection, ensure_bound

# No client id holds "#" (hydra_lambda.client_ids), and no token shard is named "health#...": the
# probe key never names a row, so the answer is always empty and nothing is read.
PROBE_KEY = "health#probe"


@ensure_bound
def probe_clients_table() -> None:
    """Raises whatever the GetItem raises when the clients table does not answer."""
    connection().get_item(ClientRecord.Meta.table_name, PROBE_KEY, None, attributes_to_get=["id"])


@ensure_bound
def probe_tokens_table() -> None:
    """Raises whatever the GetItem raises when the tokens table does not answer."""
    connection().get_item(TokenRecord.Meta.table_name, PROBE_KEY, PROBE_KEY, attributes_to_get=["shard"])
