"""Consent requests: created by the first leg of ``/oauth2/auth``, read and answered by the
operator's consent app through the admin API, redeemed by the second leg.

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
from datetime import UTC, datetime
from typing import Any

from hydra_lambda import clock, keys, scopes, system_secret, warden
from hydra_lambda.clients import get_client
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.domain import Consent
from hydra_lambda.errors import BadRequest, Conflict, Forbidden, Gone, NotFound
from hydra_lambda.models.responses import OAuth2ConsentRequest
from hydra_lambda.storage import clients as client_store
from hydra_lambda.storage import consent as store

SCOPE = "hydra.consent"
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


def hash_csrf(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def csrf_matches(value: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_csrf(value).encode(), stored_hash.encode())


def _verifier_with(key: bytes, consent_id: str) -> str:
    digest = hmac.new(key, _VERIFIER_LABEL + consent_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verifier(consent_id: str) -> str:
    """The consent verifier: HMAC-SHA256 of the consent id under the system secret. Only the admin API
    hands it out (inside ``redirectUrl``); nothing about it is stored, and neither the cookie nor
    anything else the browser that started the flow holds can produce it."""
    return _verifier_with(system_secret.keys()[0], consent_id)


def verifier_matches(consent_id: str, value: str) -> bool:
    """Checked against every configured system secret, so rotating it does not break flows in progress."""
    given = value.encode("utf-8")
    found = False
    for key in system_secret.keys():
        found |= hmac.compare_digest(_verifier_with(key, consent_id).encode(), given)
    return found and bool(value)


def create(*, client_id: str, requested_scopes: list[str], request: dict[str, Any],
           base_redirect: str) -> tuple[Consent, str]:
    """Store a pending consent request; returns it and the browser's CSRF value, which goes only into
    the cookie (the row keeps its hash; neither the row nor ``redirectUrl`` holds it)."""
    consent_id = uuid.uuid4().hex
    csrf = secrets.token_urlsafe(32)
    now = clock.now_int()
    sep = "&" if "?" in base_redirect else "?"
    consent = Consent(
        id=consent_id,
        client_id=client_id,
        requested_scopes=list(requested_scopes),
        redirect_url=f"{base_redirect}{sep}consent={consent_id}",
        csrf_hash=hash_csrf(csrf),
        expires_at=now + get_settings().challenge_token_lifespan,
        request=request,
        created_at=now,
    )
    store.create(consent)
    return consent, csrf


def _rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _require_access(caller: Credentials, consent_id: str, action: str) -> warden.AccessContext:
    return warden.require_access(caller, scope=SCOPE, resource=f"oauth2:consent:requests:{consent_id}",
                                 action=action)


def _load(consent_id: str) -> Consent:
    found = store.get(consent_id)
    if found is None:
        raise NotFound(f"The consent request '{consent_id[:64]}' does not exist.")
    return found


def get_request(caller: Credentials, consent_id: str) -> dict[str, Any]:
    """``GET /oauth2/consent/requests/{id}`` (warden first, then the lookup, as classic)."""
    _require_access(caller, consent_id, "get")
    found = _load(consent_id)
    if found.expired:
        raise Gone("The consent request has expired; the user must start the authorization again.")
    return OAuth2ConsentRequest(
        id=found.id,
        requestedScopes=list(found.requested_scopes),
        clientId=found.client_id,
        expiresAt=_rfc3339(found.expires_at),
        redirectUrl=f"{found.redirect_url}&{VERIFIER_PARAM}={verifier(found.id)}",
        **_asked(found),
    ).body()


def _asked(found: Consent) -> dict[str, Any]:
    """What the relying party asked about the authentication, as the consent request's fields."""
    request = found.request
    max_age = request.get("max_age")
    return {
        "requestedPrompt": request.get("prompt") or None,
        "requestedMaxAge": int(max_age) if max_age is not None else None,
        "requestedAcr": (request.get("acr_values") or "").split() or None,
        "loginHint": request.get("login_hint") or None,
        "uiLocales": (request.get("ui_locales") or "").split() or None,
        "idTokenHintClaims": _hint_claims(request.get("id_token_hint") or "", found.client_id),
    }


def _hint_claims(hint: str, client_id: str) -> dict[str, Any] | None:
    """The claims of an ``id_token_hint`` this server signed for this client (expired is fine: OpenID
    Connect Core 3.1.2.1); None for anything else, so a forged hint never reaches the consent app."""
    if not hint:
        return None
    from jose import JOSEError, jwt  # lazy: 24 ms of imports (python -X importtime), only for a hint

    try:
        claims = jwt.decode(hint, keys.jwks(), algorithms=keys.algorithms(), audience=client_id,
                            issuer=get_settings().issuer, options={"verify_exp": False, "verify_at_hash": False})
    except (JOSEError, ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) and claims.get("sub") else None


def _explain_failed_answer(consent_id: str) -> Exception:
    """After a failed conditional write: why (re-read; the write is what decided)."""
    found = store.get(consent_id)
    if found is None:
        return NotFound(f"The consent request '{consent_id[:64]}' does not exist.")
    if found.state != store.PENDING:
        return Conflict("The consent request was already answered.")
    return Gone("The consent request has expired; the user must start the authorization again.")


def _answer(model: str, body: dict[str, Any], what: str) -> Any:
    """The body read by its pydantic wire model (``ConsentRequestAcceptance``/``Rejection``)."""
    # Lazy: pydantic (14 ms, python -X importtime) stays off the consent read path
    # (tests/integration/test_perf_coldstart.py); only the answers load it.
    from pydantic import ValidationError

    from hydra_lambda.models import consent as models

    try:
        return getattr(models, model).model_validate(body)
    except ValidationError as exc:
        raise BadRequest(f"The {what} is invalid: {_first_error(exc)}") from None


def accept(caller: Credentials, consent_id: str, body: dict[str, Any]) -> None:
    access = _require_access(caller, consent_id, "accept")
    answer = _answer("ConsentRequestAcceptance", body, "acceptance")
    found = _check_answerable(consent_id)
    subject = answer.subject or ""
    if not subject.strip():
        raise BadRequest("subject is required: it identifies the user who consented.")
    if len(subject) > 255:
        raise BadRequest("subject must be at most 255 characters.")
    granted = _granted_scopes(answer.grantScopes or [])
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
    _check_subject(access.subject, subject)
    try:
        store.accept(consent_id, subject=subject, grant_scopes=granted,
                     access_token_extra=answer.accessTokenExtra or {}, id_token_extra=answer.idTokenExtra or {},
                     authentication=authentication)
    except store.ConditionFailed:
        raise _explain_failed_answer(consent_id) from None


def _granted_scopes(given: list[str]) -> list[str]:
    if len(given) > scopes.MAX_SCOPES:
        raise BadRequest(f"grantScopes may hold at most {scopes.MAX_SCOPES} scopes.")
    granted = list(dict.fromkeys(given))
    invalid = [scope for scope in granted if not scopes.is_valid_scope(scope)]
    if invalid:
        raise BadRequest(f"'{invalid[0][:80]}' is not a valid scope.")
    if len(scopes.join(granted)) > MAX_GRANTED_SCOPE_CHARS:
        raise BadRequest(f"grantScopes must take at most {MAX_GRANTED_SCOPE_CHARS} characters in all "
                         "(space-separated), as the scope of an authorization request.")
    return granted


def _check_subject(answerer: str, subject: str) -> None:
    """The subject a consent app signs in must be a user's, never a client's id (its tokens would act
    as that client), and never an admin identity unless the consent app may act as one itself: the
    right to answer consent requests must not be the right to become root. Claims the subject for a
    user (storage.clients), so no client can take it afterwards."""
    if warden.holds_admin_rights(subject) and not warden.holds_admin_rights(answerer):
        raise Forbidden(f"The subject '{subject[:80]}' holds admin rights (it may manage policies, warden groups or "
                        "clients): only a consent app that holds them itself may sign it in.")
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


def _authentication(answer: Any, found: Consent) -> dict[str, Any]:
    """When and how the user authenticated (the acceptance's ``authTime``, ``providedAcr``, ``amr``;
    the time of the acceptance when ``authTime`` is absent), checked against the request's
    ``max_age`` and ``prompt=login``."""
    now = clock.now_int()
    auth_time = _unix_seconds(answer.authTime) if answer.authTime is not None else now
    if auth_time > now + MAX_SKEW or auth_time <= 0:
        raise BadRequest("authTime must be the past moment the user authenticated (Unix seconds or RFC 3339).")
    max_age = found.request.get("max_age")
    if max_age is not None and now - auth_time > int(max_age):
        raise BadRequest(f"authTime is older than the request's max_age ({int(max_age)} s) allows: "
                         "authenticate the user again.")
    if "login" in (found.request.get("prompt") or "").split() and auth_time < found.created_at - MAX_SKEW:
        raise BadRequest("The request has prompt=login: the user must authenticate again after it was made.")
    acr = answer.providedAcr or ""
    amr = list(answer.amr or [])
    if len(acr) > 255 or len(amr) > MAX_AMR or any(not m or len(m) > 64 for m in amr):
        raise BadRequest(f"providedAcr must be at most 255 characters, amr at most {MAX_AMR} short values.")
    return {"auth_time": min(auth_time, now), "acr": acr, "amr": amr}


def reject(caller: Credentials, consent_id: str, body: dict[str, Any]) -> None:
    _require_access(caller, consent_id, "reject")
    answer = _answer("ConsentRequestRejection", body, "rejection")
    _check_answerable(consent_id)
    try:
        store.reject(consent_id, (answer.reason or "")[:MAX_REASON])
    except store.ConditionFailed:
        raise _explain_failed_answer(consent_id) from None


def _check_answerable(consent_id: str) -> Consent:
    found = _load(consent_id)
    if found.state != store.PENDING:
        raise Conflict("The consent request was already answered.")
    if found.expired:
        raise Gone("The consent request has expired; the user must start the authorization again.")
    return found


def _first_error(exc: Any) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "body"
    return f"{where}: {error.get('msg', 'invalid')}"
