"""``/oauth2/auth`` (RFC 6749 section 4, OpenID Connect Core 3): validate, send the browser to the
consent app (first leg), then, when it comes back with ``consent``, ``consent_verifier`` and the
browser's cookie, redeem the answered consent request once and issue a code or tokens (second leg).

Until the client and its redirect URI are known to be genuine, errors render a small page here and
never redirect; after that they redirect to the client with ``error``, ``error_description``,
``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from hydra_lambda import clock, issuer, scopes
from hydra_lambda.clients import Client
from hydra_lambda.config import get_settings
from hydra_lambda.domain import CodeBinding, IdentityContext
from hydra_lambda.errors import (
    AccessDenied,
    HydraError,
    InvalidRequest,
    InvalidScope,
    LoginRequired,
    OAuth2Error,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from hydra_lambda.http.responses import html_page, redirect

RESPONSE_TYPES = frozenset({"code", "token", "id_token"})
RESPONSE_MODES = frozenset({"query", "fragment", "form_post"})
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
MIN_STATE = 8  # as classic Hydra
MAX_PARAM = 2048
COOKIE_PREFIX = "hl_consent_"
COOKIE_PATH = "/oauth2/auth"
_AUTO_SUBMIT = "document.forms[0].submit()"
_AUTO_SUBMIT_HASH = base64.b64encode(hashlib.sha256(_AUTO_SUBMIT.encode()).digest()).decode()


class UntrustedRedirect(Exception):
    """An error found before the client and redirect URI are known to be genuine: never redirect."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated authorization request; stored whole in the consent request."""

    client_id: str
    redirect_uri: str
    redirect_uri_sent: bool
    response_types: tuple[str, ...]
    response_mode: str
    scopes: tuple[str, ...]
    state: str
    nonce: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""
    max_age: int | None = None
    acr_values: str = ""
    prompt: str = ""
    login_hint: str = ""
    ui_locales: str = ""
    id_token_hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["response_types"] = list(self.response_types)
        out["scopes"] = list(self.scopes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuthorizeRequest:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["response_types"] = tuple(values.get("response_types") or ())
        values["scopes"] = tuple(values.get("scopes") or ())
        if values.get("max_age") is not None:
            values["max_age"] = int(values["max_age"])
        return cls(**values)

    @property
    def default_mode(self) -> str:
        return "query" if self.response_types == ("code",) else "fragment"


# ---------------------------------------------------------------------------------------------
# Entry point


def handle(method: str, raw_query: str, body: str | bytes | None, cookies: dict[str, str]) -> Response:
    """The whole endpoint: the response to send (a redirect, an error page or a form_post page)."""
    from hydra_lambda.http.forms import parse_urlencoded

    try:
        params = parse_urlencoded(body if method == "POST" and body else raw_query)
        _refuse_control_characters(params)
        client, redirect_uri, sent = _trusted_redirect(params)
    except (UntrustedRedirect, HydraError) as exc:
        return _error_page(exc)
    mode = _mode_for_errors(params)
    second_leg = bool({"consent", "consent_verifier", "consent_csrf"} & params.keys())
    try:
        request = validate(params, client, redirect_uri, sent)
        if second_leg:
            return _second_leg(request, client, params, cookies)
        original_query = raw_query if method != "POST" or not body else urlencode(params)
        return _first_leg(request, original_query)
    except OAuth2Error as exc:
        clear = [_clear_cookie(params.get("consent", ""))] if second_leg else None
        return _error_redirect(redirect_uri, mode, exc, params.get("state", ""), cookies=clear)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _refuse_control_characters(params: dict[str, str]) -> None:
    """No parameter of an authorization request has a use for line breaks or control characters;
    refusing them up front (a 400 page, no redirect) keeps them out of every header and page."""
    for key, value in params.items():
        if _CONTROL.search(key) or _CONTROL.search(value):
            raise InvalidRequest(f"The parameter '{key[:40]}' contains control characters.")


def _error_page(exc: Exception) -> Response:
    if isinstance(exc, UntrustedRedirect):
        error, description = exc.error, exc.description
    elif isinstance(exc, OAuth2Error):
        error, description = exc.error, exc.description
    else:
        error, description = "invalid_request", str(exc)
    return html_page(
        400,
        "The authorization request cannot be completed",
        [description, f"Error: {error}. The application that sent you here is misconfigured or the link is "
                      "broken; you were not redirected back to it."],
    )


# ---------------------------------------------------------------------------------------------
# Validation


def _trusted_redirect(params: dict[str, str]) -> tuple[Client, str, bool]:
    from hydra_lambda.clients import get_client

    client_id = params.get("client_id", "")
    if not client_id:
        raise UntrustedRedirect("invalid_request", "The client_id parameter is missing.")
    client = get_client(client_id) if len(client_id) <= 255 else None
    if client is None:
        raise UntrustedRedirect("invalid_client", "The client does not exist.")
    uri = params.get("redirect_uri", "")
    if not uri:
        if len(client.redirect_uris) != 1:
            raise UntrustedRedirect(
                "invalid_request",
                "The redirect_uri parameter is required: the client has "
                f"{'no' if not client.redirect_uris else 'several'} registered redirect URIs.",
            )
        return client, client.redirect_uris[0], False
    if "#" in uri or not client.has_redirect_uri(uri):
        raise UntrustedRedirect(
            "invalid_request", "The redirect_uri does not exactly match a redirect URI registered for the client."
        )
    return client, uri, True


def _mode_for_errors(params: dict[str, str]) -> str:
    mode = params.get("response_mode", "")
    if mode in RESPONSE_MODES:
        return mode
    types = set(params.get("response_type", "").split())
    return "fragment" if types & {"token", "id_token"} else "query"


def _check_length(params: dict[str, str], *names: str) -> None:
    for name in names:
        if len(params.get(name, "")) > MAX_PARAM:
            raise InvalidRequest(f"The {name} parameter is longer than {MAX_PARAM} characters.")


def _response_types(params: dict[str, str], client: Client) -> tuple[str, ...]:
    raw = params.get("response_type", "")
    parts = sorted(set(raw.split()))
    if not parts:
        raise InvalidRequest("The response_type parameter is missing.")
    unknown = [part for part in parts if part not in RESPONSE_TYPES]
    if unknown:
        raise UnsupportedResponseType(f"The response type '{unknown[0][:40]}' is not supported.")
    if not client.has_response_type(" ".join(parts)):
        raise UnsupportedResponseType(f"The client is not allowed the response type '{' '.join(parts)}'.")
    if "code" in parts and not client.has_grant_type("authorization_code"):
        raise UnauthorizedClient("The client is not allowed the authorization_code grant.")
    if set(parts) & {"token", "id_token"} and not client.has_grant_type("implicit"):
        raise UnauthorizedClient("Token responses from /oauth2/auth need the client's implicit grant type.")
    return tuple(parts)


def _scopes(params: dict[str, str], client: Client) -> tuple[str, ...]:
    try:
        requested = scopes.parse_scope(params.get("scope"))
    except ValueError as exc:
        raise InvalidScope(f"The scope parameter is malformed: {exc}.") from None
    denied = [scope for scope in requested if not client.allows_scopes([scope])]
    if denied:
        raise InvalidScope(f"The client is not allowed to request scope '{denied[0][:80]}'.")
    return tuple(requested)


def _prompt_and_max_age(params: dict[str, str]) -> int | None:
    prompt = set(params.get("prompt", "").split())
    if prompt - PROMPTS:
        raise InvalidRequest("prompt must be a combination of none, login, consent and select_account.")
    if "none" in prompt:
        if len(prompt) > 1:
            raise InvalidRequest("prompt=none cannot be combined with other values.")
        raise LoginRequired()
    raw = params.get("max_age", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequest("max_age must be a non-negative whole number of seconds.")
    return int(raw)


def validate(params: dict[str, str], client: Client, redirect_uri: str, sent: bool) -> AuthorizeRequest:
    """Every check of the authorization request, in order; raises an OAuth2Error to redirect with."""
    from hydra_lambda import pkce

    _check_length(params, "state", "nonce", "acr_values", "code_challenge", "login_hint", "ui_locales",
                  "id_token_hint")
    response_types = _response_types(params, client)
    mode = params.get("response_mode", "")
    if mode and mode not in RESPONSE_MODES:
        raise InvalidRequest("response_mode must be query, fragment or form_post.")
    if mode == "query" and response_types != ("code",):
        raise InvalidRequest("Tokens are never sent in the query: use response_mode fragment or form_post.")
    state = params.get("state", "")
    if len(state) < MIN_STATE:
        raise InvalidRequest(f"The state parameter must be at least {MIN_STATE} characters long.")
    requested = _scopes(params, client)
    nonce = params.get("nonce", "")
    if "id_token" in response_types:
        if "openid" not in requested:
            raise InvalidRequest("The id_token response type requires the openid scope.")
        if not nonce:
            raise InvalidRequest("The nonce parameter is required when an ID token is returned from /oauth2/auth.")
    challenge, method = pkce.validate_challenge(params.get("code_challenge", ""),
                                                params.get("code_challenge_method", ""))
    if client.public and "code" in response_types and not challenge:
        raise InvalidRequest("Public clients must use PKCE: code_challenge is required.")
    max_age = _prompt_and_max_age(params)
    return AuthorizeRequest(
        client_id=client.id,
        redirect_uri=redirect_uri,
        redirect_uri_sent=sent,
        response_types=response_types,
        response_mode=mode or ("query" if response_types == ("code",) else "fragment"),
        scopes=requested,
        state=state,
        nonce=nonce,
        code_challenge=challenge,
        code_challenge_method=method,
        max_age=max_age,
        acr_values=params.get("acr_values", ""),
        prompt=" ".join(params.get("prompt", "").split()),
        login_hint=params.get("login_hint", ""),
        ui_locales=params.get("ui_locales", ""),
        id_token_hint=params.get("id_token_hint", ""),
    )


# ---------------------------------------------------------------------------------------------
# First leg


def _is_plain_http_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in {"localhost", "127.0.0.1", "::1"}


def _csrf_cookie(consent_id: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        name=COOKIE_PREFIX + consent_id,
        value=value,
        path=COOKIE_PATH,
        secure=not _is_plain_http_loopback(get_settings().issuer),
        http_only=True,
        same_site=SameSite.LAX_MODE,
        max_age=max_age,
    )


def _clear_cookie(consent_id: str) -> Cookie:
    safe_id = consent_id if consent_id.isalnum() and len(consent_id) <= 64 else "invalid"
    return _csrf_cookie(safe_id, "", 0)


def _with_query(url: str, params: dict[str, str]) -> str:
    sep = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{sep}{urlencode(params)}"


def _first_leg(request: AuthorizeRequest, original_query: str) -> Response:
    from hydra_lambda import consent

    settings = get_settings()
    stored, csrf = consent.create(
        client_id=request.client_id,
        requested_scopes=list(request.scopes),
        request=request.to_dict(),
        base_redirect=settings.url("/oauth2/auth") + ("?" + original_query if original_query else ""),
    )
    cookie = _csrf_cookie(stored.id, csrf, settings.challenge_token_lifespan)
    return redirect(_with_query(settings.consent_url, {"consent": stored.id}), cookies=[cookie])


# ---------------------------------------------------------------------------------------------
# Second leg


def _second_leg(request: AuthorizeRequest, client: Client, params: dict[str, str],
                cookies: dict[str, str]) -> Response:
    from hydra_lambda.storage import consent as store

    consent_id, verifier = params.get("consent", ""), params.get("consent_verifier", "")
    found = store.get(consent_id) if consent_id and verifier else None
    if found is None:
        raise InvalidRequest("The consent request is unknown.")
    if found.client_id != client.id:
        raise InvalidRequest("The consent request was made for another client.")
    _check_binding(found, verifier, cookies.get(COOKIE_PREFIX + found.id, ""))
    if found.expired:
        raise InvalidRequest("The consent request has expired; start the authorization again.")
    if AuthorizeRequest.from_dict(found.request) != request:
        raise InvalidRequest("The authorization request was changed after the consent request was made.")
    if found.state == store.REJECTED:
        _consume(found.id, store.REJECTED)
        raise AccessDenied(found.deny_reason or "The user denied the request.")
    if found.state == store.PENDING:
        raise AccessDenied("The consent request has not been accepted.")
    if found.state != store.ACCEPTED:
        raise InvalidRequest("The consent request was already used.")
    if "id_token" in request.response_types and "openid" not in found.grant_scopes:
        raise AccessDenied("The openid scope was not granted, so no ID token can be issued.")
    # Sign first, then ONE transaction consumes the consent and writes the code/tokens: a failure
    # anywhere leaves the consent redeemable, so the browser can simply retry.
    response, rows = _issue(request, found)
    _consume_and_write(found.id, rows)
    return _success(request, response, [_clear_cookie(found.id)])


def _check_binding(found: Any, verifier: str, cookie: str) -> None:
    """The second leg needs BOTH the verifier (only the consent app learns it, from the admin API) and
    the cookie of the browser that started the flow (only its hash is stored). With the verifier but
    not the cookie, the consent app sent someone else's browser here (a fixation attempt, or a lost
    cookie): the answered request is spent so that nobody can redeem it later."""
    from hydra_lambda.consent import csrf_matches, verifier_matches
    from hydra_lambda.storage import consent as store

    if not verifier_matches(found.id, verifier):
        raise InvalidRequest("The consent request could not be verified: the consent verifier does not match.")
    if not cookie or not csrf_matches(cookie, found.csrf_hash):
        if found.state in (store.ACCEPTED, store.REJECTED):
            _spend(found.id, found.state)
        raise InvalidRequest("The consent request could not be verified: this browser did not start it "
                             "(the CSRF cookie does not match).")


def _spend(consent_id: str, state: str) -> None:
    from hydra_lambda.storage import consent as store

    try:
        store.consume(consent_id, state)
    except store.ConditionFailed:
        pass  # already used, expired or gone: nothing left to redeem either way


def _consume(consent_id: str, state: str) -> None:
    from hydra_lambda.storage import consent as store

    try:
        store.consume(consent_id, state)
    except store.ConditionFailed:
        raise InvalidRequest("The consent request was already used or has expired.") from None


def _consume_and_write(consent_id: str, rows: list[Any]) -> None:
    from hydra_lambda.storage import consent as store
    from hydra_lambda.storage import token_rows as token_store

    try:
        token_store.transact(saves=[token_store.to_record(row) for row in rows],
                             updates=[store.consume_update(consent_id, store.ACCEPTED)])
    except token_store.AlreadyUsed:
        raise InvalidRequest("The consent request was already used or has expired.") from None


def _issue(request: AuthorizeRequest, found: Any) -> tuple[dict[str, str], list[Any]]:
    """What the response types ask for, minted (and signed) by the issuer; returns the response
    parameters and the rows to write."""
    authentication = found.authentication
    # Rows answered before authentication was recorded: the time of the second leg, as before.
    auth_time = int(authentication.get("auth_time") or clock.now_int())
    if request.max_age is not None and clock.now_int() - auth_time > request.max_age:
        raise LoginRequired("The user authenticated longer ago than max_age allows; start again.")
    identity = IdentityContext(
        subject=found.subject, auth_time=auth_time, nonce=request.nonce, extra=found.id_token_extra,
        acr=str(authentication.get("acr") or ""), amr=list(authentication.get("amr") or []),
        requested_at=found.created_at,
    )
    binding = CodeBinding(redirect_uri=request.redirect_uri, redirect_uri_sent=request.redirect_uri_sent,
                          code_challenge=request.code_challenge, code_challenge_method=request.code_challenge_method)
    return issuer.authorization_tokens(identity, client_id=request.client_id, granted=list(found.grant_scopes),
                                       extra=found.access_token_extra, response_types=request.response_types,
                                       binding=binding)


# ---------------------------------------------------------------------------------------------
# Responses to the client


def _success(request: AuthorizeRequest, params: dict[str, str], cookies: list[Cookie]) -> Response:
    params = {**params, "state": request.state, "iss": get_settings().issuer}
    return _deliver(request.redirect_uri, request.response_mode, params, cookies)


def _error_redirect(redirect_uri: str, mode: str, error: OAuth2Error, state: str,
                    cookies: list[Cookie] | None = None) -> Response:
    params = error.redirect_params()
    if state:
        params["state"] = state[:MAX_PARAM]
    params["iss"] = get_settings().issuer
    return _deliver(redirect_uri, mode, params, cookies or [])


def _deliver(redirect_uri: str, mode: str, params: dict[str, str], cookies: list[Cookie]) -> Response:
    if mode == "form_post":
        return _form_post(redirect_uri, params, cookies)
    if mode == "fragment":
        return redirect(f"{redirect_uri}#{urlencode(params)}", cookies=cookies)
    return redirect(_with_query(redirect_uri, params), cookies=cookies)


def _form_post(redirect_uri: str, params: dict[str, str], cookies: list[Cookie]) -> Response:
    """OAuth 2.0 Form Post Response Mode: a page that POSTs the parameters to the client at once."""
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
    )
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Submitting...</title></head>"
        f'<body><form method="post" action="{html.escape(redirect_uri)}">{fields}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        f"<script>{_AUTO_SUBMIT}</script></body></html>"
    )
    headers = {
        "Content-Security-Policy": f"default-src 'none'; script-src 'sha256-{_AUTO_SUBMIT_HASH}'; "
                                   "frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=document, headers=headers,
                    cookies=cookies)
