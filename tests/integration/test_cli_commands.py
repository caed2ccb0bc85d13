"""The classic v0.11 CLI's remaining commands (issue 28, item 12), each over HTTP against a running
``hydra-lambda serve``: keys create/delete, token revoke/validate, policies subjects/resources/actions
add/remove, groups find, clients/policies import (partial imports say what was created), connect,
version; policies create needs an explicit effect; token client --json; no traceback on a closed
pipe."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.test_cli_e2e import USER_ENV, ok, one_line_error, run
from tests.support import ROOT, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, new_client
from tests.support_admin import unique

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    instance = LocalServer({**aws, "SIGNING_KEYS": ""})  # the local alias triple: keys create rotates it
    yield instance
    instance.stop()


def test_version_and_connect(server: LocalServer) -> None:
    version = run("version")
    assert version.returncode == 0 and version.stdout.startswith("hydra-lambda 0.")
    connected = run("connect", server=server)
    assert connected.returncode == 0, connected.stderr
    assert f"export HYDRA_URL={server.url} HYDRA_CLIENT_ID={ROOT_CLIENT_ID}" in connected.stdout
    assert ROOT_CLIENT_SECRET not in connected.stdout + connected.stderr
    assert "refused a token" in one_line_error(run("connect", server=server, secret="wrong-secret"))


def test_token_client_json_revoke_and_validate(server: LocalServer) -> None:
    answer = ok(run("token", "client", "--scope", "hydra.clients", "--json", server=server))
    assert answer["access_token"].startswith("hl_at_") and answer["token_type"].lower() == "bearer"
    assert answer["scope"] == "hydra.clients" and answer["expires_in"] > 0
    live = run("token", "validate", answer["access_token"], server=server)
    assert live.returncode == 0 and json.loads(live.stdout)["active"] is True
    revoked = run("token", "revoke", answer["access_token"], server=server)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    dead = run("token", "validate", answer["access_token"], server=server)
    assert dead.returncode == 1 and json.loads(dead.stdout) == {"active": False}
    listed = requests.get(f"{server.url}/clients", headers={"Authorization": f"Bearer {answer['access_token']}"},
                          timeout=10)
    assert listed.status_code == 401


def test_keys_create_and_delete(server: LocalServer) -> None:
    before = {key["kid"] for key in ok(run("keys", "get", server=server))["keys"]}
    # Tests share one key set: whether or not another step ran within the minimum interval, --force
    # makes this one; a second step right after it without --force is refused with the way out named.
    created = ok(run("keys", "create", "hydra.openid.id-token", "-a", "RS256", "--force", server=server))["keys"]
    assert {key["kid"] for key in created} - before and all("d" not in key for key in created)
    too_soon = one_line_error(run("keys", "create", "hydra.openid.id-token", server=server))
    assert "409" in too_soon and "force" in too_soon
    refused = one_line_error(run("keys", "delete", "hydra.openid.id-token", server=server))
    assert "403" in refused


def test_policy_lists_add_and_remove(server: LocalServer) -> None:
    pid = unique("cli-edit")
    ok(run("policies", "create", "--id", pid, "-s", "alice", "-r", "rn:hydra:x", "-a", "get", "--allow",
           server=server))
    for field_name, added in (("subjects", ["bob", "carol"]), ("resources", ["rn:hydra:y"]), ("actions", ["put"])):
        before = ok(run("policies", "get", pid, server=server))[field_name]
        after = ok(run("policies", field_name, "add", pid, *added, server=server))[field_name]
        assert after == before + added
        removed = ok(run("policies", field_name, "remove", pid, added[0], server=server))[field_name]
        assert removed == before + added[1:]
    assert "no subjects nobody" in one_line_error(run("policies", "subjects", "remove", pid, "nobody", server=server),
                                                  code=2)
    assert ok(run("policies", "get", pid, server=server))["effect"] == "allow"  # the rest is kept
    run("policies", "delete", pid, server=server)


def test_policies_create_needs_an_explicit_effect(server: LocalServer) -> None:
    pid = unique("cli-effect")
    assert "--allow or --deny" in one_line_error(run("policies", "create", "--id", pid, "-s", "x", server=server),
                                                 code=2)
    assert "404" in one_line_error(run("policies", "get", pid, server=server))


def test_groups_find(server: LocalServer) -> None:
    member = unique("member")
    gid = ok(run("groups", "create", "-m", member, server=server))["id"]
    assert [group["id"] for group in ok(run("groups", "find", member, server=server))] == [gid]
    run("groups", "delete", gid, server=server)


def test_imports_say_what_was_created(server: LocalServer, tmp_path: Path) -> None:
    first, second = unique("imp"), unique("imp")
    (tmp_path / "a.json").write_text(json.dumps({"id": first, "grant_types": ["client_credentials"]}))
    (tmp_path / "b.json").write_text(json.dumps([{"id": second, "grant_types": ["client_credentials"]},
                                                 {"id": first}, {"id": unique("never")}]))
    result = run("clients", "import", str(tmp_path / "a.json"), str(tmp_path / "b.json"), server=server)
    line = one_line_error(subprocess.CompletedProcess(result.args, result.returncode, "", result.stderr))
    assert "409" in line and f"{tmp_path / 'b.json'} [1]" in line
    assert f"created 2 of 4 client document(s) before it ({first}, {second})" in line
    printed = json.loads(result.stdout)
    assert [client["id"] for client in printed] == [first, second] and all(c["client_secret"] for c in printed)
    token = requests.post(f"{server.url}/oauth2/token", auth=(second, printed[1]["client_secret"]), timeout=10,
                          data={"grant_type": "client_credentials"})
    assert token.status_code == 200

    policies = [{"id": unique("imp"), "subjects": ["s"], "resources": ["r"], "actions": ["a"], "effect": "allow"}
                for _ in range(2)]
    (tmp_path / "p.json").write_text(json.dumps(policies))
    imported = ok(run("policies", "import", str(tmp_path / "p.json"), server=server))
    assert [p["id"] for p in imported] == [p["id"] for p in policies]
    partial = run("policies", "create", "--file", str(tmp_path / "p.json"), server=server)
    assert partial.returncode == 1 and json.loads(partial.stdout) == []
    assert "created 0 of 2 policy document(s) before it (none)" in partial.stderr
    assert "cannot read" in one_line_error(run("clients", "import", str(tmp_path / "nope.json"), server=server), code=2)


def test_a_closed_pipe_is_no_traceback(server: LocalServer) -> None:
    """``hydra-lambda clients list | head -c 1``: the reader leaves before the output is written."""
    from hydra_lambda.clients.registry import delete_client

    # 200 KB of output: more than the pipe and head's buffers hold.
    made = [new_client("pipe", client_name="x" * 2000)[0] for _ in range(100)]
    try:
        env = {**USER_ENV, "HYDRA_URL": server.url, "HYDRA_CLIENT_ID": ROOT_CLIENT_ID,
               "HYDRA_CLIENT_SECRET": ROOT_CLIENT_SECRET}
        shell = f"{sys.executable} -m hydra_lambda_local.cli clients list --limit 500 | head -c 1"
        result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=60)
    finally:  # other tests read the first page of clients
        for client_id in made:
            delete_client(client_id)
    assert result.stdout == "["
    assert "Traceback" not in result.stderr and "Broken pipe" not in result.stderr, result.stderr
    assert result.returncode in (0, 141)


def test_token_flush_prints_what_it_removed(server: LocalServer) -> None:
    from tests.integration.test_flush import seed

    seed(expired=2, live=1)  # in the tables the server uses
    removed = ok(run("token", "flush", server=server))
    assert set(removed["removed"]) == {"access", "refresh", "code", "consent"} and removed["complete"] is True
    assert all(count >= 2 for count in removed["removed"].values()), removed
    token = run("token", "client", "--scope", "hydra.oauth2.flush", server=server).stdout.strip()
    classic = requests.post(f"{server.url}/oauth2/flush", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert classic.status_code == 204 and classic.content == b""  # without Prefer: as classic Hydra
