"""``hydra_lambda.claims`` (issue 25 item 1): the standard scopes' claims (OIDC Core 5.4) and the
``claims`` request parameter (OIDC Core 5.5), hostile input included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hydra_lambda import claims
from hydra_lambda.tokens.id_tokens import STANDARD_CLAIMS

USER = {"name": "Alice", "given_name": "Alice", "email": "a@example.com", "email_verified": True,
        "address": {"country": "FR"}, "phone_number": "+33 1", "tenant": "acme", "sub": "mallory", "iss": "evil"}


def test_each_standard_scope_maps_to_its_claims() -> None:
    assert claims.scope_claims(["profile"]) == {
        "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
        "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"}
    assert claims.scope_claims(["email"]) == {"email", "email_verified"}
    assert claims.scope_claims(["address"]) == {"address"}
    assert claims.scope_claims(["phone"]) == {"phone_number", "phone_number_verified"}
    # wildcards and other scopes cover no standard claim
    assert claims.scope_claims(["openid", "offline", "*", "email.*", "profile.read"]) == set()


def _released(granted: list[str], request: dict[str, Any] | None = None, target: str = "id_token") -> dict[str, Any]:
    return claims.released(USER, granted_scopes=granted, request=request or {}, target=target,
                           reserved=STANDARD_CLAIMS)


def test_only_the_granted_scopes_claims_are_released_and_custom_claims_stay() -> None:
    assert _released(["openid"]) == {"tenant": "acme"}
    assert _released(["openid", "email"]) == {"tenant": "acme", "email": "a@example.com", "email_verified": True}
    assert _released(["openid", "profile", "phone"]) == {"tenant": "acme", "name": "Alice", "given_name": "Alice",
                                                         "phone_number": "+33 1"}
    assert _released(["openid", "address"], target="userinfo") == {"tenant": "acme", "address": {"country": "FR"}}


def test_the_claims_request_adds_named_claims_to_its_own_target_only() -> None:
    request = claims.parse_request('{"userinfo": {"email": {"essential": true}}, "id_token": {"name": null}}')
    assert _released(["openid"], request, "userinfo") == {"tenant": "acme", "email": "a@example.com"}
    assert _released(["openid"], request, "id_token") == {"tenant": "acme", "name": "Alice"}


def test_a_claims_request_never_releases_what_the_consent_app_did_not_supply() -> None:
    request = claims.parse_request('{"id_token": {"birthdate": {"essential": true}, "picture": null}}')
    assert _released(["openid", "profile"], request) == {"tenant": "acme", "name": "Alice", "given_name": "Alice"}


def test_a_refused_scope_wins_over_a_claims_request_naming_its_claims() -> None:
    request = claims.parse_request('{"id_token": {"email": null, "name": null}, "userinfo": {"phone_number": null}}')
    granted = claims.for_grant(request, requested_scopes=["openid", "email", "phone"], granted_scopes=["openid"])
    assert granted == {"id_token": {"name": None}, "userinfo": {}}
    assert _released(["openid"], granted) == {"tenant": "acme", "name": "Alice"}
    assert _released(["openid"], granted, "userinfo") == {"tenant": "acme"}


def test_the_servers_own_claims_never_come_from_the_consent_app() -> None:
    request = claims.parse_request('{"id_token": {"sub": null, "iss": null}}')
    out = _released(["openid", "profile", "email"], request)
    assert "sub" not in out and "iss" not in out


def test_parse_normalizes_and_canonical_is_stable() -> None:
    raw = '{"userinfo": {"email": {"essential": true, "x-ext": 1}, "name": null}, "id_token": {}}'
    parsed = claims.parse_request(raw)
    assert parsed == {"userinfo": {"email": {"essential": True}, "name": None}, "id_token": {}}
    assert claims.canonical(parsed) == claims.canonical(claims.parse_request(claims.canonical(parsed)))
    assert claims.load(claims.canonical(parsed)) == parsed
    assert claims.load("") == {} and claims.canonical({}) == ""
    assert claims.parse_request('{"id_token": {"acr": {"values": ["a", "b"], "value": "a"}}}') == {
        "id_token": {"acr": {"values": ["a", "b"], "value": "a"}}}


@pytest.mark.parametrize("raw", [
    "",  # not JSON
    "not json",
    "[]",  # not an object
    '"userinfo"',
    "null",
    '{"userinfo": {"email": null}, "access_token": {}}',  # only userinfo and id_token
    '{"userinfo": []}',
    '{"userinfo": null}',
    '{"userinfo": {"email": true}}',  # a claim is null or an object
    '{"userinfo": {"email": {"essential": "yes"}}}',
    '{"userinfo": {"email": {"value": {"nested": 1}}}}',
    '{"userinfo": {"email": {"values": "a"}}}',
    '{"userinfo": {"email": {"values": [[1]]}}}',
    '{"userinfo": {"email": {"values": ' + json.dumps(list(range(21))) + "}}}",
    '{"userinfo": {"": null}}',
    '{"userinfo": {"' + "x" * 256 + '": null}}',
    '{"userinfo": {"email": {"value": NaN}}}',  # not JSON numbers
    '{"userinfo": {"email": {"value": Infinity}}}',
    "[" * 1020 + "]" * 1020,  # deep nesting within the size bound
    '{"userinfo": {' + ",".join(f'"c{i}": null' for i in range(51)) + "}}",  # too many claims
    '{"id_token": {"name": "' + "x" * 2048 + '"}}',  # over the size bound
])
def test_hostile_or_malformed_claims_parameters_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        claims.parse_request(raw)


def test_load_of_anything_unreadable_is_empty() -> None:
    assert claims.load("{") == {} and claims.load('{"x": 1}') == {}


def test_unmet_checks_the_subject_and_an_essential_acr() -> None:
    def why(raw: str, acr: str = "", acr_values: str = "") -> str:
        return claims.unmet(claims.parse_request(raw), subject="alice", acr=acr, acr_values=acr_values)

    assert why('{"id_token": {"sub": {"value": "alice"}}}') == ""
    assert why('{"userinfo": {"sub": {"value": "bob"}}}') != ""
    assert why('{"id_token": {"acr": {"essential": true}}}') != ""  # essential, none given
    assert why('{"id_token": {"acr": {"essential": true}}}', acr="gold") == ""
    assert why('{"id_token": {"acr": {"essential": true, "values": ["gold"]}}}', acr="silver") != ""
    assert why('{"id_token": {"acr": {"essential": true, "value": "gold"}}}', acr="gold") == ""
    # acr_values gives the acceptable values of an essential acr asked without its own
    assert why('{"id_token": {"acr": {"essential": true}}}', acr="silver", acr_values="gold platinum") != ""
    assert why('{"id_token": {"acr": {"essential": true}}}', acr="gold", acr_values="gold platinum") == ""
    # voluntary: never a failure
    assert why('{"id_token": {"acr": {"values": ["gold"]}}}', acr="silver") == ""
    assert why('{"id_token": {"acr": null}}') == ""
