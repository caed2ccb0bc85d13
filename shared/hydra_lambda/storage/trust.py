"""Trusted issuers of the JWT bearer grant: rows of the clients table keyed ``trust#<id>`` (no client
id holds ``#``, so no trust row is ever read as a client, and no client as a trust), listed through
``by_listing`` under their own value ``trust-issuer`` (sorted by id). No new table.

Costs (on-demand, a row under 1 KB: an RSA-4096 public key is ~0.8 KB): a create is one conditional
PutItem (1 write unit; two creates of one (issuer, subject, kid) race to one winner), a delete one
conditional DeleteItem, a get one consistent GetItem (1 read unit). The grant reads at most two rows
by key (``trust.issuers.for_assertion``). A list reads the ``trust-issuer`` partition of the index
from the page token on (0.5 read unit per 4 KB), filtering by issuer in the function: an issuer filter
over many trusts of other issuers reads them too."""

from __future__ import annotations

from collections.abc import Iterator

from pynamodb.exceptions import DeleteError, PutError

from hydra_lambda.storage.tables import TrustRecord, connection, ensure_bound, is_condition_failure, unwrap
from hydra_lambda.trust.model import TrustedIssuer

KEY_PREFIX = "trust#"
LISTING = "trust-issuer"


class AlreadyExists(Exception):
    """A trust with that id (the same issuer, subject and kid) exists."""


def _key(trust_id: str) -> str:
    return KEY_PREFIX + trust_id


def _to_record(trust: TrustedIssuer) -> TrustRecord:
    return TrustRecord(_key(trust.id), listing=LISTING, issuer=trust.issuer, subject=trust.subject,
                       allow_any_subject=trust.allow_any_subject, trust_scope=list(trust.scope), jwk=dict(trust.jwk),
                       trusted_at=trust.created_at, expires_at=trust.expires_at)


def _from_record(record: TrustRecord) -> TrustedIssuer:
    return TrustedIssuer(id=record.id.removeprefix(KEY_PREFIX), issuer=record.issuer, subject=record.subject or "",
                         allow_any_subject=bool(record.allow_any_subject), scope=list(record.trust_scope or []),
                         jwk=dict(record.jwk or {}), created_at=int(record.trusted_at),
                         expires_at=int(record.expires_at))


@ensure_bound
def create(trust: TrustedIssuer) -> None:
    """Store a new trust (one conditional put); AlreadyExists if its id is taken."""
    try:
        connection().save(_to_record(trust), condition=TrustRecord.id.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            raise AlreadyExists(trust.id) from exc
        raise unwrap(exc) from exc


@ensure_bound
def get(trust_id: str) -> TrustedIssuer | None:
    """The trust with that id (one strongly consistent read), or None."""
    try:
        return _from_record(connection().get(TrustRecord, _key(trust_id), consistent_read=True))
    except TrustRecord.DoesNotExist:
        return None


@ensure_bound
def delete(trust_id: str) -> bool:
    """Delete a trust; False if there was none."""
    try:
        connection().delete(TrustRecord(_key(trust_id)), condition=TrustRecord.id.exists())
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise unwrap(exc) from exc
    return True


@ensure_bound
def listed(after: str = "") -> Iterator[TrustedIssuer]:
    """Every trust in id order, from the first id after ``after`` (the index: eventually consistent)."""
    condition = TrustRecord.id > _key(after) if after else None
    for record in connection().query_rows(TrustRecord, LISTING, condition, index=TrustRecord.by_listing,
                                          page_size=100):
        yield _from_record(record)
