"""SnapStart (shared/hydra_lambda/snapstart.py): every function that serves requests registers the
before-snapshot and after-restore hooks, and processes restored from one snapshot do not share what
was random at init. A snapshot is simulated by ``fork``: the children start from the parent's memory,
as restored execution environments start from the snapshot's (pure logic, no engines)."""

from __future__ import annotations

import importlib.util
import multiprocessing
import random
from pathlib import Path
from typing import Any

import pytest
from hydra_lambda import aws, cache, passwords, snapstart, warden

from tests.support import ROOT

SERVING = ("admin", "clients", "consent", "discovery", "flush", "oauth2")


def _import_app(group: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"snapstart_app_{group}", ROOT / "functions" / group / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("group", SERVING)
def test_every_serving_function_registers_both_hooks(group: str) -> None:
    source = (ROOT / "functions" / group / "app.py").read_text()
    assert "snapstart.enable()" in source
    _import_app(group)
    hooks = snapstart.registered()
    assert hooks == {"before_snapshot": [snapstart.prime], "after_restore": [snapstart.after_restore]}


def test_the_serving_functions_are_the_ones_with_http_routes() -> None:
    from hydra_lambda_local.routes import load_template

    resources = load_template(ROOT / "template.yaml")["Resources"]
    with_routes = {
        Path(props["CodeUri"]).name
        for resource in resources.values() if resource.get("Type") == "AWS::Serverless::Function"
        for props in [resource["Properties"]]
        if any(event.get("Type") == "HttpApi" for event in (props.get("Events") or {}).values())
    }
    assert with_routes == set(SERVING)


def _restored(conn: Any, restore: bool, snapshot_state: Any) -> None:
    # fork reseeds ``random`` in the child (os.register_at_fork); a snapshot restore does not, so the
    # child goes back to the parent's state, as a restored process has the snapshot's.
    random.setstate(snapshot_state)
    if restore:
        snapstart.after_restore()
    conn.send((random.random(), passwords._process_key, warden._ANY_ID))
    conn.close()


def _two_restores(restore: bool) -> list[tuple[float, bytes, str]]:
    context = multiprocessing.get_context("fork")
    state = random.getstate()
    seen = []
    for _ in range(2):
        parent, child = context.Pipe()
        process = context.Process(target=_restored, args=(child, restore, state))
        process.start()
        seen.append(parent.recv())
        process.join(10)
        assert process.exitcode == 0
    return seen


def test_restored_processes_do_not_share_the_random_state_or_the_process_key() -> None:
    random.seed(1234)  # the "snapshot": one state, copied into every restored process
    alike = _two_restores(restore=False)
    assert alike[0] == alike[1]  # without the hook, every restored process replays the same values
    first, second = _two_restores(restore=True)
    assert first[0] != second[0]
    assert first[1] != second[1] and len(first[1]) == 32
    assert first[2] != second[2]


def test_a_restore_empties_every_per_container_cache() -> None:
    timed: cache.TimedCache[str, str] = cache.TimedCache("snapstart-test", lambda: 60.0)
    timed.put("client", "state of the container the snapshot was made in")
    passwords._known.put("stored", b"fingerprint")
    snapstart.after_restore()
    assert len(timed) == 0
    assert len(passwords._known) == 0


def test_a_restore_keeps_the_primed_sdk_clients_and_clear_all_does_not() -> None:
    """The SDK clients made before the snapshot hold no container's state (no connection is open):
    a restore keeps them, so the priming is not thrown away; a test's clear_all still forgets them."""
    made = aws.client("kms")
    snapstart.after_restore()
    assert aws.client("kms") is made
    cache.clear_all()
    assert aws.client("kms") is not made
