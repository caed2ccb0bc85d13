"""Request objects without a database (issue 25 item 3): which request_uri is registered, and how the
object's parameters are merged over the query's (OpenID Connect Core 6.3.3)."""

from __future__ import annotations

import pytest
from hydra_lambda.authorization import request_objects
from hydra_lambda.clients.model import Client
from hydra_lambda.errors import InvalidRequestObject


def test_a_request_uri_matches_a_registered_one_exactly_fragments_aside() -> None:
    client = Client(id="rp", request_uris=["https://rp.example/r.jwt#abc"])
    assert request_objects.registered("https://rp.example/r.jwt", client)
    assert request_objects.registered("https://rp.example/r.jwt#other", client)
    for uri in ("https://rp.example/r.jwt?x", "https://rp.example/r.jwt/", "https://RP.example/r.jwt",
                "http://rp.example/r.jwt", "https://rp.example/r.jw"):
        assert not request_objects.registered(uri, client), uri


def test_the_objects_parameters_win_and_must_agree_on_client_id_and_response_type() -> None:
    query = {"client_id": "rp", "response_type": "code", "scope": "openid", "state": "q-state-123",
             "request": "x.y.z"}
    merged = request_objects.merge(query, {"iss": "rp", "aud": "x", "exp": 1, "scope": "openid email",
                                           "max_age": 60, "claims": {"id_token": {"acr": None}}}, "rp")
    assert merged == {"client_id": "rp", "response_type": "code", "scope": "openid email", "state": "q-state-123",
                      "max_age": "60", "claims": '{"id_token":{"acr":null}}'}
    for claims in ({"client_id": "other"}, {"response_type": "token"}, {"max_age": 1.5}, {"prompt": ["none"]},
                   {"nonce": True}):
        with pytest.raises(InvalidRequestObject):
            request_objects.merge(query, claims, "rp")
