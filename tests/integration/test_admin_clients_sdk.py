"""Ory's own generated SDK (``ory-hydra-client``, OAuth2Api) drives every operation of the current client
and token admin API against the local server: on the token-less admin port (Hydra's 4445) and on the
public API with its default ``Authorization`` header. The SDK must accept every answer (its pydantic
models validate each body: the duration patterns, ``client_id``, the introspection types), and its
errors must be Hydra's ``errorOAuth2``. One server for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, free_port, unique

pytestmark = pytest.mark.e2e


def sdk(host: str, token: str | None = None) -> Any:
    import ory_hydra_client
    from ory_hydra_client.api.o_auth2_api import OAuth2Api

    configuration = ory_hydra_client.Configuration(host=host)
    if token is None:
        return OAuth2Api(ory_hydra_client.ApiClient(configuration))
    return OAuth2Api(ory_hydra_client.ApiClient(configuration, header_name="Authorization",
                                                 header_value=f"Bearer {token}"))


@pytest.fixture(scope="module")
def stack(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[tuple[LocalServer, str]]:
    admin_port = free_port()
    server = LocalServer({**aws, "POLICY_CACHE_SECONDS": "0", "CLIENT_CACHE_SECONDS": "0",
                          "ADMIN_PORT": str(admin_port)})
    yield server, f"http://127.0.0.1:{admin_port}"
    server.stop()


@pytest.fixture(scope="module")
def admin(stack: tuple[LocalServer, str]) -> Any:
    return sdk(stack[1])


def root_token(api: str, scope: str) -> str:
    answer = requests.post(f"{api}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                           data={"grant_type": "client_credentials", "scope": scope}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def client_token(api: str, client_id: str, secret: str, scope: str = "read") -> requests.Response:
    return requests.post(f"{api}/oauth2/token", auth=(client_id, secret),
                         data={"grant_type": "client_credentials", "scope": scope}, timeout=10)


def error_of(exc: Any) -> dict[str, Any]:
    body = json.loads(exc.body)
    assert set(body) >= {"error", "error_description", "status_code"}, body
    assert body["status_code"] == exc.status
    return body


def test_every_client_operation_through_the_sdk_on_the_admin_port(stack: tuple[LocalServer, str], admin: Any) -> None:
    from ory_hydra_client.models import JsonPatch, OAuth2Client, OAuth2ClientTokenLifespans

    server, _ = stack
    owner = unique("sdk-owner")
    created = admin.create_o_auth2_client(OAuth2Client(
        client_name="sdk app", grant_types=["client_credentials"], scope="read write", owner=owner,
        audience=["https://api.example.com"], metadata={"team": "a"},
        client_credentials_grant_access_token_lifespan="30m"))
    assert created.client_id and created.client_secret and created.client_secret_expires_at == 0
    assert created.client_credentials_grant_access_token_lifespan == "30m0s"
    assert created.metadata == {"team": "a"} and created.token_endpoint_auth_method == "client_secret_basic"
    assert client_token(server.url, created.client_id, created.client_secret).status_code == 200

    fetched = admin.get_o_auth2_client(created.client_id)
    assert fetched.client_secret is None and fetched.client_name == "sdk app" and fetched.created_at is not None

    others = [admin.create_o_auth2_client(OAuth2Client(client_name="sdk app", owner=owner)) for _ in range(2)]
    listed = admin.list_o_auth2_clients_with_http_info(page_size=2, owner=owner)
    assert listed.status_code == 200 and len(listed.data) == 2
    assert listed.headers["X-Total-Count"] == "3" and 'rel="next"' in listed.headers["Link"]
    token = listed.headers["Link"].split("page_token=")[1].split(">")[0]
    rest = admin.list_o_auth2_clients(page_size=2, page_token=token, owner=owner)
    ids = sorted([c.client_id for c in listed.data] + [c.client_id for c in rest])
    assert ids == sorted([created.client_id] + [c.client_id for c in others])
    assert [c.client_id for c in admin.list_o_auth2_clients(client_name="sdk app", owner=owner, page_size=500)] == ids

    fetched.client_name = "renamed by set"
    updated = admin.set_o_auth2_client(created.client_id, fetched)
    assert updated.client_name == "renamed by set" and updated.client_secret is None
    assert updated.client_credentials_grant_access_token_lifespan == "30m0s"  # sent back as read: kept
    assert client_token(server.url, created.client_id, created.client_secret).status_code == 200

    patched = admin.patch_o_auth2_client(created.client_id, [
        JsonPatch(op="replace", path="/client_name", value="patched"),
        JsonPatch(op="add", path="/audience/-", value="https://other.example.com"),
        JsonPatch(op="test", path="/owner", value=owner),
        JsonPatch(op="replace", path="/client_secret", value="sdk-rotated-secret")])
    assert patched.client_name == "patched" and patched.client_secret == "sdk-rotated-secret"
    assert patched.audience == ["https://api.example.com", "https://other.example.com"]
    assert client_token(server.url, created.client_id, created.client_secret).status_code == 401
    assert client_token(server.url, created.client_id, "sdk-rotated-secret").status_code == 200

    spans = admin.set_o_auth2_client_lifespans(created.client_id, OAuth2ClientTokenLifespans(
        client_credentials_grant_access_token_lifespan="1h", authorization_code_grant_refresh_token_lifespan="720h",
        device_authorization_grant_access_token_lifespan="10m"))
    assert spans.client_credentials_grant_access_token_lifespan == "1h0m0s"
    assert spans.authorization_code_grant_refresh_token_lifespan == "720h0m0s"
    assert spans.device_authorization_grant_access_token_lifespan == "10m0s"
    assert spans.implicit_grant_access_token_lifespan is None

    for client in [created, *others]:
        admin.delete_o_auth2_client(client.client_id)
    from ory_hydra_client.exceptions import NotFoundException

    with pytest.raises(NotFoundException) as gone:
        admin.get_o_auth2_client(created.client_id)
    assert error_of(gone.value)["error"]


def test_introspection_and_token_deletion_through_the_sdk(stack: tuple[LocalServer, str], admin: Any) -> None:
    from ory_hydra_client.models import OAuth2Client

    server, _ = stack
    client = admin.create_o_auth2_client(OAuth2Client(grant_types=["client_credentials"], scope="read"))
    issued = client_token(server.url, client.client_id, client.client_secret)
    assert issued.status_code == 200
    access = issued.json()["access_token"]
    seen = admin.introspect_o_auth2_token(token=access)
    assert seen.active is True and seen.client_id == client.client_id and seen.sub == client.client_id
    assert seen.token_use == "access_token" and seen.token_type == "Bearer" and seen.scope == "read"
    assert isinstance(seen.aud, list) and seen.exp > seen.iat
    assert admin.introspect_o_auth2_token(token=access, scope="write").active is False
    admin.delete_o_auth2_token(client_id=client.client_id)
    assert admin.introspect_o_auth2_token(token=access).active is False
    admin.delete_o_auth2_client(client.client_id)


def test_the_sdk_on_the_public_api_needs_its_bearer_header(stack: tuple[LocalServer, str]) -> None:
    from ory_hydra_client.exceptions import ForbiddenException, UnauthorizedException
    from ory_hydra_client.models import OAuth2Client

    server, _ = stack
    with pytest.raises(UnauthorizedException) as refused:
        sdk(server.url).list_o_auth2_clients()
    assert error_of(refused.value)["status_code"] == 401
    clients = sdk(server.url, root_token(server.url, "hydra.clients"))
    made = clients.create_o_auth2_client(OAuth2Client(client_name="public api", grant_types=["client_credentials"]))
    assert clients.get_o_auth2_client(made.client_id).client_name == "public api"
    with pytest.raises(ForbiddenException) as scope:
        clients.delete_o_auth2_token(client_id=made.client_id)  # needs hydra.oauth2.tokens
    assert error_of(scope.value)["status_code"] == 403
    access = client_token(server.url, made.client_id, made.client_secret, "").json()["access_token"]
    assert sdk(server.url, root_token(server.url, "hydra.introspect")).introspect_o_auth2_token(token=access).active
    sdk(server.url, root_token(server.url, "hydra.oauth2.tokens")).delete_o_auth2_token(client_id=made.client_id)
    clients.delete_o_auth2_client(made.client_id)


@pytest.mark.parametrize("operations", [
    [{"op": "replace", "path": "/client_id", "value": "taken-over"}],
    [{"op": "add", "path": "/not_a_field", "value": 1}],
    [{"op": "replace", "path": "/grant_types", "value": 5}],
    [{"op": "test", "path": "/client_name", "value": "something else"}],
    [{"op": "jump", "path": "/client_name"}],
])
def test_hostile_patches_through_the_sdk_are_400_errorOAuth2_and_change_nothing(
        stack: tuple[LocalServer, str], admin: Any, operations: list[dict[str, Any]]) -> None:
    from ory_hydra_client.exceptions import BadRequestException
    from ory_hydra_client.models import JsonPatch, OAuth2Client

    client = admin.create_o_auth2_client(OAuth2Client(client_name="stays", grant_types=["client_credentials"]))
    before = admin.get_o_auth2_client(client.client_id)
    with pytest.raises(BadRequestException) as refused:
        admin.patch_o_auth2_client(client.client_id, [JsonPatch.from_dict(op) for op in operations])
    assert error_of(refused.value)["error"]
    assert admin.get_o_auth2_client(client.client_id) == before
    admin.delete_o_auth2_client(client.client_id)


def test_unknown_fields_and_wrong_types_are_400_errorOAuth2(stack: tuple[LocalServer, str], admin: Any) -> None:
    _, admin_url = stack
    count = requests.get(f"{admin_url}/admin/clients", params={"page_size": 1}, timeout=10).headers["X-Total-Count"]
    for body in ({"client_name": "x", "no_such_field": True}, {"client_name": ["x"]}, {"skip_consent": "true"},
                 {"jwt_bearer_grant_access_token_lifespan": "forever"}):
        answer = requests.post(f"{admin_url}/admin/clients", json=body, timeout=10)
        assert answer.status_code == 400, answer.text
        assert answer.json()["status_code"] == 400 and answer.json()["error"]
    assert requests.get(f"{admin_url}/admin/clients", params={"page_size": 1}, timeout=10).headers["X-Total-Count"] \
        == count
