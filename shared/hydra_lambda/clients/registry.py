"""The client registry: reading clients (``get_client``, and ``get_client_for_auth`` from the
per-container cache), validating their metadata, and creating, updating and deleting them. Unguarded:
``endpoints.clients`` asks the warden first; the bootstrap and the CLI call these directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from hydra_lambda import clock, keys, passwords, scopes, sealing, subjects
from hydra_lambda.cache import TimedCache
from hydra_lambda.client_ids import ID_RULE, MAX_ID_LENGTH, MIN_SECRET_LENGTH, is_valid_client_id
from hydra_lambda.clients import current_metadata, lifespans, logout_metadata, metadata
from hydra_lambda.clients.model import SUPPORTED_GRANT_TYPES, SUPPORTED_RESPONSE_TYPES, Client
from hydra_lambda.clients.uris import has_scheme, is_loopback, is_uri
from hydra_lambda.config import get_settings
from hydra_lambda.errors import BadRequest, Conflict, NotFound
from hydra_lambda.passwords import MAX_SECRET_LENGTH
from hydra_lambda.storage import clients as store
from hydra_lambda.storage.clients import MAX_ITEM_BYTES

MAX_TEXT_LENGTH = 2000
MAX_LIST_ITEMS = 100
_FORBIDDEN_SCHEMES = {"javascript", "data", "vbscript", "file", "blob", "about"}
_TEXT_FIELDS = ("client_name", "owner", "policy_uri", "tos_uri", "client_uri", "logo_uri")
_URI_FIELDS = ("policy_uri", "tos_uri", "client_uri", "logo_uri")


# ---------------------------------------------------------------- reads used by the OAuth flows


def get_client(client_id: str) -> Client | None:
    """The client with that id (one strongly consistent read), or None."""
    if not client_id or len(client_id) > MAX_ID_LENGTH or "#" in client_id:  # '#': a subject claim's key
        return None
    return store.get(client_id)


# Client records reused for client authentication only (CLIENT_CACHE_SECONDS, 10 s by default, 0 =
# off): client id -> (when it was read, on the clock; client). Only found clients are kept, so a
# client created after a failed attempt works at once. The secret is still verified on every request,
# against the cached hash. This container forgets a client at once when it updates or deletes it;
# other containers see the change within the TTL.
_auth_cache: TimedCache[str, Client] = TimedCache("clients", lambda: get_settings().client_cache_seconds)


def get_client_for_auth(client_id: str) -> Client | None:
    """``get_client``, served from the per-container cache while CLIENT_CACHE_SECONDS allows."""
    return _auth_cache.get_or_load(client_id, lambda: get_client(client_id))


def forget_cached(client_id: str) -> None:
    """Drop a client from this container's authentication cache (after a local update or delete)."""
    _auth_cache.pop(client_id)


# ---------------------------------------------------------------- validation


def _bad(message: str) -> BadRequest:
    return BadRequest(message)


def validate_redirect_uri(uri: str, name: str = "redirect_uris") -> None:
    """Absolute, no fragment; https, or http on a loopback host, or a private-use scheme with a dot
    (RFC 8252 section 7.1, native apps). ``name``: the field (``post_logout_redirect_uris`` follow
    the same rule)."""
    if not has_scheme(uri):
        raise _bad(f"{name}: '{uri[:80]}' must be an absolute URI")
    if len(uri) > MAX_TEXT_LENGTH or not is_uri(uri):
        raise _bad(f"{name}: '{uri[:80]}' is not a valid URI (RFC 3986)")
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError as exc:
        raise _bad(f"{name}: '{uri[:80]}' is not a valid URI") from exc
    scheme = parts.scheme.lower()
    if not scheme:
        raise _bad(f"{name}: '{uri[:80]}' must be an absolute URI")
    if parts.fragment or "#" in uri:
        raise _bad(f"{name}: '{uri[:80]}' must not contain a fragment")
    if scheme in ("http", "https"):
        if not host:
            raise _bad(f"{name}: '{uri[:80]}' must name a host")
        if scheme == "http" and not is_loopback(host):
            raise _bad(f"{name}: '{uri[:80]}' must use https (http is allowed for loopback hosts only)")
        return
    if scheme in _FORBIDDEN_SCHEMES or "." not in scheme:
        raise _bad(f"{name}: '{uri[:80]}' must use https, http on loopback, or a private-use scheme "
                   "such as com.example.app")


def _validate_uris(name: str, values: list[str]) -> list[str]:
    """A bounded list of redirect-style URIs (``redirect_uris``, ``post_logout_redirect_uris``), kept
    as given (matched later by exact string comparison), duplicates dropped."""
    uris = _validate_list(name, values)
    for uri in uris:
        validate_redirect_uri(uri, name)
    return uris


def _validate_uri_field(name: str, value: str) -> None:
    if not value:
        return
    if not is_uri(value):
        raise _bad(f"{name}: '{value[:80]}' is not a valid URI (RFC 3986)")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise _bad(f"{name} must be an absolute http or https URL") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise _bad(f"{name} must be an absolute http or https URL")


def _validate_list(name: str, values: list[str], allowed: tuple[str, ...] | None = None) -> list[str]:
    if len(values) > MAX_LIST_ITEMS:
        raise _bad(f"{name}: at most {MAX_LIST_ITEMS} entries are allowed")
    out: list[str] = []
    for value in values:
        if not value or len(value) > MAX_TEXT_LENGTH:
            raise _bad(f"{name}: entries must be non-empty and at most {MAX_TEXT_LENGTH} characters")
        if allowed is not None:
            parts = value.split(" ")
            if not all(part in allowed for part in parts):
                raise _bad(f"{name}: '{value[:80]}' is not supported (supported: {', '.join(allowed)})")
        if value not in out:
            out.append(value)
    return out


def _too_large(exc: Any) -> BadRequest:
    return _bad(f"The client is too large to store: it takes {exc.size} bytes and a stored client may take at most "
                f"{MAX_ITEM_BYTES} (DynamoDB's 400 KB item limit); shorten its lists or text fields")


def validate_client_id(client_id: str) -> None:
    if not is_valid_client_id(client_id):  # the rules, shared with FORCE_ROOT_CLIENT_CREDENTIALS
        raise _bad(ID_RULE)


def validate_secret(secret: str) -> None:
    if len(secret) < MIN_SECRET_LENGTH:
        raise _bad(f"The client secret must be at least {MIN_SECRET_LENGTH} characters long")
    if len(secret) > MAX_SECRET_LENGTH:
        raise _bad(f"The client secret must be at most {MAX_SECRET_LENGTH} characters long")


def _apply(client: Client, fields: dict[str, Any]) -> None:
    """Copy validated ``fields`` (None clears) onto ``client``."""
    for name in _TEXT_FIELDS:
        if name in fields:
            value = fields[name] or ""
            if len(value) > MAX_TEXT_LENGTH:
                raise _bad(f"{name} must be at most {MAX_TEXT_LENGTH} characters")
            if name in _URI_FIELDS:
                _validate_uri_field(name, value)
            setattr(client, name, value)
    if "scope" in fields:
        try:
            client.scope = " ".join(scopes.parse_scope(fields["scope"] or ""))
        except ValueError as exc:
            raise _bad(f"scope: {exc}") from exc
    if "redirect_uris" in fields:
        client.redirect_uris = _validate_uris("redirect_uris", fields["redirect_uris"] or [])
    if "post_logout_redirect_uris" in fields:
        client.post_logout_redirect_uris = _validate_uris("post_logout_redirect_uris",
                                                          fields["post_logout_redirect_uris"] or [])
    if "grant_types" in fields:
        client.grant_types = _validate_list("grant_types", fields["grant_types"] or [], SUPPORTED_GRANT_TYPES)
    if "response_types" in fields:
        client.response_types = _validate_list(
            "response_types", fields["response_types"] or [], SUPPORTED_RESPONSE_TYPES
        )
    if "contacts" in fields:
        client.contacts = _validate_list("contacts", fields["contacts"] or [])
    if "public" in fields:
        client.public = bool(fields["public"])
    metadata.apply(client, fields)
    logout_metadata.apply(client, fields)
    current_metadata.apply(client, fields)
    if "lifespans" in fields:  # the current API's per-grant lifespans (seconds), replaced as a whole
        client.lifespans = lifespans.validate(fields["lifespans"] or {})
    _check_signing_algs(client, fields)
    client.__post_init__()
    if client.public and client.has_grant_type("client_credentials"):
        raise _bad("A public client cannot use the client_credentials grant")


_SIGNED_RESPONSE_FIELDS = ("id_token_signed_response_alg", "userinfo_signed_response_alg")


def _check_signing_algs(client: Client, fields: dict[str, Any]) -> None:
    """An algorithm this server has no key set for is refused when registered (checked on the fields
    this write sends: a set removed later fails at signing time, loudly)."""
    for name in _SIGNED_RESPONSE_FIELDS:
        alg = getattr(client, name)
        if name not in fields or alg in ("", "none"):
            continue
        served = keys.signing_algorithms()
        if alg not in served:
            turn_on = f"SIGNING_KEYS_{alg}" if alg in keys.DEDICATED_SETS else "an RSA key first in SIGNING_KEYS"
            raise _bad(f"{name}: this server does not sign {alg} (it signs {', '.join(served)}); "
                       f"the operator turns {alg} on with {turn_on}")


# ---------------------------------------------------------------- unguarded operations


Vet = Callable[[Client], None]  # a last check (and mark) of the validated client before it is written


def create_client(fields: dict[str, Any], vet: Vet | None = None) -> tuple[Client, str | None]:
    """Validate and store a new client. Returns it and the cleartext secret (None for public
    clients). Raises BadRequest, or Conflict when the id is taken. ``vet`` sees the validated client
    just before it is written (the registration policy of /oauth2/register) and may refuse it."""
    client_id = fields.get("id") or str(uuid.uuid4())
    validate_client_id(client_id)
    client = Client(id=client_id)
    _apply(client, fields)
    secret = fields.get("client_secret")
    if client.public:
        if secret:
            raise _bad("A public client has no secret; remove client_secret or set public to false")
        secret = None
    elif secret:
        validate_secret(secret)
        client.secret_hash = passwords.hash_secret(secret, generated=False)
    else:
        secret = passwords.generate_secret()
        client.secret_hash = passwords.hash_secret(secret, generated=True)
    _seal_if_needed(client, secret)
    if vet is not None:
        vet(client)
    subjects.check_registration(client)  # last: it may fetch the sector_identifier_uri document
    try:
        store.create(client, owner_claim=_owner_to_claim(client.owner, client_id))
    except store.AlreadyExists:
        raise Conflict(f"A client with id '{client_id}' already exists") from None
    except store.SubjectTaken as exc:
        raise _taken(exc.subject, client_id) from None
    except store.TooLarge as exc:
        raise _too_large(exc) from None
    return client, secret


def _seal_if_needed(client: Client, secret: str | None) -> None:
    """A ``client_secret_jwt`` client's secret, sealed (the server recomputes its HMAC assertions);
    every other client keeps the hash only. ``secret`` is the new cleartext, None when unchanged."""
    if client.auth_method != "client_secret_jwt":
        client.secret_sealed = None
    elif secret:
        client.secret_sealed = sealing.seal(secret, client.id)
    elif not client.secret_sealed:  # only a hash is stored: the server could never check its assertions
        raise _bad("client_secret_jwt needs the secret itself, which is stored sealed for such clients: send "
                   "client_secret with this change (only a hash of the current one is stored)")


def _owner_to_claim(owner: str, client_id: str) -> str | None:
    """The owner to claim as a user's subject with this write, or None when there is nothing to claim:
    no owner, the client itself, a subject no client id can be, one claimed already, or a client's id
    (a tenant owning the clients it makes). An owner is a subject: EqualsSubjectCondition policies
    give it the rights over its clients, so no client may take it later."""
    if not owner or owner == client_id or not store.needs_claim(owner) or store.is_claimed(owner):
        return None
    return None if store.get(owner) is not None else owner


def _taken(subject: str, client_id: str) -> Conflict:
    if subject == client_id:
        return Conflict(f"'{client_id}' is a user's subject (a user signed in with it, or owns clients): a client "
                        "cannot have it as its id, since a client's tokens act as their client id.")
    return Conflict(f"The owner '{subject}' became a client's id meanwhile; read it again and retry.")


def update_client(client_id: str, fields: dict[str, Any]) -> tuple[Client, str | None]:
    """Replace the given fields (absent fields keep their value, ``null`` / empty clears them).
    A new ``client_secret`` is hashed and returned once."""
    existing = get_client(client_id)
    if existing is None:
        raise NotFound(f"Client '{client_id}' not found")
    return update_existing(existing, fields)


def update_existing(existing: Client, fields: dict[str, Any], vet: Vet | None = None) -> tuple[Client, str | None]:
    """``update_client`` on the client as just read (the endpoint read it to authorize the change);
    ``vet`` as for ``create_client``."""
    fields = {key: value for key, value in fields.items() if key != "id"}  # the path names the client
    updated = Client(**{**existing.__dict__})
    _apply(updated, fields)
    secret: str | None = fields.get("client_secret")
    if updated.public:
        if secret:
            raise _bad("A public client has no secret; remove client_secret or set public to false")
        updated.secret_hash, secret = None, None
    elif secret:
        validate_secret(secret)
        updated.secret_hash = passwords.hash_secret(secret, generated=False)
    elif not updated.secret_hash:  # turned confidential without a secret: generate one
        secret = passwords.generate_secret()
        updated.secret_hash = passwords.hash_secret(secret, generated=True)
    else:
        secret = None
    _seal_if_needed(updated, secret)
    if vet is not None:
        vet(updated)
    # Strictly later than the stored value: it is the optimistic-lock token of the next update.
    updated.updated_at = max(clock.moment(), existing.updated_at + timedelta(microseconds=1))
    subjects.check_registration(updated, existing)  # last check: it may fetch the sector_identifier_uri document
    owner_claim = _owner_to_claim(updated.owner, updated.id)  # also an owner set before claims existed
    try:
        store.replace(updated, existing.updated_at, owner_claim=owner_claim)
    except store.SubjectTaken as exc:
        raise _taken(exc.subject, existing.id) from None
    except store.Changed:
        raise Conflict(f"Client '{existing.id}' was changed concurrently; read it again and retry") from None
    except store.TooLarge as exc:
        raise _too_large(exc) from None
    finally:
        forget_cached(existing.id)
    return updated, secret


def delete_client(client_id: str) -> bool:
    """Delete a client, which revokes every token issued to it: a token is honoured only while the
    client it was issued to exists, as the same client (``tokens.lookup.issued_to_current_client``; other
    containers see the deletion within CLIENT_CACHE_SECONDS). The rows go with the flush or TTL.
    False if there was no such client."""
    deleted = store.delete(client_id)
    forget_cached(client_id)
    return deleted


def list_page(limit: int, offset: int) -> tuple[list[Client], bool]:
    """Clients ``offset`` to ``offset + limit`` in id order, and whether more follow."""
    return store.list_page(limit, offset)


def list_after(after: str, limit: int, client_name: str | None = None,
               owner: str | None = None) -> tuple[list[Client], bool]:
    """A keyset page: clients whose id sorts after ``after``, matching the exact filters."""
    return store.list_after(after, limit, client_name, owner)


def count(client_name: str | None = None, owner: str | None = None) -> int:
    """How many clients match the exact filters (reads the whole listing index: see storage)."""
    return store.count(client_name, owner)


def revoke_all_tokens(existing: Client) -> Client:
    """Every token issued to ``existing`` so far (access and refresh tokens, codes) stops being
    honoured: the client gets a new generation (``tokens_since``), which the live-token lookup
    compares with the one each token row recorded. One write of the client row, whatever the number
    of tokens; other containers see it within CLIENT_CACHE_SECONDS. The rows go with the flush or TTL."""
    updated = Client(**{**existing.__dict__})
    updated.tokens_since = max(int(clock.now() * 1_000_000), existing.since + 1)
    updated.updated_at = max(clock.moment(), existing.updated_at + timedelta(microseconds=1))
    try:
        store.replace(updated, existing.updated_at)
    except store.Changed:
        raise Conflict(f"Client '{existing.id}' was changed concurrently; read it again and retry") from None
    finally:
        forget_cached(existing.id)
    return updated
