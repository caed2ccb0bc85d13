"""Which claims about the user are released, and where (OpenID Connect Core 5.4 and 5.5).

The consent app supplies the user's claims (``idTokenExtra``); this module decides which of them reach
the ID token and ``/userinfo``:

- a *standard* claim (the claims of the ``profile``, ``email``, ``address`` and ``phone`` scopes) is
  released only when a granted scope covers it, or when the ``claims`` request parameter names it for
  that target (``id_token`` or ``userinfo``) and the user did not refuse its scope;
- any other claim the consent app supplies is released in both, as classic Hydra did (the consent app
  owns its custom claims);
- the claims the server sets itself (``iss``, ``sub``, ``aud``, ...) never come from the consent app.

The ``claims`` parameter is parsed here into a bounded, normalized form (:func:`parse_request`) that is
stored with the authorization request and shown to the consent app as ``requestedClaims``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
                "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}
STANDARD_SCOPES = tuple(SCOPE_CLAIMS)
# Claims a scope governs: never released unless granted or asked for.
USER_CLAIMS = frozenset(claim for names in SCOPE_CLAIMS.values() for claim in names)
_SCOPE_OF = {claim: scope for scope, names in SCOPE_CLAIMS.items() for claim in names}

TARGETS = ("id_token", "userinfo")
MAX_CLAIMS_PARAM = 2048  # characters of the raw parameter
MAX_CLAIMS_PER_TARGET = 50
MAX_CLAIM_NAME = 255
MAX_VALUES = 20

ClaimsRequest = dict[str, dict[str, Any]]  # target -> claim name -> None or {essential, value, values}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_request(raw: str) -> ClaimsRequest:
    """The ``claims`` parameter (OIDC Core 5.5) validated and normalized; ValueError (with a message
    fit for ``error_description``) for anything else. Members other than the two targets, wrong types,
    oversize input and non-JSON numbers are refused; unknown members of a claim's object are dropped."""
    if len(raw) > MAX_CLAIMS_PARAM:
        raise ValueError(f"the claims parameter is longer than {MAX_CLAIMS_PARAM} characters")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ValueError("the claims parameter is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the claims parameter must be a JSON object")
    unknown = [key for key in data if key not in TARGETS]
    if unknown:
        raise ValueError(f"the claims parameter has an unknown member '{str(unknown[0])[:40]}' "
                         "(only userinfo and id_token)")
    return {target: _target(target, members) for target, members in data.items()}


def _target(target: str, members: Any) -> dict[str, Any]:
    if not isinstance(members, dict):
        raise ValueError(f"claims.{target} must be a JSON object")
    if len(members) > MAX_CLAIMS_PER_TARGET:
        raise ValueError(f"claims.{target} names more than {MAX_CLAIMS_PER_TARGET} claims")
    out: dict[str, Any] = {}
    for name, spec in members.items():
        if not name or len(name) > MAX_CLAIM_NAME:
            raise ValueError(f"claims.{target} has an empty or overlong claim name")
        out[name] = _claim(f"claims.{target}.{name[:40]}", spec)
    return out


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _claim(where: str, spec: Any) -> dict[str, Any] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be null or a JSON object")
    out: dict[str, Any] = {}
    if "essential" in spec:
        if not isinstance(spec["essential"], bool):
            raise ValueError(f"{where}.essential must be true or false")
        out["essential"] = spec["essential"]
    if "value" in spec:
        if not _is_scalar(spec["value"]):
            raise ValueError(f"{where}.value must be a string, number or boolean")
        out["value"] = spec["value"]
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or len(values) > MAX_VALUES or not all(_is_scalar(v) for v in values):
            raise ValueError(f"{where}.values must be an array of at most {MAX_VALUES} strings, numbers or booleans")
        out["values"] = list(values)
    return out


def canonical(request: ClaimsRequest) -> str:
    """The normalized request as a stable string (stored with the authorization request and compared
    by the second leg)."""
    return json.dumps(request, sort_keys=True, separators=(",", ":")) if request else ""


def load(stored: str) -> ClaimsRequest:
    """A stored canonical request back (empty for none or anything unreadable)."""
    if not stored:
        return {}
    try:
        return parse_request(stored)
    except ValueError:
        return {}


def for_grant(request: ClaimsRequest, requested_scopes: Iterable[str], granted_scopes: Iterable[str]) -> ClaimsRequest:
    """The claims request minus the standard claims whose scope the user was asked for and refused:
    unticking ``email`` on the consent page wins over a ``claims`` parameter naming ``email``."""
    refused = set(requested_scopes) - set(granted_scopes)
    return {target: {name: spec for name, spec in members.items() if _SCOPE_OF.get(name) not in refused}
            for target, members in request.items()}


def scope_claims(granted_scopes: Iterable[str]) -> set[str]:
    """The standard claims the granted scopes cover (exact scope names: the standard scopes have no
    wildcard meaning)."""
    out: set[str] = set()
    for scope in granted_scopes:
        out.update(SCOPE_CLAIMS.get(scope, ()))
    return out


def released(supplied: Mapping[str, Any], *, granted_scopes: Iterable[str], request: ClaimsRequest, target: str,
             reserved: Iterable[str] = ()) -> dict[str, Any]:
    """What of the consent app's claims goes into ``target`` (``id_token`` or ``userinfo``)."""
    reserved = set(reserved)
    allowed = scope_claims(granted_scopes) | set(request.get(target, {}))
    return {name: value for name, value in supplied.items()
            if name not in reserved and (name not in USER_CLAIMS or name in allowed)}


def acr_requirement(request: ClaimsRequest, acr_values: str) -> tuple[bool, list[str]]:
    """(whether ``acr`` is essential, the acceptable values) from ``claims.id_token.acr`` (its
    ``value``/``values``, else the ``acr_values`` parameter)."""
    spec = request.get("id_token", {}).get("acr") or {}
    accepted = [str(v) for v in spec.get("values", [])]
    if "value" in spec:
        accepted.append(str(spec["value"]))
    return bool(spec.get("essential")), accepted or acr_values.split()


def unmet(request: ClaimsRequest, *, subject: str, acr: str, acr_values: str) -> str:
    """Why the authentication does not satisfy the claims request (OIDC Core 5.5.1: a ``sub`` asked
    with a value must be that user; an essential ``acr`` must be one of the values asked), or ''."""
    for target in TARGETS:
        sub = request.get(target, {}).get("sub") or {}
        if "value" in sub and str(sub["value"]) != subject:
            return "The claims request asked for another subject."
    essential, accepted = acr_requirement(request, acr_values)
    if essential and (not acr or (accepted and acr not in accepted)):
        return "The authentication does not meet the essential acr the claims request asked for."
    return ""


def supported() -> list[str]:
    """Every standard user claim, in the order of OIDC Core 5.4."""
    return [claim for names in SCOPE_CLAIMS.values() for claim in names]
