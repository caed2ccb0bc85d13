"""The DynamoDB tables as pynamodb models. ``template.yaml`` declares the same keys and indexes;
a test keeps the two in step.

Every row that expires carries ``expires_at`` (epoch seconds; reads treat a past value as absent),
``ttl`` (DynamoDB's TTL, a second line of cleanup only) and ``flush_shard`` + ``expires_at`` as the
keys of the ``by_expiry`` index the flush queries.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from hydra_lambda.config import Settings, get_settings

# Index keys per kind in by_expiry. A GSI key takes about 1,000 writes/s, so 4 keys carry ~4,000 new
# rows/s of each kind (access tokens, refresh tokens, codes, consent requests) before the index
# throttles; the flush reads 4 x 4 keys. Raising it later is safe (the flush reads the new keys too);
# lowering it leaves rows in the dropped keys to DynamoDB's TTL.
FLUSH_SHARDS = 4


def flush_shard(kind: str, key: str) -> str:
    """Spread expiring rows of one kind over a few index partitions so no partition runs hot."""
    bucket = hashlib.blake2b(key.encode(), digest_size=2).digest()[0] % FLUSH_SHARDS
    return f"{kind}#{bucket}"


class ByExpiry(GlobalSecondaryIndex["Any"]):
    class Meta:
        index_name = "by_expiry"
        projection = KeysOnlyProjection()

    flush_shard = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute(range_key=True)


class _Base(Model):
    class Meta:
        abstract = True
        billing_mode = "PAY_PER_REQUEST"
        connect_timeout_seconds = 2
        read_timeout_seconds = 3
        max_retry_attempts = 2


class ClientListing(GlobalSecondaryIndex["ClientRecord"]):
    """One partition holds every client, sorted by id: the stable order of ``GET /clients``."""

    class Meta:
        index_name = "by_listing"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class ClientRecord(_Base):
    class Meta(_Base.Meta):
        table_name = "hydra-clients"

    id = UnicodeAttribute(hash_key=True)
    listing = UnicodeAttribute(default="client")
    client_name = UnicodeAttribute(default="")
    secret_hash = UnicodeAttribute(null=True)
    redirect_uris = ListAttribute(of=UnicodeAttribute, default=list)
    grant_types = ListAttribute(of=UnicodeAttribute, default=list)
    response_types = ListAttribute(of=UnicodeAttribute, default=list)
    scope = UnicodeAttribute(default="")
    owner = UnicodeAttribute(default="")
    policy_uri = UnicodeAttribute(default="")
    tos_uri = UnicodeAttribute(default="")
    client_uri = UnicodeAttribute(default="")
    logo_uri = UnicodeAttribute(default="")
    contacts = ListAttribute(of=UnicodeAttribute, default=list)
    public = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    by_listing = ClientListing()


class ByRequest(GlobalSecondaryIndex["TokenRecord"]):
    """Every token of one grant shares ``request_id``: revoking the family is one query."""

    class Meta:
        index_name = "by_request"
        projection = KeysOnlyProjection()

    request_id = UnicodeAttribute(hash_key=True)


class ByClient(GlobalSecondaryIndex["TokenRecord"]):
    class Meta:
        index_name = "by_client"
        projection = KeysOnlyProjection()

    client_id = UnicodeAttribute(hash_key=True)


class TokenRecord(_Base):
    """Access tokens, refresh tokens and authorization codes, keyed by the token's HMAC signature."""

    class Meta(_Base.Meta):
        table_name = "hydra-tokens"

    signature = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # access | refresh | code
    request_id = UnicodeAttribute()
    client_id = UnicodeAttribute()
    subject = UnicodeAttribute(default="")
    scopes = ListAttribute(of=UnicodeAttribute, default=list)
    audience = ListAttribute(of=UnicodeAttribute, default=list)
    extra = JSONAttribute(default=dict)
    session = JSONAttribute(default=dict)
    issued_at = NumberAttribute()
    expires_at = NumberAttribute()
    ttl = TTLAttribute()
    flush_shard = UnicodeAttribute()
    used_at = NumberAttribute(null=True)
    by_request = ByRequest()
    by_client = ByClient()
    by_expiry = ByExpiry()


class ConsentRecord(_Base):
    class Meta(_Base.Meta):
        table_name = "hydra-consent"

    id = UnicodeAttribute(hash_key=True)
    client_id = UnicodeAttribute()
    requested_scopes = ListAttribute(of=UnicodeAttribute, default=list)
    redirect_url = UnicodeAttribute()
    csrf_hash = UnicodeAttribute()
    request = JSONAttribute(default=dict)
    state = UnicodeAttribute(default="pending")  # pending | accepted | rejected | used
    subject = UnicodeAttribute(default="")
    grant_scopes = ListAttribute(of=UnicodeAttribute, default=list)
    access_token_extra = JSONAttribute(default=dict)
    id_token_extra = JSONAttribute(default=dict)
    deny_reason = UnicodeAttribute(default="")
    authentication = JSONAttribute(default=dict)  # from the acceptance: auth_time, acr, amr
    created_at = NumberAttribute()
    expires_at = NumberAttribute()
    ttl = TTLAttribute()
    flush_shard = UnicodeAttribute()
    by_expiry = ByExpiry()


class PolicyRecord(_Base):
    class Meta(_Base.Meta):
        table_name = "hydra-policies"

    id = UnicodeAttribute(hash_key=True)
    description = UnicodeAttribute(default="")
    subjects = ListAttribute(of=UnicodeAttribute, default=list)
    resources = ListAttribute(of=UnicodeAttribute, default=list)
    actions = ListAttribute(of=UnicodeAttribute, default=list)
    effect = UnicodeAttribute(default="allow")
    conditions = JSONAttribute(default=dict)
    # Only on the first start's marker policy, until the root credentials are published (bootstrap.py).
    first_start = UnicodeAttribute(null=True)


MODELS: tuple[type[Model], ...] = (ClientRecord, TokenRecord, ConsentRecord, PolicyRecord)
_lock = threading.Lock()
_bound: Settings | None = None


def _table_names(settings: Settings) -> dict[type[Model], str]:
    return {
        ClientRecord: settings.clients_table,
        TokenRecord: settings.tokens_table,
        ConsentRecord: settings.consent_table,
        PolicyRecord: settings.policies_table,
    }


def bind(settings: Settings | None = None) -> None:
    """Point every model at the configured tables and endpoint (once per container)."""
    global _bound
    settings = settings or get_settings()
    if _bound is settings:
        return
    with _lock:
        _close_previous()
        for model, name in _table_names(settings).items():
            model.Meta.table_name = name
            model.Meta.region = settings.aws_region
            model.Meta.host = settings.dynamodb_endpoint or None
            model._connection = None  # rebuilt with the new settings, then reused
        _share_one_connection(settings)
        _bound = settings


def _close_previous() -> None:
    previous = MODELS[0]._connection
    client = getattr(getattr(previous, "connection", None), "_client", None)
    if client is not None and hasattr(client, "close"):
        client.close()


def _share_one_connection(settings: Settings) -> None:
    """One pynamodb connection for every table, talking through one thin DynamoDB client
    (storage.transport) instead of a botocore client per model."""
    from hydra_lambda.storage.transport import DynamoDBClient, default_endpoint

    shared = None
    for model in MODELS:
        table = model._get_connection()
        if shared is None:
            shared = table.connection
            continue
        shared.add_meta_table(table.connection.get_meta_table(table.table_name))
        table.connection = shared
    assert shared is not None
    shared._client = DynamoDBClient(
        settings.dynamodb_endpoint or default_endpoint(settings.aws_region),
        settings.aws_region,
        _credentials(),
        connect_timeout=_Base.Meta.connect_timeout_seconds,
        read_timeout=_Base.Meta.read_timeout_seconds,
        max_attempts=1 + _Base.Meta.max_retry_attempts,
    )
    from hydra_lambda.observability import tracing_enabled

    if tracing_enabled():
        shared._client.trace = _xray_subsegment


@contextmanager
def _xray_subsegment(operation: str) -> Iterator[Any]:
    """An X-Ray subsegment per DynamoDB call, named as botocore's patch named its own."""
    from hydra_lambda.observability import tracer

    with tracer().provider.in_subsegment(name="DynamoDB") as subsegment:
        subsegment.put_annotation("operation", operation)
        yield subsegment


def _credentials() -> Any:
    """The container's AWS credentials, in botocore's order: the environment first (always so on
    Lambda: read directly, which spares a cold start the botocore session, ~7 ms), else botocore's
    chain, read per request so refreshing credentials (SSO, assumed roles on a laptop) keep working."""
    import os

    from botocore.credentials import Credentials

    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        fixed = Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None, method="env")
        return fixed.get_frozen_credentials
    from hydra_lambda.aws import botocore_session

    resolved: list[Any] = []

    def current() -> Any:
        if not resolved:
            found = botocore_session().get_credentials()
            if found is None:
                return None
            resolved.append(found)
        return resolved[0].get_frozen_credentials()

    return current


def create_tables(settings: Settings | None = None, wait: bool = True) -> None:
    """Create every table that does not exist yet (local server and tests; SAM does it on AWS)."""
    bind(settings)
    for model in MODELS:
        if not model.exists():
            model.create_table(wait=wait)


def ensure_bound(func: Any) -> Any:
    """Decorator for repository functions: bind the models before the first query."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _bound is not get_settings():
            bind()
        return func(*args, **kwargs)

    return wrapper
