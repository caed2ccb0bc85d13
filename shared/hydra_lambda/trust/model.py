"""A trusted JWT issuer: who may assert (``issuer``, one ``subject`` or any), with which public key
(``jwk``, named by its ``kid``), for which scopes, until when. A plain typed value.

The id is derived from (issuer, subject, kid): a UUID (version 5) of the three, so the JWT bearer
grant finds the trust an assertion needs with one read by key (the assertion names its ``iss``,
``sub`` and, in its header, ``kid``), and a second one for an any-subject trust (subject ""). Two
trusts of the same (issuer, subject, kid) are one id: creating the second is a conflict, as Hydra."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

# Fixed forever: every stored trust's id depends on it.
_NAMESPACE = uuid.UUID("5d1f8a3e-6c1b-5b7e-9f42-7a0c2d9e4b13")


def trust_id(issuer: str, subject: str, kid: str) -> str:
    """The id of the trust of ``issuer`` for ``subject`` ("" for any subject) with key ``kid``."""
    return str(uuid.uuid5(_NAMESPACE, json.dumps([issuer, subject, kid], ensure_ascii=False)))


@dataclass(frozen=True)
class TrustedIssuer:
    issuer: str
    subject: str  # "" when allow_any_subject
    allow_any_subject: bool
    scope: list[str]
    jwk: dict[str, Any]  # the public key only (validated members of an RSA or EC key)
    created_at: int  # Unix seconds
    expires_at: int  # Unix seconds
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", trust_id(self.issuer, self.subject, self.kid))

    @property
    def kid(self) -> str:
        return str(self.jwk.get("kid", ""))

    def expired(self, now: float) -> bool:
        return self.expires_at <= now
