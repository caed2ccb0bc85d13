"""Token rows (access, refresh, authorization code), keyed by signature: the persistence of
``tokens.model.Token`` (records, conditional writes, transactions) and nothing else.

Every read treats an expired row as absent. Single-use rows (codes, refresh tokens) are consumed
with a conditional write, so of two racing requests exactly one wins.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DeleteError, GetError, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from hydra_lambda import clock
from hydra_lambda.storage.tables import (
    TokenRecord,
    connection,
    ensure_bound,
    flush_shard,
    is_condition_failure,
    unwrap,
)
from hydra_lambda.tokens.model import CodeBinding, IdentityContext, Token, TokenRef, TokenSession


class AlreadyUsed(Exception):
    """A single-use token was consumed before (or concurrently, and the other request won)."""


class NotFound(Exception):
    """No live row for that signature."""


class Contended(Exception):
    """A write was cancelled by concurrent transactions on the same row (TransactionConflict) on
    every attempt."""


def to_record(token: Token) -> TokenRecord:
    """The row of ``token`` (its session serialized to the row's ``session`` map)."""
    return TokenRecord(
        flush_shard(token.kind, token.signature),
        token.signature,
        request_id=token.request_id or None,  # only grant-chain rows enter the by_request index
        client_id=token.client_id,
        client_since=token.client_since,
        subject=token.subject,
        scopes=list(token.scopes),
        audience=list(token.audience),
        extra=dict(token.extra),
        session=session_to_map(token.session),
        issued_at=token.issued_at or clock.now_int(),
        expires_at=token.expires_at,
        ttl=datetime.fromtimestamp(token.expires_at, UTC),
        used_at=token.used_at,
    )


def from_record(record: TokenRecord) -> Token:
    subject = record.subject or ""
    return Token(
        signature=record.signature,
        kind=record.kind,
        request_id=record.request_id or "",
        client_id=record.client_id,
        client_since=int(record.client_since or 0),
        expires_at=int(record.expires_at),
        subject=subject,
        scopes=list(record.scopes or []),
        audience=list(record.audience or []),
        extra=dict(record.extra or {}),
        session=_with_reissued(session_from_map(subject, record.session or {}), record.reissued),
        issued_at=int(record.issued_at),
        used_at=None if record.used_at is None else int(record.used_at),
        revoked_at=None if record.revoked_at is None else int(record.revoked_at),
    )


def row_item(token: Token) -> dict[str, Any]:
    """``to_record(token).serialize()`` without building the Model (the hot write of every token
    endpoint call): the same attribute values, which a hypothesis test holds equal to the Model's."""
    item: dict[str, Any] = {
        "shard": {"S": flush_shard(token.kind, token.signature)},
        "signature": {"S": token.signature},
        "client_id": {"S": token.client_id},
        "client_since": {"N": json.dumps(token.client_since)},
        "subject": {"S": token.subject},
        "scopes": {"L": [{"S": scope} for scope in token.scopes]},
        "audience": {"L": [{"S": value} for value in token.audience]},
        "extra": {"S": json.dumps(dict(token.extra))},
        "session": {"S": json.dumps(session_to_map(token.session))},
        "issued_at": {"N": json.dumps(token.issued_at or clock.now_int())},
        "expires_at": {"N": json.dumps(token.expires_at)},
        "ttl": {"N": json.dumps(int(token.expires_at))},
    }
    if token.request_id:  # only grant-chain rows enter the by_request index
        item["request_id"] = {"S": token.request_id}
    if token.used_at is not None:
        item["used_at"] = {"N": json.dumps(token.used_at)}
    return item


def _number(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    return None if value is None else int(json.loads(value["N"]))


def token_from_item(item: dict[str, Any]) -> Token:
    """``from_record(TokenRecord.from_raw_data(item))`` without building the Model (the hot read of
    introspection); the same hypothesis test holds the two equal."""
    subject = item["subject"]["S"] if "subject" in item else ""
    session = json.loads(item["session"]["S"]) if "session" in item else {}
    reissued = [value["S"] for value in item["reissued"]["L"]] if "reissued" in item else None
    return Token(
        signature=item["signature"]["S"],
        kind=item["shard"]["S"].partition("#")[0],
        request_id=item["request_id"]["S"] if "request_id" in item else "",
        client_id=item["client_id"]["S"],
        client_since=_number(item, "client_since") or 0,
        expires_at=_number(item, "expires_at") or 0,
        subject=subject,
        scopes=[value["S"] for value in item["scopes"]["L"]] if "scopes" in item else [],
        audience=[value["S"] for value in item["audience"]["L"]] if "audience" in item else [],
        extra=dict(json.loads(item["extra"]["S"]) or {}) if "extra" in item else {},
        session=_with_reissued(session_from_map(subject, session or {}), reissued),
        issued_at=_number(item, "issued_at") or 0,
        used_at=_number(item, "used_at"),
        revoked_at=_number(item, "revoked_at"),
    )


def _with_reissued(session: TokenSession, reissued: list[str] | None) -> TokenSession:
    """What a row issued: the pair its consuming write recorded, then any grace-period pairs."""
    if not reissued:
        return session
    extra = []
    for item in reissued:
        kind, _, signature = item.partition(" ")
        extra.append(TokenRef(kind, signature))
    return dataclasses.replace(session, issued=[*session.issued, *extra])


# The row's ``session`` map: the keys rows have always been written with, so older rows read the same.
_BINDING_KEYS = ("redirect_uri", "redirect_uri_sent", "code_challenge", "code_challenge_method")


def session_to_map(session: TokenSession) -> dict[str, Any]:
    out: dict[str, Any] = {}
    identity = session.identity
    if identity is not None:
        out.update({"auth_time": identity.auth_time, "nonce": identity.nonce, "acr": identity.acr,
                    "id_token_extra": dict(identity.extra)})
        if identity.amr:
            out["amr"] = list(identity.amr)
        if identity.requested_at:
            out["requested_at"] = identity.requested_at
        if identity.claims_request:
            out["claims_request"] = identity.claims_request
        if identity.pairwise_subject:
            out["pairwise_subject"] = identity.pairwise_subject
        if identity.sid:
            out["sid"] = identity.sid
    if session.code_binding is not None:
        out["authorize"] = {key: getattr(session.code_binding, key) for key in _BINDING_KEYS}
    if session.access_signature:
        out["access_signature"] = session.access_signature
    if session.issued:
        out["issued"] = [f"{ref.kind} {ref.signature}" for ref in session.issued]
    return out


def session_from_map(subject: str, data: dict[str, Any]) -> TokenSession:
    identity = None
    if "auth_time" in data:  # rows without a user (client_credentials) have none
        identity = IdentityContext(
            subject=subject,
            auth_time=int(data.get("auth_time") or 0),
            nonce=str(data.get("nonce") or ""),
            acr=str(data.get("acr") or ""),
            extra=dict(data.get("id_token_extra") or {}),
            amr=[str(m) for m in data.get("amr") or []],
            requested_at=int(data.get("requested_at") or 0),
            claims_request=dict(data.get("claims_request") or {}),
            pairwise_subject=str(data.get("pairwise_subject") or ""),
            sid=str(data.get("sid") or ""),
        )
    binding = None
    authorize = data.get("authorize")
    if isinstance(authorize, dict):
        binding = CodeBinding(
            redirect_uri=str(authorize.get("redirect_uri") or ""),
            redirect_uri_sent=bool(authorize.get("redirect_uri_sent")),
            code_challenge=str(authorize.get("code_challenge") or ""),
            code_challenge_method=str(authorize.get("code_challenge_method") or ""),
        )
    issued = []
    for item in data.get("issued") or []:
        kind, _, signature = str(item).partition(" ")  # "<kind> <signature>": the kind is in the row key
        issued.append(TokenRef(kind, signature))
    return TokenSession(identity=identity, code_binding=binding,
                        access_signature=str(data.get("access_signature") or ""), issued=issued)


def record_key(kind: str, signature: str) -> TokenRecord:
    """A row's key alone (for a delete or a conditional update): its kind's shard and its signature."""
    return TokenRecord(flush_shard(kind, signature), signature)


# The hot write and read go to the shared connection's botocore client with the request built here:
# pynamodb's request building (key and attribute maps, the condition, a request id per call) was 7% of
# a client_credentials request's CPU and 4% of an introspection's (runtime-only Python 3.12, 4 x 1,000
# alternating). Every other write keeps pynamodb's expressions.
_NEW_ROW = {"ConditionExpression": "attribute_not_exists(#s)", "ExpressionAttributeNames": {"#s": "signature"}}


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@ensure_bound
def put(token: Token) -> None:
    """Store a new token. Signatures are random, so an existing row is either this very token (the
    first attempt committed, its response was lost and botocore resent it: all is well) or a bug."""
    try:
        connection().client.put_item(TableName=TokenRecord.Meta.table_name, Item=row_item(token), **_NEW_ROW)
    except ClientError as exc:
        if _is_condition_failure(exc) and get(token.signature, token.kind) == token:
            return
        raise


@ensure_bound
def put_many(tokens: Iterable[Token]) -> None:
    """Store several tokens atomically (all or none)."""
    with TransactWrite(connection=connection()) as tx:
        for token in tokens:
            tx.save(to_record(token), condition=TokenRecord.signature.does_not_exist())


@ensure_bound
def put_reissued(origin: Token, tokens: list[Token]) -> None:
    """Store a grace-period pair and, in the same transaction, append it to ``origin``'s ``reissued``
    list, so revoking the grant later finds it with consistent reads, not only through the index."""
    refs = [f"{token.kind} {token.signature}" for token in tokens]
    transact(saves=[to_record(token) for token in tokens],
             updates=[(record_key(origin.kind, origin.signature),
                       [TokenRecord.reissued.set((TokenRecord.reissued | []).append(refs))],
                       TokenRecord.signature.exists() & TokenRecord.revoked_at.does_not_exist())])


@ensure_bound
def get(signature: str, kind: str, *, include_used: bool = False) -> Token | None:
    """The live token of ``kind`` with that signature; None if absent, expired or of another kind."""
    data = connection().client.get_item(
        TableName=TokenRecord.Meta.table_name, ConsistentRead=True,
        Key={"shard": {"S": flush_shard(kind, signature)}, "signature": {"S": signature}})
    item = data.get("Item")
    if not item:
        return None
    token = token_from_item(item)
    if token.expired or (token.used_at is not None and not include_used):
        return None
    return token


def consume_condition(now: int) -> Any:
    """The condition under which a single-use row may be consumed: it exists, is unused, unexpired."""
    return (
        TokenRecord.signature.exists()
        & TokenRecord.used_at.does_not_exist()
        & (TokenRecord.expires_at > now)
    )


@ensure_bound
def consume(token: Token) -> None:
    """Mark a single-use token used. Raises AlreadyUsed if another request got there first."""
    now = clock.now_int()
    try:
        connection().update(record_key(token.kind, token.signature), actions=[TokenRecord.used_at.set(now)],
                            condition=consume_condition(now))
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise AlreadyUsed(token.signature) from exc
        raise unwrap(exc) from exc
    token.used_at = now


@ensure_bound
def delete(signature: str, kind: str) -> None:
    try:
        connection().delete(record_key(kind, signature))
    except DeleteError as exc:
        raise unwrap(exc) from exc


@ensure_bound
def delete_owned(signature: str, kind: str, client_id: str) -> bool:
    """Delete the live, unused token of ``kind`` with that signature if it belongs to ``client_id``,
    in one conditional DeleteItem (no read first). False if there is no such row (absent, expired,
    used, of another kind or of another client): then nothing changes. The kind is part of the key."""
    condition = (
        TokenRecord.signature.exists()
        & (TokenRecord.client_id == client_id)
        & (TokenRecord.expires_at > clock.now_int())
        & TokenRecord.used_at.does_not_exist()
    )
    try:
        connection().delete(record_key(kind, signature), condition=condition)
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise unwrap(exc) from exc
    return True


MARK_ATTEMPTS = 4  # a mark cancelled by a concurrent transaction on the row is tried again


@ensure_bound
def mark_revoked(signature: str, kind: str) -> Token | None:
    """Mark a code or refresh token revoked, in one UpdateItem that returns the row as it now is;
    None if there is no such row. The mark sets ``used_at`` (unless set) and ``revoked_at``, and every
    write that makes a new token of the grant from a row requires one of them absent (``consume_condition``,
    ``put_reissued``): so once marked, the row's ``issued`` and ``reissued`` lists are final. A
    consumption that committed first is in the returned row; one that comes after fails. Idempotent: a
    resent mark whose first answer was lost changes nothing more."""
    now = clock.now_int()
    record = record_key(kind, signature)
    for attempt in range(MARK_ATTEMPTS):
        try:
            connection().update(record, actions=[TokenRecord.used_at.set(TokenRecord.used_at | now),
                                                 TokenRecord.revoked_at.set(TokenRecord.revoked_at | now)],
                                condition=TokenRecord.signature.exists())
            return from_record(record)
        except UpdateError as exc:
            if is_condition_failure(exc):
                return None
            # A transaction (a refresh consuming this very row) was in flight: DynamoDB refuses the
            # single write with TransactionConflictException, which botocore does not retry.
            if getattr(exc, "cause_response_code", None) != "TransactionConflictException":
                raise unwrap(exc) from exc
            time.sleep(0.02 * (attempt + 1))
    raise Contended(signature)


@ensure_bound
def get_many(refs: Iterable[TokenRef]) -> list[Token]:
    """The rows ``refs`` name that exist (expired and used ones included), read consistently with
    BatchGetItem (100 keys a call; pynamodb asks again for unprocessed keys)."""
    keys = [(flush_shard(ref.kind, ref.signature), ref.signature) for ref in refs]
    if not keys:
        return []
    try:
        return [from_record(record) for record in connection().batch_get_rows(TokenRecord, keys, consistent_read=True)]
    except GetError as exc:
        raise unwrap(exc) from exc


@ensure_bound
def delete_refs(refs: Iterable[TokenRef]) -> int:
    """Delete the rows ``refs`` name (kind and signature), 25 to a BatchWriteItem; absent rows are fine."""
    return _delete_keys(record_key(ref.kind, ref.signature) for ref in refs)


def _delete_keys(keys: Iterable[TokenRecord]) -> int:
    return connection().delete_rows(TokenRecord, [(key.shard, key.signature) for key in keys])


@ensure_bound
def keys_of_request(request_id: str) -> Iterator[TokenRecord]:
    """The keys (shard and signature) of every row of one grant, from the sparse by_request index."""
    yield from connection().query_rows(TokenRecord, request_id, index=TokenRecord.by_request)


def signatures_of_request(request_id: str) -> Iterator[str]:
    for item in keys_of_request(request_id):
        yield item.signature


@ensure_bound
def revoke_request(request_id: str, keep: str = "") -> int:
    """Delete every token of one grant (all rows sharing ``request_id``) but the one signed ``keep``."""
    return _delete_keys([key for key in keys_of_request(request_id) if key.signature != keep])


def transact(
    *,
    saves: Iterable[Model] = (),
    updates: Iterable[tuple[Model, list[Any], Any]] = (),
    deletes: Iterable[Model] = (),
) -> None:
    """One DynamoDB transaction of conditional saves and updates (and unconditional deletes, e.g. the
    access token a refresh replaces). Raises AlreadyUsed if a condition failed (a single-use row was
    consumed concurrently), nothing is written in that case."""
    try:
        with TransactWrite(connection=connection()) as tx:
            for model, actions, condition in updates:
                tx.update(model, actions=actions, condition=condition)
            for model in saves:
                tx.save(model)
            for model in deletes:
                tx.delete(model)
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise AlreadyUsed("transaction condition failed") from exc
        raise unwrap(exc) from exc


def _is_conflict(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    reasons = (response or {}).get("CancellationReasons") or [] if isinstance(response, dict) else []
    return any((reason or {}).get("Code") == "TransactionConflict" for reason in reasons)


@ensure_bound
def redeem(origin: Token, rows: list[Token], delete_access: Iterable[str] = ()) -> bool:
    """ONE transaction: consume the single-use ``origin`` (unused, unexpired), record on it what it
    issued, write ``rows`` and delete the access tokens ``delete_access``. False if ``origin`` was
    consumed by another request (nothing is written then). A transaction cancelled only by a
    concurrent one (TransactionConflict) is retried; Contended if that keeps happening."""
    session = dataclasses.replace(origin.session, issued=[TokenRef(row.kind, row.signature) for row in rows])
    deletes = list(delete_access)
    for attempt in range(3):
        now = clock.now_int()
        try:
            transact(
                saves=[to_record(row) for row in rows],
                updates=[(record_key(origin.kind, origin.signature),
                          [TokenRecord.used_at.set(now), TokenRecord.session.set(session_to_map(session))],
                          consume_condition(now))],
                deletes=[record_key("access", signature) for signature in deletes],
            )
            return True
        except AlreadyUsed:
            return False
        except Exception as exc:
            if not _is_conflict(exc):
                raise
            time.sleep(0.02 * (attempt + 1))
    raise Contended(origin.signature)
