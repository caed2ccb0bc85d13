"""The current login/consent flow (URLS_LOGIN, URLS_CONSENT): /oauth2/auth -> login app -> login
verifier leg -> consent app -> client, played as Ory Hydra's login and consent apps would (the admin
API), with login sessions (skip, prompt, max_age, id_token_hint) and remembered consent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jose import jwt

from tests.support import call
from tests.support_flows import REDIRECT, STATE, make_client, qs, redeem
from tests.support_login_flow import ADMIN, CONSENT_APP, LOGIN_APP, Browser, current_flow, location


@pytest.fixture(autouse=True)
def _current_flow() -> Iterator[None]:
    with current_flow():
        yield


@pytest.fixture
def client() -> tuple[str, str | None]:
    return make_client()


def _id_token(client: tuple[str, str | None], code: str) -> dict[str, Any]:
    result = redeem(client[0], client[1], code)
    assert result.status == 200, result.body
    return jwt.get_unverified_claims(result.json["id_token"])


def _session_cookie(browser: Browser) -> str:
    return browser.cookies.get("hl_session", "")


# ---------------------------------------------------------------- the whole flow


def test_the_whole_code_flow_through_login_and_consent(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    first = browser.start()
    assert location(first).startswith(LOGIN_APP + "?login_challenge=")
    login = browser.login_request()
    assert login.status == 200, login.body
    body = login.json
    assert body["challenge"] == browser.challenge and body["skip"] is False and body["subject"] == ""
    assert body["client"]["client_id"] == client[0] and "client_secret" not in body["client"]
    assert body["requested_scope"] == ["openid", "offline"]
    assert body["request_url"].startswith("http://127.0.0.1:4444/oauth2/auth?")
    before = int(time.time())
    browser.login("alice", remember=True, remember_for=3600, acr="urn:acr:2fa", amr=["pwd", "otp"],
                  context={"k": "v"})
    consent = browser.consent_request()
    assert consent["subject"] == "alice" and consent["skip"] is False
    assert consent["acr"] == "urn:acr:2fa" and consent["amr"] == ["pwd", "otp"]
    assert consent["context"] == {"k": "v"} and consent["login_session_id"]
    callback = browser.consent(session={"id_token": {"nickname": "al"}, "access_token": {"team": "x"}})
    assert callback["state"] == STATE and callback["iss"] == "http://127.0.0.1:4444"
    claims = _id_token(client, callback["code"])
    assert claims["sub"] == "alice" and claims["sid"] == consent["login_session_id"]
    assert claims["acr"] == "urn:acr:2fa" and claims["amr"] == ["pwd", "otp"]
    assert before - 1 <= claims["auth_time"] <= int(time.time()) + 1


def test_the_remembered_session_cookie(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    result = browser.follow(browser.accept_login("alice", remember=True, remember_for=3600))
    raw = next(c for c in result.cookies if c.startswith("hl_session="))
    assert "Max-Age=3600" in raw and "HttpOnly" in raw and "Path=/oauth2" in raw and "SameSite=Lax" in raw
    assert "Secure" not in raw  # a plain-http loopback issuer
    sid, _, secret = raw.split(";")[0].split("=", 1)[1].partition(".")
    from hydra_lambda.storage.tables import SessionRecord

    record = SessionRecord.get("ls#" + sid)
    assert secret and secret not in str(record.attribute_values)


def test_remember_for_zero_is_a_browser_session_cookie(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    result = browser.follow(browser.accept_login("alice", remember=True, remember_for=0))
    raw = next(c for c in result.cookies if c.startswith("hl_session="))
    assert "Max-Age" not in raw and "Expires" not in raw


def test_a_login_not_remembered_sets_no_cookie_but_still_has_a_session(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    result = browser.login("alice")
    assert not any(c.startswith("hl_session=") for c in result.cookies)
    sid = browser.consent_request()["login_session_id"]
    claims = _id_token(client, browser.consent()["code"])
    assert claims["sid"] == sid
    from hydra_lambda.storage import sessions

    assert sessions.get_login_session(sid).subject == "alice"


# ---------------------------------------------------------------- login sessions


def _signed_in(client_id: str, subject: str = "alice", **login: Any) -> Browser:
    browser = Browser(client_id)
    browser.full(subject, login={"remember": True, "remember_for": 3600, **login})
    return browser


def test_a_remembered_session_skips_the_login(client: tuple[str, str | None]) -> None:
    browser = _signed_in(client[0])
    assert location(browser.start()).startswith(LOGIN_APP)
    body = browser.login_request().json
    assert body["skip"] is True and body["subject"] == "alice" and body["session_id"]
    browser.login("alice")
    consent = browser.consent_request()
    assert consent["login_session_id"] == body["session_id"]


def test_a_skipped_login_keeps_the_real_auth_time(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    first = browser.full("alice", login={"remember": True})
    auth_time = _id_token(client, first["code"])["auth_time"]
    time.sleep(1.1)
    second = browser.full("alice")
    assert _id_token(client, second["code"])["auth_time"] == auth_time


def test_a_skipped_login_accepted_with_another_subject_is_400(client: tuple[str, str | None]) -> None:
    browser = _signed_in(client[0])
    browser.start()
    refused = browser.accept_login("mallory")
    assert refused.status == 400
    assert set(refused.json) >= {"error", "error_description", "status_code"}
    assert refused.json["status_code"] == 400
    assert browser.login_request().json["skip"] is True  # nothing changed
    browser.login("alice")


def test_prompt_login_forces_the_login_screen(client: tuple[str, str | None]) -> None:
    browser = _signed_in(client[0])
    browser.start(prompt="login")
    assert browser.login_request().json["skip"] is False


def test_signing_in_again_keeps_the_session_and_changes_its_cookie(client: tuple[str, str | None]) -> None:
    """prompt=login (or max_age) by the same user: Hydra's way, the same sid (logout still reaches every
    client the session signed in to) with the new auth_time, and a new cookie secret (the value read
    before no longer works); another user in that browser gets a session of their own."""
    from hydra_lambda import login_sessions

    browser = _signed_in(client[0])
    old_cookie = _session_cookie(browser)
    sid = login_sessions.from_cookie(old_cookie).sid
    time.sleep(1.1)
    again = browser.full("alice", login={"remember": True, "remember_for": 3600}, prompt="login")
    claims = _id_token(client, again["code"])
    assert claims["sid"] == sid
    assert login_sessions.from_cookie(old_cookie) is None
    renewed = login_sessions.from_cookie(_session_cookie(browser))
    assert renewed is not None and renewed.sid == sid and renewed.auth_time == claims["auth_time"]
    other = browser.full("bob", login={"remember": True, "remember_for": 3600}, prompt="login")
    assert _id_token(client, other["code"])["sid"] != sid


def test_max_age_exceeded_forces_the_login_screen(client: tuple[str, str | None]) -> None:
    browser = _signed_in(client[0])
    time.sleep(2.1)
    browser.start(max_age="1")
    assert browser.login_request().json["skip"] is False
    browser.start(max_age="3600")
    assert browser.login_request().json["skip"] is True


def test_a_tampered_session_cookie_is_no_session(client: tuple[str, str | None]) -> None:
    browser = _signed_in(client[0])
    sid, _, secret = _session_cookie(browser).partition(".")
    browser.cookies["hl_session"] = f"{sid}.{secret[:-2]}xx"
    browser.start()
    assert browser.login_request().json["skip"] is False
    browser.cookies["hl_session"] = "garbage"
    assert location(browser.start(prompt="none")).startswith(REDIRECT)


# ---------------------------------------------------------------- prompt=none


def test_prompt_none_without_a_session_is_login_required_at_the_client(client: tuple[str, str | None]) -> None:
    result = Browser(client[0]).start(prompt="none")
    params = qs(location(result))
    assert location(result).startswith(REDIRECT)
    assert params["error"] == "login_required" and params["state"] == STATE and params["iss"]


def test_prompt_none_with_a_session_and_remembered_consent_is_silent(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.full("alice", login={"remember": True}, consent={"remember": True, "remember_for": 3600})
    browser.start(prompt="none")
    assert browser.login_request().json["skip"] is True
    browser.login("alice")
    assert browser.consent_request()["skip"] is True
    callback = browser.consent()
    assert callback["code"] and _id_token(client, callback["code"])["sub"] == "alice"


def test_prompt_none_without_remembered_consent_is_consent_required(client: tuple[str, str | None]) -> None:
    browser = _signed_in(client[0])  # consent not remembered
    browser.start(prompt="none")
    result = browser.follow(browser.accept_login("alice"))
    params = qs(location(result))
    assert location(result).startswith(REDIRECT) and params["error"] == "consent_required"
    assert params["state"] == STATE


def test_an_id_token_hint_of_another_subject_ends_in_login_required(client: tuple[str, str | None]) -> None:
    bob = Browser(client[0])
    hint = redeem(client[0], client[1], bob.full("bob", login={"remember": True})["code"]).json["id_token"]
    alice = _signed_in(client[0], "alice")
    result = alice.start(prompt="none", id_token_hint=hint)
    assert qs(location(result))["error"] == "login_required"
    alice.start(id_token_hint=hint)  # without prompt=none: the login app is asked, without skip
    body = alice.login_request().json
    assert body["skip"] is False and body["oidc_context"]["id_token_hint_claims"]["sub"] == "bob"


def test_a_forged_or_foreign_hint_is_ignored(client: tuple[str, str | None]) -> None:
    other = make_client()
    foreign = redeem(other[0], other[1], Browser(other[0]).full("bob")["code"]).json["id_token"]
    forged = jwt.encode({"iss": "http://127.0.0.1:4444", "sub": "bob", "aud": client[0]}, "k" * 32, algorithm="HS256")
    alice = _signed_in(client[0], "alice")
    for hint in (foreign, forged):
        alice.start(id_token_hint=hint, login_hint="alice@example.org", acr_values="a b", ui_locales="fr en",
                    display="popup")
        body = alice.login_request().json
        assert body["skip"] is True
        assert "id_token_hint_claims" not in body["oidc_context"]
        assert body["oidc_context"] == {"login_hint": "alice@example.org", "acr_values": ["a", "b"],
                                        "ui_locales": ["fr", "en"], "display": "popup"}


def test_an_oversized_login_hint_is_refused(client: tuple[str, str | None]) -> None:
    result = Browser(client[0]).start(login_hint="x" * 3000)
    assert qs(location(result))["error"] == "invalid_request"


# ---------------------------------------------------------------- remembered consent


def test_remembered_consent_skips_and_prompt_consent_forces_the_screen(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.full("alice", login={"remember": True}, consent={"remember": True})
    browser.start()
    browser.login("alice")
    assert browser.consent_request()["skip"] is True
    browser.consent()
    browser.start(prompt="consent")
    browser.login("alice")
    assert browser.consent_request()["skip"] is False
    browser.start(scope="openid offline profile")  # a scope never granted
    browser.login("alice")
    assert browser.consent_request()["skip"] is False


def test_rejections_reach_the_client(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    result = browser.follow(browser.reject_login(error="login_failed", error_description="Wrong password"))
    params = qs(location(result))
    assert params["error"] == "login_failed" and params["error_description"] == "Wrong password"
    assert params["state"] == STATE and params["iss"]
    browser.start()
    browser.login("alice")
    result = browser.follow(browser.reject_consent())
    assert qs(location(result))["error"] == "access_denied"


# ---------------------------------------------------------------- one use, one browser


def test_two_concurrent_accepts_of_one_login_request_one_wins(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    answers: list[Any] = []

    def accept(subject: str) -> None:
        answers.append(browser.accept_login(subject))

    threads = [threading.Thread(target=accept, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status for answer in answers)
    assert statuses[0] == 200 and statuses[1] in (409, 410), [a.body for a in answers]
    assert browser.login_request().status == 410


def test_the_login_stage_is_consumed_by_exactly_one_writer(client: tuple[str, str | None]) -> None:
    """The conditional write itself, raced from threads that passed every check together: one wins."""
    from hydra_lambda.storage import consent as store

    browser = Browser(client[0])
    browser.start()
    barrier = threading.Barrier(4)
    won: list[str] = []

    def write(subject: str) -> None:
        barrier.wait()
        try:
            store.advance(browser.challenge, store.LOGIN_PENDING, store.LOGIN_ACCEPTED,
                          store.Advance(flow={"login": {"who": subject}}, subject=subject))
            won.append(subject)
        except store.ConditionFailed:
            pass

    threads = [threading.Thread(target=write, args=(f"user{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert store.get(browser.challenge).subject == won[0]


def test_a_replayed_login_verifier_leg_is_refused(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    redirect_to = browser.accept_login("alice").json["redirect_to"]
    assert location(browser.get(redirect_to)).startswith(CONSENT_APP)
    again = browser.get(redirect_to)
    assert qs(location(again))["error"] == "invalid_request"
    assert location(again).startswith(REDIRECT)


def test_a_login_verifier_from_another_browser_is_refused_and_spends_the_request(
        client: tuple[str, str | None]) -> None:
    victim = Browser(client[0])
    victim.start()
    redirect_to = victim.accept_login("alice", remember=True).json["redirect_to"]
    attacker = Browser(client[0])
    refused = attacker.get(redirect_to)
    assert refused.status == 302 and qs(location(refused))["error"] == "invalid_request"
    assert not any(c.startswith("hl_session=") for c in refused.cookies)
    late = victim.get(redirect_to)  # the request is spent: the right browser cannot use it either
    assert qs(location(late))["error"] == "invalid_request"


def test_a_handled_login_request_answers_410_with_redirect_to(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    redirect_to = browser.accept_login("alice").json["redirect_to"]
    handled = browser.login_request()
    assert handled.status == 410 and handled.json == {"redirect_to": redirect_to}
    again = browser.accept_login("alice")
    assert again.status == 410 and again.json["redirect_to"] == redirect_to


def test_unknown_challenges_are_404_in_hydras_error_shape() -> None:
    for path, name in (("requests/login", "login_challenge"), ("requests/consent", "consent_challenge")):
        result = call("GET", f"{ADMIN}/{path}", query={name: "nope"}, headers=_bearer())
        assert result.status == 404
        assert result.json["status_code"] == 404 and result.json["error"] and result.json["error_description"]


def test_admin_routes_need_a_token_with_the_consent_scope(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    result = call("GET", f"{ADMIN}/requests/login", query={"login_challenge": browser.challenge})
    assert result.status == 401 and result.json["status_code"] == 401
    result = call("GET", f"{ADMIN}/sessions/consent", query={"subject": "alice"})
    assert result.status == 401


def _bearer() -> dict[str, str]:
    from tests.support_flows import bearer

    return bearer()


# ---------------------------------------------------------------- consent sessions


def test_consent_sessions_list_and_revoke_their_tokens(client: tuple[str, str | None]) -> None:
    subject = f"carol-{time.time_ns()}"
    browser = Browser(client[0])
    callback = browser.full(subject, login={"remember": True}, consent={"remember": True})
    tokens = redeem(client[0], client[1], callback["code"]).json
    other = make_client()
    Browser(other[0]).full(subject)
    listed = call("GET", f"{ADMIN}/sessions/consent", query={"subject": subject}, headers=_bearer())
    assert listed.status == 200 and len(listed.json) == 2
    first = listed.json[0]
    assert set(first) >= {"consent_request", "grant_scope", "grant_access_token_audience", "session", "remember",
                          "remember_for", "handled_at"}
    paged = call("GET", f"{ADMIN}/sessions/consent", query={"subject": subject, "page_size": "1"}, headers=_bearer())
    assert len(paged.json) == 1 and 'rel="next"' in paged.headers["link"]
    refused = call("DELETE", f"{ADMIN}/sessions/consent", query={"subject": subject}, headers=_bearer())
    assert refused.status == 400
    gone = call("DELETE", f"{ADMIN}/sessions/consent", query={"subject": subject, "client": client[0]},
                headers=_bearer())
    assert gone.status == 204
    introspected = call("POST", "/oauth2/introspect", headers=_introspector(),
                        form={"token": tokens["access_token"]})
    assert introspected.json == {"active": False}
    refreshed = call("POST", "/oauth2/token", headers=_basic(client), form={"grant_type": "refresh_token",
                                                                            "refresh_token": tokens["refresh_token"]})
    assert refreshed.status == 400
    left = call("GET", f"{ADMIN}/sessions/consent", query={"subject": subject}, headers=_bearer())
    assert [s["consent_request"]["client"]["client_id"] for s in left.json] == [other[0]]
    everything = call("DELETE", f"{ADMIN}/sessions/consent", query={"subject": subject, "all": "true"},
                      headers=_bearer())
    assert everything.status == 204
    assert call("GET", f"{ADMIN}/sessions/consent", query={"subject": subject}, headers=_bearer()).json == []


def _introspector() -> dict[str, str]:
    from tests.support import admin_headers

    return admin_headers("hydra.introspect")


def _basic(client: tuple[str, str | None]) -> dict[str, str]:
    from tests.support import basic

    assert client[1]
    return basic(client[0], client[1])


def test_revoked_consent_is_not_remembered_any_more(client: tuple[str, str | None]) -> None:
    subject = f"dave-{time.time_ns()}"
    browser = Browser(client[0])
    browser.full(subject, login={"remember": True}, consent={"remember": True})
    assert call("DELETE", f"{ADMIN}/sessions/consent", query={"subject": subject, "all": "true"},
                headers=_bearer()).status == 204
    browser.start()
    browser.login(subject)
    assert browser.consent_request()["skip"] is False


def test_the_classic_routes_do_not_answer_current_flow_requests(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    classic = call("GET", f"/oauth2/consent/requests/{browser.challenge}", headers=_bearer())
    assert classic.status == 404


def test_the_state_is_echoed_and_callback_is_the_registered_uri(client: tuple[str, str | None]) -> None:
    callback = Browser(client[0]).full("alice")
    assert set(callback) >= {"code", "state", "iss", "scope"}
    assert callback["state"] == STATE
    assert REDIRECT


# ---------------------------------------------------------------- Ory's generated SDK reads our answers


def test_ory_hydra_client_models_parse_every_answer(client: tuple[str, str | None]) -> None:
    from ory_hydra_client import models

    subject = f"frank-{time.time_ns()}"
    browser = Browser(client[0])
    browser.start(login_hint="frank")
    login = models.OAuth2LoginRequest.from_dict(browser.login_request().json)
    assert login.challenge == browser.challenge and login.client.client_id == client[0]
    assert login.oidc_context.login_hint == "frank"
    accepted = models.OAuth2RedirectTo.from_dict(browser.accept_login(subject, remember=True).json)
    browser.get(accepted.redirect_to)
    consent = models.OAuth2ConsentRequest.from_dict(browser.consent_request())
    assert consent.subject == subject and consent.requested_scope == ["openid", "offline"]
    browser.follow(browser.accept_consent(remember=True))
    listed = call("GET", f"{ADMIN}/sessions/consent", query={"subject": subject}, headers=_bearer()).json
    session = models.OAuth2ConsentSession.from_dict(listed[0])
    assert session.grant_scope == ["openid", "offline"] and session.remember is True
    error = models.ErrorOAuth2.from_dict(call("GET", f"{ADMIN}/requests/login", query={"login_challenge": "x"},
                                              headers=_bearer()).json)
    assert error.status_code == 404


# ---------------------------------------------------------------- more refusals


def test_without_a_trusted_redirect_the_error_goes_to_urls_error() -> None:
    with current_flow(URLS_ERROR="http://127.0.0.1:3000/error"):
        result = call("GET", "/oauth2/auth", query={"client_id": "no-such-client", "response_type": "code",
                                                    "state": STATE})
    assert location(result).startswith("http://127.0.0.1:3000/error?")
    assert qs(location(result))["error"] == "invalid_client" and qs(location(result))["error_description"]
    page = call("GET", "/oauth2/auth", query={"client_id": "no-such-client", "response_type": "code"})
    assert page.status == 400  # no URLS_ERROR: our error page


def test_a_wrong_login_verifier_is_refused_and_spends_nothing(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    redirect_to = browser.accept_login("alice").json["redirect_to"]
    forged = redirect_to.rsplit("login_verifier=", 1)[0] + "login_verifier=" + "A" * 43
    assert qs(location(browser.get(forged)))["error"] == "invalid_request"
    assert location(browser.get(redirect_to)).startswith(CONSENT_APP)


def test_a_consent_verifier_cannot_stand_for_a_login_verifier(client: tuple[str, str | None]) -> None:
    from hydra_lambda.consent import requests

    browser = Browser(client[0])
    browser.start()
    redirect_to = browser.accept_login("alice").json["redirect_to"]
    wrong = redirect_to.rsplit("login_verifier=", 1)[0] + "login_verifier=" + requests.verifier(browser.challenge)
    assert qs(location(browser.get(wrong)))["error"] == "invalid_request"


def test_no_consent_request_exists_before_the_login_verifier_leg(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    assert browser.consent_result().status == 404
    browser.accept_login("alice")
    assert browser.consent_result().status == 404
    early = browser.accept_consent()
    assert early.status == 404 and early.json["status_code"] == 404


def test_a_subject_that_is_a_client_id_cannot_sign_in(client: tuple[str, str | None]) -> None:
    browser = Browser(client[0])
    browser.start()
    refused = browser.accept_login(client[0])
    assert refused.status == 409 and refused.json["status_code"] == 409
    assert browser.login_request().status == 200  # still pending
