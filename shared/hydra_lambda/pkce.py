"""PKCE (RFC 7636): challenge validation at ``/oauth2/auth``, verification at ``/oauth2/token``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from hydra_lambda.errors import InvalidGrant, InvalidRequest

METHODS = ("S256", "plain")
# What discovery advertises: a public client (or a library reading the metadata) is steered to S256;
# plain is still accepted from confidential clients, as classic Hydra did.
ADVERTISED = ("S256",)
# code-verifier = 43*128unreserved; an S256 challenge is 43 base64url characters, a plain one
# is a verifier itself.
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def validate_challenge(challenge: str, method: str, *, public: bool = False) -> tuple[str, str]:
    """The (challenge, method) to store; ("", "") when no PKCE was requested.

    Raises InvalidRequest on a malformed challenge, an unknown method, a method without challenge, or
    ``plain`` from a public client (RFC 9700 2.1.1: with no secret, the challenge is all that binds the
    code, and a plain one is the verifier itself, readable wherever the authorization URL is).
    """
    if not challenge:
        if method:
            raise InvalidRequest("code_challenge_method was given without code_challenge.")
        return "", ""
    method = method or "plain"  # RFC 7636 section 4.3
    if method not in METHODS:
        raise InvalidRequest("code_challenge_method must be S256 or plain.")
    if public and method != "S256":
        raise InvalidRequest("Public clients must use code_challenge_method=S256 (RFC 9700 section 2.1.1); "
                             "plain, the default when the method is omitted, is not accepted.")
    if not _VERIFIER.match(challenge):
        raise InvalidRequest("code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~].")
    return challenge, method


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(verifier: str, challenge: str, method: str) -> None:
    """Check ``code_verifier`` against the stored challenge; every mismatch is ``invalid_grant``.

    A verifier without a stored challenge is rejected too: otherwise an attacker holding a code from
    a flow without PKCE could pass off the exchange as protected (a downgrade).
    """
    if not challenge:
        if verifier:
            raise InvalidGrant("code_verifier was sent, but the authorization request had no code_challenge.")
        return
    if not verifier:
        raise InvalidGrant("The authorization request used PKCE: code_verifier is required.")
    if not _VERIFIER.match(verifier):
        raise InvalidGrant("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~].")
    computed = s256(verifier) if method == "S256" else verifier
    if not hmac.compare_digest(computed.encode("ascii"), challenge.encode("ascii")):
        raise InvalidGrant("code_verifier does not match the code_challenge.")
