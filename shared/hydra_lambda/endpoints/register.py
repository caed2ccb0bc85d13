"""``/oauth2/register`` and ``/oauth2/register/{id}``: dynamic client registration (OpenID Connect
Dynamic Client Registration 1.0, RFC 7591) and its management (RFC 7592), off unless
OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED is true (then 404 as an unknown route). Errors in RFC 7591's
format (``invalid_client_metadata``, ``invalid_redirect_uri``, RFC 6750's ``invalid_token``).

The body's members are type-checked by the admin API's model (``models.clients.ClientBody``) and
validated by ``clients.registry`` as there; ``clients.registration`` holds the guard and the policy.
Members this server does not register (``client_id``, ``owner``, ``public``, a chosen
``client_secret``, ``software_statement``...) are ignored, as RFC 7591 section 2 says.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hydra_lambda.clients import registration
from hydra_lambda.clients.model import Client
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import InvalidClientMetadata

PATH = "/oauth2/register"
# Registered metadata answered when set (RFC 7591 section 3.2.1: "all registered metadata").
_TEXT = ("client_name", "client_uri", "logo_uri", "tos_uri", "policy_uri", "scope", "jwks_uri",
         "token_endpoint_auth_signing_alg", "request_object_signing_alg", "sector_identifier_uri",
         "frontchannel_logout_uri", "backchannel_logout_uri")
_LISTS = ("contacts", "request_uris", "post_logout_redirect_uris")
# Each flag with the URI it qualifies: answered when that URI is registered or the flag is true.
_FLAGS = (("frontchannel_logout_session_required", "frontchannel_logout_uri"),
          ("backchannel_logout_session_required", "backchannel_logout_uri"))


def require_enabled(path: str = PATH) -> None:
    registration.require_enabled(path)


def _metadata(body: dict[str, Any], *, replace: bool) -> dict[str, Any]:
    """The registrable members of ``body``, type-checked by the admin API's model; then the registry
    fields."""
    # Lazy: pydantic only on the write routes.
    from pydantic import ValidationError

    from hydra_lambda.models.clients import ClientBody

    registration.check_unregistrable(body)
    members = {name: body[name] for name in registration.REGISTRABLE if name in body}
    try:
        parsed = ClientBody.model_validate(members)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise InvalidClientMetadata(f"{where}: {first.get('msg', 'invalid')}") from None
    typed = {name: getattr(parsed, name) for name in parsed.model_fields_set}
    return registration.registration_fields(typed, replace=replace)


def wire(client: Client, token: str, secret: str | None = None) -> dict[str, Any]:
    """The client information response (RFC 7591 section 3.2.1, RFC 7592 section 3): the registered
    metadata under its RFC 7591 names, with the registration access token and URI."""
    out: dict[str, Any] = {"client_id": client.id, "client_id_issued_at": int(client.created_at.timestamp())}
    if secret:
        out |= {"client_secret": secret, "client_secret_expires_at": 0}
    out |= {
        "registration_access_token": token,
        "registration_client_uri": get_settings().url(f"{PATH}/{quote(client.id, safe='')}"),
        "redirect_uris": list(client.redirect_uris),
        "grant_types": list(client.grant_types),
        "response_types": list(client.response_types),
        "token_endpoint_auth_method": client.auth_method,
        "id_token_signed_response_alg": client.id_token_alg,
        "subject_type": client.subject_type,
    }
    out |= {name: getattr(client, name) for name in _TEXT if getattr(client, name)}
    out |= {name: list(getattr(client, name)) for name in _LISTS if getattr(client, name)}
    if client.userinfo_signed_response_alg:
        out["userinfo_signed_response_alg"] = client.userinfo_signed_response_alg
    if client.jwks is not None:
        out["jwks"] = dict(client.jwks)
    out |= {flag: getattr(client, flag) for flag, uri in _FLAGS if getattr(client, uri) or getattr(client, flag)}
    return out


def create(caller: Credentials, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /oauth2/register``: 201 with the client information response."""
    require_enabled()
    registration.check_initial_access_token(caller.bearer)
    client, secret, token = registration.register(_metadata(body, replace=False))
    return wire(client, token, secret)


def get(caller: Credentials, client_id: str) -> dict[str, Any]:
    """``GET /oauth2/register/{id}`` (RFC 7592 section 2.1). The secret is stored hashed, so it is not
    repeated; the registration access token is the one presented."""
    require_enabled(f"{PATH}/{client_id}")
    client = registration.authenticate(client_id, caller.bearer, caller.network)
    return wire(client, caller.bearer or "")


def update(caller: Credentials, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``PUT /oauth2/register/{id}`` (RFC 7592 section 2.2): the body replaces the metadata;
    ``client_id`` must name this client; a ``client_secret`` sent must be the current one."""
    require_enabled(f"{PATH}/{client_id}")
    client = registration.authenticate(client_id, caller.bearer, caller.network)
    if body.get("client_id") != client_id:
        raise InvalidClientMetadata("client_id must be present and equal the client's id")
    secret_sent = body.get("client_secret")
    if secret_sent is not None and not isinstance(secret_sent, str):
        raise InvalidClientMetadata("client_secret must be a string")
    updated, secret = registration.replace(client, _metadata(body, replace=True), secret_sent, caller.network)
    return wire(updated, caller.bearer or "", secret)


def delete(caller: Credentials, client_id: str) -> None:
    """``DELETE /oauth2/register/{id}`` (RFC 7592 section 2.3): 204; its tokens stop working."""
    require_enabled(f"{PATH}/{client_id}")
    registration.delete(registration.authenticate(client_id, caller.bearer, caller.network))
