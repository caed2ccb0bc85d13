"""The authorization request: the typed :class:`AuthorizeRequest` and the checks that build it, one
named function each, run in the order of :data:`CHECKS` (as node-oidc-provider's ordered checks).

The client and its redirect URI come first (:func:`trusted_redirect`): until both are known to be
genuine, an error renders a page and never redirects. A request object (``request_objects``) is
resolved between the two (:func:`resolve`): its parameters win, so the redirect URI checked is the
merged one; when the object itself is refused, the error goes to the query's redirect URI only if
that one is registered (:class:`ObjectRefused`), else it is a page too. Every later check raises an
:class:`~hydra_lambda.errors.OAuth2Error` that is redirected to the client.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hydra_lambda import claims, pkce, scopes, subjects
from hydra_lambda.authorization import request_objects
from hydra_lambda.authorization.outcomes import UntrustedRedirect
from hydra_lambda.clients.model import Client
from hydra_lambda.clients.registry import get_client
from hydra_lambda.config import get_settings
from hydra_lambda.errors import (
    InvalidRequest,
    InvalidScope,
    LoginRequired,
    OAuth2Error,
    UnauthorizedClient,
    UnsupportedResponseType,
)

RESPONSE_TYPES = frozenset({"code", "token", "id_token"})
RESPONSE_MODES = frozenset({"query", "fragment", "form_post"})
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
DISPLAYS = ("page", "popup", "touch", "wap")  # OpenID Connect Core 3.1.2.1, passed on to the consent app
MIN_STATE = 8  # as classic Hydra
MAX_PARAM = 2048
# The stored request (and the redirectUrl rebuilt from it) stays within a hard bound whatever a browser
# sends: Apache's and many proxies' default URL limit, so no working request is refused by it.
MAX_REQUEST_CHARS = 8192
SECOND_LEG_PARAMS = frozenset({"consent", "consent_verifier", "consent_csrf"})
LOGIN_LEG_PARAMS = frozenset({"login_challenge", "login_verifier"})  # the current flow's login verifier leg
_LIMITED = ("state", "nonce", "acr_values", "code_challenge", "login_hint", "ui_locales", "id_token_hint")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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
    display: str = ""
    claims: str = ""  # the validated claims parameter, canonical JSON (hydra_lambda.claims)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["response_types"] = list(self.response_types)
        out["scopes"] = list(self.scopes)
        for rare in ("claims", "display"):
            if not out[rare]:
                del out[rare]  # most requests have none: the stored row stays as small as before
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

    def to_query(self) -> dict[str, str]:
        """The parameters that make this very request again (what the second leg validates and
        compares), and nothing else: a parameter no check reads is never stored or sent on."""
        values = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri if self.redirect_uri_sent else "",
            "response_type": " ".join(self.response_types),
            "response_mode": "" if self.response_mode == self.default_mode else self.response_mode,
            "scope": " ".join(self.scopes),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "code_challenge_method": self.code_challenge_method,
            "max_age": "" if self.max_age is None else str(self.max_age),
            "acr_values": self.acr_values,
            "prompt": self.prompt,
            "login_hint": self.login_hint,
            "ui_locales": self.ui_locales,
            "id_token_hint": self.id_token_hint,
            "display": self.display,
            "claims": self.claims,
        }
        return {name: value for name, value in values.items() if value}


def is_second_leg(params: dict[str, str]) -> bool:
    """The browser is back from the consent app."""
    return bool(SECOND_LEG_PARAMS & params.keys())


def is_login_leg(params: dict[str, str]) -> bool:
    """The browser is back from the login app (current flow)."""
    return bool(LOGIN_LEG_PARAMS & params.keys())


# ---------------------------------------------------------------------------------------------
# Before the redirect URI is trusted: errors render a page


def check_control_characters(params: dict[str, str]) -> None:
    """No parameter of an authorization request has a use for line breaks or control characters;
    refusing them up front (a 400 page, no redirect) keeps them out of every header and page."""
    for key, value in params.items():
        if _CONTROL.search(key) or _CONTROL.search(value):
            raise InvalidRequest(f"The parameter '{key[:40]}' contains control characters.")


def check_client(params: dict[str, str]) -> Client:
    client_id = params.get("client_id", "")
    if not client_id:
        raise UntrustedRedirect("invalid_request", "The client_id parameter is missing.")
    client = get_client(client_id) if len(client_id) <= 255 else None
    if client is None:
        raise UntrustedRedirect("invalid_client", "The client does not exist.")
    return client


def check_redirect_uri(params: dict[str, str], client: Client) -> tuple[str, bool]:
    """The redirect URI to answer to, and whether the request named it."""
    uri = params.get("redirect_uri", "")
    if not uri:
        if len(client.redirect_uris) != 1:
            raise UntrustedRedirect(
                "invalid_request",
                "The redirect_uri parameter is required: the client has "
                f"{'no' if not client.redirect_uris else 'several'} registered redirect URIs.",
            )
        return client.redirect_uris[0], False
    if "#" in uri or not client.has_redirect_uri(uri):
        raise UntrustedRedirect(
            "invalid_request", "The redirect_uri does not exactly match a redirect URI registered for the client."
        )
    return uri, True


def trusted_redirect(params: dict[str, str]) -> tuple[Client, str, bool]:
    """The genuine client, its redirect URI and whether it was sent; UntrustedRedirect or
    InvalidRequest (a page, no redirect) otherwise."""
    check_control_characters(params)
    client = check_client(params)
    return (client, *check_redirect_uri(params, client))


class ObjectRefused(Exception):
    """The request object was refused, and the query's own redirect URI is registered: the error
    (``invalid_request_object``, ``invalid_request_uri``...) may be sent there."""

    def __init__(self, error: OAuth2Error, redirect_uri: str, mode: str, state: str) -> None:
        super().__init__(error.description)
        self.error, self.redirect_uri, self.mode, self.state = error, redirect_uri, mode, state


def resolve(params: dict[str, str]) -> tuple[Client, str, bool, dict[str, str]]:
    """``trusted_redirect`` after merging in the request object, if one was sent: the client, its
    redirect URI, whether it was sent, and the parameters to validate. UntrustedRedirect or
    InvalidRequest (a page) or ObjectRefused (redirectable) otherwise."""
    check_control_characters(params)
    client = check_client(params)
    try:
        merged = request_objects.resolve(params, client)
    except OAuth2Error as exc:
        uri, _sent = check_redirect_uri(params, client)  # not registered: UntrustedRedirect, a page
        raise ObjectRefused(exc, uri, mode_for_errors(params), params.get("state", "")) from None
    if merged is not params:
        check_control_characters(merged)
    return (client, *check_redirect_uri(merged, client), merged)


def mode_for_errors(params: dict[str, str]) -> str:
    """The response mode an error is delivered in, even when the request's own mode is invalid."""
    mode = params.get("response_mode", "")
    if mode in RESPONSE_MODES:
        return mode
    types = set(params.get("response_type", "").split())
    return "fragment" if types & {"token", "id_token"} else "query"


# ---------------------------------------------------------------------------------------------
# After: the ordered checks, each raising an OAuth2Error to redirect with


@dataclass
class _Draft:
    """What the checks have established so far."""

    params: dict[str, str]
    client: Client
    response_types: tuple[str, ...] = ()
    response_mode: str = ""
    scopes: tuple[str, ...] = ()
    code_challenge: str = ""
    code_challenge_method: str = ""
    max_age: int | None = None
    claims: str = ""


def check_parameter_lengths(draft: _Draft) -> None:
    for name in _LIMITED:
        if len(draft.params.get(name, "")) > MAX_PARAM:
            raise InvalidRequest(f"The {name} parameter is longer than {MAX_PARAM} characters.")


def check_response_type(draft: _Draft) -> None:
    parts = sorted(set(draft.params.get("response_type", "").split()))
    if not parts:
        raise InvalidRequest("The response_type parameter is missing.")
    unknown = [part for part in parts if part not in RESPONSE_TYPES]
    if unknown:
        raise UnsupportedResponseType(f"The response type '{unknown[0][:40]}' is not supported.")
    client = draft.client
    if not client.has_response_type(" ".join(parts)):
        raise UnsupportedResponseType(f"The client is not allowed the response type '{' '.join(parts)}'.")
    if "code" in parts and not client.has_grant_type("authorization_code"):
        raise UnauthorizedClient("The client is not allowed the authorization_code grant.")
    if set(parts) & {"token", "id_token"} and not client.has_grant_type("implicit"):
        raise UnauthorizedClient("Token responses from /oauth2/auth need the client's implicit grant type.")
    draft.response_types = tuple(parts)


def check_response_mode(draft: _Draft) -> None:
    mode = draft.params.get("response_mode", "")
    if mode and mode not in RESPONSE_MODES:
        raise InvalidRequest("response_mode must be query, fragment or form_post.")
    if mode == "query" and draft.response_types != ("code",):
        raise InvalidRequest("Tokens are never sent in the query: use response_mode fragment or form_post.")
    draft.response_mode = mode or ("query" if draft.response_types == ("code",) else "fragment")


def check_state(draft: _Draft) -> None:
    if len(draft.params.get("state", "")) < MIN_STATE:
        raise InvalidRequest(f"The state parameter must be at least {MIN_STATE} characters long.")


def check_scope(draft: _Draft) -> None:
    try:
        requested = scopes.parse_scope(draft.params.get("scope"))
    except ValueError as exc:
        raise InvalidScope(f"The scope parameter is malformed: {exc}.") from None
    denied = [scope for scope in requested if not draft.client.allows_scopes([scope])]
    if denied:
        raise InvalidScope(f"The client is not allowed to request scope '{denied[0][:80]}'.")
    draft.scopes = tuple(requested)


def check_openid(draft: _Draft) -> None:
    """An ID token from /oauth2/auth needs the openid scope and a nonce."""
    if "id_token" in draft.response_types:
        if "openid" not in draft.scopes:
            raise InvalidRequest("The id_token response type requires the openid scope.")
        if not draft.params.get("nonce", ""):
            raise InvalidRequest("The nonce parameter is required when an ID token is returned from /oauth2/auth.")


def check_pkce(draft: _Draft) -> None:
    challenge, method = pkce.validate_challenge(draft.params.get("code_challenge", ""),
                                                draft.params.get("code_challenge_method", ""),
                                                public=draft.client.public)
    if draft.client.public and "code" in draft.response_types and not challenge:
        raise InvalidRequest("Public clients must use PKCE: code_challenge is required.")
    draft.code_challenge, draft.code_challenge_method = challenge, method


def check_prompt_and_max_age(draft: _Draft) -> None:
    prompt = set(draft.params.get("prompt", "").split())
    if prompt - PROMPTS:
        raise InvalidRequest("prompt must be a combination of none, login, consent and select_account.")
    if "none" in prompt:
        if len(prompt) > 1:
            raise InvalidRequest("prompt=none cannot be combined with other values.")
        if not get_settings().current_flow:  # the classic flow keeps no login session to answer from
            raise LoginRequired()
    if draft.params.get("display", "") not in ("", *DISPLAYS):
        raise InvalidRequest("display must be one of page, popup, touch and wap.")
    raw = draft.params.get("max_age", "")
    if not raw:
        return
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequest("max_age must be a non-negative whole number of seconds.")
    draft.max_age = int(raw)


def check_claims(draft: _Draft) -> None:
    """The claims parameter (OpenID Connect Core 5.5): a bounded JSON object naming claims for the ID
    token and userinfo; stored canonical, so the second leg compares what it means, not its spelling."""
    raw = draft.params.get("claims", "")
    if not raw:
        return
    try:
        draft.claims = claims.canonical(claims.parse_request(raw))
    except ValueError as exc:
        raise InvalidRequest(f"The claims parameter is invalid: {exc}.") from None


def check_subject_type(draft: _Draft) -> None:
    """A pairwise client the server cannot give a pairwise ``sub`` (no salt, no single sector) is
    refused before the user is asked anything (OpenID Connect Core 8)."""
    try:
        subjects.check_servable(draft.client)
    except subjects.PairwiseUnavailable as exc:
        raise UnauthorizedClient(str(exc)) from None


CHECKS: tuple[Callable[[_Draft], None], ...] = (
    check_parameter_lengths,
    check_response_type,
    check_response_mode,
    check_state,
    check_scope,
    check_openid,
    check_claims,
    check_pkce,
    check_prompt_and_max_age,
    check_subject_type,
)


def validate(params: dict[str, str], client: Client, redirect_uri: str, sent: bool) -> AuthorizeRequest:
    """Every check of the authorization request, in the order of CHECKS; raises an OAuth2Error to
    redirect with."""
    draft = _Draft(params, client)
    for check in CHECKS:
        check(draft)
    request = _build(draft, redirect_uri, sent)
    size = len(urlencode(request.to_query()))
    if size > MAX_REQUEST_CHARS:
        raise InvalidRequest(f"The authorization request is too large: {size} characters once encoded, at most "
                             f"{MAX_REQUEST_CHARS} (shorten state, nonce, scope or the hints).")
    return request


def _build(draft: _Draft, redirect_uri: str, sent: bool) -> AuthorizeRequest:
    params, client = draft.params, draft.client
    return AuthorizeRequest(
        client_id=client.id,
        redirect_uri=redirect_uri,
        redirect_uri_sent=sent,
        response_types=draft.response_types,
        response_mode=draft.response_mode,
        scopes=draft.scopes,
        state=params.get("state", ""),
        nonce=params.get("nonce", ""),
        code_challenge=draft.code_challenge,
        code_challenge_method=draft.code_challenge_method,
        max_age=draft.max_age,
        acr_values=params.get("acr_values", ""),
        prompt=" ".join(dict.fromkeys(params.get("prompt", "").split())),
        login_hint=params.get("login_hint", ""),
        ui_locales=params.get("ui_locales", ""),
        id_token_hint=params.get("id_token_hint", ""),
        display=params.get("display", ""),
        claims=draft.claims,
    )
