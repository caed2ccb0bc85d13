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
import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

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
from pynamodb.connection.base import MetaTable
from pynamodb.exceptions import GetError, PutError, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from hydra_lambda import aws
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
    secret_sealed = UnicodeAttribute(null=True)  # client_secret_jwt clients only (hydra_lambda.sealing)
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
    # OpenID registration metadata (clients.model.OPENID_STRING_FIELDS); absent on older rows.
    token_endpoint_auth_method = UnicodeAttribute(default="")
    token_endpoint_auth_signing_alg = UnicodeAttribute(default="")
    jwks = JSONAttribute(null=True)
    jwks_uri = UnicodeAttribute(default="")
    request_uris = ListAttribute(of=UnicodeAttribute, default=list)
    request_object_signing_alg = UnicodeAttribute(default="")
    id_token_signed_response_alg = UnicodeAttribute(default="")
    userinfo_signed_response_alg = UnicodeAttribute(default="")
    subject_type = UnicodeAttribute(default="")
    sector_identifier_uri = UnicodeAttribute(default="")
    # Logout metadata (clients.model.LOGOUT_*); absent on older rows, which read as not registered.
    post_logout_redirect_uris = ListAttribute(of=UnicodeAttribute, default=list)
    frontchannel_logout_uri = UnicodeAttribute(default="")
    frontchannel_logout_session_required = BooleanAttribute(default=False)
    backchannel_logout_uri = UnicodeAttribute(default="")
    backchannel_logout_session_required = BooleanAttribute(default=False)
    # The current Hydra client model (clients.model, issue 26); absent on older rows.
    audience = ListAttribute(of=UnicodeAttribute, default=list)
    allowed_cors_origins = ListAttribute(of=UnicodeAttribute, default=list)
    access_token_strategy = UnicodeAttribute(default="")
    skip_consent = BooleanAttribute(default=False)
    skip_logout_consent = BooleanAttribute(default=False)
    metadata = JSONAttribute(null=True)
    lifespans = JSONAttribute(null=True)  # {LIFESPAN_FIELDS name: seconds}
    # Tokens issued before this moment (microseconds) are dead: DELETE /admin/oauth2/tokens?client_id=
    tokens_since = NumberAttribute(null=True)
    # Dynamic client registration (clients/registration.py); absent on other rows.
    self_registered = BooleanAttribute(default=False)
    registration_token_hash = UnicodeAttribute(null=True)
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


class TrustListing(GlobalSecondaryIndex["TrustRecord"]):
    """``by_listing`` as the trusted issuers' rows are listed: their own partition (``trust-issuer``)."""

    class Meta:
        index_name = "by_listing"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class TrustRecord(_Base):
    """A trusted issuer of the JWT bearer grant (storage/trust.py): a row of the clients table keyed
    ``trust#<id>`` (no client id holds ``#``), listed in ``by_listing`` under ``trust-issuer`` (never
    with the clients). ``jwk`` is the public key only. No attribute shares a name with a different type
    on ``ClientRecord`` (a scan of the table through it must read these rows too: ``trust_scope``, not
    ``scope``; ``trusted_at``, not ``created_at``)."""

    class Meta(_Base.Meta):
        table_name = "hydra-clients"

    id = UnicodeAttribute(hash_key=True)
    listing = UnicodeAttribute(default="trust-issuer")
    issuer = UnicodeAttribute()
    subject = UnicodeAttribute(default="")
    allow_any_subject = BooleanAttribute(default=False)
    trust_scope = ListAttribute(of=UnicodeAttribute, default=list)
    jwk = JSONAttribute()
    trusted_at = NumberAttribute()
    expires_at = NumberAttribute()
    by_listing = TrustListing()


class KeySetRecord(_Base):
    """An application JSON Web Key set (``/admin/keys/<set>``; keys/app_sets.py): a row of the clients
    table under ``jwks#<set>`` (no client id holds ``#``), without ``listing`` (never in ``by_listing``,
    never read as a client). ``sealed``: the set's JWKs, sealed with the system secret (sealing.py);
    ``version`` grows by one with every write, each write conditional on the version it read."""

    class Meta(_Base.Meta):
        table_name = "hydra-clients"

    id = UnicodeAttribute(hash_key=True)
    sealed = UnicodeAttribute()
    version = NumberAttribute()
    # Not `updated_at`: a client row's is a date string, and readers that scan the table as clients
    # (storage.clients.any_exists, tests' wipe) must be able to read this row's attributes.
    written_at = NumberAttribute()
    written_by = UnicodeAttribute(null=True)  # a random value per write: a resent write knows its own


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


class AssertionRecord(_Base):
    """A client assertion's ``jti``, seen (RFC 7523 section 3, item 7): a small row of the tokens table
    (its ``shard`` is "jti#<n>", a kind the flush never reads; DynamoDB's TTL removes it), written once
    by a conditional put that succeeds only if no live row has that key. Under 1 KB: one write unit."""

    class Meta(_Base.Meta):
        table_name = "hydra-tokens"

    shard = UnicodeAttribute(hash_key=True)
    signature = UnicodeAttribute(range_key=True)  # a SHA-256 of the client id and the jti
    expires_at = NumberAttribute()
    ttl = TTLAttribute()
    # A random value per write: botocore's resend of a put that committed but whose answer was lost
    # finds its own value there and knows the first use was its own (storage/assertions.py).
    written_by = UnicodeAttribute()


class DeviceRecord(_Base):
    """The device authorization grant's rows in the tokens table (storage/device.py), kinds the flush
    never reads (DynamoDB's TTL removes them; reads never trust TTL): ``device#<n>`` (a device code,
    keyed by its digest), ``user_code#<n>`` (a user code, keyed by its HMAC, naming the device row)
    and ``device_challenge#<n>`` (a browser's visit to the device page, keyed by its challenge)."""

    class Meta(_Base.Meta):
        table_name = "hydra-tokens"

    shard = UnicodeAttribute(hash_key=True)
    signature = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute()
    ttl = TTLAttribute()
    state = UnicodeAttribute(default="pending")
    target = UnicodeAttribute(default="")  # user code and challenge rows: the device row's signature
    client_id = UnicodeAttribute(default="")
    scopes = ListAttribute(of=UnicodeAttribute, default=list)
    interval = NumberAttribute(default=5)
    last_poll = NumberAttribute(default=0)
    code_sealed = UnicodeAttribute(null=True)  # approved: the grant's authorization code, sealed
    csrf_hash = UnicodeAttribute(default="")  # challenge rows: the browser's binding cookie, hashed
    attempts = NumberAttribute(default=0)  # challenge rows: wrong user codes entered


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
    flow = JSONAttribute(null=True)  # the current login/consent flow's fields (consent.model.Consent.flow)
    created_at = NumberAttribute()
    expires_at = NumberAttribute()
    ttl = TTLAttribute()
    flush_shard = UnicodeAttribute()
    by_expiry = ByExpiry()


class BySubject(GlobalSecondaryIndex["SessionRecord"]):
    """Every session row of a subject, login sessions (``ls#``) and consent sessions (``cs#``) apart by
    the sort key's prefix: "all sessions of a subject" is one Query, never a scan."""

    class Meta:
        index_name = "by_subject"
        projection = AllProjection()

    subject = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class SessionRecord(_Base):
    """Login sessions (id ``ls#<sid>``) and consent sessions (id ``cs#<consent challenge>``) of the
    current login/consent flow (storage/sessions.py); ``data`` holds the kind's own fields."""

    class Meta(_Base.Meta):
        table_name = "hydra-sessions"

    id = UnicodeAttribute(hash_key=True)
    subject = UnicodeAttribute()
    data = JSONAttribute(default=dict)
    created_at = NumberAttribute()
    expires_at = NumberAttribute()
    ttl = TTLAttribute()
    by_subject = BySubject()


class LogoutRecord(_Base):
    """A logout request (RP-initiated logout, storage/logout.py): a row of the sessions table, id
    ``lr#<challenge>``, without a ``subject`` attribute (the subject sits in ``data``), so it stays out
    of ``by_subject`` and its write is one unit. ``status`` moves by conditional writes only:
    pending -> accepted | rejected, accepted (or pending, when this server asked the user) -> used."""

    class Meta(_Base.Meta):
        table_name = "hydra-sessions"

    id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute(default="pending")
    data = JSONAttribute(default=dict)
    created_at = NumberAttribute()
    expires_at = NumberAttribute()
    ttl = TTLAttribute()


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


MODELS: tuple[type[Model], ...] = (ClientRecord, TokenRecord, ConsentRecord, PolicyRecord, SessionRecord)
_lock = threading.Lock()
_bound: Settings | None = None
_connection: SharedConnection | None = None
M = TypeVar("M", bound=Model)


def _table_names(settings: Settings) -> dict[type[Model], str]:
    return {
        ClientRecord: settings.clients_table,
        SubjectClaim: settings.clients_table,  # shares the clients table (not in MODELS: no table of its own)
        TrustRecord: settings.clients_table,  # shares the clients table (not in MODELS)
        KeySetRecord: settings.clients_table,  # shares the clients table (not in MODELS)
        TokenRecord: settings.tokens_table,
        AssertionRecord: settings.tokens_table,  # shares the tokens table (not in MODELS)
        DeviceRecord: settings.tokens_table,  # shares the tokens table (not in MODELS)
        ConsentRecord: settings.consent_table,
        PolicyRecord: settings.policies_table,
        SessionRecord: settings.sessions_table,
        LogoutRecord: settings.sessions_table,  # shares the sessions table (not in MODELS)
    }


def _meta_table(model: type[Model], name: str) -> MetaTable:
    """The table's key schema as pynamodb's low-level connection needs it (from the model's declared
    attributes and indexes, so no DescribeTable call is ever made for it)."""
    definitions: dict[str, str] = {}

    def schema(attributes: Iterable[Any]) -> list[dict[str, str]]:
        keys = []
        for attr in attributes:
            if attr.is_hash_key or attr.is_range_key:
                definitions[attr.attr_name] = attr.attr_type
                keys.append({"AttributeName": attr.attr_name, "KeyType": "HASH" if attr.is_hash_key else "RANGE"})
        return sorted(keys, key=lambda key: key["KeyType"])  # HASH before RANGE

    indexes = [{"IndexName": value.Meta.index_name, "KeySchema": schema(value.Meta.attributes.values())}
               for value in vars(model).values() if isinstance(value, GlobalSecondaryIndex)]
    return MetaTable({
        "TableName": name,
        "KeySchema": schema(model.get_attributes().values()),
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": v} for k, v in definitions.items()],
        "GlobalSecondaryIndexes": indexes,
    })


BATCH_ATTEMPTS = 6  # per batch, for unprocessed items (throttling): at most ~3 s of backoff
BATCH_BACKOFF = 0.05


def _key_map(meta: MetaTable, key: tuple[Any, Any]) -> dict[str, Any]:
    """A (hash, range) key as DynamoDB takes it."""
    return meta.get_identifier_map(*key)["Key"]


class SharedConnection(Connection):
    """pynamodb's public low-level ``Connection`` over the container's one botocore session
    (``aws.botocore_session()``, which the KMS and Secrets Manager clients come from too): every table a
    function uses is reached through it, so a cold start makes one session and one DynamoDB client
    instead of one of each per model (pynamodb's Model layer gives every model its own; ~45-90 ms each).

    The models declare the rows and serialise them (``serialize``, ``from_raw_data``, conditions and
    update actions); the reads and writes go through the methods below, with the Model layer's
    semantics (``DoesNotExist``, ``PutError``...)."""

    def __init__(self, region: str, host: str | None) -> None:
        super().__init__(
            region=region,
            host=host,
            connect_timeout_seconds=_Base.Meta.connect_timeout_seconds,
            read_timeout_seconds=_Base.Meta.read_timeout_seconds,
            max_retry_attempts=_Base.Meta.max_retry_attempts,
            max_pool_connections=_Base.Meta.max_pool_connections,
        )
        self.table_names: set[str] = set()
        self._trimmed: Any = None

    @property
    def session(self) -> Any:
        return aws.botocore_session()

    @property
    def client(self) -> Any:
        """pynamodb's DynamoDB client (made on first use), without botocore's telemetry headers."""
        client = super().client
        if client is not self._trimmed:
            self._trimmed = aws.drop_telemetry_headers(client)
        return client

    def bind_tables(self, names: dict[type[Model], str]) -> None:
        for model in MODELS:  # SubjectClaim and AssertionRecord share a table (and key) of MODELS
            if names[model] not in self.table_names:
                self.add_meta_table(_meta_table(model, names[model]))
                self.table_names.add(names[model])

    def _key(self, record: Model) -> tuple[Any, Any]:
        """The record's hash and range key values, as the low-level calls take them."""
        meta = self.get_meta_table(type(record).Meta.table_name)
        item = record.serialize(null_check=False)
        hash_key = next(iter(item[meta.hash_keyname].values()))
        range_name = meta.range_keyname
        return hash_key, (next(iter(item[range_name].values())) if range_name else None)

    def get(self, model: type[M], hash_key: Any, range_key: Any = None, *, consistent_read: bool = False,
            attributes_to_get: list[str] | None = None) -> M:
        """``model.get``: the row, or ``model.DoesNotExist``."""
        data = self.get_item(model.Meta.table_name, hash_key, range_key, consistent_read=consistent_read,
                             attributes_to_get=attributes_to_get)
        item = data.get("Item") if data else None
        if not item:
            raise model.DoesNotExist()
        return model.from_raw_data(item)

    def save(self, record: Model, condition: Any = None) -> None:
        """``record.save(condition)``: PutItem of the whole row."""
        hash_key, range_key = self._key(record)
        self.put_item(type(record).Meta.table_name, hash_key, range_key,
                      attributes=record.serialize(null_check=True), condition=condition)

    def update(self, record: M, actions: list[Any], condition: Any = None) -> M:
        """``record.update(actions, condition)``: the record then holds the row as it now is."""
        hash_key, range_key = self._key(record)
        data = self.update_item(type(record).Meta.table_name, hash_key, range_key, actions=actions,
                                condition=condition, return_values="ALL_NEW")
        record.deserialize(data["Attributes"])
        return record

    def delete(self, record: Model, condition: Any = None) -> None:
        hash_key, range_key = self._key(record)
        self.delete_item(type(record).Meta.table_name, hash_key, range_key, condition=condition)

    def query_rows(self, model: type[M], hash_key: Any, range_key_condition: Any = None, *,
                   index: GlobalSecondaryIndex[Any] | None = None, page_size: int | None = None,
                   attributes_to_get: list[str] | None = None, consistent_read: bool = False) -> Iterator[M]:
        """``model.query`` (or ``model.<index>.query``): every matching row, page by page."""
        start = None
        while True:
            data = self.query(model.Meta.table_name, hash_key, range_key_condition,
                              index_name=index.Meta.index_name if index is not None else None,
                              attributes_to_get=attributes_to_get, consistent_read=consistent_read,
                              exclusive_start_key=start, limit=page_size)
            for item in data.get("Items") or []:
                yield model.from_raw_data(item)
            start = data.get("LastEvaluatedKey")
            if not start:
                return

    def batch_get_rows(self, model: type[M], keys: list[tuple[Any, Any]], *,
                       consistent_read: bool = False) -> list[M]:
        """``model.batch_get``: the rows of ``keys`` (hash, range) that exist, 100 keys a BatchGetItem;
        unprocessed keys (throttling) are asked again with jittered backoff."""
        table = model.Meta.table_name
        meta = self.get_meta_table(table)
        out: list[M] = []
        for start in range(0, len(keys), 100):
            pending: list[Any] = [_key_map(meta, key) for key in keys[start:start + 100]]
            for attempt in range(BATCH_ATTEMPTS):
                data = self.batch_get_item(table, pending, consistent_read=consistent_read)
                out.extend(model.from_raw_data(item) for item in (data.get("Responses") or {}).get(table) or [])
                pending = ((data.get("UnprocessedKeys") or {}).get(table) or {}).get("Keys") or []
                if not pending:
                    break
                time.sleep(random.uniform(0, BATCH_BACKOFF * 2**attempt))
            else:
                raise GetError(f"{len(pending)} keys of {table} left unprocessed")
        return out

    def delete_rows(self, model: type[Model], keys: Iterable[tuple[Any, Any]]) -> int:
        """Delete the rows of ``keys`` (hash, range), 25 to a BatchWriteItem (absent rows are fine);
        unprocessed items are sent again with jittered backoff. The number of keys."""
        table = model.Meta.table_name
        meta = self.get_meta_table(table)
        requests = [{"DeleteRequest": {"Key": _key_map(meta, key)}} for key in keys]
        for start in range(0, len(requests), 25):
            pending = requests[start:start + 25]
            for attempt in range(BATCH_ATTEMPTS):
                data = self.client.batch_write_item(RequestItems={table: pending})
                pending = (data.get("UnprocessedItems") or {}).get(table) or []
                if not pending:
                    break
                time.sleep(random.uniform(0, BATCH_BACKOFF * 2**attempt))
            else:
                raise PutError(f"{len(pending)} deletes of {table} left unprocessed")
        return len(requests)

    def scan_rows(self, model: type[M], *, limit: int | None = None, page_size: int | None = None,
                  consistent_read: bool = False) -> Iterator[M]:
        """``model.scan``: every row (at most ``limit``), page by page."""
        start, returned = None, 0
        while True:
            data = self.scan(model.Meta.table_name, limit=page_size, exclusive_start_key=start,
                             consistent_read=consistent_read)
            for item in data.get("Items") or []:
                if limit is not None and returned >= limit:
                    return
                returned += 1
                yield model.from_raw_data(item)
            start = data.get("LastEvaluatedKey")
            if not start:
                return


def bind(settings: Settings | None = None) -> None:
    """Point every model at the configured tables, region and endpoint, and make the container's
    shared connection (once per container; again only if the region or endpoint changes).

    With no ``DYNAMODB_ENDPOINT`` the endpoint is botocore's to resolve: ``AWS_ENDPOINT_URL_DYNAMODB``,
    ``AWS_ENDPOINT_URL``, FIPS and the region's public endpoint, as any AWS SDK does. Nothing here
    touches the network: the DynamoDB client is made on first use (or by ``prime``)."""
    global _bound, _connection
    settings = settings or get_settings()
    if _bound is settings:
        return
    with _lock:
        names = _table_names(settings)
        for model, name in names.items():
            model.Meta.table_name = name
            model.Meta.region = settings.aws_region
            model.Meta.host = settings.dynamodb_endpoint or None
        where = (settings.aws_region, settings.dynamodb_endpoint or None)
        if _connection is None or (_connection.region, _connection.host) != where:
            _connection = SharedConnection(*where)
        _connection.bind_tables(names)
        _bound = settings


def connection() -> SharedConnection:
    """The container's shared connection: every read and write of every table, transactions
    (``TransactWrite(connection=...)``) and the flush's batch deletes included."""
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


# What each DynamoDB operation answers while ``prime`` runs (botocore's Stubber checks them against the
# service model, as it checks the requests).
_PRIMING_ANSWERS: dict[str, dict[str, Any]] = {
    "get_item": {},
    "put_item": {},
    "update_item": {"Attributes": {"id": {"S": "snapstart-prime"}}},
    "delete_item": {},
    "query": {"Items": [], "Count": 0},
    "scan": {"Items": [], "Count": 0},
    "batch_get_item": {"Responses": {}, "UnprocessedKeys": {}},
    "batch_write_item": {"UnprocessedItems": {}},
    "transact_write_items": {},
}


def prime() -> None:
    """Before a SnapStart snapshot: bind the tables, make the DynamoDB client and run every operation
    the layer calls once through it, each answered by botocore's public ``Stubber`` (no request leaves
    the process, no connection is opened): the endpoint rules, the request serialisation, the
    operations' shapes and pynamodb's request building are then in the snapshot, not in the first
    request after a restore. The client is left as it was (the Stubber deactivated)."""
    from botocore.stub import Stubber
    from pynamodb.transactions import TransactWrite

    shared = connection()
    key = "snapstart-prime"
    with Stubber(shared.client) as stub:
        for operation, answer in _PRIMING_ANSWERS.items():
            stub.add_response(operation, answer)
        try:
            shared.get(PolicyRecord, key, consistent_read=True)
        except PolicyRecord.DoesNotExist:
            pass
        shared.save(PolicyRecord(key), condition=PolicyRecord.id.does_not_exist())
        shared.update(PolicyRecord(key), actions=[PolicyRecord.members.set([key])],
                      condition=PolicyRecord.id.exists())
        shared.delete(PolicyRecord(key), condition=PolicyRecord.id.exists())
        list(shared.query_rows(TokenRecord, "access#0", TokenRecord.signature < key, page_size=1))
        list(shared.scan_rows(PolicyRecord, consistent_read=True))
        shared.batch_get_rows(TokenRecord, [("access#0", key)], consistent_read=True)
        shared.delete_rows(TokenRecord, [("access#0", key)])
        with TransactWrite(connection=shared) as tx:
            tx.condition_check(ClientRecord, key, condition=ClientRecord.id.does_not_exist())
        stub.assert_no_pending_responses()
