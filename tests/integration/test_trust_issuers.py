"""/admin/trust/grants/jwt-bearer/issuers through Ory's own generated SDK (``ory-hydra-client``) against
the local server: on the token-less admin port and on the public port with the SDK's default
``Authorization`` header; authlib's ``AssertionSession`` (a relying party's JWT bearer client) then
gets a token with the trust and is refused once the trust is deleted. Bad trusts are 400 with nothing
stored, duplicates 409, unknown ids 404, and the warden guards the public port (401, 403)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.support import (
    ROOT_CLIENT_ID,
    ROOT_CLIENT_SECRET,
    LocalServer,
    admin_headers,
    bearer,
    call,
    client_credentials_token,
    free_port,
    new_client,
    unique,
)
from tests.support_jose import key_pair

pytestmark = pytest.mark.e2e

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PATH = "/admin/trust/grants/jwt-bearer/issuers"
RSA = key_pair("RS256")
EC = key_pair("ES256")


@pytest.fixture(scope="module")
def stack(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[tuple[LocalServer, str]]:
    admin_port = free_port()
    server = LocalServer({**aws, "POLICY_CACHE_SECONDS": "0", "ADMIN_PORT": str(admin_port)})
    yield server, f"http://127.0.0.1:{admin_port}"
    server.stop()


def sdk_api(host: str, token: str | None = None) -> Any:
    import ory_hydra_client
    from ory_hydra_client.api.o_auth2_api import OAuth2Api

    configuration = ory_hydra_client.Configuration(host=host)
    if token is None:
        return OAuth2Api(ory_hydra_client.ApiClient(configuration))
    return OAuth2Api(ory_hydra_client.ApiClient(configuration, header_name="Authorization",
                                                header_value=f"Bearer {token}"))


def root_token(api: str, scope: str) -> str:
    answer = requests.post(f"{api}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                           data={"grant_type": "client_credentials", "scope": scope}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def sdk_trust(issuer: str, *, subject: str | None = "alice", any_subject: bool | None = None,
              scope: tuple[str, ...] = ("api.read",), key: Any = RSA) -> Any:
    from ory_hydra_client.models import JsonWebKey, TrustOAuth2JwtGrantIssuer

    return TrustOAuth2JwtGrantIssuer(
        issuer=issuer, subject=subject, allow_any_subject=any_subject, scope=list(scope),
        jwk=JsonWebKey(**{**key.public, "alg": key.alg}), expires_at=datetime.now(UTC) + timedelta(hours=1))


@pytest.mark.parametrize("port", ["admin", "public"])
def test_the_sdk_trusts_lists_gets_and_deletes_issuers(stack: tuple[LocalServer, str], port: str) -> None:
    from ory_hydra_client.exceptions import NotFoundException

    server, admin_url = stack
    api = sdk_api(admin_url) if port == "admin" else sdk_api(server.url, root_token(server.url, "hydra.trust"))
    issuer = f"https://{unique('sdk-idp')}.example.com"
    made = api.trust_o_auth2_jwt_grant_issuer(trust_o_auth2_jwt_grant_issuer=sdk_trust(issuer))
    assert made.issuer == issuer and made.subject == "alice" and made.allow_any_subject is False
    assert made.scope == ["api.read"] and made.public_key.set == issuer and made.public_key.kid == RSA.public["kid"]
    assert made.created_at is not None and made.expires_at > made.created_at
    other = api.trust_o_auth2_jwt_grant_issuer(
        trust_o_auth2_jwt_grant_issuer=sdk_trust(issuer, subject=None, any_subject=True, key=EC))
    assert other.subject == "" and other.allow_any_subject is True and other.id != made.id
    assert api.get_trusted_o_auth2_jwt_grant_issuer(made.id) == made
    listed = api.list_trusted_o_auth2_jwt_grant_issuers(issuer=issuer)
    assert sorted(t.id for t in listed) == sorted([made.id, other.id])
    first = api.list_trusted_o_auth2_jwt_grant_issuers_with_http_info(issuer=issuer, page_size=1)
    assert len(first.data) == 1 and 'rel="next"' in first.headers["Link"]
    token = first.headers["Link"].split("page_token=")[1].split(">")[0]
    second = api.list_trusted_o_auth2_jwt_grant_issuers(issuer=issuer, page_size=1, page_token=token)
    assert [t.id for t in first.data + second] == sorted([made.id, other.id])
    api.delete_trusted_o_auth2_jwt_grant_issuer(made.id)
    with pytest.raises(NotFoundException):
        api.get_trusted_o_auth2_jwt_grant_issuer(made.id)
    assert [t.id for t in api.list_trusted_o_auth2_jwt_grant_issuers(issuer=issuer)] == [other.id]


def test_authlib_gets_a_token_with_a_trust_and_none_once_it_is_deleted(stack: tuple[LocalServer, str]) -> None:
    from authlib.integrations.requests_client import AssertionSession
    from authlib.oauth2.base import OAuth2Error

    server, admin_url = stack
    api = sdk_api(admin_url)
    issuer = f"https://{unique('authlib-idp')}.example.com"
    trust = api.trust_o_auth2_jwt_grant_issuer(trust_o_auth2_jwt_grant_issuer=sdk_trust(issuer, subject="carol"))
    client_id, secret = new_client("jb-authlib", grant_types=[GRANT], scope="api.read")
    assert secret is not None

    def session() -> Any:
        made = AssertionSession(f"{server.url}/oauth2/token", issuer=issuer, subject="carol", scope="api.read",
                                key=RSA.pem, header={"alg": "RS256", "kid": RSA.public["kid"]})
        made.auth = (client_id, secret)  # the client authenticates as usual (HTTP Basic)
        return made

    token = session().refresh_token()  # authlib's AssertionSession fetches by "refreshing"
    assert token["token_type"].lower() == "bearer" and token["scope"] == "api.read" and "refresh_token" not in token
    seen = requests.post(f"{server.url}/oauth2/introspect", data={"token": token["access_token"]},
                         headers=bearer(root_token(server.url, "hydra.introspect")), timeout=10).json()
    assert seen["active"] is True and seen["sub"] == "carol" and seen["client_id"] == client_id
    api.delete_trusted_o_auth2_jwt_grant_issuer(trust.id)
    with pytest.raises(OAuth2Error) as refused:
        session().refresh_token()
    assert refused.value.error == "invalid_grant"


def test_the_public_port_needs_a_token_with_the_trust_scope(stack: tuple[LocalServer, str]) -> None:
    from ory_hydra_client.exceptions import ForbiddenException, UnauthorizedException

    server, _ = stack
    with pytest.raises(UnauthorizedException):
        sdk_api(server.url).list_trusted_o_auth2_jwt_grant_issuers()
    with pytest.raises(ForbiddenException):
        sdk_api(server.url, root_token(server.url, "hydra.clients")).list_trusted_o_auth2_jwt_grant_issuers()


def _post(body: dict[str, Any]) -> Any:
    return call("POST", PATH, headers=admin_headers("hydra.trust"), json_body=body)


def _body(**overrides: Any) -> dict[str, Any]:
    body = {"issuer": f"https://{unique('idp')}.example.com", "subject": "alice", "scope": ["api.read"],
            "jwk": {**RSA.public, "alg": "RS256"},
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


@pytest.mark.parametrize(("case", "overrides", "says"), [
    ("no issuer", {"issuer": None}, "issuer"),
    ("subject and any subject", {"allow_any_subject": True}, "cannot be set at the same time"),
    ("neither subject", {"subject": None}, "must be set"),
    ("private key", {"jwk": {**RSA.public, "alg": "RS256", "d": "AQAB"}}, "private key material"),
    ("no kid", {"jwk": {k: v for k, v in RSA.public.items() if k != "kid"} | {"alg": "RS256"}}, "kid"),
    ("PS256", {"jwk": {**RSA.public, "alg": "PS256"}}, "alg"),
    ("HMAC key", {"jwk": {"kty": "oct", "k": "c2VjcmV0", "kid": "h", "alg": "HS256"}}, "private key material"),
    ("wrong curve", {"jwk": {**EC.public, "alg": "ES384"}}, "curve"),
    ("encryption key", {"jwk": {**RSA.public, "alg": "RS256", "use": "enc"}}, "use sig"),
    ("off the curve", {"jwk": {**EC.public, "alg": "ES256", "y": EC.public["x"]}}, "not a valid public key"),
    ("expired", {"expires_at": "2020-01-01T00:00:00Z"}, "future"),
    ("bad scope", {"scope": ["a b"]}, "not a valid scope"),
    ("no expiry", {"expires_at": None}, "expires_at"),
])
def test_bad_trusts_are_refused_and_nothing_is_stored(case: str, overrides: dict[str, Any], says: str) -> None:
    body = _body(**overrides)
    result = _post(body)
    assert result.status == 400, result.body
    assert says in result.json["error_description"], result.body
    if "issuer" in body:
        listed = call("GET", PATH, headers=admin_headers("hydra.trust"), query={"issuer": body["issuer"]})
        assert listed.status == 200 and listed.json == []


def test_a_short_rsa_key_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jose import jwk

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    pem = small.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    public = {**jwk.construct(pem, "RS256").to_dict(), "kid": "short", "use": "sig"}
    result = _post(_body(jwk=public))
    assert result.status == 400 and "2048" in result.json["error_description"]


def test_a_duplicate_is_409_an_unknown_id_404_and_a_bad_page_token_400() -> None:
    body = _body()
    assert _post(body).status == 201
    again = _post(body)
    assert again.status == 409 and again.json["error"]
    headers = admin_headers("hydra.trust")
    assert call("GET", f"{PATH}/00000000-0000-5000-8000-000000000000", headers=headers).status == 404
    assert call("DELETE", f"{PATH}/not-a-trust-id", headers=headers).status == 404
    assert call("GET", PATH, headers=headers, query={"page_token": "bogus"}).status == 400
    assert call("GET", PATH, headers=headers, query={"page_size": "0"}).status == 400
    # A digit string longer than int() reads (4300 digits) was a 500; page_size is read by paging.page_size.
    assert call("GET", PATH, headers=headers, query={"page_size": "9" * 5000}).status == 400


def test_the_warden_checks_the_resource_and_the_action() -> None:
    """A client whose policy allows only listing may list, but not create or delete."""
    from tests.support_admin import add_policy, remove_policy

    client_id, secret = new_client("trust-reader", scope="hydra.trust")
    assert secret is not None
    policy = add_policy(subjects=[client_id], resources=["rn:hydra:trust:jwt-bearer:issuers"], actions=["list"],
                        effect="allow")
    try:
        headers = bearer(client_credentials_token("hydra.trust", client_id, secret))
        assert call("GET", PATH, headers=headers).status == 200
        assert call("POST", PATH, headers=headers, json_body=_body()).status == 403
        made = _post(_body()).json
        assert call("DELETE", f"{PATH}/{made['id']}", headers=headers).status == 403
        assert call("GET", f"{PATH}/{made['id']}", headers=headers).status == 403
    finally:
        remove_policy(policy)


def test_a_trust_row_reads_through_the_client_model_without_error() -> None:
    """The clients table is scanned through ClientRecord (storage.clients.any_exists, the tests'
    wipe): a trust row must deserialize there too, so no attribute name carries another type."""
    from hydra_lambda.storage.tables import ClientRecord, TrustRecord, connection

    made = _post(_body()).json
    raw = connection().client.get_item(TableName=ClientRecord.Meta.table_name, Key={"id": {"S": f"trust#{made['id']}"}},
                                       ConsistentRead=True)["Item"]
    assert ClientRecord.from_raw_data(raw).listing == "trust-issuer"
    assert TrustRecord.from_raw_data(raw).issuer == made["issuer"]
