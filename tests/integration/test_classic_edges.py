"""The classic edges a second audit found (#18 item 9): OAuth endpoints answer a wrong method in RFC
6749 JSON, take only form-encoded bodies, and a token introspected with itself as the Bearer
credential is inactive, as classic Hydra answered."""

from __future__ import annotations

import pytest

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, basic, call, client_credentials_token

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/oauth2/token"), ("GET", "/oauth2/introspect"), ("PUT", "/oauth2/revoke"), ("DELETE", "/oauth2/token"),
])
def test_a_wrong_method_on_an_oauth_endpoint_is_405_in_rfc6749_json(method: str, path: str) -> None:
    result = call(method, path)
    assert result.status == 405
    assert result.headers["allow"] == "POST"
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["error"] == "invalid_request"
    assert method in result.json["error_description"] and "POST" in result.json["error_description"]
    assert set(result.json) <= {"error", "error_description", "error_hint"}


def test_a_wrong_method_on_an_admin_endpoint_keeps_the_admin_shape() -> None:
    result = call("DELETE", "/health/status")
    assert result.status == 405 and result.json["error"]["code"] == 405


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None, "multipart/form-data; boundary=x"])
def test_the_token_endpoint_refuses_a_body_that_is_not_form_encoded(content_type: str | None) -> None:
    headers = basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    if content_type:
        headers["Content-Type"] = content_type
    result = call("POST", "/oauth2/token", headers=headers, body="grant_type=client_credentials&scope=hydra.clients")
    assert result.status == 400, result.body
    assert result.json["error"] == "invalid_request"
    assert FORM in result.json["error_description"]
    assert "access_token" not in result.body


@pytest.mark.parametrize("content_type", [FORM, "Application/X-WWW-Form-Urlencoded; charset=UTF-8"])
def test_the_token_endpoint_takes_a_form_with_any_case_and_parameters(content_type: str) -> None:
    result = call("POST", "/oauth2/token", headers={**basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                                                    "Content-Type": content_type},
                  body="grant_type=client_credentials&scope=hydra.clients")
    assert result.status == 200, result.body


@pytest.mark.parametrize("path", ["/oauth2/introspect", "/oauth2/revoke"])
def test_the_other_form_endpoints_refuse_other_media_types(path: str) -> None:
    victim = client_credentials_token("hydra.clients")
    result = call("POST", path, headers={**basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET), "Content-Type": "text/plain"},
                  body=f"token={victim}")
    assert result.status == 400 and result.json["error"] == "invalid_request"
    # and the token was neither read nor revoked
    check = call("POST", "/oauth2/introspect", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                 form={"token": victim})
    assert check.json["active"] is True


def test_a_token_introspected_with_itself_as_the_bearer_is_inactive() -> None:
    own = client_credentials_token("hydra.introspect")
    other = client_credentials_token("hydra.clients")
    itself = call("POST", "/oauth2/introspect", headers={"Authorization": f"Bearer {own}"}, form={"token": own})
    assert itself.status == 200 and itself.json == {"active": False}
    as_form = call("POST", "/oauth2/introspect", form={"access_token": own, "token": own})
    assert as_form.status == 200 and as_form.json == {"active": False}
    # The same caller still introspects other tokens, and another caller sees this one as active.
    theirs = call("POST", "/oauth2/introspect", headers={"Authorization": f"Bearer {own}"}, form={"token": other})
    assert theirs.json["active"] is True
    by_client = call("POST", "/oauth2/introspect", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                     form={"token": own})
    assert by_client.json["active"] is True and by_client.json["scope"] == "hydra.introspect"
