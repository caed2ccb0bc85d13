"""Response shaping shared by every function."""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie

from hydra_lambda.errors import HydraError
from hydra_lambda.paging import Page

JSON = "application/json"
JWT = "application/jwt"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Pages we render ourselves must never be framed (clickjacking) nor load anything foreign, nor be
# cached, nor tell the next site where the browser came from (an /oauth2/auth URL carries state,
# login_hint and id_token_hint).
HTML_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_response(
    status: int,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    no_store: bool = False,
    cookies: list[Cookie] | None = None,
) -> Response:
    merged = {**(NO_STORE if no_store else {}), **(headers or {})}
    return Response(status_code=status, content_type=JSON, body=dumps(body), headers=merged, cookies=cookies)


def userinfo_response(body: dict[str, Any] | str) -> Response:
    """``/userinfo``: the claims as JSON, or a signed JWT as ``application/jwt`` (OpenID Connect Core 5.3.2)."""
    if isinstance(body, str):
        return Response(status_code=200, content_type=JWT, body=body, headers=dict(NO_STORE))
    return json_response(200, body, no_store=True)


def empty(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, body="", headers=headers or {})


def error_response(error: HydraError, request_id: str = "") -> Response:
    no_store = error.status in (400, 401)  # OAuth error bodies sit beside credentials
    return json_response(error.status, error.body(request_id), headers=error.headers, no_store=no_store)


def redirect(location: str, cookies: list[Cookie] | None = None) -> Response:
    return Response(
        status_code=302, body="", headers={"Location": location, "Cache-Control": "no-store"}, cookies=cookies
    )


@cache
def _layout() -> Template:
    return Template(resources.files("hydra_lambda.http").joinpath("templates", "layout.html").read_text("utf-8"))


def render_layout(title: str, body: str, footer: str = "hydra-lambda") -> str:
    """A whole page in the one layout (the /oauth2/auth error pages and the example consent app):
    ``title`` and ``footer`` are escaped here, ``body`` is HTML the caller escaped."""
    return _layout().substitute(title=html.escape(title), body=body, footer=html.escape(footer))


def html_page(status: int, title: str, paragraphs: list[str], cookies: list[Cookie] | None = None) -> Response:
    """A small self-contained page in the shared layout; every string is escaped here."""
    body = f"<h1>{html.escape(title)}</h1>" + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=render_layout(title, body),
        headers=HTML_HEADERS,
        cookies=cookies,
    )


def page_response(path: str, page: Page[Any]) -> Response:
    """An admin list page (its items in their wire form), and a ``Link: <...>; rel="next"`` while more follow."""
    headers = {}
    if page.next_offset is not None:
        headers["Link"] = f'<{path}?{urlencode({"limit": page.limit, "offset": page.next_offset})}>; rel="next"'
    return json_response(200, list(page.items), headers=headers)
