"""Helpers for the admin API tests: tokens, clients, policies, and counting DynamoDB calls."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, Result, call, client_credentials_token


def token(client_id: str = ROOT_CLIENT_ID, secret: str = ROOT_CLIENT_SECRET, scope: str = "hydra.clients") -> str:
    return client_credentials_token(scope, client_id, secret)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def admin() -> dict[str, str]:
    """Authorization headers of the root client with scope hydra.clients."""
    return bearer(token())


def unique(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_client(headers: dict[str, str] | None = None, **fields: Any) -> tuple[dict[str, Any], Result]:
    body = {"id": unique(), "redirect_uris": ["https://app.example.com/cb"], **fields}
    result = call("POST", "/clients", headers=headers or admin(), json_body=body)
    assert result.status == 201, result.body
    return result.json, result


def service_client(scope: str = "hydra.clients", owner: str = "", secret: str | None = None) -> tuple[str, str]:
    """A confidential client_credentials client (created through storage) and its secret."""
    from hydra_lambda.clients import create_client

    fields: dict[str, Any] = {"id": unique("svc"), "grant_types": ["client_credentials"], "scope": scope,
                              "owner": owner}
    if secret:
        fields["client_secret"] = secret
    client, plain = create_client(fields)
    assert plain is not None
    return client.id, plain


def add_policy(**fields: Any) -> str:
    from hydra_lambda.policies import Policy
    from hydra_lambda.storage import policies

    fields.setdefault("effect", "allow")
    policy = Policy(id=fields.pop("id", unique("pol")), **fields)
    policies.create(policy)
    return policy.id


def remove_policy(policy_id: str) -> None:
    from hydra_lambda.storage import policies

    policies.delete(policy_id)


