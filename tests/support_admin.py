"""Helpers for the admin API tests: tokens, clients and policies."""

from __future__ import annotations

from typing import Any

from tests.support import (
    ROOT_CLIENT_ID,
    ROOT_CLIENT_SECRET,
    Result,
    admin_headers,
    bearer,
    call,
    client_credentials_token,
    new_client,
    unique,
)

__all__ = ["add_policy", "admin", "bearer", "make_client", "remove_policy", "service_client", "token", "unique"]


def token(client_id: str = ROOT_CLIENT_ID, secret: str = ROOT_CLIENT_SECRET, scope: str = "hydra.clients") -> str:
    return client_credentials_token(scope, client_id, secret)


def admin() -> dict[str, str]:
    """Authorization headers of the root client with scope hydra.clients."""
    return admin_headers("hydra.clients")


def make_client(headers: dict[str, str] | None = None, **fields: Any) -> tuple[dict[str, Any], Result]:
    """A client created over the admin API (POST /clients): its JSON and the response."""
    body = {"id": unique(), "redirect_uris": ["https://app.example.com/cb"], **fields}
    result = call("POST", "/clients", headers=headers or admin(), json_body=body)
    assert result.status == 201, result.body
    return result.json, result


def service_client(scope: str = "hydra.clients", owner: str = "", secret: str | None = None) -> tuple[str, str]:
    """A confidential client_credentials client (created through the domain) and its secret."""
    fields: dict[str, Any] = {"scope": scope, "owner": owner}
    if secret:
        fields["client_secret"] = secret
    client_id, plain = new_client("svc", **fields)
    assert plain is not None
    return client_id, plain

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


