"""``/keys/{set}`` and ``/keys/{set}/{kid}``: the classic JSON Web Key API over the KMS-backed
signing keys: ``GET /keys/hydra.openid.id-token`` and ``GET /keys/hydra.openid.id-token/{kid}``
answer the public keys (as ``/.well-known/jwks.json``).

Authorization as classic Hydra: the anonymous subject ``""`` first (the first start's public JWKS
policy allows ``get`` on ``rn:hydra:keys:hydra.openid.id-token:<kid>``), else a Bearer token with
``hydra.keys.get`` whose subject the policies allow ``get`` on ``rn:hydra:keys:<set>[:<kid>]``.

Private keys never leave AWS KMS (or, in envelope mode, their sealed secret): asking for one is a
403. ``POST /keys/hydra.openid.id-token`` (``hydra.keys.create``, action ``create``) performs one step
of the scheduled rotation (``keys.rotation.rotate_now``) when the stack signs through its alias triple,
else 409; 409 too (with ``Retry-After``) within the minimum interval of the last step, unless the body
says ``"force": true`` (a compromised key). Replacing or deleting keys through this API is refused
with a 403 that names the command that does it (``hydra-lambda keys rotate``).
"""

from __future__ import annotations

from typing import Any

from hydra_lambda import keys, warden
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest, Conflict, Forbidden, NotFound
from hydra_lambda.keys import rotation

ID_TOKEN_SET = "hydra.openid.id-token"
ACTIONS = {"PUT": "update", "DELETE": "delete"}
MANAGED_ELSEWHERE = (
    "The ID token signing keys live in AWS KMS and are chosen by the SIGNING_KEYS setting: rotate them "
    "with `hydra-lambda keys rotate` (POST /keys/hydra.openid.id-token); keys are never replaced or "
    "deleted through this API."
)
PRIVATE = "Private keys never leave AWS KMS: only public keys are served."


def _require_get_access(caller: Credentials, resource: str) -> None:
    if warden.is_allowed("", resource, "get"):
        return
    warden.require_access(caller, scope="hydra.keys.get", resource=resource, action="get")


def _is_private(kid: str) -> bool:
    return kid.lower().startswith("private")


def get_set(caller: Credentials, set_name: str) -> dict[str, Any]:
    _require_get_access(caller, f"keys:{set_name}")
    if set_name != ID_TOKEN_SET:
        raise NotFound(f"Key set '{set_name}' not found; the only set is {ID_TOKEN_SET}")
    return keys.jwks()


def get_key(caller: Credentials, set_name: str, kid: str) -> dict[str, Any]:
    _require_get_access(caller, f"keys:{set_name}:{kid}")
    if _is_private(kid):
        raise Forbidden(PRIVATE)
    if set_name != ID_TOKEN_SET:
        raise NotFound(f"Key set '{set_name}' not found; the only set is {ID_TOKEN_SET}")
    found = [jwk for jwk in keys.jwks()["keys"] if jwk["kid"] == kid]
    if not found:
        raise NotFound(f"Key '{kid}' not found in {ID_TOKEN_SET}")
    return {"keys": found}


def refuse_change(caller: Credentials, method: str, set_name: str, kid: str | None = None) -> None:
    """PUT and DELETE: authorized as classic Hydra would (so a stranger learns nothing), then 403."""
    action = ACTIONS[method]
    resource = f"keys:{set_name}" if kid is None else f"keys:{set_name}:{kid}"
    warden.require_access(caller, scope=f"hydra.keys.{action}", resource=resource, action=action)
    raise Forbidden(MANAGED_ELSEWHERE)


def create_set(caller: Credentials, set_name: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /keys/<set>: one rotation step of the ID-token keys; the public set after it."""
    warden.require_access(caller, scope="hydra.keys.create", resource=f"keys:{set_name}", action="create")
    if set_name != ID_TOKEN_SET:
        raise NotFound(f"Key set '{set_name}' not found; the only set is {ID_TOKEN_SET}")
    alg = body.get("alg", "RS256")
    if not isinstance(alg, str) or alg not in rotation.ALGORITHM_KEY_SPECS:
        raise BadRequest(f"alg must be one of {', '.join(rotation.ALGORITHM_KEY_SPECS)}")
    if not isinstance(body.get("kid", ""), str):
        raise BadRequest("kid must be a string (it is ignored: KMS names the new key)")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise BadRequest("force must be true or false (true skips the minimum interval: for a compromised key)")
    try:
        rotation.rotate_now(alg, get_settings().retired_key_deletion_days, force=force)
    except rotation.RotationTooSoon as exc:
        raise Conflict(str(exc), headers={"Retry-After": str(exc.seconds_left)}) from exc
    except (rotation.NotRotatable, rotation.RotationInProgress) as exc:
        raise Conflict(str(exc)) from exc
    return keys.jwks()
