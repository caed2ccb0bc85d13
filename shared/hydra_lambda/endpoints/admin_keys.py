"""``/admin/keys/<set>`` (GET, POST, PUT, DELETE) and ``/admin/keys/<set>/<kid>`` (GET, PUT, DELETE):
Ory Hydra's current JSON Web Key API (``jsonWebKeySet``, ``createJsonWebKeySet``), errors as
``errorOAuth2`` (every ``/admin/`` route).

Two kinds of set. The stack's own (``hydra.openid.id-token``, ``hydra.jwt.access-token``) are its AWS
KMS signing keys: reads answer their public keys (as ``/.well-known/jwks.json``); every write is a
403 that says why: AWS KMS never exports a private key nor takes one in through this API, and these
keys are rotated by ``hydra-lambda keys rotate``. Every other name is an application set
(``keys.app_sets``): keys generated here or uploaded, private parts included, stored sealed, and
served in full on these admin routes only (the body is never logged).

Authorization as the classic ``/keys``: scope ``hydra.keys.get|create|update|delete`` and a policy
allowing that action (get, create, update, delete) on ``rn:hydra:keys:<set>[:<kid>]``; on the private
admin API no token. A policy for the anonymous subject ``""`` (the first start's public-JWKS policy)
opens reads of the stack's public keys only: never an application set, whose keys are secrets.
"""

from __future__ import annotations

from typing import Any

from hydra_lambda import keys, warden
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import BadRequest, Conflict, FlowAdminError, Forbidden, NotFound
from hydra_lambda.keys import app_sets

KMS_WRITE = (
    "The keys of set '{set}' are this stack's AWS KMS signing keys. AWS KMS never exports a private key, "
    "and this API cannot import one into it either: they are not created, replaced or deleted here. "
    "Rotate them with `hydra-lambda keys rotate` (POST /keys/hydra.openid.id-token); "
    "GET /admin/keys/{set} answers their public keys. Use another set name for application keys."
)
KMS_PRIVATE = ("Private keys of set '{set}' never leave AWS KMS (KMS keys cannot be exported): only public "
               "keys are served.")


def _resource(set_name: str, kid: str | None = None) -> str:
    return f"keys:{set_name}" if kid is None else f"keys:{set_name}:{kid}"


def _require(caller: Credentials, action: str, set_name: str, kid: str | None = None) -> None:
    warden.require_access(caller, scope=f"hydra.keys.{action}", resource=_resource(set_name, kid), action=action)


def _require_get(caller: Credentials, set_name: str, kid: str | None = None) -> None:
    if app_sets.is_kms_set(set_name) and warden.is_allowed("", _resource(set_name, kid), "get"):
        return  # the public JWKS policy: public keys only
    _require(caller, "get", set_name, kid)


def _app_set(set_name: str, kid: str | None = None) -> None:
    """400 unless ``set_name`` (and ``kid``) can name an application set (and key)."""
    try:
        app_sets.check_set_name(set_name)
        if kid is not None:
            app_sets.check_kid(kid)
    except app_sets.InvalidKey as exc:
        raise BadRequest(str(exc)) from None


def _refuse_kms_write(set_name: str) -> None:
    if app_sets.is_kms_set(set_name):
        raise Forbidden(KMS_WRITE.format(set=set_name))


def _parse(model: str, body: dict[str, Any], what: str) -> Any:
    """``body`` read by its wire model (models.admin_keys); 400 naming the first problem, never a value."""
    from pydantic import ValidationError

    from hydra_lambda.models import admin_keys

    try:
        return getattr(admin_keys, model).model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        raise BadRequest(f"The {what} is invalid: {where}: {error.get('msg', 'invalid')}") from None


def _stored(call: Any, *args: Any) -> Any:
    """Run a change or read of an application set, its failures as the API's answers."""
    try:
        return call(*args)
    except app_sets.InvalidKey as exc:
        raise BadRequest(str(exc)) from None
    except app_sets.SetNotFound as exc:
        raise NotFound(f"Key set '{exc.args[0]}' not found.") from None
    except app_sets.KeyNotFound as exc:
        raise NotFound(f"Key '{exc.args[0]}' not found in set '{args[0]}'.") from None
    except app_sets.KidTaken as exc:
        raise Conflict(f"Set '{args[0]}' already holds a key with kid '{exc.args[0]}'.") from None
    except app_sets.SetFull:
        raise Conflict(f"Set '{args[0]}' would hold more than {app_sets.MAX_KEYS} keys.") from None
    except app_sets.Changed:
        raise Conflict(f"Set '{args[0]}' was changed concurrently; nothing was written. Try again.") from None
    except app_sets.Unreadable:
        raise FlowAdminError(500, f"Key set '{args[0]}' was sealed under a system secret that is no longer "
                             "configured (SYSTEM_SECRET rotated without keeping the old one).") from None


def _kms_keys(set_name: str, kid: str | None = None) -> dict[str, Any]:
    found = keys.jwks()["keys"]
    if kid is None:
        return {"keys": found}
    if kid.lower().startswith("private"):
        raise Forbidden(KMS_PRIVATE.format(set=set_name))
    found = [jwk for jwk in found if jwk["kid"] == kid]
    if not found:
        raise NotFound(f"Key '{kid}' not found in set '{set_name}'.")
    return {"keys": found}


def get_set(caller: Credentials, set_name: str) -> dict[str, Any]:
    _require_get(caller, set_name)
    if app_sets.is_kms_set(set_name):
        return _kms_keys(set_name)
    _app_set(set_name)
    return {"keys": _stored(app_sets.get_set, set_name).keys}


def get_key(caller: Credentials, set_name: str, kid: str) -> dict[str, Any]:
    _require_get(caller, set_name, kid)
    if app_sets.is_kms_set(set_name):
        return _kms_keys(set_name, kid)
    _app_set(set_name, kid)
    return {"keys": [_stored(app_sets.get_key, set_name, kid)]}


def create_set(caller: Credentials, set_name: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST: a new key generated into the set (made if absent); 201 with the new key (private part
    included: the one time Hydra's create answers it, though GET answers it again to admins)."""
    _require(caller, "create", set_name)
    _refuse_kms_write(set_name)
    _app_set(set_name)
    request = _parse("CreateJsonWebKeySet", body, "key set creation")
    return {"keys": _stored(app_sets.add_generated, set_name, request.alg, request.kid, request.use)}


def replace_set(caller: Credentials, set_name: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT of the whole set: exactly the keys sent (each checked; kids unique)."""
    _require(caller, "update", set_name)
    _refuse_kms_write(set_name)
    _app_set(set_name)
    uploaded = _parse("JsonWebKeySet", body, "key set")
    checked = _stored(app_sets.check_upload, [key.model_dump(exclude_none=True) for key in uploaded.keys])
    return {"keys": _stored(app_sets.replace_set, set_name, checked)}


def replace_key(caller: Credentials, set_name: str, kid: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT of one key: the body's ``kid`` must be the path's; replaces that key or joins the set."""
    _require(caller, "update", set_name, kid)
    _refuse_kms_write(set_name)
    _app_set(set_name, kid)
    uploaded = _parse("JsonWebKey", body, "key").model_dump(exclude_none=True)
    if uploaded["kid"] != kid:
        raise BadRequest("The key's kid must be the kid of the path.")
    return _stored(app_sets.put_key, set_name, _stored(app_sets.validate, uploaded))


def delete_set(caller: Credentials, set_name: str) -> None:
    _require(caller, "delete", set_name)
    _refuse_kms_write(set_name)
    _app_set(set_name)
    _stored(app_sets.delete_set, set_name)


def delete_key(caller: Credentials, set_name: str, kid: str) -> None:
    _require(caller, "delete", set_name, kid)
    _refuse_kms_write(set_name)
    _app_set(set_name, kid)
    _stored(app_sets.delete_key, set_name, kid)
