"""``/admin/keys`` through Ory's own generated SDK (``ory-hydra-client``'s JwkApi) against the local
server: every operation on the token-less admin port (Hydra's 4445) and on the public port with the
SDK's default ``Authorization`` header; the SDK parses every answer, refusals included
(``errorOAuth2``); a generated key verifies what its private part signed (python-jose); the
server's log never holds a private member; the current CLI's ``create jwk`` / ``get jwk`` /
``delete jwk``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from jose import jws

from tests.integration.test_cli_e2e import ok, one_line_error, run
from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, free_port, unique

pytestmark = pytest.mark.e2e

SCOPES = "hydra.keys.get hydra.keys.create hydra.keys.update hydra.keys.delete"
PRIVATE = ("d", "p", "q", "dp", "dq", "qi", "k")
KMS_SET = "hydra.openid.id-token"


@pytest.fixture(scope="module")
def server(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    admin_port = free_port()
    instance = LocalServer({**aws, "POLICY_CACHE_SECONDS": "0", "ADMIN_PORT": str(admin_port)})
    instance.admin = f"http://127.0.0.1:{admin_port}"  # type: ignore[attr-defined]
    yield instance
    instance.stop()


def root_token(server: LocalServer) -> str:
    answer = requests.post(f"{server.url}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), timeout=10,
                           data={"grant_type": "client_credentials", "scope": SCOPES})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def jwk_api(host: str, token: str | None = None) -> Any:
    """Ory's JwkApi as its README shows it; with ``token``, the default Authorization header."""
    import ory_hydra_client
    from ory_hydra_client.api.jwk_api import JwkApi

    configuration = ory_hydra_client.Configuration(host=host)
    if token is None:
        return JwkApi(ory_hydra_client.ApiClient(configuration))
    return JwkApi(ory_hydra_client.ApiClient(configuration, header_name="Authorization",
                                             header_value=f"Bearer {token}"))


@pytest.fixture(scope="module", params=["admin-port", "public-port-bearer"])
def api(request: pytest.FixtureRequest, server: LocalServer) -> Any:
    if request.param == "admin-port":
        return jwk_api(server.admin)  # type: ignore[attr-defined]
    return jwk_api(server.url, root_token(server))


def refusal(call: Any, status: int) -> str:
    """The SDK raised ApiException with ``status`` and parsed the errorOAuth2 body; its description."""
    from ory_hydra_client.exceptions import ApiException
    from ory_hydra_client.models import ErrorOAuth2

    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status == status, raised.value.body
    error = ErrorOAuth2.from_json(raised.value.body)
    assert error is not None and error.status_code == status and error.error_description
    return error.error_description


def public(key: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in key.items() if k not in PRIVATE}


def test_every_jwk_operation_through_the_sdk(api: Any, server: LocalServer) -> None:
    from ory_hydra_client.models import CreateJsonWebKeySet, JsonWebKey, JsonWebKeySet

    set_name = unique("sdk")
    created = api.create_json_web_key_set(set_name, CreateJsonWebKeySet(alg="RS256", kid="sdk-rs", use="sig"))
    (key,) = created.keys
    assert (key.kid, key.alg, key.kty, key.use) == ("sdk-rs", "RS256", "RSA", "sig") and key.d and key.p

    # What the private part signs, the public part verifies (python-jose).
    signed = jws.sign({"sub": "sdk"}, key.to_dict(), algorithm="RS256")
    assert json.loads(jws.verify(signed, public(key.to_dict()), algorithms=["RS256"])) == {"sub": "sdk"}

    second = api.create_json_web_key_set(set_name, CreateJsonWebKeySet(alg="ES512", kid="", use="sig")).keys[0]
    assert second.kty == "EC" and second.crv == "P-521" and second.kid
    assert [k.kid for k in api.get_json_web_key_set(set_name).keys] == ["sdk-rs", second.kid]
    assert api.get_json_web_key(set_name, "sdk-rs").keys[0].to_dict() == key.to_dict()

    # Upload: one key replaced (PUT of the kid), then the whole set replaced.
    hmac = JsonWebKey(kid="sdk-rs", alg="HS256", kty="oct", use="sig", k="c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM")
    assert api.set_json_web_key(set_name, "sdk-rs", hmac).to_dict() == hmac.to_dict()
    partner = JsonWebKey.from_dict(public(second.to_dict()))  # a public-only key is kept as sent
    replaced = api.set_json_web_key_set(set_name, JsonWebKeySet(keys=[key, partner]))
    assert [k.to_dict() for k in replaced.keys] == [key.to_dict(), public(second.to_dict())]
    assert [k.to_dict() for k in api.get_json_web_key_set(set_name).keys] == [k.to_dict() for k in replaced.keys]

    api.delete_json_web_key(set_name, "sdk-rs")
    assert "not found" in refusal(lambda: api.get_json_web_key(set_name, "sdk-rs"), 404)
    api.delete_json_web_key_set(set_name)
    assert "not found" in refusal(lambda: api.get_json_web_key_set(set_name), 404)

    # The stack's KMS set: public keys only; no private key out, none in.
    published = requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()
    assert [k.to_dict() for k in api.get_json_web_key_set(KMS_SET).keys] == published["keys"]
    said = refusal(lambda: api.create_json_web_key_set(KMS_SET, CreateJsonWebKeySet(alg="RS256", kid="", use="sig")),
                   403)
    assert "AWS KMS never exports a private key" in said
    refusal(lambda: api.set_json_web_key(KMS_SET, "sdk-rs", JsonWebKey.from_dict(key.to_dict())), 403)
    refusal(lambda: api.delete_json_web_key_set(KMS_SET), 403)
    assert requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json() == published
    # A bad algorithm: 400, parsed by the SDK too.
    assert "alg must be one of" in refusal(
        lambda: api.create_json_web_key_set(set_name, CreateJsonWebKeySet(alg="none", kid="", use="sig")), 400)

    # Served in full, never logged: no private member of any key appears in the server's output.
    log = server.output()
    for member in ("d", "p", "q", "dq"):
        assert key.to_dict()[member] not in log
    assert second.d not in log and hmac.k not in log


def test_the_public_port_asks_the_sdk_for_a_token(server: LocalServer) -> None:
    from ory_hydra_client.models import CreateJsonWebKeySet

    anonymous = jwk_api(server.url)
    refusal(lambda: anonymous.create_json_web_key_set(unique("sdk"), CreateJsonWebKeySet(alg="HS256", kid="",
                                                                                          use="sig")), 401)
    refusal(lambda: anonymous.get_json_web_key_set(unique("sdk")), 401)


def test_the_cli_creates_gets_and_deletes_a_jwk(server: LocalServer) -> None:
    set_name = unique("cli")
    made = ok(run("create", "jwk", set_name, "--alg", "ES256", "--kid=cli-1", server=server))
    (key,) = made["keys"]
    assert (key["kid"], key["alg"], key["crv"]) == ("cli-1", "ES256", "P-256") and key["d"]
    both = ok(run("get", "jwk", set_name, KMS_SET, "--public", server=server))
    assert both[set_name] == {"keys": [public(key)]} and both[KMS_SET]["keys"]
    assert "AWS KMS never exports" in one_line_error(run("create", "jwk", KMS_SET, server=server))
    deleted = run("delete", "jwk", set_name, "--kid=cli-1", server=server)  # its last key: the set goes too
    assert deleted.returncode == 0 and "deleted" in deleted.stdout
    assert "not found" in one_line_error(run("get", "jwk", set_name, server=server))
