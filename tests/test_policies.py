"""The Ladon-style policy engine, its storage and cache, the warden, and ``hydra-lambda policies``."""

from __future__ import annotations

import pytest
from hydra_lambda import clock
from hydra_lambda.policies import Decision, InvalidPolicy, Policy, decide, matches, validate_pattern

from tests.support import ROOT_CLIENT_ID
from tests.support_admin import add_policy, remove_policy, token, unique


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


def test_stored_rows_keep_their_effect_exactly_and_fail_closed() -> None:
    from hydra_lambda.storage import policies as store
    from hydra_lambda.storage.tables import PolicyRecord
    from hydra_lambda.warden import decide as warden_decide

    subject = unique("eff")
    allow = add_policy(subjects=[subject], resources=["rn:hydra:eff"], actions=["get"], effect="allow")
    rows = {"missing": None, "empty": "", "capital": "Allow"}
    try:
        assert warden_decide(subject, "eff", "get").allowed
        for name, effect in rows.items():  # written as an old import would have, behind our back
            record = PolicyRecord(f"{subject}-{name}", subjects=[subject], resources=["rn:hydra:eff"], actions=["get"])
            if effect is not None:
                record.effect = effect
            record.save()
            store.invalidate()
            assert store.get(record.id).effect == (effect or "")  # type: ignore[union-attr]
            assert warden_decide(subject, "eff", "get") is Decision.FORCEFULLY_DENIED, name
            PolicyRecord(record.id).delete()
            store.invalidate()
    finally:
        remove_policy(allow)


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


# ---------------------------------------------------------------- storage and cache


def test_storage_crud_and_the_cache() -> None:
    from hydra_lambda.storage import policies as store
    from hydra_lambda.storage.tables import PolicyRecord

    policy = P(description="d", conditions={"owner": {"type": "EqualsSubjectCondition", "options": {}}})
    store.create(policy)
    assert store.get(policy.id) == policy
    assert policy in store.all_policies()
    with pytest.raises(store.AlreadyExists):
        store.create(policy)
    store.all_policies()  # cached from here
    # A change made elsewhere (another container) is seen once the cache expires.
    sneaky = PolicyRecord(unique("sneaky"), subjects=["x"], resources=["y"], actions=["z"])
    sneaky.save()
    assert sneaky.id not in {p.id for p in store.all_policies()}
    clock.advance(11)
    assert sneaky.id in {p.id for p in store.all_policies()}
    assert store.delete(policy.id) and store.delete(sneaky.id)
    assert not store.delete(policy.id)
    assert store.get(policy.id) is None
    assert policy.id not in {p.id for p in store.all_policies()}


# ---------------------------------------------------------------- warden


def test_is_allowed_for_anonymous_jwks_and_nothing_else() -> None:
    from hydra_lambda.warden import is_allowed

    assert is_allowed("", "keys:hydra.openid.id-token:public:abc", "get")
    assert is_allowed("", "rn:hydra:keys:hydra.openid.id-token:public:abc", "get")  # prefixed already
    assert not is_allowed("", "keys:hydra.openid.id-token:public:abc", "delete")
    assert not is_allowed("", "clients", "get")
    assert is_allowed(ROOT_CLIENT_ID, "clients:anything", "delete")


def test_require_access_returns_the_access_context() -> None:
    from hydra_lambda.errors import BadRequest, Forbidden, Unauthorized
    from hydra_lambda.http.forms import credentials
    from hydra_lambda.warden import require_access

    value = token(scope="hydra.clients hydra.consent")
    bearer = credentials(f"Bearer {value}")
    ctx = require_access(bearer, scope="hydra.consent", resource="oauth2:consent:requests:1", action="get")
    assert ctx.subject == ROOT_CLIENT_ID and ctx.client_id == ROOT_CLIENT_ID
    assert ctx.scopes == ["hydra.clients", "hydra.consent"] and ctx.token.kind == "access"
    via_form = require_access(credentials(None), scope="hydra.clients", resource="clients", action="get",
                              form_token=value)
    assert via_form.subject == ROOT_CLIENT_ID
    with pytest.raises(BadRequest, match="invalid_scope"):
        require_access(bearer, scope="hydra.oauth2.flush", resource="oauth2:tokens", action="flush")
    with pytest.raises(Unauthorized):
        require_access(credentials(None), scope="hydra.clients", resource="clients", action="get")
    deny = add_policy(subjects=[ROOT_CLIENT_ID], resources=["rn:hydra:clients"], actions=["get"], effect="deny")
    try:
        with pytest.raises(Forbidden, match="forcefully denied"):
            require_access(bearer, scope="hydra.clients", resource="clients", action="get")
    finally:
        remove_policy(deny)


def _evaluations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every evaluation of the policies the warden makes from here on (memo misses)."""
    from hydra_lambda import policies

    seen: list[tuple[str, str, str]] = []

    def spy(found: list[Policy], subject: str, resource: str, action: str, context: object = None) -> Decision:
        seen.append((subject, resource, action))
        return decide(found, subject, resource, action, context)  # type: ignore[arg-type]

    monkeypatch.setattr(policies, "decide", spy)
    return seen


def test_the_warden_remembers_a_decision_while_the_policies_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda.warden import is_allowed

    subject = unique("memo")
    evaluations = _evaluations(monkeypatch)
    assert not is_allowed(subject, "clients", "get")
    assert not is_allowed(subject, "rn:hydra:clients", "get")  # the same resource, prefixed
    assert evaluations == [(subject, "rn:hydra:clients", "get")]
    allow = add_policy(subjects=[subject], resources=["rn:hydra:clients"], actions=["get"])
    try:
        assert is_allowed(subject, "clients", "get")  # a change in this container: seen at once
        assert not is_allowed(subject, "clients", "delete")
    finally:
        remove_policy(allow)
    assert not is_allowed(subject, "clients", "get")
    assert len(evaluations) == 4


def test_the_warden_forgets_its_decisions_when_the_policy_cache_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda.storage.tables import PolicyRecord
    from hydra_lambda.warden import is_allowed

    subject = unique("memo")
    assert not is_allowed(subject, "clients", "get")
    elsewhere = PolicyRecord(unique("elsewhere"), subjects=[subject], resources=["rn:hydra:clients"], actions=["get"],
                             effect="allow")
    elsewhere.save()  # as another container would: this one's caches are untouched
    try:
        assert not is_allowed(subject, "clients", "get")
        clock.advance(11)  # POLICY_CACHE_SECONDS
        assert is_allowed(subject, "clients", "get")
    finally:
        remove_policy(elsewhere.id)


def test_the_warden_keys_decisions_by_context(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_lambda.warden import is_allowed

    owner = unique("owner")
    mine = add_policy(subjects=[owner], resources=["rn:hydra:things"], actions=["get"],
                      conditions={"owner": {"type": "EqualsSubjectCondition", "options": {}}})
    pairs = add_policy(subjects=[owner], resources=["rn:hydra:pairs"], actions=["get"],
                       conditions={"p": {"type": "StringPairsEqualCondition", "options": {}}})
    try:
        evaluations = _evaluations(monkeypatch)
        for _ in range(2):
            assert is_allowed(owner, "things", "get", {"owner": owner})
            assert not is_allowed(owner, "things", "get", {"owner": "someone-else"})
            assert not is_allowed(owner, "things", "get")
        assert len(evaluations) == 3
        # list values cannot be a memo key: evaluated every time, still right
        assert is_allowed(owner, "pairs", "get", {"p": [["a", "a"]]})
        assert not is_allowed(owner, "pairs", "get", {"p": [["a", "b"]]})
        assert len(evaluations) == 5
    finally:
        remove_policy(mine)
        remove_policy(pairs)


def test_wildcard_token_scope_satisfies_the_route_scope() -> None:
    from hydra_lambda.http.forms import credentials
    from hydra_lambda.warden import require_access

    value = token(scope="hydra.*")
    bearer = credentials(f"Bearer {value}")
    assert require_access(bearer, scope="hydra.clients", resource="clients", action="get").subject
