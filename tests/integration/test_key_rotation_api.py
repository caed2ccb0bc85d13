"""``POST /keys/hydra.openid.id-token``: one step of the scheduled rotation over HTTP, through the
real handler on moto KMS (what ``hydra-lambda keys rotate`` calls)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hydra_lambda import keys

from tests.support import call
from tests.support_admin import bearer, service_client, token
from tests.support_keys import jws_parts, kms, signing_keys, verify_against_jwks

PATH = "/keys/hydra.openid.id-token"


@pytest.fixture(scope="module")
def root() -> dict[str, str]:
    return bearer(token(scope="hydra.keys.create hydra.keys.get"))


@pytest.fixture
def triple() -> Iterator[str]:
    """A stack key behind a fresh alias, signing through the alias triple as the template sets it."""
    from hydra_lambda.keys.rotation import create_kms_key

    alias = f"alias/test-{uuid.uuid4().hex[:8]}-id-token"
    kms().create_alias(AliasName=alias, TargetKeyId=create_kms_key("RSA_2048", "api-stack"))
    keys.forget()
    with signing_keys([alias, f"{alias}-next", f"{alias}-previous"]):
        yield alias
    keys.forget()


def targets(alias: str) -> tuple[str | None, ...]:
    from hydra_lambda.keys.rotation import _alias_target

    return tuple(_alias_target(a) for a in (alias, f"{alias}-next", f"{alias}-previous"))


def claims() -> dict[str, Any]:
    return {"iss": "https://issuer.example", "sub": "alice", "aud": "app", "iat": 1, "exp": 4102444800}


def header(jws: str) -> dict[str, Any]:
    return jws_parts(jws)[0]


def later() -> dict[str, str]:
    """The minimum interval between two steps passed: the admin headers of a token issued now (the
    module's would have expired meanwhile)."""
    from hydra_lambda import clock
    from hydra_lambda.keys import rotation

    clock.advance(rotation.minimum_interval())
    return bearer(token(scope="hydra.keys.create hydra.keys.get"))


def test_each_post_is_one_publish_switch_retire_step(root: dict[str, str], triple: str) -> None:
    stack_key = targets(triple)[0]
    before = keys.sign(claims())

    first = call("POST", PATH, headers=root, json_body={"alg": "ES256", "kid": "ignored"})
    assert first.status == 201, first.body
    current, upcoming, previous = targets(triple)
    assert (current, previous) == (stack_key, None) and upcoming not in (None, stack_key)
    assert [k["alg"] for k in first.json["keys"]] == ["RS256", "ES256"]  # published, not signing yet
    assert first.json == keys.jwks() == call("GET", PATH, headers=root).json
    assert header(keys.sign(claims()))["alg"] == "RS256"
    tags = kms().list_resource_tags(KeyId=upcoming)["Tags"]
    assert {"TagKey": "hydra-lambda:stack", "TagValue": "api-stack"} in tags  # the stack key's tag

    root = later()
    second = call("POST", PATH, headers=root, json_body={})  # RS256 by default
    assert second.status == 201, second.body
    assert targets(triple)[0] == upcoming and targets(triple)[2] == stack_key
    assert [k["alg"] for k in second.json["keys"]] == ["ES256", "RS256", "RS256"]
    after = keys.sign(claims())  # this container signs with the switched key at once
    assert header(after)["alg"] == "ES256" and header(after)["kid"] == second.json["keys"][0]["kid"]
    for jws in (before, after):
        verify_against_jwks(jws, second.json)

    root = later()
    third = call("POST", PATH, headers=root, json_body={"alg": "RS256"})
    assert third.status == 201 and targets(triple)[2] == upcoming
    assert kms().describe_key(KeyId=stack_key)["KeyMetadata"]["Enabled"] is True  # never the stack's key
    root = later()
    fourth = call("POST", PATH, headers=root, json_body={"alg": "RS256"})
    assert fourth.status == 201
    retired = kms().describe_key(KeyId=upcoming)["KeyMetadata"]
    assert retired["KeyState"] == "PendingDeletion"  # disabled and scheduled (RETIRED_KEY_DELETION_DAYS)
    assert upcoming not in targets(triple) and len(fourth.json["keys"]) == 3


@pytest.mark.parametrize("body", [{"alg": "HS256"}, {"alg": "RS512"}, {"alg": 256}, {"alg": ["RS256"]}, {"alg": None},
                                  {"alg": "RS256", "kid": 1}])
def test_an_unknown_alg_is_400_and_moves_nothing(root: dict[str, str], triple: str, body: Any) -> None:
    before = targets(triple)
    result = call("POST", PATH, headers=root, json_body=body)
    assert result.status == 400 and result.json["error"]["code"] == 400
    assert "RS256" in result.json["error"]["message"] or "kid" in result.json["error"]["message"]
    assert targets(triple) == before
    assert call("POST", PATH, headers=root, body="{not json").status == 400


def test_rotation_needs_the_scope_and_the_policy(triple: str) -> None:
    before = targets(triple)
    assert call("POST", PATH, json_body={"alg": "RS256"}).status == 401
    no_scope = call("POST", PATH, headers=bearer(token(scope="hydra.keys.get")), json_body={})
    assert no_scope.status == 403 and "hydra.keys.create" in no_scope.json["error"]["reason"]
    client_id, secret = service_client(scope="hydra.keys.create")  # no policy allows it
    denied = call("POST", PATH, headers=bearer(token(client_id, secret, scope="hydra.keys.create")), json_body={})
    assert denied.status == 403
    assert call("POST", "/keys/other.set", headers=bearer(token(scope="hydra.keys.create"))).status == 404
    assert targets(triple) == before


def test_a_deployment_not_signing_through_the_alias_triple_is_409(root: dict[str, str], triple: str) -> None:
    before = targets(triple)
    for refs, mode, hint in (([triple], "kms", "KeyRotationSchedule"),
                             ([triple, f"{triple}-next"], "kms", "KeyRotationSchedule"),
                             (["stack/id-token/x"], "envelope", "hydra-lambda-keys envelope")):
        with signing_keys(refs, mode=mode):
            result = call("POST", PATH, headers=root, json_body={"alg": "RS256"})
        assert result.status == 409, (refs, result.body)
        assert result.json["error"]["code"] == 409 and hint in result.json["error"]["message"]
    assert targets(triple) == before


def test_concurrent_rotations_never_interleave(root: dict[str, str], triple: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The first request holds the lease while it moves the aliases; a second one meanwhile (in another
    container) is a 409 and changes nothing, so the aliases stay three distinct keys with none orphaned."""
    from hydra_lambda.keys import rotation

    real, inside, leave = rotation.scheduled_step, threading.Event(), threading.Event()

    def slow_step(*args: Any, **kwargs: Any) -> Any:
        if not inside.is_set():  # only the first request waits
            inside.set()
            assert leave.wait(30)
        return real(*args, **kwargs)

    assert call("POST", PATH, headers=root, json_body={}).status == 201
    root = later()
    assert call("POST", PATH, headers=root, json_body={}).status == 201
    root = later()
    before = targets(triple)
    monkeypatch.setattr(rotation, "scheduled_step", slow_step)
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.append(call("POST", PATH, headers=root, json_body={})))
    first.start()
    assert inside.wait(30)
    # Another container (the local server runs one request at a time, so not through `call`).
    from hydra_lambda.endpoints import keys as key_admin
    from hydra_lambda.errors import Conflict
    from hydra_lambda.http.forms import credentials

    try:
        with pytest.raises(Conflict, match="in progress"):
            key_admin.create_set(credentials(root["Authorization"]), "hydra.openid.id-token", {"alg": "RS256"})
    finally:
        leave.set()
        first.join(30)
    assert [r.status for r in results] == [201]
    current, upcoming, previous = targets(triple)
    assert (current, previous) == (before[1], before[0]) and len({current, upcoming, previous}) == 3
    root = later()
    assert call("POST", PATH, headers=root, json_body={}).status == 201  # the lease was given back


def test_a_lease_left_by_a_dead_holder_runs_out(root: dict[str, str], triple: str) -> None:
    from hydra_lambda import clock
    from hydra_lambda.keys.rotation import ROTATION_LEASE_SECONDS
    from hydra_lambda.storage import locks

    assert locks.acquire(f"key-rotation:{triple}", ROTATION_LEASE_SECONDS) is not None  # never released
    assert call("POST", PATH, headers=root, json_body={}).status == 409
    assert locks.acquire(f"key-rotation:{triple}", ROTATION_LEASE_SECONDS) is None
    clock.advance(ROTATION_LEASE_SECONDS + 1)
    assert call("POST", PATH, headers=root, json_body={}).status == 201


def test_the_local_server_signs_through_a_rotatable_alias_triple(aws: dict[str, str]) -> None:
    """`make run` (no SIGNING_KEYS): the local keys behind alias triples (one per algorithm), so the
    API rotates them, each set on its own: a PS256 step moves the PS256 triple and nothing else."""
    import json
    import urllib.request

    from hydra_lambda_local.backends import LOCAL_KEY_ALIAS, LOCAL_SETS

    from tests.support import ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, LocalServer, basic

    ps256_alias, es256_alias = (LOCAL_SETS[f"SIGNING_KEYS_{alg}"][0] for alg in ("PS256", "ES256"))
    server = LocalServer({**aws, "SIGNING_KEYS": ""})
    try:
        def request(method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
            req = urllib.request.Request(server.url + path, data=body, method=method, headers=headers)
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, json.loads(response.read())

        _, issued = request("POST", "/oauth2/token", b"grant_type=client_credentials&scope=hydra.keys.create",
                            {"Content-Type": "application/x-www-form-urlencoded",
                             **basic(ROOT_CLIENT_ID, ROOT_CLIENT_SECRET)})
        before = targets(ps256_alias)
        untouched = (targets(LOCAL_KEY_ALIAS), targets(es256_alias))
        published = {key["kid"] for key in request("GET", "/.well-known/jwks.json", b"", {})[1]["keys"]}
        # "force": the shared local triple may have been rotated by another test a moment ago.
        status, rotated = request("POST", PATH, b'{"alg": "PS256", "force": true}', {
            "Authorization": f"Bearer {issued['access_token']}", "Content-Type": "application/json"})
        # Other tests may have rotated this shared local triple before: compare with what was published.
        assert status == 201
        assert [key["alg"] for key in rotated["keys"] if key["kid"] not in published] == ["PS256"]
        after = targets(ps256_alias)
        # previous <- current <- next <- new: the new key is published as -next, the one published
        # before (none on a fresh triple) signs now.
        assert after[1] not in before and after[0] == (before[1] or before[0])
        assert (targets(LOCAL_KEY_ALIAS), targets(es256_alias)) == untouched
        assert request("GET", "/.well-known/jwks.json", b"", {})[1] == rotated
        assert {key["alg"] for key in rotated["keys"]} == {"RS256", "PS256", "ES256"}
    finally:
        server.stop()
        # Leave the shared triple as if never rotated through -next, so that a later rotation of
        # another test is a first step, not one within the minimum interval of this one.
        kms().delete_alias(AliasName=f"{ps256_alias}-next")


def test_the_scheduled_rotation_takes_the_same_lease(root: dict[str, str], triple: str) -> None:
    """A scheduled run while an API rotation holds the lease changes nothing and fails (Lambda retries
    it); once the lease is free, the scheduled run is one step, and it gives the lease back."""
    import importlib.util

    from hydra_lambda.keys.rotation import ROTATION_LEASE_SECONDS, RotationInProgress
    from hydra_lambda.storage import locks
    from hydra_lambda_local.events import FakeContext

    from tests.support import ROOT

    spec = importlib.util.spec_from_file_location("keyrotation_app", ROOT / "functions" / "keyrotation" / "app.py")
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    event = {"alias": triple, "key_spec": "ECC_NIST_P256", "stack": "api-stack"}
    before = targets(triple)
    owner = locks.acquire(f"key-rotation:{triple}", ROTATION_LEASE_SECONDS)
    assert owner is not None
    try:
        with pytest.raises(RotationInProgress):
            app._rotate(event, FakeContext("KeyRotationFunction"))
        assert targets(triple) == before
    finally:
        locks.release(f"key-rotation:{triple}", owner)
    result = app._rotate(event, FakeContext("KeyRotationFunction"))
    assert targets(triple) == (before[0], result["next"], None) and result["next"] not in before
    root = later()
    assert call("POST", PATH, headers=root, json_body={}).status == 201  # the lease was given back


def test_a_lease_whose_answer_was_lost_is_still_its_owners(lossy_proxy: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lease's PutItem commits and its answer is lost: botocore's resend finds the row it wrote,
    and the taker holds the lease (not "someone else holds it" for 120 s)."""
    from botocore.retries import standard
    from hydra_lambda.storage import locks

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    name = f"test-{uuid.uuid4().hex}"
    with lossy_proxy.lose_responses("PutItem") as rule:
        owner = locks.acquire(name, 60)
    assert rule.lost == ["PutItem"]
    assert owner is not None
    assert locks.acquire(name, 60) is None  # and nobody else gets it
    locks.release(name, owner)
    assert locks.acquire(name, 60) is not None


# ------------------------------------------------------------------ the minimum interval between steps


def _load_keyrotation_app() -> Any:
    import importlib.util

    from tests.support import ROOT

    spec = importlib.util.spec_from_file_location("keyrotation_app", ROOT / "functions" / "keyrotation" / "app.py")
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    return app


def test_the_minimum_interval_comes_from_the_jwks_max_age_and_the_id_token_lifespan(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda.config import reset_settings
    from hydra_lambda.keys import rotation

    for lifespan, cache, expected in (("1h", "3600", 7200), ("5h", "3600", 5 * 3600 + 3600),
                                      ("10m", "0", rotation.JWKS_MAX_AGE)):
        monkeypatch.setenv("ID_TOKEN_LIFESPAN", lifespan)
        monkeypatch.setenv("SIGNING_KEYS_CACHE_SECONDS", cache)
        reset_settings()
        assert rotation.minimum_interval() == expected
    monkeypatch.undo()
    reset_settings()


def test_a_step_within_the_minimum_interval_is_409_with_the_time_left(root: dict[str, str], triple: str) -> None:
    from hydra_lambda import clock
    from hydra_lambda.keys import rotation

    assert call("POST", PATH, headers=root, json_body={}).status == 201  # publishes: no step before it
    before = targets(triple)
    too_soon = call("POST", PATH, headers=root, json_body={"alg": "ES256"})
    assert too_soon.status == 409, too_soon.body  # was 201: the published key signed at once
    interval = rotation.minimum_interval()
    error = too_soon.json["error"]
    assert error["code"] == 409 and error["status"] == "Conflict" and '"force": true' in error["message"]
    left = int(too_soon.headers["retry-after"])
    assert interval - 60 < left <= interval and f"in {left} s" in error["message"]
    assert targets(triple) == before  # nothing moved, no key made
    clock.advance(interval - 100)
    headers = bearer(token(scope="hydra.keys.create hydra.keys.get"))
    still = call("POST", PATH, headers=headers, json_body={})
    assert still.status == 409 and 0 < int(still.headers["retry-after"]) <= 100
    assert targets(triple) == before
    clock.advance(101)
    headers = bearer(token(scope="hydra.keys.create hydra.keys.get"))
    assert call("POST", PATH, headers=headers, json_body={}).status == 201
    assert targets(triple)[0] == before[1]  # the published key signs now


def test_force_rotates_at_once_for_a_compromised_key(root: dict[str, str], triple: str) -> None:
    assert call("POST", PATH, headers=root, json_body={}).status == 201
    before = targets(triple)
    for bad in ("true", 1, None):
        refused = call("POST", PATH, headers=root, json_body={"force": bad})
        assert refused.status == 400 and "force" in refused.json["error"]["message"], bad
    forced = call("POST", PATH, headers=root, json_body={"force": True})
    assert forced.status == 201, forced.body
    assert targets(triple)[0] == before[1] and targets(triple)[2] == before[0]


def test_the_scheduled_rotation_honours_the_interval_unless_forced(triple: str) -> None:
    from hydra_lambda.keys.rotation import RotationTooSoon
    from hydra_lambda_local.events import FakeContext

    app = _load_keyrotation_app()
    event = {"alias": triple, "key_spec": "ECC_NIST_P256", "stack": "api-stack"}
    first = app._rotate(event, FakeContext("KeyRotationFunction"))
    before = targets(triple)
    with pytest.raises(RotationTooSoon):
        app._rotate(event, FakeContext("KeyRotationFunction"))
    assert targets(triple) == before
    forced = app._rotate({**event, "force": True}, FakeContext("KeyRotationFunction"))
    assert forced["current"] == first["next"]
