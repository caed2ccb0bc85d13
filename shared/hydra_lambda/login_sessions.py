"""Login sessions of the current login/consent flow: a remembered authentication, found again from
the browser's ``hl_session`` cookie (``<sid>.<secret>``).

The sid is not secret (it is the ID token's ``sid`` claim and goes to front-channel logout URIs);
the secret is 32 random bytes that only the cookie holds, stored as its SHA-256 and compared in
constant time. A cookie that does not parse, names no live session, or carries the wrong secret
reads as no session at all: tampering can only log the browser out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from hydra_lambda import clock
from hydra_lambda.storage import sessions as store
from hydra_lambda.storage.sessions import LoginSession

COOKIE_NAME = "hl_session"
COOKIE_PATH = "/oauth2"
MAX_COOKIE = 200


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def make_session(subject: str, *, auth_time: int, lifespan: int, acr: str = "", amr: list[str] | None = None,
                 remember: bool = False, remember_for: int = 0,
                 identity_provider_session_id: str = "") -> tuple[LoginSession, str]:
    """A new login session, NOT stored (the caller writes it, alone or in a transaction); returns it
    and the cookie value for the browser."""
    secret = secrets.token_urlsafe(32)
    now = clock.now_int()
    session = LoginSession(sid=str(uuid.uuid4()), subject=subject, cookie_hash=hash_secret(secret),
                           auth_time=auth_time, expires_at=now + lifespan, acr=acr, amr=list(amr or []),
                           remember=remember, remember_for=remember_for,
                           identity_provider_session_id=identity_provider_session_id, created_at=now)
    return session, cookie_value(session.sid, secret)


def renew_session(session: LoginSession, *, auth_time: int, lifespan: int, acr: str = "",
                  amr: list[str] | None = None, remember: bool = False, remember_for: int = 0,
                  identity_provider_session_id: str = "") -> tuple[LoginSession, str]:
    """``session`` after its user authenticated again in it (``prompt=login``, ``max_age``): the same
    sid (so front- and back-channel logout still reach every client of the session), the new
    authentication, and a new cookie secret (a value read before the login no longer works). NOT
    stored; returns it and the new cookie value."""
    secret = secrets.token_urlsafe(32)
    renewed = LoginSession(sid=session.sid, subject=session.subject, cookie_hash=hash_secret(secret),
                           auth_time=auth_time, expires_at=clock.now_int() + lifespan, acr=acr,
                           amr=list(amr or []), remember=remember, remember_for=remember_for,
                           identity_provider_session_id=identity_provider_session_id,
                           created_at=session.created_at)
    return renewed, cookie_value(renewed.sid, secret)


def new_session(subject: str, *, auth_time: int, lifespan: int, acr: str = "", amr: list[str] | None = None,
                remember: bool = False, remember_for: int = 0,
                identity_provider_session_id: str = "") -> tuple[LoginSession, str]:
    """A new login session, stored; returns it and the cookie value for the browser."""
    session, value = make_session(subject, auth_time=auth_time, lifespan=lifespan, acr=acr, amr=amr,
                                  remember=remember, remember_for=remember_for,
                                  identity_provider_session_id=identity_provider_session_id)
    store.create_login_session(session)
    return session, value


def cookie_value(sid: str, secret: str) -> str:
    return f"{sid}.{secret}"


def from_cookie(value: str | None) -> LoginSession | None:
    """The live login session the cookie proves, or None."""
    if not value or len(value) > MAX_COOKIE:
        return None
    sid, dot, secret = value.partition(".")
    if not dot or not sid or not secret:
        return None
    found = store.get_login_session(sid)
    if found is None or not hmac.compare_digest(hash_secret(secret).encode(), found.cookie_hash.encode()):
        return None
    return found
