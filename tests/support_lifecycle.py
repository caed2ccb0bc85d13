"""Helpers for the token-lifecycle tests: grants minted straight into storage, introspection and
revocation calls, and counting DynamoDB operations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support import (
    ROOT_CLIENT_ID,
    ROOT_CLIENT_SECRET,
    Result,
    basic,
    call,
    client_credentials_token,
    dynamodb_calls,
    new_client,
    unique,
)

ROOT_BASIC = basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
INACTIVE = {"active": False}


@dataclass
class Grant:
    access: str
    refresh: str
    request_id: str
    client_id: str


def grant(
    client_id: str = ROOT_CLIENT_ID,
    scopes: tuple[str, ...] = ("photos.read", "offline"),
    *,
    subject: str = "alice",
    extra: dict[str, Any] | None = None,
    audience: list[str] | None = None,
    access_lifespan: int = 3600,
    refresh_lifespan: int = 86_400,
) -> Grant:
    """An access and a refresh token of one grant, stored as the token endpoint stores them."""
    from hydra_lambda.storage import token_rows
    from hydra_lambda.tokens.issuer import mint, new_request_id

    request_id = new_request_id()
    common: dict[str, Any] = {"client_id": client_id, "request_id": request_id, "subject": subject,
                              "scopes": list(scopes), "extra": extra, "audience": audience}
    access, access_row = mint("access", lifespan=access_lifespan, **common)
    refresh, refresh_row = mint("refresh", lifespan=refresh_lifespan, **common)
    token_rows.put_many([access_row, refresh_row])
    return Grant(access, refresh, request_id, client_id)


def stored_code(client_id: str = ROOT_CLIENT_ID) -> str:
    from hydra_lambda.storage import token_rows
    from hydra_lambda.tokens.issuer import mint, new_request_id

    code, row = mint("code", client_id=client_id, request_id=new_request_id(), subject="alice",
                     scopes=["photos.read"], lifespan=600)
    token_rows.put(row)
    return code


def introspect(token: str, headers: dict[str, str] | None = None, **form: str) -> Result:
    return call("POST", "/oauth2/introspect", headers=ROOT_BASIC if headers is None else headers,
                form={"token": token, **form})


def is_active(token: str) -> bool:
    result = introspect(token)
    assert result.status == 200, result.body
    return bool(result.json["active"])


def revoke(token: str, headers: dict[str, str] | None = None, **form: str) -> Result:
    return call("POST", "/oauth2/revoke", headers=ROOT_BASIC if headers is None else headers,
                form={"token": token, **form})


client_token = client_credentials_token


def allow(subject: str, action: str = "introspect", resource: str = "rn:hydra:oauth2:tokens") -> str:
    from hydra_lambda.policies import Policy
    from hydra_lambda.storage import policies

    policy = Policy(id=unique("lc"), subjects=[subject], resources=[resource],
                    actions=[action], effect="allow")
    policies.create(policy)
    return policy.id


dynamodb_operations = dynamodb_calls

__all__ = ["INACTIVE", "ROOT_BASIC", "Grant", "allow", "client_token", "dynamodb_operations", "grant", "introspect",
           "is_active", "new_client", "revoke", "stored_code"]
