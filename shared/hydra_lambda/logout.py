"""Logout (OpenID Connect RP-Initiated Logout 1.0, Front-Channel Logout 1.0, Back-Channel Logout 1.0)
without HTTP: ``/oauth2/sessions/logout`` stores a logout request for the browser's login session and
sends the browser to the logout app (``URLS_LOGOUT?logout_challenge=``) or to this server's own
confirmation page; the app accepts it through the admin API, which hands out the verifier; the
browser comes back with it, and only then is the login session ended.

Who may ask for what:
- ``id_token_hint`` counts only when one of our keys signed it (expired is fine) and ``iss`` is us; a
  forged or foreign hint is refused, never read. ``client_id`` must be one of its audiences.
- ``post_logout_redirect_uri`` is honoured only when it is one of the client's registered
  ``post_logout_redirect_uris`` (exact match); without a way to know the client, or unregistered, it
  is an error page, never a redirect. ``state`` is echoed to it, bounded.
- The verifier is an HMAC of the challenge under the system secret (its own label), checked together
  with the CSRF cookie the asking browser got: a verifier replayed, or carried to another browser,
  ends nothing. The request is consumed by one conditional write.
- Without ``URLS_LOGOUT``, this server asks the user itself (a POST form); a bare GET (no hint naming
  the browser's own session) never logs out, since any site can make a browser send one. A client
  with ``skip_logout_consent`` skips the question when its logout carries an id_token_hint of ours.

Ending a login session (``end_session``) deletes it, revokes the tokens of the grants made in it
(consent sessions with its ``login_session_id``; their challenge is the grant's ``request_id``) except
those whose scope holds ``offline_access`` (OpenID Connect Core 11: offline access is the client's
request to keep access after the user logged out), and notifies every client that took part
(front-channel iframes, returned to the caller; back-channel logout tokens, queued: backchannel.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from hydra_lambda import backchannel, clock, keys, subjects, system_secret
from hydra_lambda.clients.model import Client
from hydra_lambda.clients.registry import get_client
from hydra_lambda.config import get_settings
from hydra_lambda.login_sessions import from_cookie
from hydra_lambda.observability import logger
from hydra_lambda.storage import logout as store
from hydra_lambda.storage import sessions as session_store
from hydra_lambda.storage.logout import LogoutRequest
from hydra_lambda.storage.sessions import LoginSession
from hydra_lambda.tokens import revocation

CHALLENGE_PARAM, VERIFIER_PARAM = "logout_challenge", "logout_verifier"
OFFLINE_ACCESS = "offline_access"
MAX_HINT = 8192
MAX_PARAM = 2048  # client_id, post_logout_redirect_uri, ui_locales
MAX_STATE = 1024
_VERIFIER_LABEL = b"hydra-lambda logout verifier\x00"


# ---------------------------------------------------------------------------------------------
# What the browser sent, and what it gets (http/logout.py parses and renders)


@dataclass(frozen=True)
class LogoutCall:
    params: dict[str, str]
    session_cookie: str = ""
    csrf_cookies: dict[str, str] = field(default_factory=dict)  # challenge -> CSRF value
    request_url: str = ""
    method: str = "GET"


@dataclass(frozen=True)
class ErrorPage:
    status: int
    error: str
    description: str


@dataclass(frozen=True)
class GoTo:
    """A redirect; ``csrf`` set: the browser also gets the request's CSRF cookie."""

    url: str
    challenge: str = ""
    csrf: str = ""


@dataclass(frozen=True)
class Confirm:
    """This server's own confirmation page (no URLS_LOGOUT): a POST form back to the endpoint."""

    challenge: str
    verifier: str
    csrf: str
    client_name: str


@dataclass(frozen=True)
class SignedOut:
    """The end: the front-channel iframes (one per participating client), then ``target`` ("" : this
    server's signed-out page). The session cookie and the request's CSRF cookie are cleared."""

    frontchannel_uris: list[str]
    target: str
    challenge: str = ""


@dataclass(frozen=True)
class Cancelled:
    """The logout app rejected the request: the user stays signed in."""

    challenge: str


Outcome = ErrorPage | GoTo | Confirm | SignedOut | Cancelled


def _error(status: int, description: str, error: str = "invalid_request") -> ErrorPage:
    return ErrorPage(status, error, description)


# ---------------------------------------------------------------------------------------------
# Verifier and CSRF


def hash_csrf(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _verifier_with(key: bytes, challenge: str) -> str:
    digest = hmac.new(key, _VERIFIER_LABEL + challenge.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verifier(challenge: str) -> str:
    return _verifier_with(system_secret.keys()[0], challenge)


def verifier_matches(challenge: str, value: str) -> bool:
    """Against every configured system secret (a rotation does not break a logout in progress)."""
    found = False
    for key in system_secret.keys():
        found |= hmac.compare_digest(_verifier_with(key, challenge).encode(), value.encode("utf-8"))
    return found and bool(value)


def verifier_url(challenge: str) -> str:
    query = urlencode({CHALLENGE_PARAM: challenge, VERIFIER_PARAM: verifier(challenge)})
    return f"{get_settings().issuer}/oauth2/sessions/logout?{query}"


# ---------------------------------------------------------------------------------------------
# The first call: RP-initiated logout


@dataclass(frozen=True)
class _Asked:
    client: Client | None
    hint: dict[str, Any] | None
    target: str  # the registered post_logout_redirect_uri, "" when none was asked
    state: str
    ui_locales: str


def start(call: LogoutCall) -> Outcome:
    asked = _check(call.params)
    if isinstance(asked, ErrorPage):
        return asked
    session = from_cookie(call.session_cookie)
    if session is None:  # nothing to end (RP-Initiated Logout 1.0, section 2: the OP may just redirect)
        target = _target(asked.target, asked.state)
        return GoTo(target) if target else SignedOut([], "")
    csrf = secrets.token_urlsafe(32)
    now = clock.now_int()
    request = LogoutRequest(
        challenge=uuid.uuid4().hex, subject=session.subject, sid=session.sid, csrf_hash=hash_csrf(csrf),
        expires_at=now + get_settings().challenge_token_lifespan, requested_at=now,
        client_id=asked.client.id if asked.client else "", request_url=_shown_url(call.request_url),
        rp_initiated=asked.hint is not None, post_logout_redirect_uri=asked.target, state=asked.state,
        ui_locales=asked.ui_locales,
    )
    store.create(request)
    settings = get_settings()
    if settings.urls_logout:
        sep = "&" if "?" in settings.urls_logout else "?"
        return GoTo(f"{settings.urls_logout}{sep}{urlencode({CHALLENGE_PARAM: request.challenge})}",
                    challenge=request.challenge, csrf=csrf)
    if _hint_names(asked, session) or _trusted_to_skip(asked, session):  # no question needed
        return _finish(request, (store.PENDING,))
    name = asked.client.client_name or asked.client.id if asked.client else ""
    return Confirm(request.challenge, verifier(request.challenge), csrf, name)


def _shown_url(url: str) -> str:
    """The request URL as the logout app sees it (``request_url``): without the id_token_hint, an ID
    token that has no business in another application's logs."""
    parts = urlsplit(url)
    kept = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if name != "id_token_hint"]
    return parts._replace(query=urlencode(kept)).geturl()[:MAX_HINT]


def _check(params: dict[str, str]) -> _Asked | ErrorPage:
    hint_value = params.get("id_token_hint", "")
    client_id = params.get("client_id", "")
    target = params.get("post_logout_redirect_uri", "")
    state = params.get("state", "")
    ui_locales = params.get("ui_locales", "")
    if len(hint_value) > MAX_HINT or max(len(client_id), len(target), len(ui_locales)) > MAX_PARAM:
        return _error(400, "A parameter of the logout request is too long.")
    if len(state) > MAX_STATE:
        return _error(400, f"state must be at most {MAX_STATE} characters.")
    hint = hint_claims(hint_value) if hint_value else None
    if hint_value and hint is None:
        return _error(400, "The id_token_hint was not issued by this server (or is malformed); it cannot be used.")
    client_or_error = _client(hint, client_id)
    if isinstance(client_or_error, ErrorPage):
        return client_or_error
    client = client_or_error
    if target:
        if client is None:
            return _error(400, "A post_logout_redirect_uri needs id_token_hint or client_id: without them the "
                               "server cannot tell whose registered URI it must be.")
        if target not in client.post_logout_redirect_uris:
            return _error(400, "The post_logout_redirect_uri is not registered for this client.")
    return _Asked(client, hint, target, state if target else "", ui_locales)


def hint_claims(hint: str) -> dict[str, Any] | None:
    """The claims of an ID token our keys signed with ``iss`` us (expired is fine), else None."""
    claims = keys.verify(hint)
    if claims is None or claims.get("iss") != get_settings().issuer or not claims.get("sub"):
        return None
    return claims


def _audiences(hint: dict[str, Any]) -> list[str]:
    audience = hint.get("aud")
    return [str(a) for a in (audience if isinstance(audience, list) else [audience]) if a]


def _client(hint: dict[str, Any] | None, client_id: str) -> Client | ErrorPage | None:
    if hint is not None:
        audiences = _audiences(hint)
        if client_id and client_id not in audiences:
            return _error(400, "client_id is not an audience of the id_token_hint.")
        if not client_id:
            client_id = str(hint.get("azp") or "") if len(audiences) > 1 else audiences[0] if audiences else ""
    if not client_id:
        return None
    client = get_client(client_id)
    if client is None:
        return _error(400, "The client of this logout request does not exist.")
    return client


def _hint_names(asked: _Asked, session: LoginSession, *, any_session: bool = False) -> bool:
    """Whether the hint was issued in ``session`` to its subject (the client's view of the subject);
    ``any_session``: in any login session of that subject."""
    if asked.hint is None or asked.client is None:
        return False
    sub = subjects.pairwise_subject(asked.client, session.subject) or session.subject
    sid = asked.hint.get("sid")
    return asked.hint.get("sub") == sub and (any_session or sid is None or sid == session.sid)


def _trusted_to_skip(asked: _Asked, session: LoginSession) -> bool:
    """An RP-initiated logout (an ``id_token_hint`` we signed naming the browser's user, from any of
    their login sessions) of a client whose ``skip_logout_consent`` an admin set: this server, as the
    logout app, asks nothing. (A logout app behind URLS_LOGOUT decides itself: the logout request
    carries the flag in ``client``, with ``rp_initiated``, as Hydra's does.) A bare ``client_id`` is
    never enough: any site can send a browser to that URL."""
    return asked.client is not None and asked.client.skip_logout_consent and _hint_names(asked, session,
                                                                                        any_session=True)


def _target(uri: str, state: str) -> str:
    if uri:
        if not state:
            return uri
        return f"{uri}{'&' if urlsplit(uri).query else '?'}{urlencode({'state': state})}"
    return get_settings().urls_post_logout_redirect


# ---------------------------------------------------------------------------------------------
# The verifier leg


def load(challenge: str) -> LogoutRequest | None:
    return store.get(challenge)


def come_back(call: LogoutCall) -> Outcome:
    challenge = call.params.get(CHALLENGE_PARAM, "")
    found = store.get(challenge)
    if found is None:
        return _error(404, "This logout request does not exist (or was removed after it expired).")
    if not verifier_matches(challenge, call.params.get(VERIFIER_PARAM, "")):
        return _error(403, "The logout verifier is not valid for this request.", "request_forbidden")
    csrf = call.csrf_cookies.get(challenge, "")
    if not csrf or not hmac.compare_digest(hash_csrf(csrf).encode(), found.csrf_hash.encode()):
        return _error(403, "This logout was started in another browser (its cookie is missing here).",
                      "request_forbidden")
    if found.status == store.REJECTED:
        return Cancelled(challenge)
    allowed = (store.ACCEPTED,) if get_settings().urls_logout else (store.ACCEPTED, store.PENDING)
    return _finish(found, allowed)


def _finish(request: LogoutRequest, allowed: tuple[str, ...]) -> Outcome:
    try:
        store.transition(request.challenge, allowed, store.USED)
    except store.ConditionFailed:
        found = store.get(request.challenge)
        if found is not None and found.status == store.USED:
            return _error(409, "This logout request was already used.", "request_forbidden")
        if found is not None and found.status == store.PENDING and not found.expired:
            return _error(409, "This logout request was not accepted yet.", "request_forbidden")
        return _error(410, "This logout request has expired; start the logout again.", "request_expired")
    participants = end_session(request.subject, request.sid)
    return SignedOut(frontchannel_uris(participants, request.sid),
                     _target(request.post_logout_redirect_uri, request.state), request.challenge)


# ---------------------------------------------------------------------------------------------
# Ending login sessions (the verifier leg, and the admin API's DELETE of login sessions)


def end_session(subject: str, sid: str) -> list[Client]:
    """End the login session ``sid`` of ``subject``: revoke the tokens of the grants made in it (but
    offline_access grants), queue the back-channel logout of every client that took part, then delete
    it (last, so that after a failure midway the session is still there to end again: the admin API's
    DELETE, or a new logout); returns those clients (for the front-channel page)."""
    grants = session_store.consent_sessions_of(subject, login_session_id=sid)
    for grant in grants:
        if OFFLINE_ACCESS not in grant.grant_scope:
            revocation.revoke_request(grant.challenge)
    clients = [client for client in map(get_client, dict.fromkeys(g.client_id for g in grants)) if client]
    backchannel.enqueue([backchannel.Delivery(client.id, subject, sid) for client in clients
                         if client.backchannel_logout_uri])
    session_store.delete_login_session(sid)
    logger.info("login session ended", extra={"clients": len(clients), "grants": len(grants)})
    return clients


def end_sessions_of(subject: str) -> int:
    """End every login session of ``subject`` (one index Query); how many there were."""
    found = session_store.login_sessions_of(subject)
    for session in found:
        end_session(subject, session.sid)
    return len(found)


def end_session_by_sid(sid: str) -> bool:
    found = session_store.get_login_session(sid, include_expired=True)
    if found is None:
        return False
    end_session(found.subject, found.sid)
    return True


def frontchannel_uris(clients: list[Client], sid: str) -> list[str]:
    """Each client's ``frontchannel_logout_uri`` with ``iss`` and ``sid`` added (Front-Channel Logout
    1.0, section 2)."""
    issuer = get_settings().issuer
    out = []
    for client in clients:
        uri = client.frontchannel_logout_uri
        if uri:
            out.append(f"{uri}{'&' if urlsplit(uri).query else '?'}{urlencode({'iss': issuer, 'sid': sid})}")
    return out


# ---------------------------------------------------------------------------------------------
# The logout app's answers (endpoints/logout_requests.py asks the warden first)


class AnswerError(Exception):
    def __init__(self, status: int, message: str, redirect_to: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.redirect_to = status, message, redirect_to


def answerable(challenge: str) -> LogoutRequest:
    """The pending, unexpired request; AnswerError 404 / 410 (expired) / 410 with ``redirect_to``
    (already handled)."""
    found = store.get(challenge)
    if found is None:
        raise AnswerError(404, f"The logout request '{challenge[:64]}' does not exist.")
    if found.status != store.PENDING:
        raise AnswerError(410, "The logout request was already handled.", verifier_url(challenge))
    if found.expired:
        raise AnswerError(410, "The logout request has expired; the user must start the logout again.")
    return found


def accept(challenge: str) -> str:
    """Accept the request once; where the browser goes next (the verifier leg)."""
    answerable(challenge)
    try:
        store.transition(challenge, (store.PENDING,), store.ACCEPTED)
    except store.ConditionFailed:
        answerable(challenge)  # raises with the reason
        raise
    return verifier_url(challenge)


def reject(challenge: str) -> None:
    answerable(challenge)
    try:
        store.transition(challenge, (store.PENDING,), store.REJECTED)
    except store.ConditionFailed:
        answerable(challenge)
        raise
