"""Helpers for the current login/consent flow's tests: the flow turned on, and a browser driving
``/oauth2/auth`` while the test plays the login and consent apps through Hydra's admin API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.support import Result, call
from tests.support_flows import NONCE, REDIRECT, STATE, Flow, bearer, qs

LOGIN_APP = "http://127.0.0.1:3000/login"
CONSENT_APP = "http://127.0.0.1:3000/consent"
ADMIN = "/admin/oauth2/auth"


@contextmanager
def current_flow(**extra: str) -> Iterator[None]:
    """URLS_LOGIN and URLS_CONSENT set (and ``extra``) while the block runs, in this process."""
    from hydra_lambda.config import reset_settings

    env = {"URLS_LOGIN": LOGIN_APP, "URLS_CONSENT": CONSENT_APP, **extra}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    reset_settings()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()


def location(result: Result) -> str:
    assert result.status == 302, (result.status, result.body)
    return result.headers["location"]


@dataclass
class Browser(Flow):
    """One browser in the current flow (its cookies, its login challenge)."""

    challenge: str = ""

    def start(self, **params: str | None) -> Result:  # type: ignore[override]
        query = {"client_id": self.client_id, "response_type": "code", "redirect_uri": REDIRECT,
                 "scope": "openid offline", "state": STATE, "nonce": NONCE, **params}
        result = call("GET", "/oauth2/auth", query={k: v for k, v in query.items() if v is not None},
                      cookies=[f"{k}={v}" for k, v in self.cookies.items()])
        self.keep(result)
        if result.status == 302 and result.headers["location"].startswith(LOGIN_APP):
            self.challenge = qs(result.headers["location"])["login_challenge"]
        return result

    # The login app
    def login_request(self) -> Result:
        return call("GET", f"{ADMIN}/requests/login", query={"login_challenge": self.challenge}, headers=bearer())

    def accept_login(self, subject: str = "alice", **fields: Any) -> Result:
        return call("PUT", f"{ADMIN}/requests/login/accept", query={"login_challenge": self.challenge},
                    headers=bearer(), json_body={"subject": subject, **fields})

    def reject_login(self, **fields: Any) -> Result:
        return call("PUT", f"{ADMIN}/requests/login/reject", query={"login_challenge": self.challenge},
                    headers=bearer(), json_body=fields)

    # The consent app
    def consent_request(self) -> dict[str, Any]:
        result = self.consent_result()
        assert result.status == 200, result.body
        return result.json

    def consent_result(self) -> Result:
        return call("GET", f"{ADMIN}/requests/consent", query={"consent_challenge": self.challenge}, headers=bearer())

    def accept_consent(self, scopes: list[str] | None = None, **fields: Any) -> Result:
        body = {"grant_scope": scopes if scopes is not None else ["openid", "offline"], **fields}
        return call("PUT", f"{ADMIN}/requests/consent/accept", query={"consent_challenge": self.challenge},
                    headers=bearer(), json_body=body)

    def reject_consent(self, **fields: Any) -> Result:
        return call("PUT", f"{ADMIN}/requests/consent/reject", query={"consent_challenge": self.challenge},
                    headers=bearer(), json_body=fields)

    def follow(self, answer: Result) -> Result:
        """The browser follows an app's ``redirect_to``."""
        assert answer.status == 200, answer.body
        return self.get(answer.json["redirect_to"])

    def login(self, subject: str = "alice", **fields: Any) -> Result:
        """Accept the login request and follow it: the redirect to the consent app."""
        result = self.follow(self.accept_login(subject, **fields))
        assert location(result).startswith(CONSENT_APP), result.headers
        assert qs(location(result))["consent_challenge"] == self.challenge
        return result

    def consent(self, scopes: list[str] | None = None, **fields: Any) -> dict[str, str]:
        """Accept the consent request and follow it: the callback's parameters."""
        result = self.follow(self.accept_consent(scopes, **fields))
        assert location(result).startswith(REDIRECT), result.headers
        return qs(location(result))

    def full(self, subject: str = "alice", login: dict[str, Any] | None = None,
             consent: dict[str, Any] | None = None, **params: str | None) -> dict[str, str]:
        """A whole authorization: start, login, consent; the callback's parameters."""
        assert location(self.start(**params)).startswith(LOGIN_APP)
        self.login(subject, **(login or {}))
        return self.consent(**(consent or {}))


def login_challenge_of(url: str) -> str:
    assert urlsplit(url).path == urlsplit(LOGIN_APP).path, url
    return qs(url)["login_challenge"]
