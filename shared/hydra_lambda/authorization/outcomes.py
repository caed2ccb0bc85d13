"""What ``/oauth2/auth`` is asked (:class:`AuthorizationCall`) and answers (:data:`Outcome`), as plain
values: the edge renders them as a page, a redirect or a form_post page, with their cookies."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from hydra_lambda.errors import OAuth2Error


@dataclass(frozen=True)
class AuthorizationCall:
    """The parsed request: its parameters and the CSRF cookie values this browser holds, by consent
    request id."""

    params: dict[str, str]
    csrf_cookies: dict[str, str] = field(default_factory=dict)
    session_cookie: str = ""  # the login session cookie (current flow), "" when the browser sent none


class UntrustedRedirect(Exception):
    """An error found before the client and redirect URI are known to be genuine: never redirect."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class ErrorPage:
    """Shown to the user, never redirected: the client or its redirect URI is not trusted."""

    error: str
    description: str

    @classmethod
    def of(cls, exc: Exception) -> ErrorPage:
        if isinstance(exc, UntrustedRedirect | OAuth2Error):
            return cls(exc.error, exc.description)
        return cls("invalid_request", str(exc))


@dataclass(frozen=True)
class SessionCookie:
    """The login session cookie to set (``value``; ``max_age`` None: a browser-session cookie), or
    to clear (``value`` "")."""

    value: str
    max_age: int | None = None


@dataclass(frozen=True)
class ToConsentApp:
    """The first leg: send the browser to the consent app (in the current flow: the login app, then
    the consent app), binding it with a CSRF cookie; ``session`` the login session cookie to set."""

    location: str
    consent_id: str
    csrf: str
    lifespan: int
    session: SessionCookie | None = None


@dataclass(frozen=True)
class ToClient:
    """The authorization response (success or error) for the client's redirect URI, in ``mode``;
    ``clear_consent`` names the consent request whose CSRF cookie to clear (None: no cookie)."""

    redirect_uri: str
    mode: str
    params: dict[str, str]
    clear_consent: str | None = None


Outcome = ErrorPage | ToConsentApp | ToClient


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query."""
    sep = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{sep}{urlencode(params)}"
