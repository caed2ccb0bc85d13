"""``/oauth2/consent/requests/{id}`` (and ``/accept``, ``/reject``): the consent requests the
operator's consent app reads and answers, guarded by the warden (scope ``hydra.consent``, resource
``rn:hydra:oauth2:consent:requests:<id>``, actions get, accept, reject; the warden first, then the
lookup, as classic). ``consent.requests`` checks and records the answers."""

from __future__ import annotations

from typing import Any

from hydra_lambda import claims, clock, id_token_hints, warden
from hydra_lambda.consent import requests
from hydra_lambda.consent.model import Consent
from hydra_lambda.credentials import Credentials
from hydra_lambda.endpoints import check_subject
from hydra_lambda.errors import BadRequest, Gone
from hydra_lambda.models.responses import OAuth2ConsentRequest

SCOPE = "hydra.consent"


def _require_access(caller: Credentials, consent_id: str, action: str) -> warden.AccessContext:
    return warden.require_access(caller, scope=SCOPE, resource=f"oauth2:consent:requests:{consent_id}",
                                 action=action)


def get(caller: Credentials, consent_id: str) -> dict[str, Any]:
    _require_access(caller, consent_id, "get")
    found = requests.load(consent_id)
    if found.expired:
        raise Gone("The consent request has expired; the user must start the authorization again.")
    return OAuth2ConsentRequest(
        id=found.id,
        requestedScopes=list(found.requested_scopes),
        clientId=found.client_id,
        expiresAt=clock.rfc3339(found.expires_at),
        redirectUrl=f"{found.redirect_url}&{requests.VERIFIER_PARAM}={requests.verifier(found.id)}",
        **_asked(found),
    ).body()


def _asked(found: Consent) -> dict[str, Any]:
    """What the relying party asked about the authentication, as the consent request's fields."""
    asked = found.asked
    return {
        "requestedPrompt": asked.prompt or None,
        "requestedMaxAge": asked.max_age,
        "requestedAcr": asked.acr_values.split() or None,
        "loginHint": asked.login_hint or None,
        "uiLocales": asked.ui_locales.split() or None,
        "display": asked.display or None,
        "idTokenHintClaims": id_token_hints.claims(asked.id_token_hint, found.client_id),
        "requestedClaims": claims.load(str(found.request.get("claims") or "")) or None,
    }


def accept(caller: Credentials, consent_id: str, body: dict[str, Any]) -> None:
    access = _require_access(caller, consent_id, "accept")
    answer = _answer("ConsentRequestAcceptance", body, "acceptance")
    requests.accept(consent_id, answer, lambda subject: check_subject(access.subject, subject))


def reject(caller: Credentials, consent_id: str, body: dict[str, Any]) -> None:
    _require_access(caller, consent_id, "reject")
    answer = _answer("ConsentRequestRejection", body, "rejection")
    requests.reject(consent_id, answer.reason or "")


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


def _first_error(exc: Any) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "body"
    return f"{where}: {error.get('msg', 'invalid')}"
