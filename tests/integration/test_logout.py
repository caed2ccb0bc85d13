"""Logout (issue 24 item 4): RP-initiated logout at /oauth2/sessions/logout, the logout requests of the
admin API, the verifier leg, front-channel and back-channel logout, and ending login sessions by the
admin API. Over HTTP against a local server (FETCH_ALLOW_LOOPBACK on, so relying-party receivers on
127.0.0.1 may be named), and in-process where a setting changes (URLS_LOGOUT, the queue)."""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.support import LocalServer, admin_token, bearer, call, free_port, new_client, unique, wait_for
from tests.support_flows import REDIRECT, Flow, qs, redeem

POST_LOGOUT = "http://127.0.0.1:9999/signed-out"
SCOPES = "openid offline offline_access profile email"


# ---------------------------------------------------------------------------------------------
# Fixtures: settings, a relying party's back-channel receiver, a local server


@pytest.fixture(autouse=True)
def _loopback(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from hydra_lambda import backchannel
    from hydra_lambda.config import reset_settings

    monkeypatch.setenv("FETCH_ALLOW_LOOPBACK", "true")
    reset_settings()
    backchannel.dead_letters.clear()
    yield
    backchannel.drain()
    monkeypatch.undo()
    reset_settings()


class Receiver:
    """A relying party's back-channel logout endpoint on 127.0.0.1: keeps every logout_token POSTed,
    answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.tokens: list[str] = []
        self.bodies: list[dict[str, list[str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                owner.bodies.append(form)
                owner.tokens.extend(form.get("logout_token", []))
                self.send_response(owner.status)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture(scope="module")
def hydra(aws: dict[str, str]) -> Iterator[LocalServer]:
    instance = LocalServer({**aws, "FETCH_ALLOW_LOOPBACK": "true"})
    yield instance
    instance.stop()


# ---------------------------------------------------------------------------------------------
# Helpers: clients, login sessions, grants made in them, ID token hints


def logout_client(**fields: Any) -> tuple[str, str | None]:
    return new_client("rp", **{"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"],
                               "response_types": ["code"], "scope": SCOPES,
                               "post_logout_redirect_uris": [POST_LOGOUT], **fields})


def signed_in(subject: str) -> tuple[Any, str]:
    """A login session of ``subject`` (as the login flow makes it) and its cookie value."""
    from hydra_lambda.login_sessions import new_session

    return new_session(subject, auth_time=int(time.time()), lifespan=3600)


def grant(client_id: str, secret: str | None, subject: str, sid: str, scopes: list[str]) -> dict[str, str]:
    """Tokens of a grant made in the login session ``sid`` (a code flow, then its consent session
    recorded with that login_session_id, as the current flow does)."""
    from hydra_lambda import clock
    from hydra_lambda.storage import sessions
    from hydra_lambda.tokens import lookup

    scopes = list(dict.fromkeys([*scopes, "offline"]))  # a refresh token names the grant's request id
    flow = Flow(client_id)
    assert flow.start(scope=" ".join(scopes)).status == 302
    assert flow.accept(subject=subject, scopes=scopes).status == 204
    code = qs(flow.back().headers["location"])["code"]
    tokens = redeem(client_id, secret, code).json
    row = lookup.find(tokens["refresh_token"], ("refresh",))
    assert row is not None and row.request_id
    sessions.save_consent_session(sessions.ConsentSession(
        challenge=row.request_id, subject=subject, client_id=client_id, login_session_id=sid,
        grant_scope=scopes, expires_at=clock.now_int() + 3600, handled_at=clock.now_int()))
    return tokens


def hint(client_id: str, subject: str, sid: str, **claims: Any) -> str:
    from hydra_lambda import keys
    from hydra_lambda.config import get_settings

    now = int(time.time())
    return keys.sign({"iss": get_settings().issuer, "sub": subject, "aud": client_id, "sid": sid,
                      "iat": now - 7200, "exp": now - 3600, **claims})  # expired: still a valid hint


def live(token: str) -> bool:
    result = call("POST", "/oauth2/introspect", headers=bearer(admin_token("hydra.introspect")),
                  form={"token": token})
    assert result.status == 200, result.body
    return bool(result.json["active"])


def session_alive(sid: str) -> bool:
    from hydra_lambda.storage import sessions

    return sessions.get_login_session(sid) is not None


def browser(server: LocalServer, cookie: str) -> requests.Session:
    made = requests.Session()
    made.cookies.set("hl_session", cookie, domain="127.0.0.1", path="/oauth2")
    return made


def cleared(response: requests.Response, name: str) -> bool:
    raw = response.raw.headers.getlist("Set-Cookie") if hasattr(response.raw.headers, "getlist") else []
    return any(line.startswith(f"{name}=") and "Max-Age=0" in line for line in raw)


# ---------------------------------------------------------------------------------------------
# Over HTTP against the local server (no URLS_LOGOUT: this server asks the user itself)


def test_a_bare_get_never_logs_out_the_confirmation_post_does(hydra: LocalServer) -> None:
    session, cookie = signed_in(unique("user"))
    web = browser(hydra, cookie)
    page = web.get(f"{hydra.url}/oauth2/sessions/logout", allow_redirects=False)
    assert page.status_code == 200 and "<form method=\"post\"" in page.text
    assert session_alive(session.sid)  # a GET any site can trigger ended nothing
    fields = dict(_hidden_fields(page.text))
    csrf_name = f"hl_logout_{fields['logout_challenge']}"
    csrf = web.cookies.get(csrf_name)
    assert csrf
    done = web.post(f"{hydra.url}/oauth2/sessions/logout", data=fields, allow_redirects=False)
    assert done.status_code == 200 and "You have been signed out" in done.text
    assert not session_alive(session.sid)
    assert cleared(done, "hl_session") and cleared(done, csrf_name)
    again = web.post(f"{hydra.url}/oauth2/sessions/logout", data=fields, allow_redirects=False)
    assert again.status_code == 403  # its cookie went with the logout
    web.cookies.set(csrf_name, csrf, domain="127.0.0.1", path="/oauth2/sessions/logout")
    replay = web.post(f"{hydra.url}/oauth2/sessions/logout", data=fields, allow_redirects=False)
    assert replay.status_code == 409 and "already used" in replay.text  # a replayed verifier, cookie and all


def _hidden_fields(page: str) -> list[tuple[str, str]]:
    import re

    return [(html.unescape(n), html.unescape(v))
            for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)]


def test_logout_with_the_sessions_hint_ends_it_revokes_its_grants_but_offline_access_and_echoes_state(
        hydra: LocalServer) -> None:
    subject = unique("user")
    session, cookie = signed_in(subject)
    client_id, secret = logout_client()
    online = grant(client_id, secret, subject, session.sid, ["openid", "offline"])
    offline = grant(client_id, secret, subject, session.sid, ["openid", "offline", "offline_access"])
    other_session, _ = signed_in(subject)
    elsewhere = grant(client_id, secret, subject, other_session.sid, ["openid", "offline"])
    query = {"id_token_hint": hint(client_id, subject, session.sid, iss=hydra.url),
             "post_logout_redirect_uri": POST_LOGOUT, "state": "s t&ate"}
    answer = browser(hydra, cookie).get(f"{hydra.url}/oauth2/sessions/logout", params=query, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"] == f"{POST_LOGOUT}?{urlencode({'state': 's t&ate'})}"
    assert cleared(answer, "hl_session")
    assert not session_alive(session.sid) and session_alive(other_session.sid)
    assert not live(online["access_token"]) and not live(online["refresh_token"])
    assert live(offline["access_token"]) and live(offline["refresh_token"])  # offline_access survives logout
    assert live(elsewhere["access_token"])  # another login session's grant is untouched


def test_no_session_goes_straight_to_the_registered_target(hydra: LocalServer) -> None:
    client_id, _ = logout_client()
    answer = requests.get(f"{hydra.url}/oauth2/sessions/logout", allow_redirects=False,
                          params={"client_id": client_id, "post_logout_redirect_uri": POST_LOGOUT, "state": "xyz"})
    assert answer.status_code == 302 and answer.headers["Location"] == f"{POST_LOGOUT}?state=xyz"
    plain = requests.get(f"{hydra.url}/oauth2/sessions/logout", allow_redirects=False)
    assert plain.status_code == 200 and "signed out" in plain.text


@pytest.mark.parametrize("case", ["tampered", "foreign_issuer", "unsigned", "garbage"])
def test_a_forged_or_foreign_hint_is_refused_and_ends_nothing(hydra: LocalServer, case: str) -> None:
    from hydra_lambda import keys

    subject = unique("user")
    session, cookie = signed_in(subject)
    client_id, _ = logout_client()
    good = hint(client_id, subject, session.sid, iss=hydra.url)
    head, body, signature = good.split(".")
    forged = {
        "tampered": ".".join([head, keys.b64url(json.dumps({"iss": "x", "sub": "mallory", "aud": client_id})
                                                .encode()), signature]),
        "foreign_issuer": hint(client_id, subject, session.sid, iss="https://evil.example"),
        "unsigned": ".".join([keys.b64url(b'{"alg":"none"}'), body, ""]),
        "garbage": "not-a-jwt",
    }[case]
    answer = browser(hydra, cookie).get(f"{hydra.url}/oauth2/sessions/logout", allow_redirects=False,
                                        params={"id_token_hint": forged, "post_logout_redirect_uri": POST_LOGOUT})
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert session_alive(session.sid)


@pytest.mark.parametrize("params", [
    {"post_logout_redirect_uri": "https://evil.example/"},  # no client to hold it
    {"client": True, "post_logout_redirect_uri": "https://evil.example/"},
    {"client": True, "post_logout_redirect_uri": POST_LOGOUT + "/"},  # not exactly the registered one
    {"client": True, "post_logout_redirect_uri": POST_LOGOUT, "client_id": "someone-else"},  # not the hint's aud
    {"client": True, "state": "s" * 1025, "post_logout_redirect_uri": POST_LOGOUT},
])
def test_an_unregistered_target_is_an_error_page_never_a_redirect(hydra: LocalServer, params: dict[str, Any]) -> None:
    subject = unique("user")
    session, cookie = signed_in(subject)
    query = {k: v for k, v in params.items() if k != "client"}
    if params.get("client"):
        client_id, _ = logout_client()
        query["id_token_hint"] = hint(client_id, subject, session.sid, iss=hydra.url)
    answer = browser(hydra, cookie).get(f"{hydra.url}/oauth2/sessions/logout", params=query, allow_redirects=False)
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "evil.example" not in answer.headers.get("Content-Security-Policy", "")
    assert session_alive(session.sid)


def test_a_hint_for_another_subject_asks_before_ending_the_browsers_session(hydra: LocalServer) -> None:
    subject = unique("user")
    session, cookie = signed_in(subject)
    client_id, _ = logout_client()
    answer = browser(hydra, cookie).get(f"{hydra.url}/oauth2/sessions/logout", allow_redirects=False,
                                        params={"id_token_hint": hint(client_id, "someone-else", "other-sid",
                                                                      iss=hydra.url),
                                                "post_logout_redirect_uri": POST_LOGOUT})
    assert answer.status_code == 200 and "<form" in answer.text
    assert session_alive(session.sid)


def test_the_front_channel_page_frames_exactly_the_participating_clients(hydra: LocalServer) -> None:
    subject = unique("user")
    session, cookie = signed_in(subject)
    a_id, a_secret = logout_client(frontchannel_logout_uri="https://rp-a.example/fc?x=1&y='2'")
    b_id, b_secret = logout_client(frontchannel_logout_uri="https://rp-b.example:8443/logout")
    c_id, _ = logout_client(frontchannel_logout_uri="https://rp-c.example/never")  # took no part
    grant(a_id, a_secret, subject, session.sid, ["openid"])
    grant(b_id, b_secret, subject, session.sid, ["openid"])
    page = browser(hydra, cookie).get(f"{hydra.url}/oauth2/sessions/logout", allow_redirects=False,
                                      params={"id_token_hint": hint(a_id, subject, session.sid, iss=hydra.url),
                                              "post_logout_redirect_uri": POST_LOGOUT, "state": "st"})
    assert page.status_code == 200, page.text
    import re

    frames = sorted(html.unescape(src) for src in re.findall(r'<iframe class="fc" src="([^"]+)"', page.text))
    iss = {"iss": hydra.url, "sid": session.sid}
    assert frames == sorted([f"https://rp-a.example/fc?x=1&y='2'&{urlencode(iss)}",
                             f"https://rp-b.example:8443/logout?{urlencode(iss)}"])
    assert "x=1&y='2'" not in page.text and "x=1&amp;y=&#x27;2&#x27;" in page.text  # escaped in the attribute
    csp = page.headers["Content-Security-Policy"]
    (frame_src,) = [part.split()[1:] for part in csp.split(";") if part.split()[:1] == ["frame-src"]]
    assert sorted(frame_src) == ["https://rp-a.example", "https://rp-b.example:8443"]  # those origins, no other
    assert f'href="{html.escape(POST_LOGOUT + "?state=st")}"' in page.text  # then to the target (no-script link)
    assert c_id not in page.text


def test_back_channel_logout_token_verifies_against_our_jwks(hydra: LocalServer, receiver: Receiver) -> None:
    from jose import jwt

    subject = unique("user")
    session, cookie = signed_in(subject)
    client_id, secret = logout_client(backchannel_logout_uri=receiver.url)
    grant(client_id, secret, subject, session.sid, ["openid"])
    answer = browser(hydra, cookie).get(f"{hydra.url}/oauth2/sessions/logout", allow_redirects=False,
                                        params={"id_token_hint": hint(client_id, subject, session.sid, iss=hydra.url)})
    assert answer.status_code in (200, 302)
    wait_for(lambda: receiver.tokens, 20, "the back-channel logout token")
    (token,) = receiver.tokens
    jwks = requests.get(f"{hydra.url}/.well-known/jwks.json").json()
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(token, key, algorithms=[header["alg"]], audience=client_id, issuer=hydra.url)
    assert claims["sub"] == subject and claims["sid"] == session.sid and claims["jti"]
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert "nonce" not in claims and claims["exp"] - claims["iat"] <= 300


# ---------------------------------------------------------------------------------------------
# In-process: the logout app (URLS_LOGOUT) and the admin API


@pytest.fixture
def logout_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from hydra_lambda.config import reset_settings

    url = "https://logout.example/logout"
    monkeypatch.setenv("URLS_LOGOUT", url)
    reset_settings()
    yield url
    monkeypatch.delenv("URLS_LOGOUT")
    reset_settings()


def admin(method: str, path: str, **query: str) -> Any:
    return call(method, path, query=query, headers=bearer(admin_token("hydra.consent")))


def _started(subject: str) -> tuple[Flow, Any, str, str]:
    """A browser with a login session that asked to log out: (browser, session, client, challenge)."""
    session, cookie = signed_in(subject)
    client_id, _ = logout_client()
    web = Flow(client_id, cookies={"hl_session": cookie})
    query = urlencode({"id_token_hint": hint(client_id, subject, session.sid), "post_logout_redirect_uri": POST_LOGOUT,
                       "state": "abc"})
    first = web.get(f"/oauth2/sessions/logout?{query}")
    assert first.status == 302, first.body
    location = first.headers["location"]
    assert location.startswith("https://logout.example/logout?logout_challenge=")
    return web, session, client_id, qs(location)["logout_challenge"]


def test_the_logout_app_reads_accepts_and_the_verifier_works_once_in_that_browser(logout_app: str) -> None:
    subject = unique("user")
    web, session, client_id, challenge = _started(subject)
    got = admin("GET", "/admin/oauth2/auth/requests/logout", logout_challenge=challenge)
    assert got.status == 200, got.body
    body = got.json
    assert (body["challenge"], body["subject"], body["sid"], body["rp_initiated"]) == (challenge, subject,
                                                                                         session.sid, True)
    assert body["client"]["client_id"] == client_id and "client_secret" not in body["client"]
    assert body["request_url"].startswith("http") and body["requested_at"] and body["expires_at"]
    assert "state=abc" in body["request_url"] and "id_token_hint" not in body["request_url"]  # no ID token shown
    accepted = admin("PUT", "/admin/oauth2/auth/requests/logout/accept", logout_challenge=challenge)
    assert accepted.status == 200, accepted.body
    redirect_to = accepted.json["redirect_to"]
    assert "logout_verifier=" in redirect_to
    path = urlsplit(redirect_to)
    stranger = Flow(client_id).get(f"{path.path}?{path.query}")  # another browser: no CSRF cookie
    assert stranger.status == 403 and session_alive(session.sid)
    done = web.get(f"{path.path}?{path.query}")
    assert done.status == 302 and done.headers["location"] == f"{POST_LOGOUT}?state=abc"
    assert not session_alive(session.sid) and "hl_session" not in web.cookies
    assert web.get(f"{path.path}?{path.query}").status == 403  # replayed: its cookie went with the logout
    handled = admin("GET", "/admin/oauth2/auth/requests/logout", logout_challenge=challenge)
    assert handled.status == 410 and handled.json == {"redirect_to": redirect_to}
    assert admin("PUT", "/admin/oauth2/auth/requests/logout/accept", logout_challenge=challenge).status == 410


def test_a_rejected_logout_keeps_the_session(logout_app: str) -> None:
    web, session, _, challenge = _started(unique("user"))
    assert admin("PUT", "/admin/oauth2/auth/requests/logout/reject", logout_challenge=challenge).status == 204
    handled = admin("GET", "/admin/oauth2/auth/requests/logout", logout_challenge=challenge)
    assert handled.status == 410
    path = urlsplit(handled.json["redirect_to"])
    back = web.get(f"{path.path}?{path.query}")
    assert back.status == 200 and "still signed in" in back.body and session_alive(session.sid)


def test_a_verifier_not_accepted_or_forged_ends_nothing(logout_app: str) -> None:
    from hydra_lambda import logout

    web, session, _, challenge = _started(unique("user"))
    early = web.get("/oauth2/sessions/logout?" + urlencode({"logout_challenge": challenge,
                                                             "logout_verifier": logout.verifier(challenge)}))
    assert early.status == 409 and session_alive(session.sid)  # pending: the logout app has not accepted
    forged = web.get("/oauth2/sessions/logout?" + urlencode({"logout_challenge": challenge,
                                                              "logout_verifier": "x" * 43}))
    assert forged.status == 403 and session_alive(session.sid)


def test_admin_logout_routes_answer_error_oauth2(logout_app: str) -> None:
    missing = admin("GET", "/admin/oauth2/auth/requests/logout", logout_challenge="nope")
    assert missing.status == 404 and set(missing.json) >= {"error", "error_description", "status_code"}
    bare = call("GET", "/admin/oauth2/auth/requests/logout", query={"logout_challenge": "nope"})
    assert bare.status == 401 and bare.json["status_code"] == 401
    assert admin("GET", "/admin/oauth2/auth/requests/logout").status == 400


# ---------------------------------------------------------------------------------------------
# Ending login sessions through the admin API, and back-channel delivery in-process and by SQS


def test_delete_login_sessions_by_subject_and_by_sid(receiver: Receiver) -> None:
    from hydra_lambda import backchannel

    subject = unique("user")
    first, _ = signed_in(subject)
    second, _ = signed_in(subject)
    client_id, secret = logout_client(backchannel_logout_uri=receiver.url)
    tokens = grant(client_id, secret, subject, first.sid, ["openid", "offline"])
    by_sid = admin("DELETE", "/admin/oauth2/auth/sessions/login", sid=first.sid)
    assert by_sid.status == 204, by_sid.body
    assert not session_alive(first.sid) and session_alive(second.sid)
    assert not live(tokens["access_token"])
    backchannel.drain()
    assert len(receiver.tokens) == 1
    grant(client_id, secret, subject, second.sid, ["openid"])
    assert admin("DELETE", "/admin/oauth2/auth/sessions/login", subject=subject).status == 204
    assert not session_alive(second.sid)
    backchannel.drain()
    assert len(receiver.tokens) == 2
    assert admin("DELETE", "/admin/oauth2/auth/sessions/login").status == 400
    both = admin("DELETE", "/admin/oauth2/auth/sessions/login", subject=subject, sid=first.sid)
    assert both.status == 400 and both.json["error"] == "invalid_request"
    assert call("DELETE", "/admin/oauth2/auth/sessions/login", query={"sid": "x"}).status == 401


def test_a_receiver_that_is_down_is_retried_then_dead_lettered_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda import backchannel

    monkeypatch.setattr(backchannel, "BACKOFF", 0.01)
    down = Receiver(status=503)
    try:
        subject = unique("user")
        session, _ = signed_in(subject)
        client_id, secret = logout_client(backchannel_logout_uri=down.url)
        grant(client_id, secret, subject, session.sid, ["openid"])
        assert admin("DELETE", "/admin/oauth2/auth/sessions/login", sid=session.sid).status == 204
        backchannel.drain()
        assert len(down.tokens) == backchannel.MAX_ATTEMPTS
        assert list(backchannel.dead_letters) == [backchannel.Delivery(client_id, subject, session.sid)]
    finally:
        down.close()


@pytest.fixture
def sqs(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, str]]:
    """The back-channel queue on moto, its redrive policy moving a message to the dead-letter queue
    after 2 receives (no visibility wait), and BACKCHANNEL_LOGOUT_QUEUE_URL pointing at it."""
    import botocore.session
    from hydra_lambda import cache
    from hydra_lambda.config import reset_settings

    client = botocore.session.get_session().create_client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = unique("bcl")
    dlq = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = client.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    monkeypatch.setenv("BACKCHANNEL_LOGOUT_QUEUE_URL", queue)
    reset_settings()
    cache.clear_all()
    yield client, queue, dlq
    monkeypatch.delenv("BACKCHANNEL_LOGOUT_QUEUE_URL")
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS")
    reset_settings()
    cache.clear_all()


def _consumer() -> Any:
    import importlib.util

    from hydra_lambda_local.harness import ROOT

    spec = importlib.util.spec_from_file_location("logout_app", ROOT / "functions" / "logout" / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def _drive(client: Any, queue: str, receives: int) -> int:
    """Play the SQS event source mapping: receive, invoke the consumer, delete what succeeded."""
    from hydra_lambda_local.events import FakeContext

    handler, handled = _consumer(), 0
    for _ in range(receives):
        got = client.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            continue
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m.get("Attributes", {}), "eventSource": "aws:sqs"} for m in messages]
        answer = handler({"Records": records}, FakeContext())
        failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
        for message in messages:
            handled += 1
            if message["MessageId"] not in failed:
                client.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return handled


def test_on_the_queue_a_delivery_is_retried_then_lands_in_the_dead_letter_queue(sqs: tuple[Any, str, str]) -> None:
    client, queue, dlq = sqs
    down = Receiver(status=500)
    try:
        subject = unique("user")
        session, _ = signed_in(subject)
        client_id, secret = logout_client(backchannel_logout_uri=down.url)
        grant(client_id, secret, subject, session.sid, ["openid"])
        assert admin("DELETE", "/admin/oauth2/auth/sessions/login", sid=session.sid).status == 204
        assert down.tokens == []  # the admin call only queued it
        _drive(client, queue, receives=4)
        assert len(down.tokens) == 2  # maxReceiveCount deliveries, then the redrive policy
        dead = client.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
        assert [json.loads(m["Body"]) for m in dead] == [{"client_id": client_id, "subject": subject,
                                                          "sid": session.sid}]
        assert "logout_token" not in dead[0]["Body"]
    finally:
        down.close()


def test_on_the_queue_a_delivery_that_succeeds_is_done(sqs: tuple[Any, str, str], receiver: Receiver) -> None:
    client, queue, dlq = sqs
    subject = unique("user")
    session, _ = signed_in(subject)
    client_id, secret = logout_client(backchannel_logout_uri=receiver.url)
    grant(client_id, secret, subject, session.sid, ["openid"])
    assert admin("DELETE", "/admin/oauth2/auth/sessions/login", subject=subject).status == 204
    assert _drive(client, queue, receives=2) == 1
    assert len(receiver.tokens) == 1
    assert client.receive_message(QueueUrl=dlq).get("Messages", []) == []


# ---------------------------------------------------------------------------------------------
# End to end with the login/consent engine (the current flow): SSO over two clients, then logout


def test_sso_over_two_clients_then_one_logout_ends_both(receiver: Receiver) -> None:
    from hydra_lambda import backchannel

    from tests.support_login_flow import Browser, current_flow

    a_id, a_secret = logout_client(frontchannel_logout_uri="https://rp-a.example/fc")
    b_id, b_secret = logout_client(frontchannel_logout_uri="https://rp-b.example/fc",
                                   backchannel_logout_uri=receiver.url)
    subject = unique("user")
    with current_flow():
        web = Browser(a_id)
        first = web.full(subject, login={"remember": True, "remember_for": 3600})
        a_tokens = redeem(a_id, a_secret, first["code"]).json
        assert "hl_session" in web.cookies
        web.client_id = b_id  # the same browser, another relying party: single sign-on
        second = web.full(subject, login={"remember": True, "remember_for": 3600})
        b_tokens = redeem(b_id, b_secret, second["code"]).json
        from jose import jwt

        sid = jwt.get_unverified_claims(a_tokens["id_token"])["sid"]
        assert jwt.get_unverified_claims(b_tokens["id_token"])["sid"] == sid and session_alive(sid)
        query = urlencode({"id_token_hint": a_tokens["id_token"], "post_logout_redirect_uri": POST_LOGOUT,
                           "state": "bye"})
        page = web.get(f"/oauth2/sessions/logout?{query}")
    assert page.status == 200, page.body
    import re

    frames = sorted(html.unescape(src) for src in re.findall(r'<iframe class="fc" src="([^"]+)"', page.body))
    assert [urlsplit(frame).netloc for frame in frames] == ["rp-a.example", "rp-b.example"]
    assert all(qs(frame)["sid"] == sid for frame in frames)
    assert not session_alive(sid) and "hl_session" not in web.cookies
    assert not live(a_tokens["access_token"]) and not live(b_tokens["refresh_token"])
    backchannel.drain()
    assert len(receiver.tokens) == 1


def test_a_pairwise_client_gets_its_pairwise_sub_in_the_logout_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda import backchannel, keys, subjects
    from hydra_lambda.clients.registry import get_client
    from hydra_lambda.config import reset_settings
    from jose import jwt

    monkeypatch.setenv("SUBJECT_IDENTIFIERS_PAIRWISE_SALT", "logout-test-salt-0123456789abcdef")
    reset_settings()
    client_id, _ = logout_client(subject_type="pairwise")
    client = get_client(client_id)
    assert client is not None
    token = backchannel.logout_token(client, "alice", "sid-1")
    claims = keys.verify(token)
    assert claims is not None and jwt.get_unverified_header(token)["typ"] == "logout+jwt"
    assert claims["sub"] == subjects.pairwise_subject(client, "alice") != "alice"
    assert claims["sid"] == "sid-1" and claims["aud"] == client_id and "nonce" not in claims


def test_logout_racing_refreshes_of_its_grant_leaves_no_live_token() -> None:
    """Issue 24's race: a relying party keeps refreshing while the user logs out. Whatever the refreshes
    obtained before or after, once logout returns no token of the grant is live (revocation marks
    every row of the grant before deleting, so no rotation can commit a pair it misses)."""
    from hydra_lambda import logout

    from tests.support_flows import refresh

    client_id, secret = logout_client()
    for _round in range(6):
        subject = unique("user")
        session, _cookie = signed_in(subject)
        tokens = grant(client_id, secret, subject, session.sid, ["openid", "offline"])
        obtained = [tokens["access_token"], tokens["refresh_token"]]
        go = threading.Barrier(2)

        def keep_refreshing(current: str = tokens["refresh_token"], go: threading.Barrier = go,
                            obtained: list[str] = obtained) -> None:
            go.wait()
            for _ in range(4):
                answer = refresh(client_id, secret, current)
                if answer.status != 200:
                    return
                current = answer.json["refresh_token"]
                obtained.extend([answer.json["access_token"], current])

        refresher = threading.Thread(target=keep_refreshing)
        refresher.start()
        go.wait()
        logout.end_session(subject, session.sid)
        refresher.join()
        assert not [token for token in obtained if live(token)], "a token outlived the logout"
