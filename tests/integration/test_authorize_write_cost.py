"""What an anonymous first leg of ``/oauth2/auth`` may write: only the parameters the flow needs,
each bounded, so junk parameters cost nothing and nothing a browser sends can make the row too large."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.integration.test_capacity import capacity
from tests.support import call
from tests.support_flows import NONCE, REDIRECT, STATE, Flow, make_client, pkce_pair, qs


def _start(client_id: str, method: str = "GET", **extra: str) -> tuple[Any, list[tuple[str, float, float]]]:
    params = {"client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid offline",
              "state": STATE, "nonce": NONCE, **extra}
    with capacity() as used:
        if method == "POST":
            result = call("POST", "/oauth2/auth", form=params)
        else:
            result = call("GET", "/oauth2/auth", query=params)
    return result, used


def _row_bytes(consent_id: str) -> int:
    from hydra_lambda.storage.clients import item_size
    from hydra_lambda.storage.tables import ConsentRecord

    return item_size(ConsentRecord.get(consent_id, consistent_read=True))  # type: ignore[arg-type]


def _writes(used: list[tuple[str, float, float]]) -> float:
    return sum(entry[2] for entry in used)


def test_junk_parameters_cost_what_a_normal_first_leg_costs(capsys: Any) -> None:
    client_id, _ = make_client()
    _start(client_id)  # warm the client cache: both measured requests read the same
    normal, normal_used = _start(client_id)
    assert normal.status == 302, normal.body
    junk, junk_used = _start(client_id, method="POST", junk="x" * 300 * 1024)
    assert junk.status == 302, junk.body
    with capsys.disabled():
        print(f"\nfirst leg: normal {normal_used}, with 300 KiB of junk {junk_used}")
    # One write of a row under 1 KB, plus its copy in the flush index: the same with or without junk.
    assert _writes(normal_used) == _writes(junk_used) <= 2.0, (normal_used, junk_used)
    junk_id = qs(junk.headers["location"])["consent"]
    with capsys.disabled():
        print(f"first leg rows: normal {_row_bytes(qs(normal.headers['location'])['consent'])} bytes, "
              f"with junk {_row_bytes(junk_id)} bytes")
    assert _row_bytes(junk_id) < 1024
    assert "junk" not in _row_text(junk_id)


def _row_text(consent_id: str) -> str:
    from hydra_lambda.storage.tables import ConsentRecord

    record = ConsentRecord.get(consent_id, consistent_read=True)
    return f"{record.redirect_url} {record.request}"


def test_a_huge_junk_parameter_is_never_a_500() -> None:
    client_id, _ = make_client()
    result, used = _start(client_id, method="POST", junk="x" * 450 * 1024)
    assert result.status == 302, result.body
    assert _writes(used) <= 2.0, used


def test_the_flow_still_carries_every_parameter_it_needs() -> None:
    """The redirectUrl the consent app follows holds the validated parameters, not the junk, and the
    second leg accepts it."""
    client_id, _ = make_client(public=True, token_endpoint_auth_method="none")
    _verifier, challenge = pkce_pair()
    flow = Flow(client_id)
    first = flow.start(code_challenge=challenge, code_challenge_method="S256", prompt="consent consent login",
                       max_age="300", login_hint="alice@example.org", ui_locales="de en", acr_values="urn:a",
                       junk="y" * 1000)
    assert first.status == 302, first.body
    asked = flow.consent_request()
    back = parse_qs(urlsplit(asked["redirectUrl"]).query)
    assert "junk" not in back
    assert back["code_challenge"] == [challenge] and back["state"] == [STATE] and back["nonce"] == [NONCE]
    assert asked["requestedPrompt"] == "consent login"
    assert asked["requestedMaxAge"] == 300 and asked["loginHint"] == "alice@example.org"
    assert flow.accept(authTime=None).status == 204
    second = flow.back()
    assert second.status == 302 and "code" in qs(second.headers["location"]), second.headers


def test_the_stored_request_has_a_hard_bound() -> None:
    """Every bounded parameter at its longest, a repeated prompt and the most scopes: refused with
    invalid_request at the client (nothing stored), or stored within the bound; never too large."""
    client_id, _ = make_client(scope=" ".join(f"s{i:03d}" + "x" * 200 for i in range(100)))
    scope = " ".join(f"s{i:03d}" + "x" * 200 for i in range(100))
    longest = {name: "a" * 2048 for name in ("state", "nonce", "acr_values", "login_hint", "ui_locales")}
    result, used = _start(client_id, scope=scope, prompt="login " * 5000, **longest)
    assert result.status == 302, result.body
    location = result.headers["location"]
    assert location.startswith(REDIRECT), location
    assert qs(location)["error"] == "invalid_request" and "too large" in qs(location)["error_description"]
    assert _writes(used) == 0, used
    # Below the bound: stored, and the row stays within its hard bound.
    result, used = _start(client_id, scope=" ".join(scope.split()[:10]), prompt="login " * 5000,
                          state="s" * 2048, nonce="n" * 2048)
    assert result.status == 302 and "consent=" in result.headers["location"], result.headers
    size = _row_bytes(qs(result.headers["location"])["consent"])
    print(f"largest accepted first leg row: {size} bytes")
    assert size <= 24 * 1024
