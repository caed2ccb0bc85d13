"""The pieces of ``/admin/clients`` that need no server: Hydra's duration strings (clients/lifespans.py)
and JSON Patch (clients/json_patch.py, against RFC 6902's own examples and hostile patches)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hydra_lambda.clients import json_patch, lifespans
from hydra_lambda.clients.model import LIFESPAN_FIELDS
from hydra_lambda.errors import BadRequest

NAME = LIFESPAN_FIELDS[0]


@pytest.mark.parametrize(("text", "seconds"), [
    ("1h0m0s", 3600), ("30s", 30), ("1m30s", 90), ("90s", 90), ("2h", 7200), ("1500ms500ms", 2),
    ("1000000us", 1), ("1000000000ns", 1), ("8760h", 8760 * 3600), ("1h1h", 7200),
])
def test_durations_parse_as_go_writes_them(text: str, seconds: int) -> None:
    assert lifespans.parse(NAME, text) == seconds


@pytest.mark.parametrize("text", ["1.5h", "-1h", "1d", "h", "1", " 1h", "1h ", "1H", "0s", "1500ms", "8761h",
                                  "1e3s", "\uff11h", "9" * 70 + "s", "1h\n"])
def test_bad_durations_are_400_naming_the_field(text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        lifespans.parse(NAME, text)
    assert NAME in caught.value.message


@pytest.mark.parametrize("value", [3600, True, ["1h"], {"h": 1}])
def test_a_lifespan_must_be_a_string(value: Any) -> None:
    with pytest.raises(BadRequest):
        lifespans.parse(NAME, value)


def test_null_and_empty_mean_the_server_setting() -> None:
    assert lifespans.parse(NAME, None) is None and lifespans.parse(NAME, "") is None
    wire = {NAME: None, LIFESPAN_FIELDS[1]: "", LIFESPAN_FIELDS[2]: "1m"}
    assert lifespans.from_wire(wire) == {LIFESPAN_FIELDS[2]: 60}


@pytest.mark.parametrize(("seconds", "text"), [(3600, "1h0m0s"), (30, "30s"), (90, "1m30s"), (0, "0s"),
                                               (86400, "24h0m0s"), (3661, "1h1m1s")])
def test_render_is_go_duration_string(seconds: int, text: str) -> None:
    assert lifespans.render(seconds) == text
    if seconds:
        assert lifespans.parse(NAME, text) == seconds


def test_to_wire_names_all_thirteen() -> None:
    wire = lifespans.to_wire({NAME: 60})
    assert len(wire) == 13 and wire[NAME] == "1m0s" and sum(v is None for v in wire.values()) == 12


def test_validate_refuses_unknown_names_and_bad_seconds() -> None:
    with pytest.raises(BadRequest):
        lifespans.validate({"password_grant_access_token_lifespan": 60})
    with pytest.raises(BadRequest):
        lifespans.validate({NAME: 0})
    assert lifespans.validate({NAME: 60}) == {NAME: 60}


# ---------------------------------------------------------------- RFC 6902 Appendix A


@pytest.mark.parametrize(("doc", "patch", "expected"), [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),  # A.1
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),  # A.3
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),  # A.4
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},  # A.6
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],  # A.7
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"baz": "qux", "foo": ["a", 2, "c"]},  # A.8
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],  # A.10
     {"foo": "bar", "child": {"grandchild": {}}}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],  # A.16
     {"foo": ["bar", ["abc", "def"]]}),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),  # A.14
    ({"a": 1}, [{"op": "copy", "from": "/a", "path": "/b"}], {"a": 1, "b": 1}),
    ({"foo": None}, [{"op": "test", "path": "/foo", "value": None}], {"foo": None}),  # A.12... null exists
])
def test_rfc6902_examples(doc: dict[str, Any], patch: list[Any], expected: dict[str, Any]) -> None:
    before = copy.deepcopy(doc)
    assert json_patch.apply(doc, patch) == expected
    assert doc == before  # never changed in place


@pytest.mark.parametrize("patch", [
    [{"op": "test", "path": "/baz", "value": "bar"}],  # A.9: test fails
    [{"op": "add", "path": "/baz/bat", "value": "qux"}],  # A.11: parent missing
    [{"op": "test", "path": "/foo/1", "value": "2"}],  # type matters
    [{"op": "remove", "path": "/nope"}],
    [{"op": "replace", "path": "/nope", "value": 1}],
    [{"op": "add", "path": "/foo/5", "value": 1}],  # beyond the end
    [{"op": "add", "path": "/foo/01", "value": 1}],  # leading zero
    [{"op": "add", "path": "/foo/-1", "value": 1}],
    [{"op": "remove", "path": "/foo/-"}],
    [{"op": "move", "from": "/foo", "path": "/foo/0"}],  # into its own child
    [{"op": "remove", "path": ""}],
    [{"op": "add", "path": "", "value": [1]}],  # the result must stay an object
    [{"op": "add", "path": "baz", "value": 1}],  # not a pointer
    [{"op": "add", "path": "/a~2b", "value": 1}],  # bad escape
    [{"op": "add", "path": "/baz"}],  # no value
    [{"op": "copy", "path": "/baz"}],  # no from
    [{"op": "frobnicate", "path": "/baz"}],
    [{"op": "add", "path": "/baz", "value": 1, "extra": 1}],
    [{"path": "/baz", "value": 1}],
    [{"op": "add", "path": 5, "value": 1}],
    ["add"], [None], {"op": "add"}, "[]",
    [{"op": "add", "path": "/x", "value": 1}] * (json_patch.MAX_OPERATIONS + 1),
    [{"op": "add", "path": "/baz", "value": 1}, {"op": "test", "path": "/baz", "value": 2}],  # all or nothing
])
def test_hostile_patches_are_400_and_change_nothing(patch: Any) -> None:
    doc = {"foo": ["a", 2], "bar": {"x": 1}}
    before = copy.deepcopy(doc)
    with pytest.raises(BadRequest):
        json_patch.apply(doc, patch)
    assert doc == before


def test_test_compares_json_values() -> None:
    doc = {"n": 1, "b": True, "o": {"a": 1, "b": [1, 2]}}
    json_patch.apply(doc, [{"op": "test", "path": "/n", "value": 1.0},
                           {"op": "test", "path": "/o", "value": {"b": [1, 2], "a": 1}}])
    for wrong in ({"op": "test", "path": "/b", "value": 1}, {"op": "test", "path": "/o/b", "value": [2, 1]}):
        with pytest.raises(BadRequest):
            json_patch.apply(doc, [wrong])


def test_copies_cannot_grow_the_document_without_bound() -> None:
    doubling = [{"op": "copy", "from": "", "path": f"/c{i}"} for i in range(json_patch.MAX_OPERATIONS)]
    with pytest.raises(BadRequest) as caught:
        json_patch.apply({"pad": "x" * 1000}, doubling)
    assert "larger than" in caught.value.message
