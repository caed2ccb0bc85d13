"""A client's public keys: its registered ``jwks``, or the document at its ``jwks_uri`` fetched with
``fetch.py`` (https only, no redirects, public addresses only, 64 KB, 3 s) and reused per container
for ``CLIENT_JWKS_CACHE_SECONDS``. A ``kid`` the cached document lacks fetches it again once (a
client that rotated its keys), but not more often than every ``REFETCH_SECONDS`` per URI, so a
stream of made-up kids cannot turn the server into a fetcher of the client's URL."""

from __future__ import annotations

from typing import Any

from hydra_lambda import clock, fetch
from hydra_lambda.cache import TimedCache
from hydra_lambda.clients.model import Client
from hydra_lambda.config import get_settings

REFETCH_SECONDS = 10
MAX_KEYS = 50
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

# jwks_uri -> (when it was fetched, on the clock; its usable keys)
_documents: TimedCache[str, tuple[float, tuple[dict[str, Any], ...]]] = TimedCache(
    "client jwks", lambda: get_settings().client_jwks_cache_seconds, max_entries=256
)


class KeysUnavailable(Exception):
    """The client's jwks_uri could not be fetched or is not a JWK Set; the message says why."""


def keys_for(client: Client, kid: str | None) -> tuple[dict[str, Any], ...]:
    """The client's public keys (each a JWK dict), with ``kid`` among them if it can be had."""
    if client.jwks is not None:
        return tuple(key for key in client.jwks.get("keys", []) if isinstance(key, dict))
    if not client.jwks_uri:
        return ()
    uri = client.jwks_uri
    cached = _documents.get(uri)
    if cached is None:
        return _load(uri)[1]
    fetched_at, keys = cached
    if kid is not None and not any(key.get("kid") == kid for key in keys) \
            and clock.now() - fetched_at >= REFETCH_SECONDS:
        return _load(uri)[1]
    return keys


def _load(uri: str) -> tuple[float, tuple[dict[str, Any], ...]]:
    try:
        document = fetch.fetch_json(uri, accept="application/jwk-set+json, application/json")
    except fetch.FetchError as exc:
        raise KeysUnavailable(f"the client's jwks_uri could not be used: {exc}") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise KeysUnavailable('the client\'s jwks_uri is not a JWK Set ({"keys": [...]})')
    usable = tuple(key for key in keys[:MAX_KEYS] if _is_public_key(key))
    return _documents.put(uri, (clock.now(), usable))


def _is_public_key(key: Any) -> bool:
    return (isinstance(key, dict) and key.get("kty") in ("RSA", "EC")
            and not any(member in key for member in _PRIVATE_MEMBERS))


def forget(uri: str) -> None:
    """Drop a cached document (tests)."""
    _documents.pop(uri)
