"""The Ladon-style policy engine: patterns, conditions, decisions and policy validation (pure logic;
storage and the warden are in tests/integration/test_policy_storage.py)."""

from __future__ import annotations

import pytest
from hydra_lambda.policies import Decision, InvalidPolicy, Policy, decide, matches, validate_pattern

from tests.support_admin import unique


def P(**fields: object) -> Policy:
    base: dict[str, object] = {"id": unique("p"), "subjects": ["<.*>"], "resources": ["<.*>"], "actions": ["<.*>"],
                               "effect": "allow"}
    return Policy(**{**base, **fields})  # type: ignore[arg-type]


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("rn:hydra:clients", "rn:hydra:clients", True),
        ("rn:hydra:clients", "rn:hydra:clients:x", False),
        ("rn:hydra:clients", "RN:HYDRA:CLIENTS", False),
        ("get", "GET", False),
        ("a.b", "axb", False),
        ("rn:hydra:<.*>", "rn:hydra:clients:abc", True),
        ("rn:hydra:<.*>", "rn:hydraX", False),
        ("rn:hydra:<.*>", "xrn:hydra:clients", False),
        ("rn:hydra:clients:<[a-z]+>", "rn:hydra:clients:abc", True),
        ("rn:hydra:clients:<[a-z]+>", "rn:hydra:clients:abc:def", False),
        ("rn:hydra:clients:<[a-z]+>", "rn:hydra:clients:", False),
        ("rn:<.*>.x", "rn:anything.x", True),
        ("rn:<.*>.x", "rn:anythingXx", False),
        ("<peter|ken>", "ken", True),
        ("<peter|ken>", "kenny", False),
        ("users:<[0-9]{3}>:<get|put>", "users:123:put", True),
        ("<.*>", "", True),
        ("<.*>", "x\n", False),  # Go's $ is the end of the text, not before a final newline
        ("rn:<[[:alnum:]-]+>", "rn:ab-1", True),  # RE2 syntax, as Ladon's Go regexp
        ("rn:<[[:alnum:]-]+>", "rn:ab_1", False),
        ("rn:<\\pL+>", "rn:été", True),
        ("a>b", "a>b", True),  # no '<': an exact string, as Ladon
    ],
)
def test_pattern_matching(pattern: str, value: str, expected: bool) -> None:
    assert matches(pattern, value) is expected


@pytest.mark.parametrize(
    "pattern",
    ["<(a)\\1>", "<(?=a)a>", "<unclosed", "<[>", "x" * 600, "<a**>", "<a{1,1000}{1,1000}>", "<a>b>", "<\\Z>",
     "<[[:nope:]]>", "<a)(b>"],
)
def test_patterns_that_are_not_valid_re2_templates_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidPolicy):
        validate_pattern(pattern)
    with pytest.raises(InvalidPolicy):
        Policy.from_wire({"id": "x", "subjects": [pattern], "resources": ["r"], "actions": ["a"]})


def test_no_pattern_makes_matching_slow_and_none_is_refused_for_shape_alone() -> None:
    # Go's regexp accepted these (Ladon stored them); RE2 matches them in linear time.
    for pattern in ("<(a+)+b>", "<(a|a)*c>", "<.*.*>", "rn:<.*>:<.*>:<.*>:<.*>x"):
        validate_pattern(pattern)
    assert matches("<(a+)+b>", "a" * 50_000) is False
    assert matches("<(a|a)*c>", "a" * 50_000 + "c") is True


def test_the_regex_walk_over_python_internals_is_gone() -> None:
    import inspect

    from hydra_lambda import policies

    source = inspect.getsource(policies)
    assert "re._parser" not in source and "sre_parse" not in source and "import re\n" not in source


# ---------------------------------------------------------------- decisions


def test_default_is_deny() -> None:
    assert decide([], "alice", "rn:hydra:clients", "get") is Decision.DENIED_BY_DEFAULT
    unrelated = P(subjects=["bob"])
    assert decide([unrelated], "alice", "rn:hydra:clients", "get") is Decision.DENIED_BY_DEFAULT


def test_allow_needs_subject_resource_and_action() -> None:
    policy = P(subjects=["<alice|bob>"], resources=["rn:hydra:clients:<.*>"], actions=["get", "delete"])
    assert decide([policy], "alice", "rn:hydra:clients:1", "get") is Decision.ALLOW
    assert decide([policy], "bob", "rn:hydra:clients:1", "delete") is Decision.ALLOW
    assert decide([policy], "carol", "rn:hydra:clients:1", "get") is Decision.DENIED_BY_DEFAULT
    assert decide([policy], "alice", "rn:hydra:clients", "get") is Decision.DENIED_BY_DEFAULT
    assert decide([policy], "alice", "rn:hydra:clients:1", "update") is Decision.DENIED_BY_DEFAULT


@pytest.mark.parametrize("order", [1, -1])
def test_explicit_deny_beats_allow_in_any_order(order: int) -> None:
    allow = P()
    deny = P(effect="deny", resources=["rn:hydra:clients:<secret-.*>"])
    policies = [allow, deny][::order]
    assert decide(policies, "alice", "rn:hydra:clients:secret-1", "get") is Decision.FORCEFULLY_DENIED
    assert decide(policies, "alice", "rn:hydra:clients:open-1", "get") is Decision.ALLOW


def test_owner_condition_equals_subject() -> None:
    policy = P(conditions={"owner": {"type": "EqualsSubjectCondition", "options": {}}})
    assert decide([policy], "alice", "r", "a", {"owner": "alice"}) is Decision.ALLOW
    assert decide([policy], "alice", "r", "a", {"owner": "bob"}) is Decision.DENIED_BY_DEFAULT
    assert decide([policy], "alice", "r", "a", {}) is Decision.DENIED_BY_DEFAULT


def test_a_deny_with_unmet_conditions_does_not_apply() -> None:
    deny = P(effect="deny", conditions={"owner": {"type": "StringEqualCondition", "options": {"equals": "root"}}})
    assert decide([P(), deny], "alice", "r", "a", {"owner": "root"}) is Decision.FORCEFULLY_DENIED
    assert decide([P(), deny], "alice", "r", "a", {"owner": "other"}) is Decision.ALLOW


def test_other_conditions() -> None:
    match = P(conditions={"team": {"type": "StringMatchCondition", "options": {"matches": "team-[a-z]+"}}})
    assert decide([match], "s", "r", "a", {"team": "team-blue"}).allowed
    assert not decide([match], "s", "r", "a", {"team": "team-42"}).allowed
    cidr = P(conditions={"ip": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/8"}}})
    assert decide([cidr], "s", "r", "a", {"ip": "10.1.2.3"}).allowed
    assert not decide([cidr], "s", "r", "a", {"ip": "192.168.0.1"}).allowed
    assert not decide([cidr], "s", "r", "a", {"ip": "not-an-ip"}).allowed
    unknown = P(conditions={"x": {"type": "MadeUpCondition"}})  # stored behind our back
    assert decide([unknown], "s", "r", "a", {"x": "y"}) is Decision.UNUSABLE_POLICY


def test_string_match_is_unanchored_like_go_regexp_match_string() -> None:
    deny = P(effect="deny", conditions={"role": {"type": "StringMatchCondition", "options": {"matches": "admin"}}})
    assert decide([P(), deny], "s", "r", "a", {"role": "super-admin-1"}) is Decision.FORCEFULLY_DENIED
    assert decide([P(), deny], "s", "r", "a", {"role": "reader"}) is Decision.ALLOW
    anchored = P(conditions={"role": {"type": "StringMatchCondition", "options": {"matches": "^admin$"}}})
    assert not decide([anchored], "s", "r", "a", {"role": "super-admin"}).allowed


@pytest.mark.parametrize("effect", ["", "Allow", "ALLOW", "allow ", "permit", "deny"])
def test_only_an_effect_of_exactly_allow_allows(effect: str) -> None:
    # A policy read back with any other effect (an old row, a classic export) denies, forcefully.
    assert decide([P(effect=effect)], "s", "r", "a") is Decision.FORCEFULLY_DENIED
    assert decide([P(effect="allow"), P(effect=effect)], "s", "r", "a") is Decision.FORCEFULLY_DENIED


def test_a_missing_effect_is_deny_everywhere() -> None:
    assert Policy(id="x").effect == "deny"
    assert Policy.from_wire({"id": "x", "subjects": ["s"], "resources": ["r"], "actions": ["a"]}).effect == "deny"


@pytest.mark.parametrize("effect", [None, "", "Allow", "DENY", " allow", 1, True])
def test_any_effect_but_allow_or_deny_is_refused_at_write_time(effect: object) -> None:
    with pytest.raises(InvalidPolicy, match="exactly"):
        Policy.from_wire({"id": "x", "subjects": ["s"], "resources": ["r"], "actions": ["a"], "effect": effect})


def test_a_stored_pattern_that_does_not_compile_denies_what_reaches_it() -> None:
    broken = P(subjects=["<(?=x)>"])
    assert decide([P(), broken], "s", "r", "a") is Decision.UNUSABLE_POLICY
    unreached = P(actions=["never"], subjects=["<(?=x)>"])  # actions are matched first, as Ladon
    assert decide([P(), unreached], "s", "r", "a") is Decision.ALLOW


@pytest.mark.parametrize(
    "document",
    [
        {"id": "", "subjects": ["a"]},
        {"id": "x", "effect": "maybe"},
        {"id": "x", "subjects": "alice"},
        {"id": "x", "conditions": {"owner": {"type": "MadeUpCondition"}}},
        {"id": "x", "conditions": {"ip": {"type": "CIDRCondition", "options": {"cidr": "nope"}}}},
        {"id": "x", "surprise": 1},
        {"id": "x", "conditions": {"ip": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0"}}}},
        {"id": "x", "conditions": {"ip": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/255.0.0.0"}}}},
        {"id": "x", "conditions": {"t": {"type": "StringEqualCondition", "options": {"equals": 5}}}},
        {"id": "x", "conditions": {"t": {"type": "StringMatchCondition", "options": {"matches": "(?=x)"}}}},
        {"id": "x", "conditions": {"t": {"type": "BooleanCondition", "options": {"value": "true"}}}},
        {"id": "x", "conditions": {"t": {"type": "EqualsSubjectCondition", "options": []}}},
        {"id": "x", "conditions": {"t": "EqualsSubjectCondition"}},
    ],
)
def test_invalid_policy_documents(document: dict[str, object]) -> None:
    with pytest.raises(InvalidPolicy):
        Policy.from_wire(document)
