"""Dynamic client registration without HTTP (OpenID Connect Dynamic Client Registration 1.0, RFC 7591,
RFC 7592): the guard (open, or an initial access token), the registration policy (which grant types,
response types, scopes and auth methods a self-registered client may have), and registering, reading,
replacing and deleting a client with its registration access token.

Metadata is validated by ``clients.registry`` exactly as on the admin API; this module only narrows
what a relying party may choose. The server picks the client id (a UUID) and the secret; a
self-registered client has no owner. Only a hash of the registration access token is stored (the
scheme of generated client secrets, ``passwords``), and a wrong token costs what a wrong client secret
costs, under the same per-network budget.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from hydra_lambda import passwords, scopes
from hydra_lambda.clients import registry
from hydra_lambda.clients.model import Client
from hydra_lambda.config import Settings, get_settings
from hydra_lambda.errors import BadRequest, InvalidClientMetadata, InvalidRedirectUri, InvalidToken, NotFound

# RFC 7591 section 2 and OpenID Connect Dynamic Client Registration 1.0 section 2 metadata this server
# stores; any other member of a registration is ignored (RFC 7591 section 2), never stored.
REGISTRABLE = (
    "redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types", "client_name",
    "client_uri", "logo_uri", "scope", "contacts", "tos_uri", "policy_uri", "jwks_uri", "jwks",
    "token_endpoint_auth_signing_alg", "request_uris", "request_object_signing_alg",
    "id_token_signed_response_alg", "userinfo_signed_response_alg", "subject_type", "sector_identifier_uri",
    # OpenID Connect RP-Initiated Logout 1.0, Front-Channel Logout 1.0, Back-Channel Logout 1.0
    "post_logout_redirect_uris", "frontchannel_logout_uri", "frontchannel_logout_session_required",
    "backchannel_logout_uri", "backchannel_logout_session_required",
)
# Encryption this server does not do: refused rather than ignored, so a relying party that asked for
# encrypted ID tokens never silently gets plain ones.
UNSUPPORTED = (
    "id_token_encrypted_response_alg", "id_token_encrypted_response_enc", "userinfo_encrypted_response_alg",
    "userinfo_encrypted_response_enc", "request_object_encryption_alg", "request_object_encryption_enc",
)
APPLICATION_TYPES = ("web", "native")
REDIRECT_GRANTS = ("authorization_code", "implicit")
TOKEN_PREFIX = "hl_rat_"  # a registration access token (secret scanners can recognise a leaked one)
TOKEN_BYTES = 32
DEFAULT_AUTH_METHOD = "client_secret_basic"  # RFC 7591 section 2


def enabled() -> bool:
    return get_settings().registration_enabled


def require_enabled(path: str) -> None:
    """NotFound, exactly as an unknown route, when registration is off."""
    if not enabled():
        raise NotFound(f"No route for {path}")


# ---------------------------------------------------------------- the guard


def _initial_token_digest(settings: Settings) -> bytes | None:
    configured = settings.oidc_dynamic_client_registration_initial_access_token
    if not configured:
        return None
    if configured.startswith("sha256:"):
        return bytes.fromhex(configured.removeprefix("sha256:"))
    return hashlib.sha256(configured.encode("utf-8")).digest()


def check_initial_access_token(presented: str | None) -> None:
    """With an initial access token configured, the caller's Bearer must be it (compared as SHA-256
    digests in constant time); InvalidToken otherwise (RFC 7591 section 3, RFC 6750)."""
    expected = _initial_token_digest(get_settings())
    if expected is None:
        return
    if not presented:
        raise InvalidToken("An initial access token is required to register a client.", token_sent=False)
    given = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
    if not hmac.compare_digest(given, expected):
        raise InvalidToken("The initial access token is not valid.")


# ---------------------------------------------------------------- the policy


@dataclass(frozen=True)
class Policy:
    """What a self-registered client may have (the OIDC_DYNAMIC_CLIENT_REGISTRATION_* settings)."""

    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]  # each part of a registered response type must be one of these
    scope: tuple[str, ...]
    auth_methods: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Policy:
        settings = settings or get_settings()
        return cls(
            grant_types=settings.oidc_dynamic_client_registration_grant_types,
            response_types=settings.oidc_dynamic_client_registration_response_types,
            scope=settings.oidc_dynamic_client_registration_scope,
            auth_methods=settings.oidc_dynamic_client_registration_auth_methods,
        )

    def check(self, client: Client) -> None:
        """InvalidClientMetadata naming the first thing the policy does not allow."""
        _only("grant_types", client.grant_types, self.grant_types)
        for entry in client.response_types:
            _only("response_types", entry.split(), self.response_types, entry)
        _only("scope", client.allowed_scopes, self.scope)
        _only("token_endpoint_auth_method", [client.auth_method], self.auth_methods)


def _only(name: str, values: list[str], allowed: tuple[str, ...], shown: str = "") -> None:
    refused = [value for value in values if value not in allowed]
    if refused:
        raise InvalidClientMetadata(
            f"{name}: '{(shown or refused[0])[:80]}' is not allowed for self-registered clients "
            f"(allowed: {', '.join(allowed) or 'none'})"
        )


# ---------------------------------------------------------------- metadata


def registration_fields(metadata: dict[str, Any], *, replace: bool) -> dict[str, Any]:
    """The registry fields of a registration's (type-checked) metadata: the registrable members (with
    ``replace``, every absent one as null: RFC 7592 section 2.2 replaces the whole registration), the
    RFC 7591 default auth method, and the policy's scopes when the client names none."""
    fields = {name: metadata.get(name) for name in REGISTRABLE if replace or name in metadata}
    fields["token_endpoint_auth_method"] = metadata.get("token_endpoint_auth_method") or DEFAULT_AUTH_METHOD
    if not metadata.get("scope"):
        fields["scope"] = scopes.join(Policy.from_settings().scope)
    return fields


def check_unregistrable(body: dict[str, Any]) -> None:
    """InvalidClientMetadata for what must not be silently dropped: encryption (not supported) and an
    unknown ``application_type`` (web or native; checked, not stored: the redirect URI rules are the
    admin API's for both, http only on loopback hosts, so a native app or a local relying party
    registers the same way)."""
    asked = [name for name in UNSUPPORTED if body.get(name) not in (None, "")]
    if asked:
        raise InvalidClientMetadata(f"{asked[0]}: encrypted responses and request objects are not supported")
    if body.get("application_type", "web") not in APPLICATION_TYPES:
        raise InvalidClientMetadata("application_type must be web or native")


def _vet(policy: Policy, token_hash: str | None) -> registry.Vet:
    def vet(client: Client) -> None:
        policy.check(client)
        if any(client.has_grant_type(grant) for grant in REDIRECT_GRANTS) and not client.redirect_uris:
            raise InvalidRedirectUri("redirect_uris: at least one is required for the authorization_code "
                                     "and implicit grants")
        client.self_registered = True
        if token_hash is not None:
            client.registration_token_hash = token_hash
    return vet


def _as_registration_error(exc: BadRequest) -> InvalidClientMetadata | InvalidRedirectUri:
    """The admin API's validation message in RFC 7591's error format."""
    if exc.message.startswith("redirect_uris"):
        return InvalidRedirectUri(exc.message)
    return InvalidClientMetadata(exc.message)


# ---------------------------------------------------------------- operations


def new_token() -> tuple[str, str]:
    """A new registration access token and its stored hash."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    return token, passwords.hash_secret(token, generated=True)


def register(fields: dict[str, Any]) -> tuple[Client, str | None, str]:
    """Create a self-registered client from ``registration_fields``: the client, its cleartext secret
    (None for a public client) and its registration access token."""
    token, token_hash = new_token()
    try:
        client, secret = registry.create_client(fields, vet=_vet(Policy.from_settings(), token_hash))
    except BadRequest as exc:
        raise _as_registration_error(exc) from None
    return client, secret, token


def authenticate(client_id: str, token: str | None, network: str = "") -> Client:
    """The self-registered client ``client_id`` if ``token`` is its registration access token;
    InvalidToken otherwise, the same whether the client is unknown, deleted, made by an admin, or the
    token is wrong (compared in constant time; a failure costs one budgeted derivation, as a wrong
    client secret does)."""
    if not token:
        raise InvalidToken("A registration access token is required.", token_sent=False)
    client = registry.get_client(client_id)
    stored = client.registration_token_hash if client is not None and client.self_registered else None
    if not passwords.verify_secret(token, stored, passwords.Attempt(client_id, network)) or client is None:
        raise InvalidToken("The registration access token is not valid for this client.")
    return client


def replace(client: Client, fields: dict[str, Any], secret_sent: str | None, network: str = "") -> tuple[
        Client, str | None]:
    """Replace a self-registered client's metadata (RFC 7592 section 2.2) under the same policy; a
    ``client_secret`` sent must be its current one. Returns the client and a new cleartext secret when
    one was made (a public client turned confidential), else None. The registration access token is
    kept."""
    if secret_sent is not None and not passwords.verify_secret(
            secret_sent, client.secret_hash, passwords.Attempt(client.id, network)):
        raise InvalidClientMetadata("client_secret does not match the client's current secret")
    try:
        return registry.update_existing(client, fields, vet=_vet(Policy.from_settings(), None))
    except BadRequest as exc:
        raise _as_registration_error(exc) from None


def delete(client: Client) -> None:
    """Delete a self-registered client; its tokens stop working as for ``DELETE /clients/{id}``."""
    registry.delete_client(client.id)
