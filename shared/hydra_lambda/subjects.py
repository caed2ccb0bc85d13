"""The subject a client sees (OpenID Connect Core 1.0 section 8): the user's local subject for a
``public`` client; for a ``pairwise`` client, an identifier of the user at the client's sector, so
that clients of different sectors cannot correlate their users by ``sub``.

The pairwise identifier (section 8.1) is the lower-case hex SHA-256 of the sector identifier, the
local subject and the salt (``SUBJECT_IDENTIFIERS_PAIRWISE_SALT``), concatenated: Ory Hydra's own
construction, so a deployment moving from Ory Hydra with its salt keeps its users' identifiers (for
URIs whose host is written in lower case and which name no port). The sector identifier is the host
of the client's ``sector_identifier_uri`` when it registered one, else the host of its redirect URIs,
which must then all share one host.

The second leg of ``/oauth2/auth`` computes it once per grant (``pairwise_subject``) and the grant's
rows carry it, so the ID tokens, ``/userinfo`` and introspection of a grant agree whatever happens to
the client later. ``check_registration`` is what a client write must pass: the salt set for a pairwise
client, one sector, and the ``sector_identifier_uri`` document listing every redirect URI.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from hydra_lambda import fetch
from hydra_lambda.clients.model import Client
from hydra_lambda.config import get_settings
from hydra_lambda.errors import BadRequest

PAIRWISE = "pairwise"
# A sector identifier document lists redirect URIs: it never needs to be large.
MAX_SECTOR_DOCUMENT_BYTES = 64 * 1024
_INVALID = "invalid_client_metadata"


class PairwiseUnavailable(Exception):
    """No pairwise identifier can be computed for this client (no salt, or no single sector): the
    message says why. Never answered with the local subject instead."""


def pairwise_id(sector: str, subject: str, salt: str) -> str:
    """``sub`` = SHA-256(sector identifier || local subject || salt), lower-case hex."""
    return hashlib.sha256(sector.encode() + subject.encode() + salt.encode()).hexdigest()


def host_of(uri: str) -> str:
    """The host component of ``uri``, in lower case, without port ("" when it has none)."""
    try:
        return urlsplit(uri).hostname or ""
    except ValueError:
        return ""


def redirect_hosts(client: Client) -> set[str]:
    return {host_of(uri) for uri in client.redirect_uris}


def sector_identifier(client: Client) -> str:
    """The host of ``sector_identifier_uri``, else the one host of every redirect URI."""
    if client.sector_identifier_uri:
        return host_of(client.sector_identifier_uri)
    hosts = redirect_hosts(client)
    if "" in hosts:
        raise PairwiseUnavailable("A pairwise client with a redirect URI that names no host (a native app's "
                                  "scheme) needs a sector_identifier_uri")
    if len(hosts) != 1:
        raise PairwiseUnavailable(
            "A pairwise client needs a sector: redirect_uris on one host, or a sector_identifier_uri "
            f"(this client's redirect_uris have {len(hosts)} hosts)")
    return hosts.pop()


def pairwise_subject(client: Client, subject: str) -> str:
    """What ``client`` sees as ``subject``'s ``sub`` when it differs from the local subject: its
    pairwise identifier; "" for a public client."""
    if client.subject_type != PAIRWISE:
        return ""
    return pairwise_id(sector_identifier(client), subject, _salt())


def check_servable(client: Client) -> None:
    """PairwiseUnavailable when ``client`` is pairwise and no pairwise identifier can be made for it
    (the authorization request is refused before the user is asked anything)."""
    if client.subject_type == PAIRWISE:
        _salt()
        sector_identifier(client)


def _salt() -> str:
    salt = get_settings().subject_identifiers_pairwise_salt
    if not salt:
        raise PairwiseUnavailable("This client registered subject_type pairwise, and the server has no pairwise "
                                  "salt (SUBJECT_IDENTIFIERS_PAIRWISE_SALT): no subject can be issued to it.")
    return salt


# ---------------------------------------------------------------- registration


def check_registration(client: Client, before: Client | None = None) -> None:
    """Refuse (BadRequest, the client metadata is invalid) a client whose subject type cannot work,
    before it is stored. The ``sector_identifier_uri`` document is fetched when the URI, the
    redirect URIs or the subject type are new (``before``: the client as stored, on an update)."""
    if client.subject_type == PAIRWISE:
        if not get_settings().pairwise_subjects:
            raise _invalid("subject_type pairwise is not available: this server has no pairwise salt "
                           "(SUBJECT_IDENTIFIERS_PAIRWISE_SALT); register subject_type public")
        try:
            sector_identifier(client)
        except PairwiseUnavailable as exc:
            raise _invalid(str(exc)) from None
    if client.sector_identifier_uri and (before is None or _sector_changed(before, client)):
        check_sector_document(client.sector_identifier_uri, client.redirect_uris)


def _sector_changed(before: Client, after: Client) -> bool:
    """Whether an update may have made the sector document wrong (the subject type too: a client
    stored before these checks existed is checked when it turns pairwise)."""
    return (before.sector_identifier_uri, before.redirect_uris, before.subject_type) != (
        after.sector_identifier_uri, after.redirect_uris, after.subject_type)


def check_sector_document(uri: str, redirect_uris: list[str]) -> None:
    """OpenID Connect Core 8.1: the document at ``uri`` (https) is a JSON array of URIs that holds
    every redirect URI the client registers."""
    if urlsplit(uri).scheme.lower() != "https":
        raise _invalid("sector_identifier_uri must be an https URL (OpenID Connect Core 8.1)")
    try:
        listed = fetch.fetch_json(uri, max_bytes=MAX_SECTOR_DOCUMENT_BYTES)
    except fetch.FetchError as exc:
        raise _invalid(f"sector_identifier_uri could not be fetched: {exc}") from None
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise _invalid("sector_identifier_uri must answer a JSON array of redirect URIs (strings)")
    missing = [uri for uri in redirect_uris if uri not in listed]
    if missing:
        raise _invalid(f"sector_identifier_uri does not list the redirect URI '{missing[0][:200]}' "
                       f"(every registered redirect URI must be in its JSON array; {len(missing)} missing)")


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, reason=f"{_INVALID}: the client metadata is invalid (OpenID Connect Core 8).")
