"""Count the AWS API calls a handler makes, through botocore's ``before-call`` event.

Every botocore client is made by ``botocore.session.Session.create_client`` (DynamoDB's through
pynamodb, KMS, Secrets Manager). Wrapping it registers the counter on every client, whoever creates
it, and whenever. Call ``install()`` before the first client exists (before the handlers run).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})

calls: Counter[tuple[str, str]] = Counter()
sdk_cpu = [0.0]  # process CPU seconds spent inside botocore API calls (serialise, sign, send, parse)
_installed = False


def _count(model: Any = None, **_: Any) -> None:
    if model is not None:
        calls[(model.service_model.service_name, model.name)] += 1


def install() -> None:
    global _installed
    if _installed:
        return
    import botocore.client
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-call", _count)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    botocore.client.BaseClient._make_api_call = _timed(  # type: ignore[method-assign]
        botocore.client.BaseClient._make_api_call)
    _installed = True


def _timed(make_api_call: Any) -> Any:
    """``make_api_call`` adding its process CPU time to ``sdk_cpu``."""
    import time

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return make_api_call(self, *args, **kwargs)
        finally:
            sdk_cpu[0] += time.process_time() - start

    return timed


def snapshot() -> Counter[tuple[str, str]]:
    return Counter(calls)


def summarize(before: Counter[tuple[str, str]], after: Counter[tuple[str, str]], requests: int) -> dict[str, Any]:
    """Calls per request between two snapshots: DynamoDB reads and writes, KMS calls, and each API."""
    delta = after - before
    per = {f"{service}:{op}": n / requests for (service, op), n in sorted(delta.items())}
    reads = sum(n for (service, op), n in delta.items() if service == "dynamodb" and op in DYNAMODB_READS)
    writes = sum(n for (service, op), n in delta.items() if service == "dynamodb" and op in DYNAMODB_WRITES)
    kms = sum(n for (service, _), n in delta.items() if service == "kms")
    kms_sign = sum(n for (service, op), n in delta.items() if service == "kms" and op == "Sign")
    other = sum(n for (service, _), n in delta.items() if service not in ("dynamodb", "kms"))
    return {
        "dynamodb_reads": reads / requests,
        "dynamodb_writes": writes / requests,
        "kms_calls": kms / requests,
        "kms_sign": kms_sign / requests,
        "other_aws_calls": other / requests,
        "by_api": per,
    }
