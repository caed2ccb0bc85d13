"""Revocation against a concurrent refresh, across processes: several ``hydra-lambda serve`` processes
(as Lambda containers) on one DynamoDB Local, each answering one request at a time. In every round
two requests on the same grant race, each sent to another process at once; afterwards EVERY token
either side obtained must introspect as inactive (zero survivors):

(a) RP logout (RFC 7009 revocation of the refresh token) racing a refresh of that same token;
(b) one code redeemed twice at once: the loser's replay revokes what the code issued while the
    winner rotates its refresh token;
(c) a reused, rotated refresh token (reuse detection) racing the refresh of its successor.
The refreshing side keeps rotating (up to ROTATIONS times), as an attacker outrunning the revocation.

Before grants were revoked by marking every row first (issue 22), the walk read a row, and a refresh
could still consume that row and commit a new pair before the walk deleted it: the new pair lived on
(here 9 of 40, 2 of 50 and 3 of 50 races).
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support import LocalServer, basic
from tests.support_flows import REDIRECT, code_flow, make_client, redeem, refresh
from tests.support_lifecycle import introspect

PROCESSES = 4
ROUNDS = {"logout": 20, "code_replay": 25, "reuse": 25}
ROTATIONS = 3
BUDGET_SECONDS = 18.0  # per scenario: stop early (with fewer rounds) on a very slow machine
MIN_ROUNDS = 8
Answer = tuple[int, dict[str, Any]]


@pytest.fixture(scope="module")
def servers(aws: dict[str, str], dynamodb_local: Any) -> Iterator[list[str]]:
    """The processes, straight on DynamoDB Local (not through the session's in-process proxy)."""
    env = {**aws, "DYNAMODB_ENDPOINT": dynamodb_local.endpoint, "REFRESH_TOKEN_GRACE_PERIOD": "0s"}
    with ThreadPoolExecutor(PROCESSES) as pool:
        starting = [pool.submit(LocalServer, env) for _ in range(PROCESSES)]
    started = [future.result() for future in starting if future.exception() is None]
    try:
        assert len(started) == PROCESSES, [future.exception() for future in starting]
        yield [server.url for server in started]
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def app() -> tuple[str, str]:
    client_id, secret = make_client()
    assert secret is not None
    return client_id, secret


def _post(url: str, path: str, client: tuple[str, str], form: dict[str, str]) -> Answer:
    request = urllib.request.Request(f"{url}{path}", data=urllib.parse.urlencode(form).encode(),
                                     headers={**basic(*client), "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    return status, json.loads(body) if body.strip() else {}


def _rotate(url: str, client: tuple[str, str], token: str) -> list[Answer]:
    """Refresh ``token``, then keep refreshing with each new refresh token (up to ROTATIONS times in
    all), as an attacker holding the chain would to outrun its revocation; every answer."""
    answers = []
    for _ in range(ROTATIONS):
        answer = _post(url, "/oauth2/token", client, {"grant_type": "refresh_token", "refresh_token": token})
        answers.append(answer)
        assert answer[0] in (200, 400), answer
        if answer[0] != 200:
            break
        token = answer[1]["refresh_token"]
    return answers


def _race(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    """Both at once (a barrier), one of them a random few milliseconds later to sweep the window."""
    barrier = threading.Barrier(2)
    delays = [0.0, 0.0]
    delays[random.randrange(2)] = random.uniform(0, 0.03)

    def run(index: int, send: Callable[[], Any]) -> Any:
        barrier.wait(10)
        time.sleep(delays[index])
        return send()

    with ThreadPoolExecutor(2) as pool:
        one, two = pool.submit(run, 0, first), pool.submit(run, 1, second)
        return one.result(), two.result()


def _tokens(*answers: Answer) -> list[str]:
    """Every access and refresh token of the successful answers."""
    return [body[key] for status, body in answers if status == 200
            for key in ("access_token", "refresh_token") if key in body]


def _survivors(tokens: list[str]) -> list[str]:
    alive = []
    for token in tokens:
        result = introspect(token)
        assert result.status == 200, result.body
        if result.json["active"]:
            alive.append(token[:6])
    return alive


def _issued(client: tuple[str, str]) -> tuple[str, dict[str, Any]]:
    """A fresh grant, as the client holds it after the code flow: the code and the token response."""
    _, callback = code_flow(client[0], scopes=["openid", "offline"])
    result = redeem(*client, callback["code"])
    assert result.status == 200, result.body
    return callback["code"], result.json


Race = Callable[[str, str], list[str]]  # on two servers: the race, then every token either side got


def _rounds(name: str, servers: list[str], prepare: Callable[[], Race]) -> None:
    """Up to ROUNDS[name] rounds within the budget; in each, one race per pair of servers at once
    (grants prepared first, in this process), then every token introspected."""
    started, failed, played = time.monotonic(), [], 0
    pairs = [(servers[i], servers[i + 1]) for i in range(0, len(servers) - 1, 2)]
    for index in range(ROUNDS[name]):
        if played >= MIN_ROUNDS and time.monotonic() - started > BUDGET_SECONDS:
            break
        races = [prepare() for _ in pairs]
        turned = [pair if index % 2 else pair[::-1] for pair in pairs]
        with ThreadPoolExecutor(len(pairs)) as pool:
            outcomes = list(pool.map(lambda race, pair: race(*pair), races, turned))
        for tokens in outcomes:
            played += 1
            if survivors := _survivors(tokens):
                failed.append(survivors)
    print(f"\n{name}: {len(failed)} of {played} races left live tokens of the revoked grant")
    assert not failed, f"{name}: {len(failed)} of {played} races left live tokens: {failed}"


def test_logout_racing_a_refresh_of_the_same_token(servers: list[str], app: tuple[str, str]) -> None:
    def prepare() -> Race:
        _, tokens = _issued(app)

        def race(one: str, other: str) -> list[str]:
            token = tokens["refresh_token"]
            revoked, refreshed = _race(lambda: _post(one, "/oauth2/revoke", app, {"token": token}),
                                       lambda: _rotate(other, app, token))
            assert revoked[0] == 200, revoked
            return _tokens((200, tokens), *refreshed)

        return race

    _rounds("logout", servers, prepare)


def test_a_replayed_code_racing_the_holders_refresh(servers: list[str], app: tuple[str, str]) -> None:
    """Two parties redeem one code at once (the client and an attacker who intercepted it); whoever
    wins rotates its refresh token at once, while the loser's redemption is a replay that revokes
    what the code issued."""
    def prepare() -> Race:
        _, callback = code_flow(app[0], scopes=["openid", "offline"])
        form = {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": REDIRECT}

        def redeem_and_rotate(url: str) -> list[Answer]:
            redeemed = _post(url, "/oauth2/token", app, form)
            if redeemed[0] != 200:
                assert redeemed[1]["error"] == "invalid_grant", redeemed
                return [redeemed]
            return [redeemed, *_rotate(url, app, redeemed[1]["refresh_token"])]

        def race(one: str, other: str) -> list[str]:
            first, second = _race(lambda: redeem_and_rotate(one), lambda: redeem_and_rotate(other))
            assert [first[0][0], second[0][0]].count(200) == 1, (first, second)  # exactly one redeems
            return _tokens(*first, *second)

        return race

    _rounds("code_replay", servers, prepare)


def test_a_reused_refresh_token_racing_the_refresh_of_its_successor(servers: list[str], app: tuple[str, str]) -> None:
    def prepare() -> Race:
        _, first = _issued(app)
        rotated = refresh(*app, first["refresh_token"])
        assert rotated.status == 200, rotated.body
        second = rotated.json

        def race(one: str, other: str) -> list[str]:
            form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
            reused, refreshed = _race(lambda: _post(one, "/oauth2/token", app, form),
                                      lambda: _rotate(other, app, second["refresh_token"]))
            assert reused[0] == 400 and reused[1]["error"] == "invalid_grant", reused
            return _tokens((200, first), (200, second), *refreshed)

        return race

    _rounds("reuse", servers, prepare)
