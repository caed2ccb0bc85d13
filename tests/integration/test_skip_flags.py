"""The current client flags of the flow (issue 26): ``skip_consent`` makes the consent request's
``skip`` true (the consent app is still asked and must accept; ``prompt=consent`` asks again), and
``skip_logout_consent`` lets an RP-initiated logout of such a client's user through without the
question (this server's own confirmation; behind URLS_LOGOUT the logout app reads the flag from the
logout request, as Hydra's apps do). Neither can be set by dynamic registration. In process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support import call, new_client, unique
from tests.support_flows import REDIRECT, Flow, make_client, qs
from tests.support_login_flow import CONSENT_APP, LOGIN_APP, Browser, current_flow, location

POST_LOGOUT = "http://127.0.0.1:9999/signed-out"


# ---------------------------------------------------------------------------------------------
# skip_consent


@pytest.fixture
def flow() -> Iterator[None]:
    with current_flow():
        yield


def test_skip_consent_makes_skip_true_yet_the_consent_app_must_accept(flow: None) -> None:
    trusted, _ = make_client(skip_consent=True)
    browser = Browser(trusted)
    browser.start()
    browser.login("alice")  # asserts the browser went to the consent app, not to the client
    request = browser.consent_request()
    assert request["skip"] is True and request["client"]["skip_consent"] is True
    callback = browser.consent()  # nothing is issued until the app accepts
    assert callback["code"]


def test_prompt_consent_makes_skip_false_even_for_a_trusted_client(flow: None) -> None:
    trusted, _ = make_client(skip_consent=True)
    browser = Browser(trusted)
    browser.start(prompt="consent")
    browser.login("alice")
    assert browser.consent_request()["skip"] is False


def test_a_client_without_the_flag_is_asked(flow: None) -> None:
    plain, _ = make_client()
    browser = Browser(plain)
    browser.start()
    browser.login("alice")
    request = browser.consent_request()
    assert request["skip"] is False and request["client"]["skip_consent"] is False


def test_prompt_none_reaches_the_consent_app_for_a_trusted_client(flow: None) -> None:
    trusted, _ = make_client(skip_consent=True)
    browser = Browser(trusted)
    browser.full("alice", login={"remember": True})  # a login session; consent not remembered
    browser.start(prompt="none")
    assert browser.login_request().json["skip"] is True
    answer = browser.follow(browser.accept_login("alice"))
    assert location(answer).startswith(CONSENT_APP)  # an untrusted client: consent_required at the client
    assert browser.consent_request()["skip"] is True
    assert browser.consent()["code"]


@pytest.mark.parametrize("flag", ["skip_consent", "skip_logout_consent"])
def test_dynamic_registration_cannot_set_the_flags(monkeypatch: pytest.MonkeyPatch, flag: str) -> None:
    from hydra_lambda.config import reset_settings

    monkeypatch.setenv("OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED", "true")
    reset_settings()
    try:
        result = call("POST", "/oauth2/register", json_body={"redirect_uris": ["https://rp.example/cb"],
                                                             flag: True})
    finally:
        monkeypatch.undo()
        reset_settings()
    assert result.status == 201, result.body
    assert result.json.get(flag) in (None, False)
    from hydra_lambda.clients.registry import get_client

    client = get_client(result.json["client_id"])
    assert client is not None and getattr(client, flag) is False


# ---------------------------------------------------------------------------------------------
# skip_logout_consent (no URLS_LOGOUT: this server asks the user itself)


def _signed_in(subject: str) -> tuple[Any, str]:
    from hydra_lambda.login_sessions import new_session

    return new_session(subject, auth_time=int(time.time()), lifespan=3600)


def _hint(client_id: str, subject: str, sid: str) -> str:
    from hydra_lambda import keys
    from hydra_lambda.config import get_settings

    now = int(time.time())
    return keys.sign({"iss": get_settings().issuer, "sub": subject, "aud": client_id, "sid": sid,
                      "iat": now - 60, "exp": now + 3600})


def _logout_client(**fields: Any) -> str:
    client_id, _ = new_client("rp", **{"redirect_uris": [REDIRECT], "grant_types": ["authorization_code"],
                                       "response_types": ["code"], "scope": "openid",
                                       "post_logout_redirect_uris": [POST_LOGOUT], **fields})
    return client_id


def _session_alive(sid: str) -> bool:
    from hydra_lambda.storage import sessions

    return sessions.get_login_session(sid) is not None


def _logout(rp: str, cookie: str, **params: str) -> Any:
    query = urlencode({"post_logout_redirect_uri": POST_LOGOUT, "state": "s1", **params})
    return Flow(rp, cookies={"hl_session": cookie}).get(f"/oauth2/sessions/logout?{query}")


def test_a_trusted_clients_hint_of_an_earlier_session_logs_out_without_asking() -> None:
    subject = unique("user")
    session, cookie = _signed_in(subject)
    trusted = _logout_client(skip_logout_consent=True)
    answer = _logout(trusted, cookie, id_token_hint=_hint(trusted, subject, "an-earlier-session"))
    assert answer.status == 302 and answer.headers["location"] == f"{POST_LOGOUT}?state=s1"
    assert not _session_alive(session.sid)


def test_without_the_flag_the_same_logout_asks() -> None:
    subject = unique("user")
    session, cookie = _signed_in(subject)
    plain = _logout_client()
    answer = _logout(plain, cookie, id_token_hint=_hint(plain, subject, "an-earlier-session"))
    assert answer.status == 200 and "<form" in answer.body
    assert _session_alive(session.sid)


@pytest.mark.parametrize("case", ["bare-client-id", "another-users-hint"])
def test_a_trusted_client_still_asks_without_a_hint_naming_the_user(case: str) -> None:
    subject = unique("user")
    session, cookie = _signed_in(subject)
    trusted = _logout_client(skip_logout_consent=True)
    params = {"client_id": trusted} if case == "bare-client-id" else {
        "id_token_hint": _hint(trusted, "someone-else", "other-sid")}
    answer = _logout(trusted, cookie, **params)
    assert answer.status == 200 and "<form" in answer.body
    assert _session_alive(session.sid)


# ---------------------------------------------------------------------------------------------
# skip_logout_consent behind URLS_LOGOUT: the logout app is asked and reads the flag (Hydra's way)


def test_behind_a_logout_app_the_request_carries_the_flag_and_rp_initiated(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda.config import reset_settings

    from tests.support import admin_token, bearer

    monkeypatch.setenv("URLS_LOGOUT", "https://logout.example/logout")
    reset_settings()
    try:
        subject = unique("user")
        session, cookie = _signed_in(subject)
        trusted = _logout_client(skip_logout_consent=True)
        seen = []
        for params in ({"id_token_hint": _hint(trusted, subject, session.sid)}, {"client_id": trusted}):
            answer = _logout(trusted, cookie, **params)
            assert answer.status == 302 and answer.headers["location"].startswith("https://logout.example/logout?")
            challenge = qs(answer.headers["location"])["logout_challenge"]
            got = call("GET", "/admin/oauth2/auth/requests/logout", query={"logout_challenge": challenge},
                       headers=bearer(admin_token("hydra.consent")))
            assert got.status == 200, got.body
            seen.append((got.json["rp_initiated"], got.json["client"]["skip_logout_consent"]))
        # Hydra's meaning of rp_initiated: the relying party sent an id_token_hint.
        assert seen == [(True, True), (False, True)]
        assert _session_alive(session.sid)  # nothing ends before the app accepts
    finally:
        monkeypatch.undo()
        reset_settings()


def test_login_app_url_is_unchanged_by_the_flags(flow: None) -> None:
    trusted, _ = make_client(skip_consent=True, skip_logout_consent=True)
    assert location(Browser(trusted).start()).startswith(LOGIN_APP)
