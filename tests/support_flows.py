"""Helpers for the browser-flow tests: clients, the admin token, and playing the consent app."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support import Result, admin_token, basic, call, new_client

REDIRECT = "http://127.0.0.1:9999/callback"
STATE = "state-0123456789"
NONCE = "nonce-0123456789"


def make_client(**fields: Any) -> tuple[str, str | None]:
    """A client for the browser flows (code and refresh grants, REDIRECT registered)."""
    return new_client("app", **{"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"],
                                "response_types": ["code"], "scope": "openid offline offline_access profile email",
                                **fields})


def bearer() -> dict[str, str]:
    """The admin headers the consent app would send (root token, scope hydra.consent)."""
    return {"Authorization": f"Bearer {admin_token()}"}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Flow:
    """One browser: the cookies it holds and where it was sent."""

    client_id: str
    cookies: dict[str, str] = field(default_factory=dict)
    consent_id: str = ""

    def keep(self, result: Result) -> None:
        for raw in result.cookies:
            pair = raw.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if "Max-Age=0" in raw:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def get(self, url: str) -> Result:
        parts = urlsplit(url)
        result = call("GET", parts.path, query=parts.query,
                      cookies=[f"{k}={v}" for k, v in self.cookies.items()])
        self.keep(result)
        return result

    def start(self, **params: str) -> Result:
        query = {"client_id": self.client_id, "response_type": "code", "redirect_uri": REDIRECT,
                 "scope": "openid offline", "state": STATE, "nonce": NONCE, **params}
        query = {k: v for k, v in query.items() if v is not None}
        result = call("GET", "/oauth2/auth", query=query)
        self.keep(result)
        if result.status == 302 and "consent=" in result.headers.get("location", ""):
            self.consent_id = qs(result.headers["location"])["consent"]
        return result

    def consent_request(self) -> dict[str, Any]:
        result = call("GET", f"/oauth2/consent/requests/{self.consent_id}", headers=bearer())
        assert result.status == 200, result.body
        return result.json

    def accept(self, subject: str = "alice", scopes: list[str] | None = None, **extra: Any) -> Result:
        body = {"subject": subject, "grantScopes": scopes if scopes is not None else ["openid", "offline"], **extra}
        return call("PATCH", f"/oauth2/consent/requests/{self.consent_id}/accept", headers=bearer(), json_body=body)

    def reject(self, reason: str = "no thanks") -> Result:
        return call("PATCH", f"/oauth2/consent/requests/{self.consent_id}/reject", headers=bearer(),
                    json_body={"reason": reason})

    def back(self) -> Result:
        """The browser follows redirectUrl back to /oauth2/auth."""
        return self.get(self.consent_request()["redirectUrl"])


def qs(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def fragment(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).fragment).items()}


def code_flow(client_id: str, *, scopes: list[str] | None = None, **params: str) -> tuple[Flow, dict[str, str]]:
    """First leg, accept, second leg: the callback parameters."""
    flow = Flow(client_id)
    first = flow.start(**params)
    assert first.status == 302, first.body
    assert flow.accept(scopes=scopes).status == 204
    second = flow.back()
    assert second.status == 302, second.body
    return flow, qs(second.headers["location"])


def redeem(client_id: str, secret: str | None, code: str, **form: str) -> Result:
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **form}
    headers = basic(client_id, secret) if secret else {}
    if not secret:
        body["client_id"] = client_id
    return call("POST", "/oauth2/token", headers=headers, form=body)


def refresh(client_id: str, secret: str | None, token: str, **form: str) -> Result:
    body = {"grant_type": "refresh_token", "refresh_token": token, **form}
    headers = basic(client_id, secret) if secret else {}
    if not secret:
        body["client_id"] = client_id
    return call("POST", "/oauth2/token", headers=headers, form=body)
