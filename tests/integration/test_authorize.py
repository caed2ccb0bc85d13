"""``/oauth2/auth``: validation order, error pages before a trusted redirect URI, error redirects
after it, the first leg (consent request + CSRF cookie) and the checks of the second leg."""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hydra_lambda import clock
from hydra_lambda.config import reset_settings

from tests.support import call
from tests.support_flows import NONCE, REDIRECT, STATE, Flow, fragment, make_client, pkce_pair, qs

ISSUER = "http://127.0.0.1:4444"


def _tokens_of_client(client_id: str) -> int:
    from hydra_lambda.storage.tables import TokenRecord

    return sum(1 for _ in TokenRecord.scan(TokenRecord.client_id == client_id, consistent_read=True))


def _assert_error_page(result: object, status: int = 400) -> None:
    assert result.status == status, result.body
    assert "location" not in result.headers
    assert result.headers["content-type"].startswith("text/html")


@pytest.fixture
def consent_url_with_query() -> Iterator[str]:
    saved = os.environ.get("CONSENT_URL")
    os.environ["CONSENT_URL"] = "https://consent.example.com/login?tenant=acme"
    reset_settings()
    yield os.environ["CONSENT_URL"]
    os.environ["CONSENT_URL"] = saved or ""
    reset_settings()


# ------------------------------------------------------------------------------- first leg


def test_first_leg_redirects_to_the_consent_app_and_sets_the_csrf_cookie() -> None:
    client_id, _ = make_client()
    flow = Flow(client_id)
    result = flow.start()
    assert result.status == 302
    location = result.headers["location"]
    assert location.startswith("http://127.0.0.1:3000/consent?consent=")
    (cookie,) = result.cookies
    assert cookie.startswith(f"hl_consent_{flow.consent_id}=")
    attributes = {part.strip().split("=")[0] for part in cookie.split(";")[1:]}
    assert {"Path", "HttpOnly", "SameSite", "Max-Age"} <= attributes
    assert "Path=/oauth2/auth" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in attributes  # plain-http loopback issuer in tests
    assert result.headers["cache-control"] == "no-store"


def test_csrf_cookie_is_secure_off_loopback() -> None:
    saved = os.environ["ISSUER"]
    os.environ["ISSUER"] = "https://auth.example.com"
    reset_settings()
    try:
        client_id, _ = make_client()
        result = Flow(client_id).start()
        assert result.status == 302
        (cookie,) = result.cookies
        assert "; Secure" in cookie and "HttpOnly" in cookie
    finally:
        os.environ["ISSUER"] = saved
        reset_settings()


def test_consent_url_query_is_kept(consent_url_with_query: str) -> None:
    client_id, _ = make_client()
    result = Flow(client_id).start()
    assert result.status == 302
    location = result.headers["location"]
    assert location.startswith("https://consent.example.com/login?tenant=acme&consent=")


def test_post_is_accepted_like_get() -> None:
    client_id, _ = make_client()
    result = call("POST", "/oauth2/auth", form={"client_id": client_id, "response_type": "code",
                                                "redirect_uri": REDIRECT, "scope": "openid", "state": STATE})
    assert result.status == 302
    assert "consent=" in result.headers["location"]


def test_post_must_be_a_form() -> None:
    """OpenID Connect Core 3.1.2.1: a POST authorization request is form-serialized. A body of another
    media type is refused with an error page (never read as a form, never a redirect)."""
    client_id, _ = make_client()
    params = {"client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid",
              "state": STATE}
    as_json = call("POST", "/oauth2/auth", headers={"content-type": "application/json"},
                   body="&".join(f"{k}={v}" for k, v in params.items()))
    _assert_error_page(as_json)
    assert "application/x-www-form-urlencoded" in as_json.body
    untyped = call("POST", "/oauth2/auth", body="&".join(f"{k}={v}" for k, v in params.items()))
    _assert_error_page(untyped)
    typed = call("POST", "/oauth2/auth", headers={"content-type": "application/x-www-form-urlencoded; charset=UTF-8"},
                 body="&".join(f"{k}={v}" for k, v in params.items()))
    assert typed.status == 302, typed.body


def test_redirect_uri_may_be_omitted_only_with_a_single_registered_uri() -> None:
    single, _ = make_client()
    assert Flow(single).start(redirect_uri=None).status == 302
    several, _ = make_client(redirect_uris=[REDIRECT, "http://127.0.0.1:9999/other"])
    _assert_error_page(Flow(several).start(redirect_uri=None))


# ------------------------------------------------------------------- errors without redirect


def test_unknown_or_missing_client_renders_a_page_never_a_redirect() -> None:
    _assert_error_page(Flow("no-such-client").start())
    _assert_error_page(call("GET", "/oauth2/auth", query={"response_type": "code", "redirect_uri": REDIRECT}))


def test_error_pages_use_the_consent_apps_layout_and_style() -> None:
    from hydra_lambda_local.consent_app import message_page

    def style(page: str) -> str:
        return page.split("<style>", 1)[1].split("</style>", 1)[0]

    page = Flow("<script>alert(1)</script>").start()
    _assert_error_page(page)
    assert style(page.body) == style(message_page("Not found", "x"))  # one template, one style
    assert "<main>\n<h1>The authorization request cannot be completed</h1>" in page.body
    assert "<script>" not in page.body and "default serif" not in page.body
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:9999/callback/evil",
        "http://127.0.0.1:9999/CALLBACK",
        "http://127.0.0.1:9999/callback?x=1",
        "http://127.0.0.1:9999/callback#frag",
        "https://evil.example.com/callback",
    ],
)
def test_redirect_uri_mismatch_never_redirects(uri: str) -> None:
    client_id, _ = make_client()
    result = Flow(client_id).start(redirect_uri=uri)
    _assert_error_page(result)
    assert html.escape(uri) not in result.body  # not even a link to follow
    assert result.cookies == []  # and no consent request was started


def test_duplicate_parameters_render_a_page() -> None:
    client_id, _ = make_client()
    query = f"client_id={client_id}&client_id={client_id}&response_type=code&state={STATE}"
    _assert_error_page(call("GET", "/oauth2/auth", query=query))


# ------------------------------------------------------------------- errors with redirect


@pytest.mark.parametrize(
    ("params", "client_fields", "error"),
    [
        ({"state": "short"}, {}, "invalid_request"),
        ({"response_type": None}, {}, "invalid_request"),
        ({"response_type": "code bogus"}, {}, "unsupported_response_type"),
        ({"response_type": "token"}, {}, "unsupported_response_type"),
        ({"scope": "openid hydra.clients"}, {}, "invalid_scope"),
        ({"prompt": "none"}, {}, "login_required"),
        ({"prompt": "none login"}, {}, "invalid_request"),
        ({"max_age": "-1"}, {}, "invalid_request"),
        ({"response_mode": "bogus"}, {}, "invalid_request"),
        ({"code_challenge": "short"}, {}, "invalid_request"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "S512"}, {}, "invalid_request"),
        ({}, {"public": True}, "invalid_request"),  # public clients must use PKCE
        ({}, {"grant_types": ["client_credentials"]}, "unauthorized_client"),
    ],
)
def test_invalid_requests_redirect_with_error_state_and_iss(
    params: dict[str, str | None], client_fields: dict[str, object], error: str
) -> None:
    client_id, _ = make_client(**client_fields)
    result = Flow(client_id).start(**params)
    assert result.status == 302, result.body
    location = result.headers["location"]
    assert location.startswith(REDIRECT)
    got = fragment(location) if "token" in (params.get("response_type") or "") else qs(location)
    assert got["error"] == error, got
    assert got["error_description"]
    assert got["iss"] == ISSUER
    if len(params.get("state") or STATE) >= 8:
        assert got["state"] == STATE
    assert "consent=" not in location


def test_token_response_types_report_errors_in_the_fragment() -> None:
    client_id, _ = make_client(response_types=["token"], grant_types=["implicit"])
    result = Flow(client_id).start(response_type="token", scope="openid hydra.clients")
    got = fragment(result.headers["location"])
    assert got["error"] == "invalid_scope"
    assert got["state"] == STATE


def test_query_mode_is_refused_for_tokens() -> None:
    client_id, _ = make_client(response_types=["token"], grant_types=["implicit"])
    result = Flow(client_id).start(response_type="token", response_mode="query")
    assert qs(result.headers["location"])["error"] == "invalid_request"  # the error carries no token


def test_id_token_needs_openid_and_a_nonce() -> None:
    client_id, _ = make_client(response_types=["id_token"], grant_types=["implicit"])
    result = Flow(client_id).start(response_type="id_token", nonce=None)
    assert fragment(result.headers["location"])["error"] == "invalid_request"
    result = Flow(client_id).start(response_type="id_token", scope="profile")
    assert fragment(result.headers["location"])["error"] == "invalid_request"


# ------------------------------------------------------------------------------ second leg


def _accepted(**client_fields: object) -> Flow:
    client_id, _ = make_client(**client_fields)
    flow = Flow(client_id)
    assert flow.start().status == 302
    assert flow.accept().status == 204
    return flow


def test_accepted_request_yields_a_code_once() -> None:
    flow = _accepted()
    redirect_url = flow.consent_request()["redirectUrl"]
    cookies = dict(flow.cookies)
    result = flow.get(redirect_url)
    assert result.status == 302
    got = qs(result.headers["location"])
    assert got["code"].startswith("hl_ac_")
    assert got["state"] == STATE and got["iss"] == ISSUER and got["scope"] == "openid offline"
    assert any("Max-Age=0" in c for c in result.cookies)  # the CSRF cookie is cleared
    flow.cookies = cookies  # even with the cookie kept, a replay issues nothing
    replay = flow.get(redirect_url)
    assert qs(replay.headers["location"])["error"] == "invalid_request"
    assert _tokens_of_client(flow.client_id) == 1


def test_rejection_redirects_with_access_denied_and_the_reason() -> None:
    client_id, _ = make_client()
    flow = Flow(client_id)
    flow.start()
    assert flow.reject("The user said no").status == 204
    got = qs(flow.back().headers["location"])
    assert got["error"] == "access_denied"
    assert got["error_description"] == "The user said no"
    assert got["state"] == STATE and got["iss"] == ISSUER
    assert _tokens_of_client(client_id) == 0


def test_unanswered_request_is_denied() -> None:
    client_id, _ = make_client()
    flow = Flow(client_id)
    flow.start()
    got = qs(flow.back().headers["location"])
    assert got["error"] == "access_denied"
    assert _tokens_of_client(client_id) == 0


def test_expired_consent_fails_without_issuing() -> None:
    flow = _accepted()
    redirect_url = flow.consent_request()["redirectUrl"]
    clock.advance(601)
    got = qs(flow.get(redirect_url).headers["location"])
    assert got["error"] == "invalid_request"
    assert "expired" in got["error_description"]
    assert _tokens_of_client(flow.client_id) == 0


@pytest.mark.parametrize("tamper", ["no-cookie", "wrong-cookie", "wrong-verifier", "no-verifier"])
def test_binding_mismatch_fails_without_issuing(tamper: str) -> None:
    flow = _accepted()
    redirect_url = flow.consent_request()["redirectUrl"]
    name = f"hl_consent_{flow.consent_id}"
    verifier = qs(redirect_url)["consent_verifier"]
    if tamper == "no-cookie":
        flow.cookies.clear()
    elif tamper == "wrong-cookie":
        flow.cookies[name] = "x" * 43
    elif tamper == "wrong-verifier":
        redirect_url = redirect_url.replace(verifier, "y" * len(verifier))
    else:
        redirect_url = redirect_url.replace(f"&consent_verifier={verifier}", "")
    got = qs(flow.get(redirect_url).headers["location"])
    assert got["error"] == "invalid_request"
    assert _tokens_of_client(flow.client_id) == 0
    from hydra_lambda.storage import consent as store

    # A real verifier without the browser's cookie spends the request; a wrong verifier changes nothing.
    spent = tamper in ("no-cookie", "wrong-cookie")
    assert store.get(flow.consent_id).state == (store.USED if spent else store.ACCEPTED)


def test_consent_of_another_client_is_refused() -> None:
    flow = _accepted()
    other_id, _ = make_client()
    redirect_url = flow.consent_request()["redirectUrl"].replace(flow.client_id, other_id)
    got = qs(flow.get(redirect_url).headers["location"])
    assert got["error"] == "invalid_request"
    assert "another client" in got["error_description"]
    assert _tokens_of_client(flow.client_id) == 0 and _tokens_of_client(other_id) == 0


def test_changing_the_request_after_consent_is_refused() -> None:
    flow = _accepted()
    redirect_url = flow.consent_request()["redirectUrl"].replace("scope=openid+offline", "scope=openid+offline+email")
    got = qs(flow.get(redirect_url).headers["location"])
    assert got["error"] == "invalid_request"
    assert _tokens_of_client(flow.client_id) == 0


# ------------------------------------------------------------------ implicit, hybrid, form_post


def _claims(id_token: str) -> dict[str, object]:
    from jose import jwt

    return jwt.get_unverified_claims(id_token)


def test_implicit_token_and_id_token_in_the_fragment() -> None:
    from hydra_lambda.tokens.id_tokens import half_hash

    client_id, _ = make_client(response_types=["token", "id_token"], grant_types=["implicit"])
    flow = Flow(client_id)
    flow.start(response_type="id_token token")
    flow.accept()
    result = flow.back()
    location = result.headers["location"]
    assert "?" not in location.split("#")[0]
    got = fragment(location)
    assert got["access_token"].startswith("hl_at_") and got["token_type"] == "bearer"
    assert "refresh_token" not in got and "code" not in got
    claims = _claims(got["id_token"])
    assert claims["nonce"] == NONCE and claims["aud"] == client_id and claims["sub"] == "alice"
    assert claims["at_hash"] == half_hash(got["access_token"], "RS256")
    assert got["state"] == STATE and got["iss"] == ISSUER


def test_hybrid_code_id_token_carries_c_hash() -> None:
    from hydra_lambda.tokens.id_tokens import half_hash

    client_id, _ = make_client(response_types=["code", "id_token"], grant_types=["authorization_code", "implicit"])
    flow = Flow(client_id)
    flow.start(response_type="code id_token")
    flow.accept()
    got = fragment(flow.back().headers["location"])
    assert _claims(got["id_token"])["c_hash"] == half_hash(got["code"], "RS256")


def test_form_post_renders_an_auto_submitting_form() -> None:
    client_id, _ = make_client()
    _verifier, challenge = pkce_pair()
    flow = Flow(client_id)
    flow.start(response_mode="form_post", code_challenge=challenge, code_challenge_method="S256")
    flow.accept()
    result = flow.back()
    assert result.status == 200
    assert result.headers["content-type"].startswith("text/html")
    assert f'action="{REDIRECT}"' in result.body
    assert 'name="code" value="hl_ac_' in result.body
    assert "script-src 'sha256-" in result.headers["content-security-policy"]
    assert urlsplit(REDIRECT).path in result.body


def test_a_link_naming_someone_elses_consent_does_not_clear_their_cookie() -> None:
    """Someone who knows only a victim's consent id (it sits in the consent app's URL) and gets the
    victim's browser to open a second-leg link of their own must not end the victim's flow: the
    binding cookie is cleared only for a browser that proved the flow is its own."""
    from tests.support_flows import STATE

    victim_client, _ = make_client()
    attacker_client, _ = make_client()
    victim = Flow(victim_client)
    victim.start()
    assert victim.accept().status == 204
    cookie = f"hl_consent_{victim.consent_id}"
    assert cookie in victim.cookies
    link = (f"/oauth2/auth?client_id={attacker_client}&redirect_uri={REDIRECT}&response_type=code&scope=openid"
            f"&state={STATE}&consent={victim.consent_id}")
    refused = victim.get(link)
    assert refused.status in (302, 303) and "error=" in refused.headers["location"], refused.headers
    assert cookie in victim.cookies, refused.cookies
    back = victim.back()
    assert "code=" in back.headers["location"], back.headers


@pytest.mark.parametrize(("name", "error"), [("request", "invalid_request_object"),
                                             ("request_uri", "invalid_request_uri")])
def test_request_objects_the_client_may_not_use_are_refused_with_their_own_error(name: str, error: str) -> None:
    """OpenID Connect Core 6.1/6.2 (issue 25 item 3, tests/integration/test_request_objects.py): an
    unsigned object from a client that did not register ``none``, a request_uri it did not register."""
    client_id, _ = make_client()
    value = "eyJhbGciOiJub25lIn0.e30." if name == "request" else "https://rp.example.com/request.jwt"
    result = Flow(client_id).start(**{name: value})
    assert result.status in (302, 303), result.body
    query = qs(result.headers["location"])
    assert query["error"] == error and query["state"] == STATE, query
