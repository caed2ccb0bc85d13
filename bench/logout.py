"""The logout item, in a handler process: ``python -m bench.logout <spec.json> <out.json>``.

A logout with a logout app (URLS_LOGOUT, set here for this process) is four invocations
(``LOGOUT_LEGS``): GET /oauth2/sessions/logout with the session's id_token_hint (the logout request is
stored), the logout app's GET and PUT .../accept on the admin API, and the browser's return with the
verifier (the request consumed, the login session deleted, its one grant's tokens revoked, the
front-channel page). Set-up, untimed: a login session (as the login flow makes it), one browser login
whose grant is recorded as a consent session of that login session (as the current flow does), and
an ID token hint. The benchmark client has no back-channel URI: on Lambda a back-channel client adds
one SQS SendMessage per logout (no DynamoDB), and the consumer's delivery one client read."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from bench import flows
from bench.api import Api
from bench.login import Legs

LOGOUT_LEGS = ("logout_start", "logout_get", "logout_accept", "logout_end")
LOGOUT_SECTION = "logout"
LEG_LABELS = {
    "logout_start": "1. GET /oauth2/sessions/logout (id_token_hint)",
    "logout_get": "2. logout app: GET /admin/oauth2/auth/requests/logout",
    "logout_accept": "3. logout app: PUT /admin/oauth2/auth/requests/logout/accept",
    "logout_end": "4. GET /oauth2/sessions/logout (verifier): session ended, grant revoked",
}
LOGOUT_APP = "http://127.0.0.1:5556/logout"


def _signed_in(api: Api, client: Any, admin: str) -> tuple[str, str, str]:
    """Untimed: a login session with one grant made in it; (session cookie, hint, subject)."""
    from hydra_lambda import clock, keys
    from hydra_lambda.config import get_settings
    from hydra_lambda.login_sessions import new_session
    from hydra_lambda.storage import sessions
    from hydra_lambda.tokens import lookup

    subject = "bench-user"
    session, cookie = new_session(subject, auth_time=clock.now_int(), lifespan=3600)
    tokens = flows.browser_login(api, client, admin)["tokens"]
    row = lookup.find(tokens["refresh_token"], ("refresh",))
    if row is None:
        raise flows.Unavailable("the browser login's refresh token is not found")
    sessions.save_consent_session(sessions.ConsentSession(
        challenge=row.request_id, subject=subject, client_id=client.id, login_session_id=session.sid,
        grant_scope=["openid", "offline"], expires_at=clock.now_int() + 3600, handled_at=clock.now_int()))
    now = clock.now_int()
    hint = keys.sign({"iss": get_settings().issuer, "sub": subject, "aud": client.id, "sid": session.sid,
                      "iat": now, "exp": now + 3600})
    return cookie, hint, subject


def logout_once(api: Api, client: Any, admin: str, legs: Legs) -> bool:
    cookie, hint, _ = _signed_in(api, client, admin)
    jar = [f"hl_session={cookie}"]
    first = legs.run("logout_start", api.prepare("GET", "/oauth2/sessions/logout",
                                                 query=urlencode({"id_token_hint": hint}), cookies=jar))
    location = first.headers.get("location", "")
    challenge = (parse_qs(urlsplit(location).query).get("logout_challenge") or [""])[0]
    if first.status != 302 or not challenge:
        raise flows.Unavailable(f"the logout did not reach the logout app: {first.status} {location[:200]}")
    csrf = [raw.split(";", 1)[0] for raw in first.cookies if raw.startswith("hl_logout_")]
    auth = {"Authorization": f"Bearer {admin}"}
    query = urlencode({"logout_challenge": challenge})
    legs.run("logout_get", api.prepare("GET", "/admin/oauth2/auth/requests/logout", query=query, headers=auth))
    accepted = legs.run("logout_accept", api.prepare("PUT", "/admin/oauth2/auth/requests/logout/accept",
                                                     query=query, headers=auth))
    back = urlsplit(str(accepted.json["redirect_to"]))
    end = legs.run("logout_end", api.prepare("GET", back.path, query=back.query, cookies=[*jar, *csrf]))
    return end.status == 200 and "signed out" in end.body


def run_logout(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.worker import Context

    sizes = spec["sizes"]
    api = Api()
    ctx = Context(api, sizes)
    legs = Legs()
    for _ in range(min(sizes["warmup"], 10)):
        logout_once(api, ctx.client, ctx.admin, legs)
    legs.counting = True
    logouts = sizes["flow_requests"]
    complete = sum(logout_once(api, ctx.client, ctx.admin, legs) for _ in range(logouts))
    return {"logouts": logouts, "complete_logouts": complete, "legs": _figures(legs, logouts), "notes": ctx.notes}


def _figures(legs: Legs, logouts: int) -> dict[str, Any]:
    """Per leg and per logout, as bench.login's figures (its legs are the login's)."""
    from collections import Counter

    from bench import counting

    empty: dict[str, Counter[str]] = {key: Counter() for key in ("calls", "read_units", "write_units",
                                                                 "units_by_place")}
    return {leg: {"function": "", "requests": logouts, "cpu_ms": legs.cpu[leg] / logouts * 1000,
                  "wall_ms": legs.wall[leg] / logouts * 1000,
                  "calls": counting.summarize(empty, legs.counts.get(leg, empty), logouts)} for leg in LOGOUT_LEGS}


def logout_rows(result: dict[str, Any] | None, error: str) -> list[Any]:
    """Rows: one per leg (CPU, wall, AWS requests, capacity) and the capacity and cost of a whole logout."""
    from bench.common import Row, not_available
    from bench.cost import _calls, login_line

    if not result:
        return [not_available(LOGOUT_SECTION, "DynamoDB capacity per logout", error)]
    legs = result["legs"]
    rows = [Row(LOGOUT_SECTION, LEG_LABELS[leg],
                f"{f['cpu_ms']:.3f} ms CPU ({f['wall_ms']:.2f} ms wall, n={f['requests']}); {_calls(f['calls'])}",
                "", "info", round(f["cpu_ms"], 4), "ms", detail=f) for leg, f in legs.items()]
    line = login_line(legs)
    places: dict[str, float] = {}
    for figures in legs.values():
        for place, units in figures["calls"]["units_by_place"].items():
            places[place] = places.get(place, 0.0) + units
    where = ", ".join(f"{place} {units:g}" for place, units in sorted(places.items()))
    rows.append(Row(LOGOUT_SECTION, "DynamoDB capacity per logout",
                    f"{line['read_units']:g} RRU + {line['write_units']:g} WRU over {line['invocations']} invocations "
                    f"({where}); {result['complete_logouts']} of {result['logouts']} logouts ended their session",
                    "", "info", round(line["read_units"] + line["write_units"], 3), "capacity units",
                    detail={"units_by_place": places}))
    rows.append(Row("cost", "$ per million logouts",
                    f"${line['projected_per_million']:.2f} over {line['invocations']} invocations "
                    f"(${line['dynamodb_per_million']:.2f} DynamoDB)", "", "info",
                    round(line["projected_per_million"], 4), "$/M", detail=line))
    return rows


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("cpu") is not None:  # bench.cpus: alone on this CPU while measured
        os.sched_setaffinity(0, {spec["cpu"]})
    os.environ["URLS_LOGOUT"] = LOGOUT_APP  # the logout app's path: four invocations
    from hydra_lambda.config import reset_settings

    reset_settings()
    started = time.perf_counter()
    result = run_logout(spec)
    result["duration_s"] = round(time.perf_counter() - started, 1)
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
