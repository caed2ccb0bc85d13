"""Discovery: the provider metadata at both well-known paths, the JWKS behind the classic policy
check, caching headers, and the AWS calls the routes make when warm (none)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hydra_lambda import clock, keys
from hydra_lambda.config import reset_settings

from tests.support import call
from tests.support_keys import (
    count_all_aws_calls,
    count_calls,
    create_kms_key,
    signing_keys,
    verify_against_jwks,
)

WELL_KNOWN = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
JWKS = "/.well-known/jwks.json"


@pytest.fixture(scope="module")
def ec_key() -> str:
    return create_kms_key("ECC_NIST_P256")


@pytest.fixture
def installed() -> Iterator[None]:
    """A bootstrapped installation (root client, admin and public-JWKS policies), fresh policy cache."""
    from hydra_lambda.bootstrap import ensure_root_client
    from hydra_lambda.storage import policies

    ensure_root_client()
    policies.invalidate()
    yield
    policies.invalidate()


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    """Set environment variables for one test; settings are re-read before and after."""
    saved = dict(os.environ)
    changes: dict[str, str] = {}
    yield changes
    os.environ.clear()
    os.environ.update(saved)
    reset_settings()


def _set(env: dict[str, str], **values: str) -> None:
    env.update(values)
    os.environ.update(values)
    reset_settings()


def test_metadata_has_every_classic_and_modern_field(installed: None) -> None:
    issuer = os.environ["ISSUER"]
    response = call("GET", WELL_KNOWN[0])
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["access-control-allow-origin"] == "*"
    doc = response.json
    assert doc["issuer"] == issuer
    assert doc["authorization_endpoint"] == f"{issuer}/oauth2/auth"
    assert doc["token_endpoint"] == f"{issuer}/oauth2/token"
    assert doc["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert doc["userinfo_endpoint"] == f"{issuer}/userinfo"
    assert doc["revocation_endpoint"] == f"{issuer}/oauth2/revoke"
    assert doc["introspection_endpoint"] == f"{issuer}/oauth2/introspect"
    assert doc["subject_types_supported"] == ["public"]
    assert doc["response_types_supported"] == ["code", "code id_token", "id_token", "token id_token", "token",
                                               "token id_token code", "code token"]
    assert doc["response_modes_supported"] == ["query", "fragment", "form_post"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials", "implicit",
                                            "urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    methods = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"]
    algs = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"]
    assert doc["token_endpoint_auth_methods_supported"] == doc["revocation_endpoint_auth_methods_supported"] == methods
    assert doc["introspection_endpoint_auth_methods_supported"] == methods[:-1]  # public clients cannot introspect
    for endpoint in ("token", "revocation", "introspection"):
        assert doc[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == algs  # python-jose: no PS*, no none
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["claims_supported"][0] == "sub" and {"iss", "aud", "nonce", "at_hash"} <= set(doc["claims_supported"])
    assert doc["scopes_supported"][:2] == ["offline", "openid"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["request_parameter_supported"] is True and doc["request_uri_parameter_supported"] is True
    assert doc["require_request_uri_registration"] is True
    assert doc["request_object_signing_alg_values_supported"] == ["none", *algs]
    # issue 25: the standard scopes, their claims and the claims parameter (hydra_lambda.claims)
    assert doc["claims_parameter_supported"] is True
    assert {"profile", "email", "address", "phone"} <= set(doc["scopes_supported"])
    assert {"name", "email", "email_verified", "address", "phone_number", "updated_at", "amr"} <= set(
        doc["claims_supported"])
    assert "pairwise" not in str(doc)
    assert doc["claim_types_supported"] == ["normal"]
    assert doc["prompt_values_supported"] == ["none", "login", "consent", "select_account"]


def test_both_well_known_paths_serve_the_same_document(installed: None) -> None:
    first, second = (call("GET", path) for path in WELL_KNOWN)
    assert first.status == second.status == 200
    assert first.json == second.json


def test_a_trailing_slash_on_the_issuer_never_doubles(env: dict[str, str]) -> None:
    _set(env, ISSUER="https://auth.example.com/tenant/")
    doc = call("GET", WELL_KNOWN[0]).json
    assert doc["issuer"] == "https://auth.example.com/tenant"
    assert doc["token_endpoint"] == "https://auth.example.com/tenant/oauth2/token"
    assert all("//" not in value.split("://", 1)[1] for value in doc.values()
               if isinstance(value, str) and "://" in value)


def test_operator_additions_from_the_environment(env: dict[str, str]) -> None:
    # email, sub, locale and the standard scopes are listed already (issue 25): only the new ones are added
    _set(env, OIDC_DISCOVERY_CLAIMS_SUPPORTED="email,sub,locale,tenant",
         OIDC_DISCOVERY_SCOPES_SUPPORTED="email,profile,photos.read",
         OIDC_DISCOVERY_USERINFO_ENDPOINT="https://users.example.com/me")
    doc = call("GET", WELL_KNOWN[1]).json
    assert doc["claims_supported"][-1] == "tenant"
    assert all(doc["claims_supported"].count(claim) == 1 for claim in ("sub", "email", "locale"))
    assert doc["scopes_supported"][-1] == "photos.read" and doc["scopes_supported"].count("email") == 1
    assert doc["userinfo_endpoint"] == "https://users.example.com/me"


def test_signing_algorithms_follow_the_key_set(ec_key: str) -> None:
    # What a client can be signed with: the signing key's alg, not that of a key kept to verify only.
    rsa_key = os.environ["SIGNING_KEYS"]
    with signing_keys([ec_key, rsa_key]):
        assert call("GET", WELL_KNOWN[0]).json["id_token_signing_alg_values_supported"] == ["ES256"]
        assert [k["alg"] for k in call("GET", JWKS).json["keys"]] == ["ES256", "RS256"]
    with signing_keys([ec_key]):
        assert call("GET", WELL_KNOWN[0]).json["id_token_signing_alg_values_supported"] == ["ES256"]


def test_jwks_is_public_and_holds_public_keys_only(installed: None) -> None:
    response = call("GET", JWKS)
    assert response.status == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json
    assert body == keys.jwks()
    (jwk,) = body["keys"]
    assert set(jwk) == {"kty", "kid", "alg", "use", "n", "e"} and jwk["use"] == "sig"
    token = keys.sign({"sub": "alice", "aud": "app"})
    assert verify_against_jwks(token, body)["sub"] == "alice"


def test_routes_make_no_aws_call_when_warm(installed: None, ec_key: str) -> None:
    with signing_keys([os.environ["SIGNING_KEYS"], ec_key]):
        keys.forget()
        with count_calls("kms") as cold_kms, count_all_aws_calls() as cold:
            assert call("GET", JWKS).status == 200
        assert cold_kms == {"GetPublicKey": 2}
        assert cold["dynamodb.Scan"] == 1  # the policies, cached POLICY_CACHE_SECONDS per container
        with count_calls("kms") as warm_kms, count_all_aws_calls() as warm:
            for _ in range(3):
                for path in [JWKS, *WELL_KNOWN]:
                    assert call("GET", path).status == 200
        assert sum(warm_kms.values()) == 0
        assert sum(warm.values()) == 0, warm
        clock.advance(60)  # past the policy cache: one read of the policies, still no KMS
        with count_calls("kms") as later_kms, count_all_aws_calls() as later:
            call("GET", JWKS)
            call("GET", JWKS)
        assert sum(later_kms.values()) == 0 and dict(later) == {"dynamodb.Scan": 1}


@pytest.fixture
def public_policy_removed(installed: None) -> Iterator[None]:
    from hydra_lambda.bootstrap import JWKS_POLICY_ID
    from hydra_lambda.storage import policies

    saved = policies.get(JWKS_POLICY_ID)
    assert saved is not None
    policies.delete(JWKS_POLICY_ID)
    policies.invalidate()
    yield
    policies.put(saved)
    policies.invalidate()


def _bearer(scopes: list[str], subject: str = "root-admin") -> dict[str, str]:
    from hydra_lambda.storage import token_rows as store
    from hydra_lambda.tokens.issuer import mint, new_request_id

    value, row = mint("access", client_id="root-admin", request_id=new_request_id(), subject=subject,
                      scopes=scopes, lifespan=600)
    store.put(row)
    return {"Authorization": f"Bearer {value}"}


def test_without_the_public_policy_anonymous_callers_get_no_keys(public_policy_removed: None) -> None:
    response = call("GET", JWKS)
    assert response.status == 200
    assert response.json == {"keys": []}
    assert response.headers["cache-control"] == "no-cache"


def test_a_bearer_with_hydra_keys_get_and_an_allowing_policy_sees_the_keys(public_policy_removed: None) -> None:
    # root-admin is allowed everything by default-admin-policy; the scope decides.
    assert call("GET", JWKS, headers=_bearer(["hydra.keys.get"])).json == keys.jwks()
    assert call("GET", JWKS, headers=_bearer(["hydra.*"])).json == keys.jwks()
    assert call("GET", JWKS, headers=_bearer(["hydra.clients"])).json == {"keys": []}
    assert call("GET", JWKS, headers=_bearer(["hydra.keys.get"], subject="nobody")).json == {"keys": []}
    # A forged Bearer falls back to the anonymous check (as classic Hydra), it is not a 401.
    forged = call("GET", JWKS, headers={"Authorization": "Bearer hl_at_forged.forged"})
    assert forged.status == 200 and forged.json == {"keys": []}


def test_the_check_is_per_kid(public_policy_removed: None, ec_key: str) -> None:
    from hydra_lambda.policies import Policy
    from hydra_lambda.storage import policies

    with signing_keys([os.environ["SIGNING_KEYS"], ec_key]):
        _rsa_jwk, ec_jwk = keys.jwks()["keys"]
        only_ec = Policy(id="test-only-ec-key", description="", subjects=["<.*>"], effect="allow",
                         resources=[f"rn:hydra:keys:hydra.openid.id-token:{ec_jwk['kid']}"], actions=["get"])
        policies.put(only_ec)
        policies.invalidate()
        try:
            assert call("GET", JWKS).json == {"keys": [ec_jwk]}
        finally:
            policies.delete(only_ec.id)


def test_rotation_through_the_served_jwks(installed: None, ec_key: str) -> None:
    """Tokens signed before, during and after a rotation verify against the JWKS served at each step."""
    old = os.environ["SIGNING_KEYS"]
    issued: list[str] = []
    for refs in ([old], [old, ec_key], [ec_key, old]):
        with signing_keys(refs):
            issued.append(keys.sign({"sub": f"step-{len(issued)}"}))
            served = call("GET", JWKS).json
            for token in issued:
                verify_against_jwks(token, served)
    with signing_keys([ec_key]):
        served = call("GET", JWKS).json
        assert [k["alg"] for k in served["keys"]] == ["ES256"]
        assert verify_against_jwks(issued[-1], served)["sub"] == "step-2"


def test_response_types_supported_lists_exactly_what_the_authorize_endpoint_serves() -> None:
    from itertools import combinations

    from tests.support_flows import REDIRECT, Flow, fragment, make_client, qs

    client_id, _ = make_client(grant_types=["authorization_code", "implicit"],
                               response_types=["code", "token", "id_token"])
    served = set()
    for size in (1, 2, 3):
        for parts in combinations(["code", "token", "id_token"], size):
            flow = Flow(client_id)
            first = flow.start(response_type=" ".join(parts))
            assert first.status == 302, first.body
            if "consent=" not in first.headers["location"]:
                continue
            assert flow.accept().status == 204
            answer = flow.back().headers["location"]
            assert answer.startswith(REDIRECT)
            params = {**qs(answer), **fragment(answer)}
            if "error" not in params:
                assert all(params.get({"token": "access_token"}.get(p, p)) for p in parts), params
                served.add(frozenset(parts))
    listed = call("GET", "/.well-known/openid-configuration").json["response_types_supported"]
    assert len(listed) == len({frozenset(value.split()) for value in listed})  # no value twice
    assert {frozenset(value.split()) for value in listed} == served
    assert len(served) == 7


def test_prompt_values_supported_are_exactly_what_the_authorize_endpoint_accepts() -> None:
    from tests.support_flows import REDIRECT, Flow, make_client, qs

    client_id, _ = make_client()
    listed = call("GET", "/.well-known/openid-configuration").json["prompt_values_supported"]
    for value in [*listed, "bogus"]:
        location = Flow(client_id).start(prompt=value).headers["location"]
        if value == "none":  # no login session in the classic flow: answered at the client
            assert location.startswith(REDIRECT) and qs(location)["error"] == "login_required"
        elif value in listed:
            assert "consent=" in location, (value, location)
        else:
            assert location.startswith(REDIRECT) and qs(location)["error"] == "invalid_request"
