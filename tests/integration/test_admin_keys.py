"""``/admin/keys/<set>[/<kid>]`` in process (the real AdminFunction handler, DynamoDB Local, moto KMS):
application key sets generated, uploaded, replaced and deleted; the stack's KMS set public and
read-only; hostile input refused with ``errorOAuth2`` and nothing changed; the row at rest sealed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jose import jws

from tests.support import call, unique
from tests.support_admin import bearer, token

SCOPES = "hydra.keys.get hydra.keys.create hydra.keys.update hydra.keys.delete"
PRIVATE = {"d", "p", "q", "dp", "dq", "qi", "k"}


@pytest.fixture(scope="module")
def root() -> dict[str, str]:
    return bearer(token(scope=SCOPES))


def path(set_name: str, kid: str | None = None) -> str:
    return f"/admin/keys/{set_name}" + (f"/{kid}" if kid is not None else "")


def error_of(result: Any, status: int) -> str:
    """The errorOAuth2 body of a refusal with ``status``: its description."""
    assert result.status == status, (result.status, result.body)
    body = result.json
    assert set(body) == {"error", "error_description", "status_code"} and body["status_code"] == status, body
    return body["error_description"]


def row(set_name: str) -> dict[str, Any] | None:
    """The set's raw item in the clients table, as DynamoDB holds it."""
    from hydra_lambda.config import get_settings
    from hydra_lambda.storage.tables import connection

    item = connection().client.get_item(TableName=get_settings().clients_table, Key={"id": {"S": f"jwks#{set_name}"}},
                                        ConsistentRead=True).get("Item")
    return item


def generated(root: dict[str, str], alg: str, use: str = "sig") -> tuple[str, dict[str, Any]]:
    set_name = unique("app")
    result = call("POST", path(set_name), headers=root, json_body={"alg": alg, "kid": "", "use": use})
    assert result.status == 201, result.body
    (key,) = result.json["keys"]
    return set_name, key


@pytest.mark.parametrize("alg", ["RS256", "ES256", "ES512", "HS256", "HS512"])
def test_a_generated_key_signs_what_its_public_part_verifies(root: dict[str, str], alg: str) -> None:
    set_name, key = generated(root, alg)
    assert key["alg"] == alg and key["use"] == "sig" and key["kid"]
    assert PRIVATE & set(key), "the admin gets the private part"
    token = jws.sign({"sub": "alice"}, key, algorithm=alg)
    verifier = key if alg.startswith("HS") else {k: v for k, v in key.items() if k not in PRIVATE}
    assert json.loads(jws.verify(token, verifier, algorithms=[alg])) == {"sub": "alice"}
    assert call("GET", path(set_name), headers=root).json == {"keys": [key]}
    assert call("GET", path(set_name, key["kid"]), headers=root).json == {"keys": [key]}


def test_the_sealed_row_at_rest_is_not_the_private_key(root: dict[str, str]) -> None:
    set_name, key = generated(root, "RS256")
    item = row(set_name)
    assert item is not None and set(item) == {"id", "sealed", "version", "updated_at", "written_by"}
    stored = json.dumps(item)
    for member in ("d", "p", "q", "n"):
        assert key[member] not in stored
    assert item["sealed"]["S"].startswith("aesgcm1.") and "listing" not in item
    # Bound to its row: the same sealed value copied under another set's key does not open.
    from hydra_lambda import sealing

    with pytest.raises(sealing.Unsealable):
        sealing.unseal(item["sealed"]["S"], "jwks#another")
