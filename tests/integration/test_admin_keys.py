"""``/admin/keys/<set>[/<kid>]`` in process (the real AdminFunction handler, DynamoDB Local, moto KMS):
application key sets generated, uploaded, replaced and deleted; the stack's KMS set public and
read-only; hostile input refused with ``errorOAuth2`` and nothing changed; the row at rest sealed."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hydra_lambda import keys
from hydra_lambda_local.harness import call_private
from jose import jwk, jws

from tests.support import call, unique
from tests.support_admin import add_policy, bearer, remove_policy, service_client, token

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
    assert item is not None and set(item) == {"id", "sealed", "version", "written_at", "written_by"}
    stored = json.dumps(item)
    for member in ("d", "p", "q", "n"):
        assert key[member] not in stored
    assert item["sealed"]["S"].startswith("aesgcm1.") and "listing" not in item
    # Bound to its row: the same sealed value copied under another set's key does not open.
    from hydra_lambda import sealing

    with pytest.raises(sealing.Unsealable):
        sealing.unseal(item["sealed"]["S"], "jwks#another")


# ---------------------------------------------------------------- uploads and the lifecycle


def rsa_jwk(kid: str, bits: int = 2048) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    exported = jwk.construct(rsa.generate_private_key(public_exponent=65537, key_size=bits), "RS256").to_dict()
    return {**exported, "kid": kid, "use": "sig"}


def ec_jwk(kid: str, alg: str = "ES256") -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric import ec

    curve = {"ES256": ec.SECP256R1(), "ES512": ec.SECP521R1()}[alg]
    return {**jwk.construct(ec.generate_private_key(curve), alg).to_dict(), "kid": kid, "use": "sig"}


def hs_jwk(kid: str, size: int = 32, alg: str = "HS256") -> dict[str, Any]:
    secret = base64.urlsafe_b64encode(bytes(range(size))).rstrip(b"=").decode()
    return {"kty": "oct", "kid": kid, "alg": alg, "use": "sig", "k": secret}


def public(key: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in key.items() if k not in PRIVATE}


def test_an_uploaded_set_lives_replaced_key_by_key_then_deleted(root: dict[str, str]) -> None:
    set_name = unique("upload")
    signer, partner = rsa_jwk("signer"), public(ec_jwk("partner"))  # a partner's public key is kept as sent
    put = call("PUT", path(set_name), headers=root, json_body={"keys": [signer, partner]})
    assert put.status == 200, put.body
    assert {tuple(sorted(k.items())) for k in put.json["keys"]} == {tuple(sorted(k.items())) for k in (signer, partner)}
    assert call("GET", path(set_name), headers=root).json == put.json

    replacement = ec_jwk("partner", "ES512")
    one = call("PUT", path(set_name, "partner"), headers=root, json_body=replacement)
    assert one.status == 200 and one.json == {**replacement}, one.body
    added = call("PUT", path(set_name, "another"), headers=root, json_body=hs_jwk("another"))
    assert added.status == 200, added.body
    listed = call("GET", path(set_name), headers=root).json["keys"]
    assert [k["kid"] for k in listed] == ["signer", "partner", "another"]

    assert call("DELETE", path(set_name, "partner"), headers=root).status == 204
    assert error_of(call("GET", path(set_name, "partner"), headers=root), 404)
    assert error_of(call("DELETE", path(set_name, "partner"), headers=root), 404)
    assert call("DELETE", path(set_name), headers=root).status == 204
    assert error_of(call("GET", path(set_name), headers=root), 404)
    assert error_of(call("DELETE", path(set_name), headers=root), 404)
    assert row(set_name) is None


def test_the_last_key_takes_its_set_with_it(root: dict[str, str]) -> None:
    set_name, key = generated(root, "ES256")
    assert call("DELETE", path(set_name, key["kid"]), headers=root).status == 204
    assert row(set_name) is None and error_of(call("GET", path(set_name), headers=root), 404)


# ---------------------------------------------------------------- hostile input: refused, nothing changed


@pytest.fixture(scope="module")
def victim(root: dict[str, str]) -> str:
    """An application set of one key, which no refused request may change."""
    set_name = unique("victim")
    assert call("PUT", path(set_name), headers=root, json_body={"keys": [hs_jwk("k1")]}).status == 200
    return set_name


def mismatched_rsa() -> dict[str, Any]:
    key, other = rsa_jwk("mixed"), rsa_jwk("other")
    return {**key, "d": other["d"]}  # a private part of another key


HOSTILE = {
    "alg none": ("POST", None, lambda: {"alg": "none", "kid": "x", "use": "sig"}, 400, "alg must be one of"),
    "alg EdDSA": ("POST", None, lambda: {"alg": "EdDSA", "kid": "x", "use": "sig"}, 400, "no EdDSA"),
    "alg not a string": ("POST", None, lambda: {"alg": 256, "kid": "x", "use": "sig"}, 400, "alg"),
    "use of a MAC key": ("POST", None, lambda: {"alg": "HS256", "kid": "x", "use": "enc"}, 400, "only sign"),
    "kid with /": ("POST", None, lambda: {"alg": "HS256", "kid": "a/b", "use": "sig"}, 400, "never '/'"),
    "kid with #": ("POST", None, lambda: {"alg": "HS256", "kid": "a#b", "use": "sig"}, 400, "never '/', '#'"),
    "kid taken": ("POST", None, lambda: {"alg": "HS256", "kid": "k1", "use": "sig"}, 409, "already holds"),
    # A '#' reaches a path only percent-encoded; decoded, no route takes it: refused before the handler.
    "path kid with #": ("PUT", "a%23b", lambda: hs_jwk("a#b"), 404, "No route"),
    "body kid is not the path's": ("PUT", "k1", lambda: hs_jwk("k2"), 400, "kid of the path"),
    "RS256 on an EC key": ("PUT", "k1", lambda: {**ec_jwk("k1"), "alg": "RS256"}, 400, "cannot be used with RS256"),
    "ES512 on a P-256 key": ("PUT", "k1", lambda: {**ec_jwk("k1"), "alg": "ES512"}, 400, "needs curve P-521"),
    "two key types": ("PUT", "k1", lambda: {**rsa_jwk("k1"), "k": "AAAA"}, 400, "do not belong to a RSA key"),
    "x5c": ("PUT", "k1", lambda: {**rsa_jwk("k1"), "x5c": ["MIIB"]}, 400, "x5c"),
    "unknown member": ("PUT", "k1", lambda: {**hs_jwk("k1"), "key_ops": ["sign"]}, 400, "key_ops"),
    "private part of another key": ("PUT", "mixed", lambda: mismatched_rsa(), 400, "not a valid RS256 key"),
    "private members without d": ("PUT", "k1", lambda: {**public(rsa_jwk("k1")), "p": "AQAB"}, 400, "needs d"),
    "RSA 1024": ("PUT", "k1", lambda: rsa_jwk("k1", 1024), 400, "2048 to 8192 bits"),
    "short HS256 secret": ("PUT", "k1", lambda: hs_jwk("k1", 16), 400, "32 to 1024 bytes"),
    "not base64url": ("PUT", "k1", lambda: {**hs_jwk("k1"), "k": "!!!"}, 400, "not base64url"),
    "no kty": ("PUT", "k1", lambda: {"kid": "k1", "alg": "HS256", "k": "AAAA"}, 400, "kty"),
    "duplicate kids": ("PUT", None, lambda: {"keys": [hs_jwk("d1"), hs_jwk("d1")]}, 400, "more than once"),
    "oversized set": ("PUT", None, lambda: {"keys": [hs_jwk(f"n{i}") for i in range(33)]}, 400, "at most 32 keys"),
    "keys not a list": ("PUT", None, lambda: {"keys": {"kid": "k1"}}, 400, "keys"),
    "no body": ("PUT", None, lambda: None, 400, "JSON object"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_input_is_refused_and_changes_nothing(root: dict[str, str], victim: str, case: str) -> None:
    method, kid, make_body, status, says = HOSTILE[case]
    body = make_body()
    before = row(victim)
    request: dict[str, Any] = {"headers": root}
    if body is not None:
        request["json_body"] = body
    description = error_of(call(method, path(victim, kid), **request), status)
    assert any(part in description for part in says.split("|")), description
    assert row(victim) == before
    for value in ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",):  # the victim's secret is never echoed
        assert value not in description


def test_a_full_set_takes_no_more_keys(root: dict[str, str]) -> None:
    set_name = unique("full")
    full = {"keys": [hs_jwk(f"n{i}") for i in range(32)]}
    assert call("PUT", path(set_name), headers=root, json_body=full).status == 200
    before = row(set_name)
    refused = call("POST", path(set_name), headers=root, json_body={"alg": "HS256", "kid": "", "use": "sig"})
    assert "more than 32 keys" in error_of(refused, 409)
    one_more = call("PUT", path(set_name, "n32"), headers=root, json_body=hs_jwk("n32"))
    assert "more than 32 keys" in error_of(one_more, 409)
    assert row(set_name) == before


@pytest.mark.parametrize("name", ["hydra.my-keys", "a%23b", "a:b", ".hidden", "x" * 129])
def test_set_names_that_cannot_be_application_sets_are_refused(root: dict[str, str], name: str) -> None:
    refused = call("POST", path(name), headers=root, json_body={"alg": "HS256", "kid": "", "use": "sig"})
    assert error_of(refused, 404 if "%23" in name else 400)  # a '#' reaches no route (see HOSTILE)
    assert row(name) is None


# ---------------------------------------------------------------- the stack's KMS set


KMS_SET = "hydra.openid.id-token"


def test_the_kms_set_serves_its_public_keys_and_refuses_every_write(root: dict[str, str]) -> None:
    published = keys.jwks()
    assert call("GET", path(KMS_SET), headers=root).json == published
    assert call("GET", path("hydra.jwt.access-token"), headers=root).json == published
    kid = published["keys"][0]["kid"]
    assert call("GET", path(KMS_SET, kid)).json == {"keys": [published["keys"][0]]}  # the public JWKS policy
    assert "cannot be exported" in error_of(call("GET", path(KMS_SET, "private:" + kid), headers=root), 403)

    private = rsa_jwk(kid)
    for method, kid_path, body in (("PUT", None, {"keys": [private]}), ("PUT", kid, private),
                                   ("POST", None, {"alg": "RS256", "kid": "", "use": "sig"}),
                                   ("DELETE", None, None), ("DELETE", kid, None)):
        request: dict[str, Any] = {"headers": root, **({"json_body": body} if body is not None else {})}
        description = error_of(call(method, path(KMS_SET, kid_path), **request), 403)
        assert "AWS KMS never exports a private key" in description and "hydra-lambda keys rotate" in description
        assert private["d"] not in description
    assert keys.jwks() == published and row(KMS_SET) is None


# ---------------------------------------------------------------- who may call


def test_the_warden_guards_every_route_as_classic_keys(root: dict[str, str], victim: str) -> None:
    assert error_of(call("GET", path(victim)), 401)
    assert error_of(call("POST", path(victim), json_body={"alg": "HS256"}), 401)
    getter = bearer(token(scope="hydra.keys.get"))
    assert call("GET", path(victim), headers=getter).status == 200
    before = row(victim)
    for method, kid, body in (("POST", None, {"alg": "HS256"}), ("PUT", None, {"keys": []}), ("DELETE", None, None),
                              ("PUT", "k1", hs_jwk("k1")), ("DELETE", "k1", None)):
        request: dict[str, Any] = {"headers": getter, **({"json_body": body} if body is not None else {})}
        assert error_of(call(method, path(victim, kid), **request), 403) == "insufficient_scope"
    assert row(victim) == before

    # A client whose policy allows `get` on one set's keys: that set only, and no write.
    client_id, secret = service_client(scope="hydra.keys.get hydra.keys.delete")
    caller = bearer(token(client_id, secret, scope="hydra.keys.get hydra.keys.delete"))
    assert error_of(call("GET", path(victim), headers=caller), 403)
    allowed = add_policy(subjects=[client_id], resources=[f"rn:hydra:keys:{victim}:<.*>"], actions=["get"])
    try:
        assert call("GET", path(victim, "k1"), headers=caller).status == 200
        assert error_of(call("GET", path(victim), headers=caller), 403)  # the set is another resource
        assert error_of(call("DELETE", path(victim, "k1"), headers=caller), 403)
    finally:
        remove_policy(allowed)
    assert row(victim) == before


def test_an_anonymous_policy_never_opens_an_application_set(victim: str) -> None:
    everyone = add_policy(subjects=[""], resources=["rn:hydra:keys:<.*>"], actions=["get"])
    try:
        assert error_of(call("GET", path(victim)), 401)
        assert error_of(call("GET", path(victim, "k1")), 401)
        assert call("GET", path(KMS_SET)).status == 200  # public keys: the policy may open them
    finally:
        remove_policy(everyone)


def test_the_private_admin_api_needs_no_token() -> None:
    set_name = unique("private")
    created = call_private("POST", path(set_name), json_body={"alg": "ES256", "kid": "p1", "use": "sig"})
    assert created.status == 201, created.body
    assert call_private("GET", path(set_name, "p1")).json == created.json
    assert call_private("DELETE", path(set_name)).status == 204


def test_only_the_admin_function_writes_key_set_rows_and_only_those() -> None:
    from hydra_lambda_local.routes import load_template

    from tests.support import TEMPLATE

    statements = load_template(TEMPLATE)["Resources"]["AdminFunction"]["Properties"]["Policies"][1]["Statement"]
    clients_table = {"GetAtt": "ClientsTable.Arn"}
    writes = [s for s in statements if isinstance(s, dict) and s.get("Resource") == clients_table
              and {"dynamodb:PutItem", "dynamodb:DeleteItem"} & set(s["Action"])]
    # Each write to the clients table is held to its own row prefix: key sets (jwks#) and the JWT bearer
    # grant's trusted issuers (trust#); never a client's row.
    conditions = sorted(str(statement.get("Condition")) for statement in writes)
    assert conditions == sorted(str({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [prefix]}})
                                for prefix in ("jwks#*", "trust#*")), writes


@pytest.mark.parametrize("name", ["a#b", "a/b", "a%2Fb", "a:b", "", "-x", "a b"])
def test_no_set_name_can_reach_another_row_or_resource(name: str) -> None:
    from hydra_lambda.keys import app_sets

    with pytest.raises(app_sets.InvalidKey):
        app_sets.check_set_name(name)


@pytest.mark.parametrize("kid", ["a#b", "a/b", "a%2Fb", "", "a b", "a?b", "x" * 129])
def test_no_kid_can_break_out_of_its_path(kid: str) -> None:
    from hydra_lambda.keys import app_sets

    with pytest.raises(app_sets.InvalidKey):
        app_sets.check_kid(kid)


def test_a_concurrent_change_is_never_overwritten(root: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writers read the same version: the second write fails its condition, reads again and adds
    its key to the first one's set (no lost update); one that keeps losing writes nothing (409)."""
    from hydra_lambda.keys import app_sets

    set_name = unique("race")
    assert call("PUT", path(set_name), headers=root, json_body={"keys": [hs_jwk("first")]}).status == 200
    real_load, raced = app_sets.load, []

    def load_then_race(name: str) -> Any:
        found = real_load(name)
        if not raced:  # another writer commits between our read and our write
            raced.append(True)
            app_sets.put_key(set_name, app_sets.validate(hs_jwk("theirs")))  # (in process: no nested call)
        return found

    monkeypatch.setattr(app_sets, "load", load_then_race)
    mine = call("PUT", path(set_name, "mine"), headers=root, json_body=hs_jwk("mine"))
    assert mine.status == 200, mine.body
    listed = call("GET", path(set_name), headers=root)
    assert [k["kid"] for k in listed.json["keys"]] == ["first", "theirs", "mine"]
    assert listed.headers["cache-control"] == "no-store"  # private keys: never cached

    def always_raced(name: str) -> Any:
        found = real_load(name)
        app_sets.store.put(name, app_sets.store.get(name)[0], found.version)  # bump the version under us
        return found

    monkeypatch.setattr(app_sets, "load", always_raced)
    lost = call("DELETE", path(set_name, "first"), headers=root)
    assert "changed concurrently" in error_of(lost, 409)
    monkeypatch.undo()
    assert [k["kid"] for k in call("GET", path(set_name), headers=root).json["keys"]] == ["first", "theirs", "mine"]


def test_a_key_set_row_is_never_read_or_listed_as_a_client(root: dict[str, str]) -> None:
    from hydra_lambda.storage import clients
    from hydra_lambda.storage.tables import ClientRecord, connection

    set_name, _ = generated(root, "HS256")
    assert clients.get(f"jwks#{set_name}") is None
    assert clients.any_exists()
    scanned = [r.id for r in connection().scan_rows(ClientRecord, consistent_read=True)]  # as the first start reads
    assert f"jwks#{set_name}" in scanned
    listed = call("GET", "/clients", headers=bearer(token(scope="hydra.clients")), query={"limit": "500"})
    assert listed.status == 200 and all("#" not in c["id"] for c in listed.json)
