"""The CLI's ``policies``, ``groups`` and ``keys`` commands over HTTP, against the classic admin APIs
(/policies, /warden/groups, /keys/{set}; hydra-api-facts.md section 6.8).

Those routes are built on another branch (issue #17, server side): on the CLI branch alone these tests
fail with 404s; they pass once both are merged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli_e2e import ok, one_line_error, run
from tests.support import LocalServer
from tests.support_admin import unique

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(aws: dict[str, str], root_client: tuple[str, str]) -> Iterator[LocalServer]:
    # SIGNING_KEYS empty: the local key behind its alias triple, as `make run` has it, so `keys rotate` works.
    instance = LocalServer({**aws, "SIGNING_KEYS": ""})
    yield instance
    instance.stop()


def test_policies_commands(server: LocalServer, tmp_path: Path) -> None:
    pid = unique("cli-policy")
    created = ok(run("policies", "create", "--id", pid, "-s", "alice", "-s", "<bob|carol>", "-r", "rn:hydra:clients",
                     "-a", "get", "--deny", "--conditions", '{"owner":{"type":"EqualsSubjectCondition"}}',
                     server=server))
    assert created["id"] == pid and created["subjects"] == ["alice", "<bob|carol>"]
    assert created["effect"] == "deny"
    assert ok(run("policies", "get", pid, server=server))["conditions"]["owner"]["type"] == "EqualsSubjectCondition"
    assert pid in {p["id"] for p in ok(run("policies", "list", "--limit", "500", server=server))}
    updated = ok(run("policies", "update", pid, "--allow", "--description", "readers", server=server))
    assert updated["effect"] == "allow" and updated["description"] == "readers"
    assert updated["subjects"] == ["alice", "<bob|carol>"]  # the rest is kept
    assert "409" in one_line_error(run("policies", "create", "--id", pid, "-s", "x", "--deny", server=server))
    assert "400" in one_line_error(run("policies", "create", "--id", unique(), "-s", "<(?=a)>", "--deny",
                                       server=server))

    document = tmp_path / "set.json"
    policy_set = [{"id": unique("set"), "subjects": ["s"], "resources": ["r"], "actions": ["a"], "effect": "allow"}
                  for _ in range(2)]
    document.write_text(json.dumps(policy_set))
    assert [p["id"] for p in ok(run("policies", "create", "--file", str(document), server=server))] == [
        p["id"] for p in policy_set]
    for one in [pid, *(p["id"] for p in policy_set)]:
        assert run("policies", "delete", one, server=server).returncode == 0
    assert "404" in one_line_error(run("policies", "get", pid, server=server))


def test_groups_commands(server: LocalServer) -> None:
    gid = unique("cli-group")
    created = ok(run("groups", "create", "--id", gid, "-m", "alice", server=server))
    assert created["id"] == gid and created["members"] == ["alice"]
    assert gid in {g["id"] for g in ok(run("groups", "list", "--member", "alice", server=server))}
    assert run("groups", "add-members", gid, "bob", "carol", server=server).returncode == 0
    assert set(ok(run("groups", "get", gid, server=server))["members"]) == {"alice", "bob", "carol"}
    assert run("groups", "remove-members", gid, "alice", server=server).returncode == 0
    assert set(ok(run("groups", "get", gid, server=server))["members"]) == {"bob", "carol"}
    assert gid not in {g["id"] for g in ok(run("groups", "list", "--member", "alice", server=server))}
    assert run("groups", "delete", gid, server=server).returncode == 0
    assert "404" in one_line_error(run("groups", "get", gid, server=server))


def test_keys_commands(server: LocalServer) -> None:
    keys = ok(run("keys", "get", server=server))["keys"]
    assert keys and all("d" not in key and key["kid"] for key in keys)  # public keys only
    # --kid=KID: a kid is base64url and may start with "-", which argparse would read as an option.
    one = ok(run("keys", "get", f"--kid={keys[0]['kid']}", server=server))["keys"]
    assert [key["kid"] for key in one] == [keys[0]["kid"]]
    assert "404" in one_line_error(run("keys", "get", "--kid", "no-such-kid", server=server))
    rotated = ok(run("keys", "rotate", "--force", server=server))["keys"]  # tests share the key set
    # One step of the rotation: a new key is published (and signs one step later); private parts never.
    assert {key["kid"] for key in rotated} - {key["kid"] for key in keys}
    assert all("d" not in key for key in rotated)
