"""The consent request endpoints: read, accept, reject; one answer each, expiry, validation."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime

from hydra_lambda import clock
from hydra_lambda.http.forms import credentials

from tests.support import call
from tests.support_flows import Flow, bearer, make_client, qs


def _pending(**client_fields: object) -> Flow:
    client_id, _ = make_client(**client_fields)
    flow = Flow(client_id)
    assert flow.start().status == 302
    return flow


def test_get_returns_the_classic_camelcase_model() -> None:
    flow = _pending()
    body = flow.consent_request()
    assert set(body) == {"id", "requestedScopes", "clientId", "expiresAt", "redirectUrl"}
    assert body["id"] == flow.consent_id
    assert body["clientId"] == flow.client_id
    assert body["requestedScopes"] == ["openid", "offline"]
    expires = datetime.strptime(body["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert abs(expires - (time.time() + 600)) < 5
    assert body["redirectUrl"].startswith("http://127.0.0.1:4444/oauth2/auth?client_id=")
    params = qs(body["redirectUrl"])
    assert params["consent"] == flow.consent_id
    assert "consent_csrf" not in params  # the cookie's value never leaves the browser that holds it
    assert params["consent_verifier"] != flow.cookies[f"hl_consent_{flow.consent_id}"]
    assert len(params["consent_verifier"]) == 43


def test_the_csrf_value_is_stored_hashed() -> None:
    from hydra_lambda.storage.tables import ConsentRecord

    flow = _pending()
    csrf = flow.cookies[f"hl_consent_{flow.consent_id}"]
    record = ConsentRecord.get(flow.consent_id)
    assert record.csrf_hash == hashlib.sha256(csrf.encode()).hexdigest()
    assert csrf not in str(record.attribute_values)
    assert qs(flow.consent_request()["redirectUrl"])["consent_verifier"] not in str(record.attribute_values)


def test_endpoints_need_a_token_with_the_consent_scope() -> None:
    flow = _pending()
    path = f"/oauth2/consent/requests/{flow.consent_id}"
    assert call("GET", path).status == 401
    assert call("PATCH", path + "/accept", json_body={"subject": "a"}).status == 401
    assert call("PATCH", path + "/reject", json_body={}).status == 401
    assert call("GET", path, headers={"Authorization": "Bearer hl_at_forged.forged"}).status == 401


def test_unknown_request_is_404() -> None:
    for method, suffix in (("GET", ""), ("PATCH", "/accept"), ("PATCH", "/reject")):
        result = call(method, "/oauth2/consent/requests/doesnotexist" + suffix, headers=bearer(),
                      json_body={"subject": "alice"})
        assert result.status == 404, (method, suffix, result.body)
        assert result.json["error"]["code"] == 404


def test_one_answer_per_request() -> None:
    flow = _pending()
    assert flow.accept().status == 204
    again = flow.accept()
    assert again.status == 409
    assert again.json["error"]["code"] == 409
    assert flow.reject().status == 409


def test_reject_then_accept_conflicts() -> None:
    flow = _pending()
    assert flow.reject("nope").status == 204
    assert flow.accept().status == 409


def test_expired_request_cannot_be_read_or_answered() -> None:
    flow = _pending()
    clock.advance(601)
    path = f"/oauth2/consent/requests/{flow.consent_id}"
    assert call("GET", path, headers=bearer()).status == 410
    result = flow.accept()
    assert result.status == 410
    assert "expired" in result.json["error"]["message"]
    assert flow.reject().status == 410


def test_accept_requires_a_subject() -> None:
    flow = _pending()
    assert flow.accept(subject="").status == 400
    assert flow.accept(subject="   ").status == 400
    result = call("PATCH", f"/oauth2/consent/requests/{flow.consent_id}/accept", headers=bearer(),
                  json_body={"grantScopes": ["openid"]})
    assert result.status == 400
    assert flow.accept().status == 204  # nothing was recorded by the bad answers


def test_granted_scopes_must_be_allowed_by_the_client() -> None:
    flow = _pending(scope="openid offline")
    result = flow.accept(scopes=["openid", "hydra.clients"])
    assert result.status == 400
    assert "hydra.clients" in result.json["error"]["message"]


def test_malformed_bodies_are_400() -> None:
    flow = _pending()
    path = f"/oauth2/consent/requests/{flow.consent_id}/accept"
    assert call("PATCH", path, headers=bearer(), body="not json",
                json_body=None).status == 400
    assert call("PATCH", path, headers=bearer(), json_body={"subject": "a", "grantScopes": "openid"}).status == 400
    assert call("PATCH", path, headers=bearer(), json_body={"subject": "a", "idTokenExtra": []}).status == 400


def test_null_extras_are_accepted_as_empty() -> None:
    flow = _pending()
    result = call("PATCH", f"/oauth2/consent/requests/{flow.consent_id}/accept", headers=bearer(),
                  json_body={"subject": "a", "grantScopes": None, "accessTokenExtra": None, "idTokenExtra": None})
    assert result.status == 204


def test_two_racing_answers_exactly_one_wins() -> None:
    from hydra_lambda.endpoints import consent_requests as consent

    flow = _pending()
    token = credentials(f"Bearer {bearer()['Authorization'].split()[1]}")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def answer(kind: str) -> None:
        barrier.wait()
        try:
            if kind == "accept":
                consent.accept(token, flow.consent_id, {"subject": "alice", "grantScopes": ["openid"]})
            else:
                consent.reject(token, flow.consent_id, {"reason": "no"})
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=answer, args=(kind,)) for kind in ("accept", "reject")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["Conflict", "ok"]


def test_granted_scopes_must_be_valid_scope_tokens_and_extras_bounded() -> None:
    flow = _pending(scope="*")
    assert flow.accept(scopes=["openid offline"]).status == 400
    assert flow.accept(idTokenExtra={"blob": "x" * 20000}).status == 400
    assert flow.accept(accessTokenExtra={"blob": "x" * 20000}).status == 400
    assert flow.accept(idTokenExtra={"email": "a@example.com"}).status == 204
