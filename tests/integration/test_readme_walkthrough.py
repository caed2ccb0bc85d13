"""The README's curl walkthrough ("The API with curl"), run as written: its two shell blocks with bash,
curl, jq and openssl against ``hydra-lambda serve`` and the example consent app. Between them the test
does what the reader's browser does (follow the printed URL, sign in as alice, allow) and pastes the
code into the second block, as the README tells the reader to."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, admin_headers, serve_with_consent_app

pytestmark = pytest.mark.e2e

CALLBACK = "http://127.0.0.1:5555/callback"
PASTE = "CODE='paste the code here'"


def _section() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    return re.split(r"\n#{2,3} ", text.split("### The API with curl", 1)[1], maxsplit=1)[0]


def _blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", _section(), re.S)


@pytest.fixture(scope="module")
def stack(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    server, _ = serve_with_consent_app(aws)
    yield server
    requests.delete(f"{server.url}/clients/curl-app", headers=admin_headers(), timeout=10)
    server.stop()


def _bash(script: str, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", "-c", "set -eu -o pipefail\n" + script], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _sign_in_and_allow(url: str) -> str:
    """The reader's browser: the printed URL, the consent app's form as alice, back to the callback."""
    browser = requests.Session()
    to_app = browser.get(url, allow_redirects=False, timeout=10)
    assert to_app.status_code in (302, 303), to_app.text
    page = browser.get(to_app.headers["Location"], timeout=10)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
    answer = browser.post(urljoin(page.url, "/consent"), allow_redirects=False, timeout=10, data={
        **fields, "username": "alice", "password": "alice-password", "scope": ["openid", "offline"],
        "action": "accept"})
    assert answer.status_code in (302, 303), answer.text
    back = browser.get(answer.headers["Location"], allow_redirects=False, timeout=10)
    location = back.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == parse_qs(urlsplit(url).query)["state"]
    return params["code"][0]


def test_the_readme_walkthrough_runs_as_written(stack: LocalServer, tmp_path: Path) -> None:
    first, second = _blocks()
    assert PASTE in second
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HYDRA_URL": stack.url,
           "HYDRA_CLIENT_ID": ROOT_CLIENT_ID, "HYDRA_CLIENT_SECRET": ROOT_CLIENT_SECRET}
    state = tmp_path / "shell-state"
    out = _bash(f"{first}\ndeclare -p H TOKEN APP_SECRET VERIFIER > {shlex.quote(str(state))}", env)
    discovery, introspection, url = _first_outputs(out)
    assert discovery["issuer"] == stack.url and discovery["token_endpoint"] == f"{stack.url}/oauth2/token"
    assert introspection["active"] is True and introspection["sub"] == ROOT_CLIENT_ID, out
    assert introspection["scope"] == "hydra.clients hydra.introspect"

    code = _sign_in_and_allow(url)
    script = f". {shlex.quote(str(state))}\n" + second.replace(PASTE, f"CODE={shlex.quote(code)}")
    tokens, userinfo, last = _second_outputs(_bash(script, env))
    assert tokens["scope"] == "openid offline" and tokens["token_type"].lower() == "bearer"
    assert userinfo["sub"] == "alice"
    assert last == {"active": False}

    # The closing paragraph's error examples, as written there.
    policies = re.search(r"`(curl -s -H \"Authorization: Bearer \$TOKEN\" \$H/policies)`", _section()).group(1)
    denied = json.loads(_bash(f". {shlex.quote(str(state))}\n{policies}", env))
    assert denied["error"]["code"] == 403 and "hydra.policies" in json.dumps(denied), denied
    exchange = re.search(r"^TOKENS=\$\(curl .*?\"\$H/oauth2/token\"\)$", second, re.S | re.M).group(0)
    spent = _bash(f". {shlex.quote(str(state))}\nCODE={shlex.quote(code)}\n{exchange}\necho \"$TOKENS\"", env)
    assert json.loads(spent)["error"] == "invalid_grant", spent  # the code was spent by the walkthrough


def _json_documents(text: str) -> list[object]:
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := _skip_space(text, at)) < len(text) and text[at] in "{[":
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _first_outputs(out: str) -> tuple[dict, dict, str]:
    *documents_text, url = out.rstrip("\n").rsplit("\n", 1)
    documents = _json_documents(documents_text[0])
    assert len(documents) == 2 and url.startswith("http"), out
    return documents[0], documents[1], url  # type: ignore[return-value]


def _second_outputs(out: str) -> tuple[dict, dict, object]:
    documents = _json_documents(out)
    assert len(documents) == 3, out  # the revoke answers an empty body
    return documents[0], documents[1], documents[2]  # type: ignore[return-value]
