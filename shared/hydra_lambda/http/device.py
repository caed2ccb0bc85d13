"""``/oauth2/device/verify`` at the edge: the visit parsed into a
:class:`~hydra_lambda.authorization.device_legs.DeviceCall` (the query, the binding cookies, the
login session cookie) and each outcome rendered: an error page, a redirect with the binding cookie
(path ``/oauth2/device/verify``), or the end of a device login (``URLS_DEVICE_SUCCESS``, else a page)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from hydra_lambda.authorization.device_legs import PATH, DeviceCall, DeviceDone, DeviceOutcome
from hydra_lambda.http import authorization as edge
from hydra_lambda.http.forms import parse_urlencoded
from hydra_lambda.http.responses import html_page, redirect
from hydra_lambda.http.session_cookie import read_session_cookie


def parse(raw_query: str, cookies: dict[str, str]) -> DeviceCall:
    """The query without repeats (InvalidRequest else) and the cookies the legs read."""
    prefix = edge.COOKIE_PREFIX
    csrf = {name[len(prefix):]: value for name, value in cookies.items() if name.startswith(prefix)}
    return DeviceCall(parse_urlencoded(raw_query), csrf, read_session_cookie(cookies))


def render(outcome: DeviceOutcome) -> Response:
    if not isinstance(outcome, DeviceDone):
        return edge.render(outcome, cookie_path=PATH)
    cookies = [edge.clear_cookie(outcome.consent_id, PATH)]
    if outcome.location:
        return redirect(outcome.location, cookies=cookies)
    return html_page(200, "Your device is signed in",
                     ["You may close this window and go back to your device."], cookies=cookies)
