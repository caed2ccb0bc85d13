"""A classic Ladon v0.8.8 policy set, imported unchanged through ``hydra-lambda policies create
--file``, decides as Ladon did: one decision per condition type and per effect, each checked against
Ladon's own code and tests (``condition_*.go``, ``ladon.go``, ``compiler/regex.go`` at v0.8.8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hydra_lambda.policies import Decision

from tests.support_admin import unique

NS = unique("ladon")  # every resource of this module lives under rn:hydra:<NS>: nothing else applies


def _policy_set() -> list[dict[str, Any]]:
    def allow(name: str, conditions: dict[str, Any], effect: str = "allow") -> dict[str, Any]:
        return {"id": f"{NS}-{name}", "description": f"classic {name}", "subjects": ["<.*>"], "effect": effect,
                "resources": [f"rn:hydra:{NS}:{name}:<.*>"], "actions": ["get"], "conditions": conditions}

    return [
        allow("string-equal", {"team": {"type": "StringEqualCondition", "options": {"equals": "blue"}}}),
        # Go's encoding/json matched option names case-insensitively: "Equals" is "equals".
        allow("string-equal-case", {"team": {"type": "StringEqualCondition", "options": {"Equals": "red"}}}),
        allow("string-match", {"team": {"type": "StringMatchCondition", "options": {"matches": "blue"}}}),
        allow("subject", {"owner": {"type": "EqualsSubjectCondition", "options": {}}}),
        allow("cidr", {"ip": {"type": "CIDRCondition", "options": {"cidr": "192.168.0.0/16"}}}),
        allow("pairs", {"pairs": {"type": "StringPairsEqualCondition"}}),
        allow("contains", {"filter": {"type": "ResourceContainsCondition"}}),
        allow("boolean", {"mfa": {"type": "BooleanCondition", "options": {"value": True}}}),
        # RE2 syntax in a template: a POSIX class inside a bracket expression.
        {"id": f"{NS}-re2", "subjects": ["<[[:alnum:]-]+>"], "effect": "allow",
         "resources": [f"rn:hydra:{NS}:re2:<[[:alnum:]-]+>"], "actions": ["get"]},
        # Both effects: allow everything under "guarded", deny what a substring match finds (unanchored).
        allow("guarded", {}),
        allow("guarded", {"role": {"type": "StringMatchCondition", "options": {"matches": "admin"}}}, "deny")
        | {"id": f"{NS}-guarded-deny"},
        # A deny whose condition does not hold does not apply.
        allow("guarded", {"ip": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/8"}}}, "deny")
        | {"id": f"{NS}-guarded-deny-net"},
    ]


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    from hydra_lambda.policies import Policy
    from hydra_lambda.storage import policies as store

    for document in _policy_set():  # the wire documents, parsed and validated as the API does
        store.create(Policy.from_wire(document))
    yield [p.wire() for p in store.all_policies(fresh=True) if p.id.startswith(NS)]
    for policy in _policy_set():
        store.delete(policy["id"])


def decide(imported: object, resource: str, context: dict[str, Any] | None = None, subject: str = "alice") -> Decision:
    from hydra_lambda.warden import decide as warden_decide

    return warden_decide(subject, f"{NS}:{resource}", "get", context)


def test_the_set_imports_whole_in_ladons_canonical_shape(imported: list[dict[str, Any]]) -> None:
    assert len(imported) == len(_policy_set())
    by_id = {p["id"]: p for p in imported}
    assert by_id[f"{NS}-string-equal-case"]["conditions"] == {
        "team": {"type": "StringEqualCondition", "options": {"equals": "red"}}}
    assert by_id[f"{NS}-pairs"]["conditions"] == {"pairs": {"type": "StringPairsEqualCondition", "options": {}}}
    assert by_id[f"{NS}-boolean"]["conditions"]["mfa"]["options"] == {"value": True}
    assert {p["effect"] for p in imported} == {"allow", "deny"}


@pytest.mark.parametrize(("resource", "context", "allowed"), [
    ("string-equal:x", {"team": "blue"}, True),
    ("string-equal:x", {"team": "Blue"}, False),
    ("string-equal:x", {}, False),
    ("string-equal-case:x", {"team": "red"}, True),
    # StringMatchCondition is Go's regexp.MatchString: unanchored.
    ("string-match:x", {"team": "dark-blue-team"}, True),
    ("string-match:x", {"team": "green"}, False),
    ("string-match:x", {"team": 7}, False),
    ("subject:x", {"owner": "alice"}, True),
    ("subject:x", {"owner": "bob"}, False),
    ("cidr:x", {"ip": "192.168.4.5"}, True),
    ("cidr:x", {"ip": "::ffff:192.168.4.5"}, True),  # Go compares an IPv4-mapped address as IPv4
    ("cidr:x", {"ip": "10.0.0.1"}, False),
    ("cidr:x", {"ip": "not-an-ip"}, False),
    ("pairs:x", {"pairs": [["a", "a"], ["b", "b"]]}, True),
    ("pairs:x", {"pairs": []}, True),
    ("pairs:x", {"pairs": [["a", "b"]]}, False),
    ("pairs:x", {"pairs": [[1, 1]]}, False),  # Go asserts strings
    ("pairs:x", {"pairs": [["a", "a", "a"]]}, False),
    ("contains:org:team-a:doc", {"filter": {"value": "team-a", "delimiter": ":"}}, True),
    ("contains:org:team-ab:doc", {"filter": {"value": "team-a", "delimiter": ":"}}, False),
    ("contains:org:team-ab:doc", {"filter": {"value": "team-a"}}, True),  # no delimiter: a substring
    ("contains:org:team-a:doc", {"filter": {"value": ""}}, False),
    ("contains:org:team-a:doc", {"filter": "team-a"}, False),
    ("boolean:x", {"mfa": True}, True),
    ("boolean:x", {"mfa": False}, False),
    ("boolean:x", {"mfa": "true"}, False),
    ("re2:ab-1", {}, True),
    ("re2:ab_1", {}, False),
])
def test_one_decision_per_condition_type(imported: object, resource: str, context: dict[str, Any],
                                         allowed: bool) -> None:
    decision = decide(imported, resource, context)
    assert decision is (Decision.ALLOW if allowed else Decision.DENIED_BY_DEFAULT)


def test_a_regex_subject_in_re2_syntax(imported: object) -> None:
    assert decide(imported, "re2:x", subject="svc-1") is Decision.ALLOW
    assert decide(imported, "re2:x", subject="svc.1") is Decision.DENIED_BY_DEFAULT


def test_both_effects_and_an_unanchored_substring_deny(imported: object) -> None:
    assert decide(imported, "guarded:doc", {"role": "reader"}) is Decision.ALLOW
    assert decide(imported, "guarded:doc", {"role": "super-admin-2"}) is Decision.FORCEFULLY_DENIED
    assert decide(imported, "guarded:doc", {"role": "reader", "ip": "10.2.3.4"}) is Decision.FORCEFULLY_DENIED
    assert decide(imported, "guarded:doc", {"role": "reader", "ip": "11.2.3.4"}) is Decision.ALLOW


def test_a_long_resource_is_still_denied() -> None:
    from hydra_lambda.policies import Policy
    from hydra_lambda.policies import decide as evaluate

    allow = Policy(id="a", subjects=["<.*>"], resources=["<.*>"], actions=["<.*>"], effect="allow")
    deny = Policy(id="d", subjects=["<.*>"], resources=["rn:hydra:clients:<.*>"], actions=["<.*>"], effect="deny")
    assert evaluate([allow, deny], "s", "rn:hydra:clients:" + "x" * 5000, "get") is Decision.FORCEFULLY_DENIED
