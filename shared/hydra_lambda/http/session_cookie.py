"""The login session cookie at the edge (``login_sessions``): HttpOnly, Secure except on a plain-http
loopback issuer, SameSite=Lax, Path ``/oauth2`` (``/oauth2/auth`` and ``/oauth2/sessions/logout``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from hydra_lambda.config import get_settings
from hydra_lambda.login_sessions import COOKIE_NAME, COOKIE_PATH


def plain_http_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in {"localhost", "127.0.0.1", "::1"}


def session_cookie(value: str, max_age: int | None) -> Cookie:
    """The cookie carrying ``value``; ``max_age`` None: a browser-session cookie."""
    return Cookie(name=COOKIE_NAME, value=value, path=COOKIE_PATH,
                  secure=not plain_http_loopback(get_settings().issuer), http_only=True,
                  same_site=SameSite.LAX_MODE, max_age=max_age)


def clear_session_cookie() -> Cookie:
    return session_cookie("", 0)


def read_session_cookie(cookies: dict[str, str]) -> str:
    return cookies.get(COOKIE_NAME, "")
