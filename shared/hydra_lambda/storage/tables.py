"""The DynamoDB tables as pynamodb models. ``template.yaml`` declares the same keys and indexes;
a test keeps the two in step.

Every row that expires carries ``expires_at`` (epoch seconds; reads treat a past value as absent)
and ``ttl`` (DynamoDB's TTL, a second line of cleanup only). The flush finds expired token rows by a
key-range query on their own table (``TokenRecord``), and expired consent rows through the
``by_expiry`` index (``flush_shard`` + ``expires_at``).
"""

from __future__ import annotations

import functools
import hashlib
import threading
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
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from hydra_lambda.config import Settings, get_settings

# Partition keys per kind: the tokens table's hash keys (access, refresh, code) and the consent
# table's by_expiry keys. One partition key takes 1,000 write units/s and 3,000 read units/s, so the
# access tokens' 128 keys carry ~128,000 new tokens/s (100,000/s leaves each key at ~780 writes/s and
# room for ~380,000 consistent 1-unit reads/s) and the other kinds' 16 keys ~16,000 writes/s each.
# The flush reads every key of every kind (176 small queries a run). A token's shard is fixed in its
# row key, so changing a count needs every reader to know the old one: only with an empty table.
FLUSH_SHARDS: dict[str, int] = {"access": 128, "refresh": 16, "code": 16, "consent": 16}


def flush_shard(kind: str, key: str) -> str:
    """Spread expiring rows of one kind over enough index partitions that none runs hot."""
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return f"{kind}#{int.from_bytes(digest, 'big') % FLUSH_SHARDS[kind]}"


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
        # botocore's "standard" retry mode (pynamodb's default): 3 attempts in all, jittered
        # exponential backoff, the retry quota; throttling, 5xx and dropped connections are retried.
        max_retry_attempts = 2
        max_pool_connections = 10


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


class SubjectClaim(_Base):
    """A user's subject, claimed: a row of the clients table that no client id can collide with (its
    key is ``subject#`` and a SHA-256 of the subject, and a client id never holds ``#``), without
    ``listing`` (so out of ``by_listing``: ``GET /clients`` never shows it). A client's own row claims
    its id; together they keep one namespace of subjects (storage/clients.py). Never removed."""

    class Meta(_Base.Meta):
        table_name = "hydra-clients"

    id = UnicodeAttribute(hash_key=True)
    subject = UnicodeAttribute()
    claimed_at = NumberAttribute()


class ByRequest(GlobalSecondaryIndex["TokenRecord"]):
    """Sparse: only the rows of a grant chain (codes, refresh tokens and the access tokens issued with
    them) carry ``request_id``, so revoking the chain is one query; a client_credentials token is not
    in this index (it has no chain to revoke)."""

    class Meta:
        index_name = "by_request"
        projection = KeysOnlyProjection()

    request_id = UnicodeAttribute(hash_key=True)


class TokenRecord(_Base):
    """Access tokens, refresh tokens and authorization codes: one row each, in no index but the sparse
    ``by_request`` (grant-chain rows only), so a client_credentials token is one write of one unit.

    The key is (``shard``, ``signature``): ``shard`` is "<kind>#<n>" (``flush_shard``: 128 keys for
    access tokens, 16 per other kind) and ``signature`` is the token's storage key, its expiry
    (10 digits) then its HMAC (``tokens.storage_key``), which the reader computes from the token alone.
    Rows therefore sort by expiry within a shard, and the flush deletes what expired with a key-range
    query on the table itself: no ``by_expiry`` index entry (a second write unit) per token.

    ``client_since`` is the creation time (microseconds) of the client the token was issued to: a
    token is honoured only while its client exists with that creation time, so deleting a client
    revokes its tokens without an index of tokens by client (readers check it on the cached client)."""

    class Meta(_Base.Meta):
        table_name = "hydra-tokens"

    shard = UnicodeAttribute(hash_key=True)  # "<kind>#<n>": the kind is the part before "#"
    signature = UnicodeAttribute(range_key=True)
    request_id = UnicodeAttribute(null=True)  # grant-chain rows only (the by_request index is sparse)
    client_id = UnicodeAttribute()
    client_since = NumberAttribute(default=0)
    subject = UnicodeAttribute(default="")
    scopes = ListAttribute(of=UnicodeAttribute, default=list)
    audience = ListAttribute(of=UnicodeAttribute, default=list)
    extra = JSONAttribute(default=dict)
    session = JSONAttribute(default=dict)
    issued_at = NumberAttribute()
    expires_at = NumberAttribute()
    ttl = TTLAttribute()
    used_at = NumberAttribute(null=True)
    # "<kind> <signature>" of the pairs a used refresh token handed out again in the grace period:
    # appended atomically (list_append), as concurrent refreshes may each add one.
    reissued = ListAttribute(of=UnicodeAttribute, null=True)
    # When revoking its grant marked the row (``token_rows.mark_revoked``, which also sets ``used_at``):
    # from then on nothing can consume the row or reissue from it, so what it lists is final.
    revoked_at = NumberAttribute(null=True)
    by_request = ByRequest()

    @property
    def kind(self) -> str:
        return self.shard.partition("#")[0]


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
    effect = UnicodeAttribute(null=True)  # no default: a row without an effect must never read as allow
    conditions = JSONAttribute(default=dict)
    # Only on the first start's marker policy, until the root credentials are published (bootstrap.py).
    first_start = UnicodeAttribute(null=True)
    # Only on warden group rows (id GROUP_PREFIX + group id; storage/policies.py): the members.
    members = ListAttribute(of=UnicodeAttribute, null=True)
    # A random value per create: botocore's resend of a create that committed but whose answer was
    # lost finds its own value there, and knows the row is its own (storage/policies.py).
    written_by = UnicodeAttribute(null=True)


MODELS: tuple[type[Model], ...] = (ClientRecord, TokenRecord, ConsentRecord, PolicyRecord)
_lock = threading.Lock()
_bound: Settings | None = None
_connection: Connection | None = None


def _table_names(settings: Settings) -> dict[type[Model], str]:
    return {
        ClientRecord: settings.clients_table,
        SubjectClaim: settings.clients_table,  # shares the clients table (not in MODELS: no table of its own)
        TokenRecord: settings.tokens_table,
        ConsentRecord: settings.consent_table,
        PolicyRecord: settings.policies_table,
    }


def bind(settings: Settings | None = None) -> None:
    """Point every model at the configured tables, region and endpoint (once per container).

    pynamodb makes each model's connection (a botocore client) from its ``Meta`` on first use. With no
    ``DYNAMODB_ENDPOINT`` the endpoint is botocore's to resolve: ``AWS_ENDPOINT_URL_DYNAMODB``,
    ``AWS_ENDPOINT_URL``, FIPS and the region's public endpoint, as any AWS SDK does. A model keeps
    its connection until its table name changes (a container has one endpoint)."""
    global _bound, _connection
    settings = settings or get_settings()
    if _bound is settings:
        return
    with _lock:
        for model, name in _table_names(settings).items():
            model.Meta.table_name = name
            model.Meta.region = settings.aws_region
            model.Meta.host = settings.dynamodb_endpoint or None
        where = (settings.aws_region, settings.dynamodb_endpoint or None)
        if _connection is None or (_connection.region, _connection.host) != where:
            _connection = _new_connection(*where)
        _bound = settings


def _new_connection(region: str, host: str | None) -> Connection:
    return Connection(
        region=region,
        host=host,
        connect_timeout_seconds=_Base.Meta.connect_timeout_seconds,
        read_timeout_seconds=_Base.Meta.read_timeout_seconds,
        max_retry_attempts=_Base.Meta.max_retry_attempts,
        max_pool_connections=_Base.Meta.max_pool_connections,
    )


def connection() -> Connection:
    """pynamodb's public low-level connection, for what spans tables or rows: transactions
    (``TransactWrite(connection=...)``) and the flush's batch deletes. Same settings as the models."""
    if _bound is not get_settings() or _connection is None:
        bind()
    assert _connection is not None
    return _connection


def create_tables(settings: Settings | None = None, wait: bool = True) -> None:
    """Create every table that does not exist yet (local server and tests; SAM does it on AWS)."""
    bind(settings)
    for model in MODELS:
        if not model.exists():
            model.create_table(wait=wait)


def ensure_bound(func: Any) -> Any:
    """Decorator for repository functions: bind the models before the first query."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _bound is not get_settings():
            bind()
        return func(*args, **kwargs)

    return wrapper


def is_condition_failure(exc: Exception) -> bool:
    """Whether a pynamodb write error (a single write or a transaction) was a failed condition."""
    code = getattr(exc, "cause_response_code", None)
    if code == "ConditionalCheckFailedException":
        return True
    if isinstance(exc, TransactWriteError):
        reasons = getattr(exc, "cancellation_reasons", None) or []
        return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)
    return False


def is_transaction_conflict(exc: Exception) -> bool:
    """Whether a transaction was cancelled by a concurrent one (TransactionConflict): nothing was
    written, and the same transaction may be tried again."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(r is not None and r.code == "TransactionConflict" for r in reasons)


def unwrap(exc: Exception) -> Exception:
    """pynamodb wraps botocore errors; hand the original up so transient failures are recognised."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, Exception) else exc
