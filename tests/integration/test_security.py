"""Hostile input and leak checks through the real handlers: clean 400/413s for malformed bodies,
no-store on token responses, unframeable HTML, no open redirects, and no secret in any log line."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, Result, basic, call, client_credentials_token
from tests.support_flows import REDIRECT, Flow, code_flow, make_client, pkce_pair, qs, redeem, refresh

JSON_ROUTES = [
    ("POST", "/clients"),
    ("PUT", "/clients/sec-probe"),
    ("PATCH", "/oauth2/consent/requests/sec-probe/accept"),
    ("PATCH", "/oauth2/consent/requests/sec-probe/reject"),
    ("POST", "/oauth2/flush"),
]
FORM_ROUTES = [
    ("POST", "/oauth2/token"),
    ("POST", "/oauth2/revoke"),
    ("POST", "/oauth2/introspect"),
    ("POST", "/oauth2/auth"),
    ("POST", "/userinfo"),
]
OAUTH_PATHS = {"/oauth2/token", "/oauth2/revoke", "/oauth2/introspect", "/userinfo"}
ADMIN_SCOPES = "hydra.clients hydra.consent hydra.introspect hydra.oauth2.flush"


def root_token(scope: str = ADMIN_SCOPES) -> str:
    return client_credentials_token(scope)


@pytest.fixture(scope="module")
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {root_token()}"}


def assert_clean_error(result: Result, status: int, path: str) -> None:
    """The status, JSON in the shape the path uses, and nothing that looks like a traceback."""
    assert result.status == status, (result.status, result.body)
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    if path in OAUTH_PATHS:
        assert isinstance(body["error"], str) and body["error_description"]
    else:
        assert body["error"]["code"] == status
    assert "Traceback" not in result.body and 'File "' not in result.body


# ---------------------------------------------------------------- malformed bodies


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES + FORM_ROUTES)
def test_invalid_utf8_bodies_are_a_clean_400(method: str, path: str, admin: dict[str, str]) -> None:
    content_type = "application/json" if (method, path) in JSON_ROUTES else "application/x-www-form-urlencoded"
    for body in (b"\xff\xfe\xfd", b'{"a":"\xc3\x28"}', b"token=\xe2\x82&x=1"):
        result = call(method, path, body=body, headers={"Content-Type": content_type, **admin})
        assert_clean_error(result, 400, path)


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES + FORM_ROUTES)
def test_oversized_bodies_are_413(method: str, path: str, admin: dict[str, str]) -> None:
    from hydra_lambda.config import get_settings

    body = "a=" + "x" * get_settings().max_body_bytes
    result = call(method, path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded", **admin})
    assert_clean_error(result, 413, path)


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
@pytest.mark.parametrize("depth", [64, 5000])
def test_deeply_nested_json_is_a_clean_400(method: str, path: str, depth: int, admin: dict[str, str]) -> None:
    nested = '{"subject":"a","grantScopes":' + "[" * depth + "]" * depth + "}"
    result = call(method, path, body=nested, headers={"Content-Type": "application/json", **admin})
    assert_clean_error(result, 400, path)


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
@pytest.mark.parametrize("body", ["{", "[]", '"x"', "null", "{\"a\":1,}", "\x00"])
def test_malformed_json_is_a_clean_400(method: str, path: str, body: str, admin: dict[str, str]) -> None:
    if body == "null" and method in ("PATCH", "POST") and path.endswith(("reject", "flush")):
        body = "[1]"  # an optional body may be JSON null; an array never is an object
    result = call(method, path, body=body, headers={"Content-Type": "application/json", **admin})
    assert_clean_error(result, 400, path)


@pytest.mark.parametrize(("method", "path"), FORM_ROUTES)
def test_duplicate_form_parameters_are_rejected(method: str, path: str, admin: dict[str, str]) -> None:
    body = "grant_type=client_credentials&token=a&client_id=x&scope=a&scope=b&state=s&access_token=t"
    headers = {"Content-Type": "application/x-www-form-urlencoded", **basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)}
    if path in ("/oauth2/introspect", "/oauth2/auth"):
        headers = {"Content-Type": "application/x-www-form-urlencoded", **admin}
    if path == "/userinfo":  # the form is read when no Authorization header carries the token
        headers, body = {"Content-Type": "application/x-www-form-urlencoded"}, "access_token=a&access_token=b"
    result = call(method, path, body=body, headers=headers)
    if path == "/oauth2/auth":
        assert result.status == 400 and "location" not in result.headers
        return
    assert_clean_error(result, 400, path)
    assert result.json["error"] == "invalid_request"
    assert "more than once" in result.json["error_description"]


def test_duplicate_query_parameters_on_the_authorize_endpoint_are_rejected() -> None:
    client_id, _ = make_client()
    query = (f"client_id={client_id}&response_type=code&redirect_uri={REDIRECT}&scope=openid"
             "&state=state-0123456789&state=other-0123456789")
    result = call("GET", "/oauth2/auth", query=query)
    assert result.status in (302, 400)
    if result.status == 302:  # the redirect URI is trustworthy: the error goes back to the client
        assert result.headers["location"].startswith(REDIRECT + "?")
        assert "error=invalid_request" in result.headers["location"]
        assert "code=" not in result.headers["location"]


# ---------------------------------------------------------------- header injection

INJECTIONS = ["state-0123456789\r\nSet-Cookie: pwned=1", "state-0123456789\nLocation: https://evil.example",
              "state-0123456789%0d%0aX-Evil: 1", "state-0123456789\u2028\u0085x", "state-0123456789\x00x"]


def _no_header_injection(result: Result) -> None:
    for name, value in result.headers.items():
        assert "\r" not in value and "\n" not in value and "\x00" not in value, (name, value)
        assert name not in ("x-evil",)
    assert not any("pwned" in cookie for cookie in result.cookies)


@pytest.mark.parametrize("state", INJECTIONS)
def test_header_injection_in_state_never_reaches_a_header(state: str) -> None:
    """Either a clean 400 up front, or the state travels percent-encoded and comes back unchanged."""
    client_id, _ = make_client()
    flow = Flow(client_id)
    first = flow.start(state=state)
    _no_header_injection(first)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in state):
        assert first.status == 400, first.status  # refused up front: never echoed anywhere
        assert "location" not in first.headers
        return
    assert first.status == 302, (first.status, first.body)
    assert flow.accept().status == 204
    second = flow.back()
    _no_header_injection(second)
    assert second.status == 302
    location = second.headers["location"]
    assert location.startswith(REDIRECT + "?")
    assert " " not in location and "X-Evil:" not in location
    assert qs(location)["state"] == state


# ---------------------------------------------------------------- caching and framing


def test_token_responses_are_never_cached(admin: dict[str, str]) -> None:
    result = call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                  form={"grant_type": "client_credentials", "scope": "hydra.clients"})
    assert result.status == 200
    assert "no-store" in result.headers["cache-control"]
    token = result.json["access_token"]
    introspected = call("POST", "/oauth2/introspect", headers=admin, form={"token": token})
    assert introspected.status == 200 and introspected.json["active"] is True
    assert "no-store" in introspected.headers["cache-control"]
    for failure in (
        call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, "wrong-secret"),
             form={"grant_type": "client_credentials"}),
        call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
             form={"grant_type": "password"}),
    ):
        assert failure.status in (400, 401)
        assert "no-store" in failure.headers["cache-control"]


def test_code_flow_token_and_userinfo_responses_are_never_cached() -> None:
    client_id, secret = make_client()
    verifier, challenge = pkce_pair()
    _, callback = code_flow(client_id, code_challenge=challenge, code_challenge_method="S256")
    assert "no-store" in call("GET", "/oauth2/auth").headers["cache-control"]
    tokens = redeem(client_id, secret, callback["code"], code_verifier=verifier)
    assert tokens.status == 200, tokens.body
    assert "no-store" in tokens.headers["cache-control"]
    refreshed = refresh(client_id, secret, tokens.json["refresh_token"])
    assert refreshed.status == 200 and "no-store" in refreshed.headers["cache-control"]
    info = call("GET", "/userinfo", headers={"Authorization": f"Bearer {refreshed.json['access_token']}"})
    assert info.status == 200 and "no-store" in info.headers["cache-control"]


def test_implicit_and_form_post_responses_carrying_tokens_are_never_cached() -> None:
    client_id, _ = make_client(response_types=["token", "id_token"], grant_types=["implicit"])
    for mode in ("fragment", "form_post"):
        flow = Flow(client_id)
        assert flow.start(response_type="id_token token", response_mode=mode).status == 302
        assert flow.accept().status == 204
        result = flow.back()
        if mode == "fragment":
            assert result.status == 302, result.body
            assert "access_token=hl_at_" in result.headers["location"].partition("#")[2]
        else:
            assert result.status == 200, result.body
            assert 'name="access_token" value="hl_at_' in result.body
        assert "no-store" in result.headers["cache-control"]


def _assert_unframeable(result: Result) -> None:
    assert result.headers["content-type"].startswith("text/html")
    assert result.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in result.headers["content-security-policy"]


def test_html_pages_cannot_be_framed() -> None:
    error_page = call("GET", "/oauth2/auth", query={"client_id": "no-such-client", "response_type": "code",
                                                    "state": "state-0123456789"})
    assert error_page.status >= 400
    _assert_unframeable(error_page)
    client_id, _ = make_client(response_types=["code"])
    _, _ = code_flow(client_id)  # a consent request exists: the form_post page is served on the second leg
    flow = Flow(client_id)
    assert flow.start(response_mode="form_post").status == 302
    assert flow.accept().status == 204
    page = flow.back()
    assert page.status == 200, page.body
    _assert_unframeable(page)
    assert REDIRECT in page.body


# ---------------------------------------------------------------- open redirects

REGISTERED = "https://app.example.com/cb"
ATTEMPTS = [
    "https://app.example.com.evil.example/cb",
    "https://app.example.com@evil.example/cb",
    "https://user:pass@app.example.com/cb",
    "https://evil.example/cb?https://app.example.com/cb",
    "https://evil.example/https://app.example.com/cb",
    "https://app.example.com%2F@evil.example/cb",
    "https://app.example.com%2f%2fevil.example/cb",
    "https://app.example.com/cb/../../evil",
    "https://app.example.com/cb%2F..%2F..%2Fevil",
    "https://app.example.com./cb",
    "https://app.example.com:443/cb",
    "https://APP.EXAMPLE.COM/cb",
    "https://app.example.com/CB",
    "https://app.example.com/cb/",
    "https://app.example.com/cb?next=https://evil.example",
    "https://app.example.com/cb#@evil.example",
    "https://app.example.com/cb%23@evil.example",
    "https://app.example.com\\@evil.example/cb",
    "https:/\\evil.example/cb",
    "//evil.example/cb",
    "/\\evil.example",
    "https://\u0430pp.example.com/cb",  # Cyrillic a
    "https://app.example.com\u3002evil.example/cb",  # ideographic full stop
    "https://app.ex\u0430mple.com/cb",
    "https://xn--pp-8cd.example.com/cb",
    "https://app.example.com/cb\u200b",
    "http://app.example.com/cb",
    "javascript://app.example.com/cb%0aalert(1)",
    "data:text/html,https://app.example.com/cb",
    " https://app.example.com/cb",
    "https://app.example.com/cb\t",
    "https://app.example.com\x00.evil.example/cb",
]


@pytest.fixture(scope="module")
def registered_client() -> str:
    client_id, _ = make_client(redirect_uris=[REGISTERED, "http://127.0.0.1:9999/callback"])
    return client_id


def _consent_host() -> str:
    from hydra_lambda.config import get_settings

    return urlsplit(get_settings().consent_url).netloc


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_unregistered_redirect_uris_are_never_redirected_to(attempt: str, registered_client: str) -> None:
    for method in ("GET", "POST"):
        params = {"client_id": registered_client, "response_type": "code", "redirect_uri": attempt,
                  "scope": "openid", "state": "state-0123456789"}
        if method == "GET":
            result = call("GET", "/oauth2/auth", query=params)
        else:
            result = call("POST", "/oauth2/auth", form=params)
        location = result.headers.get("location")
        if location is None:
            assert result.status == 400, (result.status, result.body)
            _assert_unframeable(result)
            continue
        # The only redirect allowed is to the operator's consent app, with the error.
        parts = urlsplit(location)
        assert parts.netloc == _consent_host() and "error=" in parts.query, location
        assert "evil" not in location.split("?", 1)[0]


MUTATION_CHARS = "/\\@.:%#?&=\u3002\u0430\u200bAa0 \t"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_redirect_uris_are_never_redirected_to(registered_client: str, data: st.DataObject) -> None:
    """Random insertions, deletions and replacements in the registered URI: unless the result is the
    registered URI itself, the browser only ever goes to the consent app or gets an error page."""
    uri = REGISTERED
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        index = data.draw(st.integers(min_value=0, max_value=len(uri)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        char = data.draw(st.sampled_from(MUTATION_CHARS))
        if action == "insert":
            uri = uri[:index] + char + uri[index:]
        elif index < len(uri):
            uri = uri[:index] + (char if action == "replace" else "") + uri[index + 1:]
    result = call("GET", "/oauth2/auth", query={"client_id": registered_client, "response_type": "code",
                                                "redirect_uri": uri, "scope": "openid",
                                                "state": "state-0123456789"})
    location = result.headers.get("location")
    if location is None:
        assert result.status == 400, (uri, result.status)
        return
    assert urlsplit(location).netloc == _consent_host(), (uri, location)
    if uri != REGISTERED:
        assert "error=" in location, (uri, location)


def test_the_registered_redirect_uri_still_works(registered_client: str) -> None:
    result = Flow(registered_client).start(redirect_uri=REGISTERED)
    assert result.status == 302
    assert urlsplit(result.headers["location"]).netloc == _consent_host()
    assert "consent=" in result.headers["location"]


# ---------------------------------------------------------------- nothing secret in the logs


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a broken record must not hide the others
            text = str(record.__dict__)
        self.lines.append(text + " " + json.dumps(record.__dict__, default=str))


@pytest.fixture
def every_log_line() -> Iterator[list[str]]:
    """Every record of every logger at DEBUG (botocore, pynamodb, powertools, ours) while the test runs."""
    capture = _Capture()
    capture.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.addHandler(capture)
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    try:
        yield capture.lines
    finally:
        for lg, level, disabled in saved:
            lg.removeHandler(capture)
            lg.setLevel(level)
            lg.disabled = disabled


def _secret_parts(values: list[str]) -> set[str]:
    """The values themselves and, for opaque tokens, the random key half (the HMAC half is stored)."""
    out = set()
    for value in values:
        if not value:
            continue
        out.add(value)
        match = re.match(r"hl_(?:at|rt|ac)_([A-Za-z0-9_-]{43})\.", value)
        if match:
            out.add(match.group(1))
    return out


def test_no_secret_token_code_or_verifier_appears_in_any_log(every_log_line: list[str]) -> None:
    secrets: list[str] = [ROOT_CLIENT_SECRET]
    # client_credentials, introspection (Bearer and Basic), revocation, a failed login
    token = root_token()
    secrets.append(token)
    plain = call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                 form={"grant_type": "client_credentials", "scope": "hydra.clients"}).json["access_token"]
    secrets.append(plain)
    assert call("POST", "/oauth2/introspect", headers={"Authorization": f"Bearer {token}"},
                form={"token": plain}).json["active"] is True
    assert call("POST", "/oauth2/introspect", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                form={"token": plain}).status == 200
    call("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, "not-the-secret-xyz"),
         form={"grant_type": "client_credentials"})
    secrets.append("not-the-secret-xyz")
    # a client with a supplied secret, then the code flow with PKCE, refresh and userinfo
    created = call("POST", "/clients", headers={"Authorization": f"Bearer {token}"},
                   json_body={"client_secret": "supplied-secret-4242", "redirect_uris": [REDIRECT],
                              "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                              "scope": "openid offline"})
    assert created.status == 201, created.body
    client_id, secret = created.json["id"], "supplied-secret-4242"
    secrets.append(secret)
    verifier, challenge = pkce_pair()
    secrets.append(verifier)
    flow, callback = code_flow(client_id, code_challenge=challenge, code_challenge_method="S256")
    secrets.append(callback["code"])
    secrets.extend(flow.cookies.values())
    redeemed = redeem(client_id, secret, callback["code"], code_verifier=verifier)
    assert redeemed.status == 200, redeemed.body
    secrets.extend([redeemed.json["access_token"], redeemed.json["refresh_token"], redeemed.json["id_token"]])
    refreshed = refresh(client_id, secret, redeemed.json["refresh_token"])
    assert refreshed.status == 200
    secrets.extend([refreshed.json["access_token"], refreshed.json["refresh_token"]])
    assert call("GET", "/userinfo", headers={"Authorization": f"Bearer {refreshed.json['access_token']}"}).status == 200
    # a replayed code and a reused refresh token (the error paths log more)
    assert redeem(client_id, secret, callback["code"], code_verifier=verifier).status == 400
    assert refresh(client_id, secret, redeemed.json["refresh_token"]).status == 400
    assert call("POST", "/oauth2/revoke", headers=basic(client_id, secret),
                form={"token": refreshed.json["refresh_token"]}).status == 200

    assert len(every_log_line) > 10, "the capture saw no logs: it would prove nothing"
    joined = "\n".join(every_log_line)
    leaked = sorted(s[:12] + "..." for s in _secret_parts(secrets) if len(s) >= 8 and s in joined)
    assert not leaked, f"secrets in logs: {leaked}"



# ---------------------------------------------------------------- CORS


@pytest.fixture
def cors_everywhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from hydra_lambda.config import reset_settings

    origin = "https://spa.example.com"
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", f"{origin},*")
    reset_settings()
    yield origin
    monkeypatch.undo()
    reset_settings()


def test_the_authorize_endpoint_never_answers_cross_origin_requests(cors_everywhere: str) -> None:
    client_id, _ = make_client()
    headers = {"Origin": cors_everywhere}
    query = {"client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid",
             "state": "state-0123456789"}
    for result in (call("GET", "/oauth2/auth", query=query, headers=headers),
                   call("POST", "/oauth2/auth", form=query, headers=headers),
                   call("OPTIONS", "/oauth2/auth", headers={**headers, "Access-Control-Request-Method": "POST"}),
                   call("GET", "/oauth2/auth", query={"client_id": "unknown"}, headers=headers)):
        assert not any(name.startswith("access-control-") for name in result.headers), result.headers
