"""ID tokens and signed userinfo with RS256, PS256 and ES256 (issue 25 item 4): KMS (moto) and envelope
keys in three sets (SIGNING_KEYS, SIGNING_KEYS_PS256, SIGNING_KEYS_ES256), each client signed by the set
of its registered algorithm, verified against the published JWKS; keys that do not fit their set;
algorithms refused at registration when no set signs them, and a loud failure (never another alg) when
the set went away since; ``id_token_hint`` by ``kid`` across sets; discovery; rotation per set; and the
whole code flow of a PS256 and an ES256 client through the local server.

moto 5.2.6 signs RSASSA_PSS_SHA_256 with the longest salt; KMS with a 32-byte one (RFC 7518 3.5). The
tests' moto is patched to KMS's behaviour (tests/support_keys.py ``patch_moto_pss``), never the product."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hydra_lambda import keys
from hydra_lambda.config import ConfigError
from hydra_lambda.keys import rotation

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, bearer, call, client_credentials_token
from tests.support_admin import admin
from tests.support_flows import REDIRECT, Flow, code_flow, fragment, make_client, redeem
from tests.support_keys import (
    create_envelope_secret,
    create_kms_key,
    jws_parts,
    kms,
    signing_keys,
    signing_sets,
    verify_against_jwks,
)

CLAIMS = {"iss": "http://127.0.0.1:4444", "sub": "alice", "aud": "rp", "iat": 1, "exp": 4_000_000_000}
SPEC = {"RS256": "RSA_2048", "PS256": "RSA_2048", "ES256": "ECC_NIST_P256"}
SETTING = {"RS256": "SIGNING_KEYS", "PS256": "SIGNING_KEYS_PS256", "ES256": "SIGNING_KEYS_ES256"}


@pytest.fixture(scope="module")
def kms_sets() -> dict[str, str]:
    """One KMS key for each dedicated set (SIGNING_KEYS is the session's RSA key)."""
    return {"PS256": create_kms_key("RSA_2048"), "ES256": create_kms_key("ECC_NIST_P256")}


@pytest.fixture(autouse=True)
def _cold_container() -> Iterator[None]:
    keys.forget()
    yield
    keys.forget()


@pytest.fixture
def all_sets(kms_sets: dict[str, str]) -> Iterator[None]:
    with signing_sets(SIGNING_KEYS_PS256=kms_sets["PS256"], SIGNING_KEYS_ES256=kms_sets["ES256"]):
        yield


def _check_published(alg: str, signed: str, published: dict[str, Any]) -> None:
    header, _, _, signature = jws_parts(signed)
    assert header["alg"] == alg and header["typ"] == "JWT"
    jwk = next(k for k in published["keys"] if k["kid"] == header["kid"])
    assert jwk["alg"] == alg and jwk["use"] == "sig"
    assert jwk["kty"] == ("EC" if alg == "ES256" else "RSA")
    if alg == "ES256":
        assert jwk["crv"] == "P-256" and len(signature) == 64
    assert verify_against_jwks(signed, published) == CLAIMS


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_kms_sets_sign_each_algorithm(all_sets: None, alg: str) -> None:
    signed = keys.sign(CLAIMS, alg)
    published = keys.jwks()
    assert [k["alg"] for k in published["keys"]] == ["RS256", "PS256", "ES256"]
    _check_published(alg, signed, published)


@pytest.fixture(scope="module")
def envelope_sets() -> dict[str, str]:
    wrapping = kms().create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    run = uuid.uuid4().hex[:8]
    return {alg: create_envelope_secret(spec, f"test/{run}/id-token/{alg}", wrapping)[0] for alg, spec in SPEC.items()}


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_envelope_sets_sign_each_algorithm(envelope_sets: dict[str, str], alg: str) -> None:
    with signing_sets(SIGNING_MODE="envelope", **{SETTING[a]: ref for a, ref in envelope_sets.items()}):
        signed = keys.sign(CLAIMS, alg)
        published = keys.jwks()
    assert [k["alg"] for k in published["keys"]] == ["RS256", "PS256", "ES256"]
    _check_published(alg, signed, published)


@pytest.mark.parametrize(("setting", "spec", "message"), [
    ("SIGNING_KEYS_ES256", "RSA_2048", "SIGNING_KEYS_ES256: .*an RSA key cannot sign ES256 .it needs ECC_NIST_P256"),
    ("SIGNING_KEYS_PS256", "ECC_NIST_P256", "SIGNING_KEYS_PS256: .*a P-256 key cannot sign PS256 .it needs RSA_2048"),
])
def test_a_key_that_does_not_fit_its_set_is_a_config_error(setting: str, spec: str, message: str) -> None:
    with signing_sets(**{setting: create_kms_key(spec)}), pytest.raises(ConfigError, match=message):
        keys.jwks()


def test_one_key_in_two_sets_is_a_config_error() -> None:
    with signing_sets(SIGNING_KEYS_PS256=keys.signing_key().ref), pytest.raises(ConfigError, match="both SIGNING_KEYS"):
        keys.jwks()


def test_an_algorithm_without_a_set_is_never_signed_with_another(kms_sets: dict[str, str]) -> None:
    with pytest.raises(keys.AlgorithmNotConfigured, match="set SIGNING_KEYS_PS256"):
        keys.sign(CLAIMS, "PS256")
    with pytest.raises(keys.AlgorithmNotConfigured, match="set SIGNING_KEYS_ES256"):
        keys.sign(CLAIMS, "ES256")
    assert keys.signing_algorithms() == ["RS256"]
    # SIGNING_KEYS led by a P-256 key (as before the dedicated sets): it signs ES256, and RS256 is refused.
    with signing_keys([kms_sets["ES256"]]):
        assert jws_parts(keys.sign(CLAIMS, "ES256"))[0]["alg"] == "ES256"
        assert keys.signing_algorithms() == ["ES256"]
        with pytest.raises(keys.AlgorithmNotConfigured, match="SIGNING_KEYS signs ES256"):
            keys.sign(CLAIMS, "RS256")


def test_verify_finds_the_key_by_kid_in_every_set(all_sets: None) -> None:
    for alg in ("RS256", "PS256", "ES256"):
        signed = keys.sign(CLAIMS, alg)
        assert keys.verify(signed) == CLAIMS
        head, body, signature = signed.split(".")
        assert keys.verify(f"{head}.{body[:-2]}xx.{signature}") is None  # tampered claims
    # A PS256 key's kid with an RS256 header (and signature): the key's own alg only.
    ps256 = keys.sign(CLAIMS, "PS256")
    rs256 = keys.sign(CLAIMS, "RS256")
    kid = jws_parts(ps256)[0]["kid"]
    from hydra_lambda.keys.jws import signing_input

    swapped = signing_input({"alg": "RS256", "kid": kid, "typ": "JWT"}, CLAIMS).decode()
    assert keys.verify(f"{swapped}.{rs256.split('.')[2]}") is None
    for junk in ("", "a.b", "a.b.c.d", "!!.!!.!!", f"{ps256}x"):
        assert keys.verify(junk) is None


def test_discovery_lists_exactly_the_configured_algorithms(kms_sets: dict[str, str]) -> None:
    def listed() -> tuple[list[str], list[str]]:
        doc = call("GET", "/.well-known/openid-configuration").json
        return doc["id_token_signing_alg_values_supported"], doc["userinfo_signing_alg_values_supported"]

    assert listed() == (["RS256"], ["RS256"])
    with signing_sets(SIGNING_KEYS_ES256=kms_sets["ES256"]):
        assert listed() == (["RS256", "ES256"], ["RS256", "ES256"])
    with signing_sets(SIGNING_KEYS_PS256=kms_sets["PS256"], SIGNING_KEYS_ES256=kms_sets["ES256"]):
        assert listed() == (["RS256", "PS256", "ES256"], ["RS256", "PS256", "ES256"])
        jwks = call("GET", "/.well-known/jwks.json").json
        assert [(k["kty"], k["alg"], k.get("crv")) for k in jwks["keys"]] == [
            ("RSA", "RS256", None), ("RSA", "PS256", None), ("EC", "ES256", "P-256")]


@pytest.mark.parametrize("field", ["id_token_signed_response_alg", "userinfo_signed_response_alg"])
@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_registering_an_algorithm_no_set_signs_is_refused(kms_sets: dict[str, str], field: str, alg: str) -> None:
    headers = admin()
    client_id = f"alg-{uuid.uuid4().hex[:10]}"
    body = {"id": client_id, "redirect_uris": [REDIRECT], field: alg}
    refused = call("POST", "/clients", headers=headers, json_body=body)
    assert refused.status == 400
    assert f"{field}: this server does not sign {alg}" in refused.json["error"]["message"]
    assert f"SIGNING_KEYS_{alg}" in refused.json["error"]["message"]
    assert call("GET", f"/clients/{client_id}", headers=headers).status == 404  # nothing written
    with signing_sets(**{SETTING[alg]: kms_sets[alg]}):
        assert call("POST", "/clients", headers=headers, json_body=body).status == 201
    # An update that sends the field is checked too; one that leaves it alone is not.
    assert call("PUT", f"/clients/{client_id}", headers=headers, json_body={field: alg}).status == 400
    assert call("PUT", f"/clients/{client_id}", headers=headers, json_body={"client_name": "x"}).status == 200
    assert call("PUT", f"/clients/{client_id}", headers=headers, json_body={field: "RS256"}).status == 200


def _id_token(client_id: str, secret: str | None) -> dict[str, Any]:
    _, params = code_flow(client_id, scopes=["openid", "offline"])
    result = redeem(client_id, secret, params["code"])
    assert result.status == 200, result.body
    return result.json


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_each_client_gets_id_tokens_and_signed_userinfo_of_its_algorithm(all_sets: None, alg: str) -> None:
    import hashlib

    from hydra_lambda.keys.jws import b64url

    client_id, secret = make_client(id_token_signed_response_alg=alg, userinfo_signed_response_alg=alg)
    tokens = _id_token(client_id, secret)
    jwks = call("GET", "/.well-known/jwks.json").json
    claims = verify_against_jwks(tokens["id_token"], jwks)
    assert jws_parts(tokens["id_token"])[0]["alg"] == alg
    assert claims["aud"] == client_id and claims["sub"] == "alice"
    assert claims["at_hash"] == b64url(hashlib.sha256(tokens["access_token"].encode()).digest()[:16])
    # The refreshed ID token too.
    refreshed = call("POST", "/oauth2/token", headers={}, form={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id,
        "client_secret": secret or ""})
    assert refreshed.status == 200, refreshed.body
    assert jws_parts(refreshed.json["id_token"])[0]["alg"] == alg
    userinfo = call("GET", "/userinfo", headers=bearer(refreshed.json["access_token"]))
    assert userinfo.status == 200
    assert userinfo.headers["content-type"] == "application/jwt"
    assert userinfo.headers["cache-control"] == "no-store"
    signed = verify_against_jwks(userinfo.body, jwks)
    assert jws_parts(userinfo.body)[0]["alg"] == alg
    assert signed == {"sub": "alice", "iss": claims["iss"], "aud": client_id}


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_hybrid_id_tokens_from_the_authorization_endpoint_use_the_clients_algorithm(all_sets: None, alg: str) -> None:
    from hydra_lambda.tokens.id_tokens import half_hash

    client_id, _ = make_client(response_types=["code", "id_token"], grant_types=["authorization_code", "implicit"],
                               id_token_signed_response_alg=alg)
    flow = Flow(client_id)
    flow.start(response_type="code id_token")
    flow.accept()
    got = fragment(flow.back().headers["location"])
    claims = verify_against_jwks(got["id_token"], call("GET", "/.well-known/jwks.json").json)
    assert jws_parts(got["id_token"])[0]["alg"] == alg and claims["c_hash"] == half_hash(got["code"], alg)


def test_plain_userinfo_unless_the_client_registered_an_algorithm(all_sets: None) -> None:
    client_id, secret = make_client(id_token_signed_response_alg="ES256", userinfo_signed_response_alg="none")
    tokens = _id_token(client_id, secret)
    userinfo = call("GET", "/userinfo", headers=bearer(tokens["access_token"]))
    assert userinfo.headers["content-type"] == "application/json" and userinfo.json == {"sub": "alice"}


def test_a_client_without_an_algorithm_follows_signing_keys(kms_sets: dict[str, str]) -> None:
    client_id, secret = make_client()
    assert jws_parts(_id_token(client_id, secret)["id_token"])[0]["alg"] == "RS256"
    with signing_sets(SIGNING_KEYS=kms_sets["ES256"]):  # an operator's P-256 SIGNING_KEYS, as before
        assert jws_parts(_id_token(client_id, secret)["id_token"])[0]["alg"] == "ES256"


def test_a_set_removed_after_registration_fails_loudly(kms_sets: dict[str, str]) -> None:
    import io
    import logging

    from hydra_lambda.observability import logger

    with signing_sets(SIGNING_KEYS_PS256=kms_sets["PS256"]):
        client_id, secret = make_client(id_token_signed_response_alg="PS256", userinfo_signed_response_alg="PS256")
        _, params = code_flow(client_id, scopes=["openid", "offline"])
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    try:
        failed = redeem(client_id, secret, params["code"])  # the set is gone: no RS256 token instead
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
    assert failed.status == 500 and failed.json["error"] == "server_error"
    assert "id_token" not in failed.body
    logged = buffer.getvalue()
    assert "registered signing algorithm is not configured" in logged and "set SIGNING_KEYS_PS256" in logged
    assert client_id in logged


def test_an_id_token_hint_of_any_set_reaches_the_consent_app(all_sets: None) -> None:
    for alg in ("PS256", "ES256"):
        client_id, secret = make_client(id_token_signed_response_alg=alg)
        hint = _id_token(client_id, secret)["id_token"]
        flow = Flow(client_id)
        assert flow.start(id_token_hint=hint).status == 302
        assert flow.consent_request()["idTokenHintClaims"]["aud"] == client_id
        other, _ = make_client(id_token_signed_response_alg=alg)  # another client's hint: not shown
        flow = Flow(other)
        assert flow.start(id_token_hint=hint).status == 302
        assert "idTokenHintClaims" not in flow.consent_request()


def _triple(alias: str) -> str:
    return f"{alias},{alias}-next,{alias}-previous"


def _target(alias: str) -> str | None:
    try:
        return kms().describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    except kms().exceptions.NotFoundException:
        return None


def test_rotation_is_per_set() -> None:
    run = uuid.uuid4().hex[:8]
    aliases = {alg: f"alias/test-{run}-id-token-{alg.lower()}" for alg in ("PS256", "ES256")}
    for alg, alias in aliases.items():
        kms().create_alias(AliasName=alias, TargetKeyId=create_kms_key(SPEC[alg]))
    default_before = keys.signing_key().kid
    with signing_sets(**{SETTING[alg]: _triple(alias) for alg, alias in aliases.items()}):
        es_before = _target(aliases["ES256"])
        rotation.rotate_now("PS256", None, force=True)
        assert _target(f"{aliases['PS256']}-next") is not None and _target(f"{aliases['ES256']}-next") is None
        assert _target(aliases["ES256"]) == es_before
        assert keys.signing_key().kid == default_before
        published = keys.jwks()["keys"]
        assert [k["alg"] for k in published] == ["RS256", "PS256", "PS256", "ES256"]
        rotation.rotate_now("ES256", None, force=True)
        new_es = _target(f"{aliases['ES256']}-next")
        assert new_es is not None and kms().describe_key(KeyId=new_es)["KeyMetadata"]["KeySpec"] == "ECC_NIST_P256"
        assert [k["alg"] for k in keys.jwks()["keys"]] == ["RS256", "PS256", "PS256", "ES256", "ES256"]
        rotation.rotate_now("ES256", None, force=True)  # the next step: the new ES256 key signs
        assert _target(aliases["ES256"]) == new_es
        assert jws_parts(keys.sign(CLAIMS, "ES256"))[0]["kid"] == keys.key_set("SIGNING_KEYS_ES256")[0].kid
    with pytest.raises(rotation.NotRotatable, match="SIGNING_KEYS_PS256 is not configured"):
        rotation.rotate_now("PS256", None, force=True)


def test_the_api_refuses_to_rotate_a_set_that_is_not_configured() -> None:
    root = bearer(client_credentials_token("hydra.keys.create"))
    refused = call("POST", "/keys/hydra.openid.id-token", headers=root, json_body={"alg": "PS256"})
    assert refused.status == 409 and "SIGNING_KEYS_PS256 is not configured" in refused.json["error"]["message"]


def _local_code_flow(server: LocalServer, client_id: str, secret: str) -> dict[str, Any]:
    """The browser (cookies kept) and the consent app (root token) against the local server."""
    admin_token = requests.post(f"{server.url}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), timeout=10,
                                data={"grant_type": "client_credentials", "scope": "hydra.consent"}).json()
    browser = requests.Session()
    first = browser.get(f"{server.url}/oauth2/auth", allow_redirects=False, timeout=10, params={
        "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid",
        "state": "state-0123456789", "nonce": "nonce-0123456789"})
    assert first.status_code == 302, first.text
    consent_id = first.headers["Location"].split("consent=")[1].split("&")[0]
    url = f"{server.url}/oauth2/consent/requests/{consent_id}"
    headers = {"Authorization": f"Bearer {admin_token['access_token']}"}
    redirect_url = requests.get(url, headers=headers, timeout=10).json()["redirectUrl"]
    accepted = requests.patch(f"{url}/accept", headers=headers, timeout=10,
                              json={"subject": "alice", "grantScopes": ["openid"]})
    assert accepted.status_code == 204
    second = browser.get(redirect_url, allow_redirects=False, timeout=10)
    code = second.headers["Location"].split("code=")[1].split("&")[0]
    token = requests.post(f"{server.url}/oauth2/token", auth=(client_id, secret), timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert token.status_code == 200, token.text
    return dict(token.json())


def test_ps256_and_es256_clients_through_the_local_server(aws: dict[str, str], kms_sets: dict[str, str]) -> None:
    server = LocalServer({**aws, "SIGNING_KEYS_PS256": kms_sets["PS256"], "SIGNING_KEYS_ES256": kms_sets["ES256"]})
    try:
        admin_headers = {"Authorization": "Bearer " + requests.post(
            f"{server.url}/oauth2/token", auth=(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), timeout=10,
            data={"grant_type": "client_credentials", "scope": "hydra.clients"}).json()["access_token"]}
        discovery = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
        assert discovery["id_token_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]
        assert discovery["userinfo_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]
        for alg in ("PS256", "ES256"):
            created = requests.post(f"{server.url}/clients", headers=admin_headers, timeout=10, json={
                "redirect_uris": [REDIRECT], "scope": "openid", "grant_types": ["authorization_code"],
                "id_token_signed_response_alg": alg, "userinfo_signed_response_alg": alg})
            assert created.status_code == 201, created.text
            client = created.json()
            token = _local_code_flow(server, client["id"], client["client_secret"])
            jwks = requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()
            claims = verify_against_jwks(token["id_token"], jwks)
            assert jws_parts(token["id_token"])[0]["alg"] == alg
            assert claims["aud"] == client["id"] and claims["iss"] == server.url and claims["nonce"]
            userinfo = requests.get(f"{server.url}/userinfo", timeout=10,
                                    headers={"Authorization": f"Bearer {token['access_token']}"})
            assert userinfo.headers["content-type"] == "application/jwt"
            assert verify_against_jwks(userinfo.text, jwks) == {"sub": "alice", "iss": server.url, "aud": client["id"]}
    finally:
        server.stop()
