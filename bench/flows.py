"""The set-up a benchmark needs, done through the handlers themselves: the root client's admin token,
benchmark clients created with ``POST /clients``, access tokens, and authorization codes from the
full browser flow (authorize, consent accept, authorize again), leg by leg for the browser login item."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from bench.api import Api, Prepared, Result, Unavailable, basic, bearer
from bench.common import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET

ADMIN_SCOPES = "hydra.clients hydra.consent hydra.introspect hydra.oauth2.flush hydra.warden"
REDIRECT_URI = "http://127.0.0.1:5555/callback"
CC_FORM = {"grant_type": "client_credentials", "scope": "read"}


@dataclass
class BenchClient:
    id: str
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        return basic(self.id, self.secret)


def ensure_root_client() -> str:
    """Create the root client (FORCE_ROOT_CLIENT_CREDENTIALS) if the bootstrap exists yet."""
    try:
        from hydra_lambda import bootstrap  # type: ignore[attr-defined]
    except ImportError:
        return "hydra_lambda.bootstrap is not there yet (the root client comes from the first request)"
    bootstrap.ensure_root_client()
    return ""


def admin_token(api: Api) -> str:
    root = basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)
    last: Result | None = None
    for scope in (ADMIN_SCOPES, "hydra.*", None):
        form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
        last = api.call("POST", "/oauth2/token", headers=root, form=form)
        if last.status == 200:
            return str(last.json["access_token"])
    assert last is not None
    raise Unavailable(f"the root client gets no admin token: POST /oauth2/token answered {last.status}: "
                      f"{last.body[:200]}")


def create_client(api: Api, token: str, name: str) -> BenchClient:
    body = {
        "id": f"bench-{name}-{secrets.token_hex(6)}",  # the benchmark's introspection policy matches bench-*
        "client_name": name,
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT_URI],
        "scope": "openid offline offline_access read write",
    }
    result = api.expect((200, 201), "POST", "/clients", headers=bearer(token), json_body=body)
    data = result.json
    return BenchClient(str(data.get("id") or data["client_id"]), str(data["client_secret"]))


def cc_token(api: Api, client: BenchClient) -> str:
    result = api.expect(200, "POST", "/oauth2/token", headers=client.auth, form=CC_FORM)
    return str(result.json["access_token"])


def _cookie_pairs(result: Result) -> list[str]:
    raw = list(result.cookies)
    if not raw and result.headers.get("set-cookie"):
        raw = [result.headers["set-cookie"]]
    return [c.split(";", 1)[0].strip() for c in raw if "=" in c.split(";", 1)[0]]


def _path_and_query(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path, parts.query


# The legs of a browser login, in order: the browser at /oauth2/auth, the consent app reading the
# consent request and accepting it (the consent request API, with its admin token), the browser
# redirected back to /oauth2/auth, and the client exchanging the code.
LOGIN_LEGS = ("authorize", "consent_get", "consent_accept", "authorize_back", "code_exchange")
LegRunner = Callable[[str, Prepared], Result]


def _untimed(_leg: str, prepared: Prepared) -> Result:
    return Api.run(prepared)


def _checked(result: Result, wanted: tuple[int, ...], what: str) -> Result:
    if result.status not in wanted:
        raise Unavailable(f"{what} answered {result.status}: {result.body[:200]}")
    return result


def browser_login(api: Api, client: BenchClient, admin: str, run: LegRunner = _untimed,
                  exchange: bool = True) -> dict[str, Any]:
    """One browser login for ``openid offline``, leg by leg (``LOGIN_LEGS``). Each leg's event is
    built before ``run(leg, prepared)`` serves it, so a caller can time and count the handler alone.
    Returns the code and, with ``exchange``, the token response."""
    query = {
        "client_id": client.id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid offline",
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
    }
    first = _checked(run("authorize", api.prepare("GET", "/oauth2/auth", query=urlencode(query))), (302, 303),
                     "GET /oauth2/auth")
    cookies = _cookie_pairs(first)
    location = first.headers.get("location", "")
    consent_id = (parse_qs(urlsplit(location).query).get("consent") or [""])[0]
    if not consent_id:
        raise Unavailable(f"/oauth2/auth did not send the browser to the consent app: {location[:200]}")
    consent_path = f"/oauth2/consent/requests/{consent_id}"
    request = _checked(run("consent_get", api.prepare("GET", consent_path, headers=bearer(admin))), (200,),
                       f"GET {consent_path}").json
    accept = {"subject": "bench-user", "grantScopes": ["openid", "offline"]}
    _checked(run("consent_accept", api.prepare("PATCH", f"{consent_path}/accept", headers=bearer(admin),
                                               json_body=accept)), (200, 204), f"PATCH {consent_path}/accept")
    path, back_query = _path_and_query(str(request["redirectUrl"]))
    second = _checked(run("authorize_back", api.prepare("GET", path, query=back_query, cookies=cookies)), (302, 303),
                      "GET /oauth2/auth (back from consent)")
    code = (parse_qs(urlsplit(second.headers.get("location", "")).query).get("code") or [""])[0]
    if not code:
        raise Unavailable(f"the second /oauth2/auth leg gave no code: {second.headers.get('location', '')[:200]}")
    if not exchange:
        return {"code": code}
    tokens = _checked(run("code_exchange", api.prepare("POST", "/oauth2/token", headers=client.auth,
                                                       form=code_form(code))), (200,), "POST /oauth2/token (code)")
    return {"code": code, "tokens": tokens.json}


def authorization_code(api: Api, client: BenchClient, admin: str) -> str:
    """A fresh authorization code for ``openid offline``, through the whole consent flow."""
    return str(browser_login(api, client, admin, exchange=False)["code"])


def code_form(code: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}


def exchange(api: Api, client: BenchClient, code: str) -> dict[str, Any]:
    return dict(api.expect(200, "POST", "/oauth2/token", headers=client.auth, form=code_form(code)).json)


def refresh_form(token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": token}


# The current login/consent flow (URLS_LOGIN, URLS_CONSENT): the browser at /oauth2/auth, the login
# app reading and accepting the login request, the browser back at /oauth2/auth (the login verifier
# leg), the consent app reading and accepting the consent request, the browser back again, and the
# code exchange. A silent renew (prompt=none with the login session and a remembered consent) takes
# the same legs: Hydra's apps are still asked, and answer without UI (skip).
CURRENT_LEGS = ("authorize", "login_get", "login_accept", "authorize_login", "consent_get", "consent_accept",
                "authorize_back", "code_exchange")
FLOW_ADMIN = "/admin/oauth2/auth/requests"


def _next(result: Result, param: str, what: str) -> str:
    location = result.headers.get("location", "")
    value = (parse_qs(urlsplit(location).query).get(param) or [""])[0]
    if not value:
        raise Unavailable(f"{what} did not send the browser on with {param}: {location[:200]}")
    return value


def _keep(jar: dict[str, str], result: Result) -> None:
    for pair in _cookie_pairs(result):
        name, _, value = pair.partition("=")
        if value:
            jar[name] = value
        else:
            jar.pop(name, None)


def current_login(api: Api, client: BenchClient, admin: str, jar: dict[str, str], run: LegRunner = _untimed,
                  silent: bool = False) -> dict[str, Any]:
    """One authorization in the current flow for ``openid offline``, leg by leg (``CURRENT_LEGS``),
    the browser's cookies in ``jar`` (kept across calls: the login session). ``silent``: prompt=none,
    which needs the session and a remembered consent. Returns the token response."""
    query = {"client_id": client.id, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": "openid offline",
             "state": secrets.token_urlsafe(12), "nonce": secrets.token_urlsafe(12)} | (
        {"prompt": "none"} if silent else {})
    cookies = lambda: [f"{name}={value}" for name, value in jar.items()]  # noqa: E731
    first = _checked(run("authorize", api.prepare("GET", "/oauth2/auth", query=urlencode(query), cookies=cookies())),
                     (302, 303), "GET /oauth2/auth")
    _keep(jar, first)
    challenge = _next(first, "login_challenge", "GET /oauth2/auth")
    admin_headers = bearer(admin)
    login = _checked(run("login_get", api.prepare("GET", f"{FLOW_ADMIN}/login", query={"login_challenge": challenge},
                                                  headers=admin_headers)), (200,), "GET the login request").json
    accept = {"subject": login["subject"] or "bench-user", "remember": True, "remember_for": 3600}
    to = _checked(run("login_accept", api.prepare("PUT", f"{FLOW_ADMIN}/login/accept", headers=admin_headers,
                                                  query={"login_challenge": challenge}, json_body=accept)),
                  (200,), "PUT the login acceptance").json["redirect_to"]
    path, back = _path_and_query(to)
    second = _checked(run("authorize_login", api.prepare("GET", path, query=back, cookies=cookies())), (302, 303),
                      "GET /oauth2/auth (back from login)")
    _keep(jar, second)
    consent_challenge = _next(second, "consent_challenge", "the login verifier leg")
    _checked(run("consent_get", api.prepare("GET", f"{FLOW_ADMIN}/consent", headers=admin_headers,
                                            query={"consent_challenge": consent_challenge})), (200,),
             "GET the consent request")
    grant = {"grant_scope": ["openid", "offline"], "remember": True, "remember_for": 3600}
    to = _checked(run("consent_accept", api.prepare("PUT", f"{FLOW_ADMIN}/consent/accept", headers=admin_headers,
                                                    query={"consent_challenge": consent_challenge}, json_body=grant)),
                  (200,), "PUT the consent acceptance").json["redirect_to"]
    path, back = _path_and_query(to)
    third = _checked(run("authorize_back", api.prepare("GET", path, query=back, cookies=cookies())), (302, 303),
                     "GET /oauth2/auth (back from consent)")
    _keep(jar, third)
    code = _next(third, "code", "the second /oauth2/auth leg")
    tokens = _checked(run("code_exchange", api.prepare("POST", "/oauth2/token", headers=client.auth,
                                                       form=code_form(code))), (200,), "POST /oauth2/token (code)")
    return {"code": code, "tokens": tokens.json}
