"""``/admin/trust/grants/jwt-bearer/issuers[/{id}]``: the trusted issuers of the JWT bearer grant, as
Ory Hydra (``trustOAuth2JwtGrantIssuer`` in, ``trustedOAuth2JwtGrantIssuer`` out): POST (201 with
``Location``), GET list (``page_size``, ``page_token``, ``issuer``; a ``Link`` header to the next page),
GET and DELETE (204) by id. Guarded by the warden: scope ``hydra.trust``, resource
``rn:hydra:trust:jwt-bearer:issuers[:<id>]``, actions list, create, get, delete."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hydra_lambda import clock, paging, warden
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest
from hydra_lambda.models.trust_answers import TrustedOAuth2JwtGrantIssuer, TrustedOAuth2JwtGrantJsonWebKey
from hydra_lambda.trust import issuers
from hydra_lambda.trust.model import TrustedIssuer

SCOPE = "hydra.trust"
PATH = "/admin/trust/grants/jwt-bearer/issuers"
RESOURCE = "trust:jwt-bearer:issuers"
DEFAULT_PAGE, MAX_PAGE = 250, 1000  # Ory's default and the SDK's bound


def page(caller: Credentials, query: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page of the trusts in id order, and the ``Link`` header to the next one."""
    warden.require_access(caller, scope=SCOPE, resource=RESOURCE, action="list")
    size = paging.page_size(query.get("page_size", ""), DEFAULT_PAGE, MAX_PAGE)
    after = paging.keyset_after(query.get("page_token", ""), "t", _trust_id)
    issuer = query.get("issuer") or None
    found, more = issuers.page(size, after, issuer)
    headers: dict[str, str] = {}
    if more:
        next_token = paging.keyset_token("t", found[-1].id)
        params = {**({"issuer": issuer} if issuer else {}), "page_size": str(size), "page_token": next_token}
        headers["Link"] = f'<{PATH}?{urlencode(params)}>; rel="next"'
    return [wire(trust) for trust in found], headers


def create(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    warden.require_access(caller, scope=SCOPE, resource=RESOURCE, action="create")
    parsed = _parse(body)
    trust = issuers.create(issuers.NewTrust(
        issuer=parsed.issuer, subject=parsed.subject, allow_any_subject=bool(parsed.allow_any_subject),
        scope=list(parsed.scope), jwk=dict(parsed.jwk), expires_at=parsed.expires_at))
    return wire(trust)


def get(caller: Credentials, trust_id: str) -> dict[str, Any]:
    warden.require_access(caller, scope=SCOPE, resource=f"{RESOURCE}:{trust_id}", action="get")
    return wire(issuers.get(trust_id))


def delete(caller: Credentials, trust_id: str) -> None:
    warden.require_access(caller, scope=SCOPE, resource=f"{RESOURCE}:{trust_id}", action="delete")
    issuers.delete(trust_id)


def location(answer: dict[str, Any]) -> str:
    return f"{PATH}/{answer['id']}"


def wire(trust: TrustedIssuer) -> dict[str, Any]:
    return TrustedOAuth2JwtGrantIssuer(
        id=trust.id, issuer=trust.issuer, subject=trust.subject, allow_any_subject=trust.allow_any_subject,
        scope=list(trust.scope), public_key=TrustedOAuth2JwtGrantJsonWebKey(set=trust.issuer, kid=trust.kid),
        created_at=clock.rfc3339(trust.created_at), expires_at=clock.rfc3339(trust.expires_at),
    ).body()


def _parse(body: dict[str, Any]) -> Any:
    # Lazy: pydantic only on the writing route (tests/integration/test_perf_coldstart.py).
    from pydantic import ValidationError

    from hydra_lambda.models.trust import TrustOAuth2JwtGrantIssuer

    try:
        return TrustOAuth2JwtGrantIssuer.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        raise BadRequest(f"The trust is invalid: {where}: {error.get('msg', 'invalid')}") from None


def _trust_id(last_id: str) -> bool:
    return len(last_id) == 36
