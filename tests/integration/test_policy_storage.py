"""Policies stored in DynamoDB and the warden deciding on them: the storage round trip, its cache,
and the access context a decision returns (the matching itself is in tests/unit/test_policies.py)."""

from __future__ import annotations

import pytest
from hydra_lambda import clock
from hydra_lambda.policies import Decision, Policy, decide

from tests.support import ROOT_CLIENT_ID
from tests.support_admin import add_policy, remove_policy, token, unique


def P(**fields: object) -> Policy:
    base: dict[str, object] = {"id": unique("p"), "subjects": ["<.*>"], "resources": ["<.*>"], "actions": ["<.*>"],
                               "effect": "allow"}
    return Policy(**{**base, **fields})  # type: ignore[arg-type]


def _evaluations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every evaluation of the policies the warden makes from here on (memo misses)."""
    from hydra_lambda import policies

    seen: list[tuple[str, str, str]] = []

    def spy(found: list[Policy], subject: str, resource: str, action: str, context: object = None) -> Decision:
        seen.append((subject, resource, action))
        return decide(found, subject, resource, action, context)  # type: ignore[arg-type]

    monkeypatch.setattr(policies, "decide", spy)
    return seen


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


def test_is_allowed_for_anonymous_jwks_and_nothing_else() -> None:
    from hydra_lambda.warden import is_allowed

    assert is_allowed("", "keys:hydra.openid.id-token:public:abc", "get")
    assert is_allowed("", "rn:hydra:keys:hydra.openid.id-token:public:abc", "get")  # prefixed already
    assert not is_allowed("", "keys:hydra.openid.id-token:public:abc", "delete")
    assert not is_allowed("", "clients", "get")
    assert is_allowed(ROOT_CLIENT_ID, "clients:anything", "delete")


def test_require_access_returns_the_access_context() -> None:
    from hydra_lambda.errors import Forbidden, Unauthorized
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
    with pytest.raises(Forbidden, match="insufficient_scope"):
        require_access(bearer, scope="hydra.oauth2.flush", resource="oauth2:tokens", action="flush")
    with pytest.raises(Unauthorized):
        require_access(credentials(None), scope="hydra.clients", resource="clients", action="get")
    deny = add_policy(subjects=[ROOT_CLIENT_ID], resources=["rn:hydra:clients"], actions=["get"], effect="deny")
    try:
        with pytest.raises(Forbidden, match="forcefully denied"):
            require_access(bearer, scope="hydra.clients", resource="clients", action="get")
    finally:
        remove_policy(deny)


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


def test_a_remembered_decision_never_answers_for_a_value_of_another_type() -> None:
    """1 == True in Python, but BooleanCondition wants a real bool: the memo must keep them apart."""
    from hydra_lambda.warden import is_allowed

    subject = unique("typed")
    flag = add_policy(subjects=[subject], resources=["rn:hydra:flags"], actions=["get"],
                      conditions={"on": {"type": "BooleanCondition", "options": {"value": True}}})
    try:
        assert is_allowed(subject, "flags", "get", {"on": True})
        assert not is_allowed(subject, "flags", "get", {"on": 1})
        assert not is_allowed(subject, "flags", "get", {"on": 1.0})
        assert is_allowed(subject, "flags", "get", {"on": True})
    finally:
        remove_policy(flag)


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


