"""A bounded load test on loopback: concurrent client_credentials, introspection, code flows (with
PKCE) and refresh rotations against the local server on DynamoDB Local, for a fixed number of
seconds. Afterwards every token the server returned must introspect as it should (the latest pair of
each grant live, every rotated-away one dead), no grant may hold two live refresh tokens, and no
response may have been a 5xx. The counts are printed and written to .pytest_cache/load-report.json.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, basic

DURATION_SECONDS = 6.0  # the workload bound; nothing asserts on time
WORKERS = 6
REDIRECT = "http://127.0.0.1:9999/callback"


class Http:
    """One keep-alive connection (one per worker), never following redirects."""

    def __init__(self, url: str, statuses: Counter[int], lock: threading.Lock) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.statuses, self.lock = statuses, lock

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None, json_body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        hdrs = dict(headers or {})
        body: bytes | None = None
        if form is not None:
            body, hdrs["Content-Type"] = urlencode(form).encode(), "application/x-www-form-urlencoded"
        elif json_body is not None:
            body, hdrs["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        self.conn.request(method, path, body=body, headers=hdrs)
        response = self.conn.getresponse()
        raw = response.read()
        with self.lock:
            self.statuses[response.status] += 1
        out_headers = {k.lower(): v for k, v in response.getheaders()}
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return response.status, out_headers, parsed


@dataclass
class Grant:
    """One code-flow grant: every (access, refresh) pair it was given, oldest first."""

    pairs: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Run:
    client_id: str
    secret: str
    admin: dict[str, str]
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    cc_tokens: list[str] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, what: str, status: int, wanted: int, body: Any) -> bool:
        with self.lock:
            self.operations[what] += 1
            if status != wanted:
                self.unexpected.append(f"{what}: {status} {str(body)[:200]}")
        return status == wanted


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _client_credentials(run: Run, web: Http) -> None:
    status, _, body = web.request("POST", "/oauth2/token", headers=basic(run.client_id, run.secret),
                                  form={"grant_type": "client_credentials", "scope": "demo"})
    if run.expect("client_credentials", status, 200, body):
        with run.lock:
            run.cc_tokens.append(body["access_token"])


def _introspect(run: Run, web: Http) -> None:
    with run.lock:
        token = run.cc_tokens[secrets.randbelow(len(run.cc_tokens))] if run.cc_tokens else None
    if token is None:
        return _client_credentials(run, web)
    status, _, body = web.request("POST", "/oauth2/introspect", headers=run.admin, form={"token": token})
    if run.expect("introspect", status, 200, body) and body.get("active") is not True:
        run.expect("introspect (live token active)", 0, 1, body)


def _code_flow(run: Run, web: Http) -> Grant | None:
    verifier, challenge = _pkce()
    query = urlencode({"client_id": run.client_id, "response_type": "code", "redirect_uri": REDIRECT,
                       "scope": "openid offline demo", "state": secrets.token_urlsafe(12),
                       "nonce": secrets.token_urlsafe(12), "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    status, headers, body = web.request("GET", f"/oauth2/auth?{query}")
    if not run.expect("authorize (first leg)", status, 302, body):
        return None
    consent_id = parse_qs(urlsplit(headers["location"]).query)["consent"][0]
    cookie = headers["set-cookie"].split(";", 1)[0]
    status, _, body = web.request("PATCH", f"/oauth2/consent/requests/{consent_id}/accept", headers=run.admin,
                                  json_body={"subject": "load-user", "grantScopes": ["openid", "offline", "demo"]})
    if not run.expect("accept consent", status, 204, body):
        return None
    status, _, body = web.request("GET", f"/oauth2/consent/requests/{consent_id}", headers=run.admin)
    if not run.expect("get consent", status, 200, body):
        return None
    back = urlsplit(body["redirectUrl"])
    status, headers, body = web.request("GET", f"{back.path}?{back.query}", headers={"Cookie": cookie})
    if not run.expect("authorize (second leg)", status, 302, body):
        return None
    code = parse_qs(urlsplit(headers["location"]).query)["code"][0]
    status, _, body = web.request("POST", "/oauth2/token", headers=basic(run.client_id, run.secret), form={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    if not run.expect("code exchange", status, 200, body):
        return None
    grant = Grant([(body["access_token"], body["refresh_token"])])
    with run.lock:
        run.grants.append(grant)
    return grant


def _refresh(run: Run, web: Http, grant: Grant) -> None:
    status, _, body = web.request("POST", "/oauth2/token", headers=basic(run.client_id, run.secret),
                                  form={"grant_type": "refresh_token", "refresh_token": grant.pairs[-1][1]})
    if run.expect("refresh", status, 200, body):
        grant.pairs.append((body["access_token"], body["refresh_token"]))


def _worker(run: Run, url: str, index: int, stop: float) -> None:
    web = Http(url, run.statuses, run.lock)
    mine: list[Grant] = []  # refresh chains stay within one worker: no two refreshes of one token race
    step = index
    while time.monotonic() < stop:
        kind = step % 4
        step += 1
        try:
            if kind == 0:
                _client_credentials(run, web)
            elif kind == 1:
                _introspect(run, web)
            elif kind == 2 or not mine:
                grant = _code_flow(run, web)
                if grant:
                    mine.append(grant)
            else:
                _refresh(run, web, mine[secrets.randbelow(len(mine))])
        except (OSError, http.client.HTTPException, KeyError, TypeError) as exc:
            run.expect(f"transport ({type(exc).__name__})", 0, 1, exc)
            web = Http(url, run.statuses, run.lock)


def _setup(server: LocalServer) -> Run:
    statuses: Counter[int] = Counter()
    web = Http(server.url, statuses, threading.Lock())
    status, _, body = web.request("POST", "/oauth2/token", headers=basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET),
                                  form={"grant_type": "client_credentials",
                                        "scope": "hydra.clients hydra.consent hydra.introspect"})
    assert status == 200, body
    admin = {"Authorization": f"Bearer {body['access_token']}"}
    status, _, body = web.request("POST", "/clients", headers=admin, json_body={
        "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"], "scope": "openid offline demo"})
    assert status == 201, body
    return Run(body["id"], body["client_secret"], admin)


def _active(web: Http, run: Run, token: str) -> bool:
    status, _, body = web.request("POST", "/oauth2/introspect", headers=run.admin, form={"token": token})
    assert status == 200, body
    return body["active"] is True


@pytest.mark.e2e
def test_bounded_load_keeps_every_token_consistent(server: LocalServer) -> None:
    run = _setup(server)
    stop = time.monotonic() + DURATION_SECONDS
    threads = [threading.Thread(target=_worker, args=(run, server.url, i, stop)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)

    load_statuses = Counter(run.statuses)
    check = Http(server.url, Counter(), threading.Lock())
    dead_cc = [t for t in run.cc_tokens if not _active(check, run, t)]
    stale_live, latest_dead, live_refresh = [], [], Counter[int]()
    for number, grant in enumerate(run.grants):
        *old, (access, refresh) = grant.pairs
        if not (_active(check, run, access) and _active(check, run, refresh)):
            latest_dead.append(number)
        for old_access, old_refresh in old:
            if _active(check, run, old_access) or _active(check, run, old_refresh):
                stale_live.append(number)
        live_refresh[number] = sum(_active(check, run, r) for _, r in grant.pairs)

    report = {
        "seconds": DURATION_SECONDS, "workers": WORKERS, "operations": dict(run.operations),
        "statuses": {str(k): v for k, v in sorted(load_statuses.items())},
        "client_credentials_tokens": len(run.cc_tokens), "grants": len(run.grants),
        "refreshes": sum(len(g.pairs) - 1 for g in run.grants),
        "tokens_checked": len(run.cc_tokens) + sum(2 * len(g.pairs) for g in run.grants),
    }
    (ROOT / ".pytest_cache").mkdir(exist_ok=True)
    (ROOT / ".pytest_cache" / "load-report.json").write_text(json.dumps(report, indent=2))
    print("load report:", json.dumps(report))

    assert sum(v for k, v in load_statuses.items() if k >= 500) == 0, report
    assert not run.unexpected, run.unexpected[:10]
    assert run.operations["code exchange"] > 0 and run.operations["refresh"] > 0, report  # the mix ran
    assert not dead_cc, f"{len(dead_cc)} client_credentials tokens do not introspect active"
    assert not latest_dead, f"grants whose latest pair is not live: {latest_dead[:10]}"
    assert not stale_live, f"grants with a rotated-away token still live: {stale_live[:10]}"
    assert all(count == 1 for count in live_refresh.values()), {k: v for k, v in live_refresh.items() if v != 1}
