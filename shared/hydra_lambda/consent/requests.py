"""Consent requests: created by the first leg of ``/oauth2/auth``, read and answered by the
operator's consent app (``endpoints.consent_requests``, which asks the warden first), redeemed by the
second leg.

Answers are validated (decisions.md): one answer per request (a second is 409), an expired request
cannot be answered (410), ``subject`` is required and every granted scope must be allowed by the
client's ``scope``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hydra_lambda import clock, scopes, system_secret
from hydra_lambda.clients.registry import get_client
from hydra_lambda.config import get_settings
from hydra_lambda.consent.model import Authentication, Consent
from hydra_lambda.errors import BadRequest, Conflict, Gone, NotFound
from hydra_lambda.storage import clients as client_store
from hydra_lambda.storage import consent as store

if TYPE_CHECKING:  # pydantic only on the answering routes
    from hydra_lambda.models.consent import ConsentRequestAcceptance

MAX_REASON = 1000
# Extras are copied into every token row of the grant; DynamoDB items hold at most 400 KB.
MAX_EXTRA_BYTES = 16 * 1024
# Granted scopes: as many as a client may hold (scopes.MAX_SCOPES), each a valid scope token (at most
# scopes.MAX_SCOPE_LENGTH), and together no longer than the scope parameter of an authorization
# request (authorization.request.MAX_PARAM): they are copied into every token row of the grant and
# into the redirect (implicit flow), so the Location stays a few KB.
MAX_GRANTED_SCOPE_CHARS = 2048


VERIFIER_PARAM = "consent_verifier"
_VERIFIER_LABEL = b"hydra-lambda consent verifier\x00"
LOGIN_VERIFIER_PARAM = "login_verifier"
_LOGIN_VERIFIER_LABEL = b"hydra-lambda login verifier\x00"


def hash_csrf(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def csrf_matches(value: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_csrf(value).encode(), stored_hash.encode())


def _verifier_with(key: bytes, consent_id: str, label: bytes = _VERIFIER_LABEL) -> str:
    digest = hmac.new(key, label + consent_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verifier(consent_id: str) -> str:
    """The consent verifier: HMAC-SHA256 of the consent id under the system secret. Only the admin API
    hands it out (inside ``redirectUrl``); nothing about it is stored, and neither the cookie nor
    anything else the browser that started the flow holds can produce it."""
    return _verifier_with(system_secret.keys()[0], consent_id)


def verifier_matches(consent_id: str, value: str, label: bytes = _VERIFIER_LABEL) -> bool:
    """Checked against every configured system secret, so rotating it does not break flows in progress."""
    given = value.encode("utf-8")
    found = False
    for key in system_secret.keys():
        found |= hmac.compare_digest(_verifier_with(key, consent_id, label).encode(), given)
    return found and bool(value)


def login_verifier(challenge: str) -> str:
    """The login verifier of the current flow: as the consent verifier, under its own label, so
    neither can stand for the other."""
    return _verifier_with(system_secret.keys()[0], challenge, _LOGIN_VERIFIER_LABEL)


def login_verifier_matches(challenge: str, value: str) -> bool:
    return verifier_matches(challenge, value, _LOGIN_VERIFIER_LABEL)


def create(*, client_id: str, requested_scopes: list[str], request: dict[str, Any],
           base_redirect: str, flow: dict[str, Any] | None = None, subject: str = "") -> tuple[Consent, str]:
    """Store a pending consent request; returns it and the browser's CSRF value, which goes only into
    the cookie (the row keeps its hash; neither the row nor ``redirectUrl`` holds it). With ``flow``
    (the current flow), a login request: state login_pending, ``redirect_url`` the bare authorization
    request (the admin answers add the challenge and a verifier), ``subject`` that of a session the
    login may skip to."""
    consent_id = uuid.uuid4().hex
    csrf = secrets.token_urlsafe(32)
    now = clock.now_int()
    sep = "&" if "?" in base_redirect else "?"
    consent = Consent(
        id=consent_id,
        client_id=client_id,
        requested_scopes=list(requested_scopes),
        redirect_url=base_redirect if flow is not None else f"{base_redirect}{sep}consent={consent_id}",
        csrf_hash=hash_csrf(csrf),
        expires_at=now + get_settings().challenge_token_lifespan,
        request=request,
        created_at=now,
        flow=flow,
        state=store.LOGIN_PENDING if flow is not None else store.PENDING,
        subject=subject,
    )
    store.create(consent)
    return consent, csrf


def load(consent_id: str, *, current: bool = False) -> Consent:
    """The request of the classic flow (``current``: of the current flow); NotFound for the other
    flow's requests too, so neither API answers the other's."""
    found = store.get(consent_id)
    if found is None or found.current != current:
        raise NotFound(f"The consent request '{consent_id[:64]}' does not exist.")
    return found


def _explain_failed_answer(consent_id: str) -> Exception:
    """After a failed conditional write: why (re-read; the write is what decided)."""
    found = store.get(consent_id)
    if found is None:
        return NotFound(f"The consent request '{consent_id[:64]}' does not exist.")
    if found.state != store.PENDING:
        return Conflict("The consent request was already answered.")
    return Gone("The consent request has expired; the user must start the authorization again.")


def accept(consent_id: str, answer: ConsentRequestAcceptance, may_sign_in: Callable[[str], None]) -> None:
    """Record the acceptance ``answer`` of a pending, unexpired request, once. ``may_sign_in(subject)``
    is the caller's own check of the subject (it raises to refuse), made after every check of the
    answer itself and before the subject is claimed for a user."""
    found = _check_answerable(consent_id)
    subject = answer.subject or ""
    if not subject.strip():
        raise BadRequest("subject is required: it identifies the user who consented.")
    if len(subject) > 255:
        raise BadRequest("subject must be at most 255 characters.")
    granted = granted_scopes(answer.grantScopes or [])
    for name, extra in (("accessTokenExtra", answer.accessTokenExtra), ("idTokenExtra", answer.idTokenExtra)):
        if extra and len(json.dumps(extra)) > MAX_EXTRA_BYTES:
            raise BadRequest(f"{name} must serialize to at most {MAX_EXTRA_BYTES} bytes.")
    authentication = _authentication(answer, found)
    client = get_client(found.client_id)
    if client is None:
        raise Gone("The client of this consent request no longer exists.")
    denied = [scope for scope in granted if not client.allows_scopes([scope])]
    if denied:
        raise BadRequest(f"The client is not allowed the scope '{denied[0][:80]}'.")
    may_sign_in(subject)
    claim_for_user(subject)
    try:
        store.accept(consent_id, subject=subject, grant_scopes=granted,
                     access_token_extra=answer.accessTokenExtra or {}, id_token_extra=answer.idTokenExtra or {},
                     authentication=authentication)
    except store.ConditionFailed:
        raise _explain_failed_answer(consent_id) from None


def granted_scopes(given: list[str], name: str = "grantScopes") -> list[str]:
    """The granted scopes, checked (at most scopes.MAX_SCOPES valid scopes, MAX_GRANTED_SCOPE_CHARS in all)."""
    if len(given) > scopes.MAX_SCOPES:
        raise BadRequest(f"{name} may hold at most {scopes.MAX_SCOPES} scopes.")
    granted = list(dict.fromkeys(given))
    invalid = [scope for scope in granted if not scopes.is_valid_scope(scope)]
    if invalid:
        raise BadRequest(f"'{invalid[0][:80]}' is not a valid scope.")
    if len(scopes.join(granted)) > MAX_GRANTED_SCOPE_CHARS:
        raise BadRequest(f"{name} must take at most {MAX_GRANTED_SCOPE_CHARS} characters in all "
                         "(space-separated), as the scope of an authorization request.")
    return granted


def claim_for_user(subject: str) -> None:
    """Claims the subject for a user (storage.clients), so no client can take it afterwards."""
    try:
        client_store.claim_user(subject)
    except client_store.SubjectTaken:
        raise Conflict(f"The subject '{subject[:80]}' is a client's id: a user cannot sign in with it, since a "
                       "client's tokens act as their client id.") from None


MAX_SKEW = 60  # seconds an authTime may lie in the future (clocks of the consent app and this server)
MAX_AMR = 16


def _unix_seconds(moment: datetime) -> int:
    """``authTime`` as Unix seconds; an RFC 3339 time must carry its offset (a bare date or a local
    time says no moment)."""
    if moment.tzinfo is None:
        raise BadRequest("authTime must be Unix seconds or an RFC 3339 time with its offset.")
    return int(moment.timestamp())


def _authentication(answer: ConsentRequestAcceptance, found: Consent) -> Authentication:
    """When and how the user authenticated (the acceptance's ``authTime``, ``providedAcr``, ``amr``;
    the time of the acceptance when ``authTime`` is absent), checked against the request's
    ``max_age`` and ``prompt=login``."""
    now = clock.now_int()
    auth_time = _unix_seconds(answer.authTime) if answer.authTime is not None else now
    if auth_time > now + MAX_SKEW or auth_time <= 0:
        raise BadRequest("authTime must be the past moment the user authenticated (Unix seconds or RFC 3339).")
    asked = found.asked
    if asked.max_age is not None and now - auth_time > asked.max_age:
        raise BadRequest(f"authTime is older than the request's max_age ({asked.max_age} s) allows: "
                         "authenticate the user again.")
    if "login" in asked.prompt.split() and auth_time < found.created_at - MAX_SKEW:
        raise BadRequest("The request has prompt=login: the user must authenticate again after it was made.")
    acr = answer.providedAcr or ""
    amr = list(answer.amr or [])
    if len(acr) > 255 or len(amr) > MAX_AMR or any(not m or len(m) > 64 for m in amr):
        raise BadRequest(f"providedAcr must be at most 255 characters, amr at most {MAX_AMR} short values.")
    return Authentication(auth_time=min(auth_time, now), acr=acr, amr=amr)


def reject(consent_id: str, reason: str) -> None:
    """Record the rejection of a pending, unexpired request, once."""
    _check_answerable(consent_id)
    try:
        store.reject(consent_id, reason[:MAX_REASON])
    except store.ConditionFailed:
        raise _explain_failed_answer(consent_id) from None


def _check_answerable(consent_id: str) -> Consent:
    found = load(consent_id)
    if found.state != store.PENDING:
        raise Conflict("The consent request was already answered.")
    if found.expired:
        raise Gone("The consent request has expired; the user must start the authorization again.")
    return found


