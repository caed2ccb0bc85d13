"""The warden: may the bearer of this access token do ``action`` on ``resource``?

1. The Bearer token (or ``access_token`` in the form) must be a live access token of this server,
   else 401. A malformed or forged token is refused before any database read.
2. It must hold ``scope`` (wildcard strategy), else 403 ``insufficient_scope`` naming the scope
   (classic Hydra answered 400 ``invalid_scope``).
3. The policies must allow the token's subject ``action`` on ``<prefix>:<resource>``, else 403, whose
   reason names the deny policy or says the request was denied by default.

A call that came through the private admin entry (``Credentials.private_network``: the private REST
API behind the operator's VPC endpoints, or ``make run``'s loopback admin port; never set from a
request) skips all three, as Hydra serves its admin port: its :class:`AccessContext` names the
subject :data:`PRIVATE_NETWORK`, which every policy question answers with allow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from hydra_lambda import policies, scopes
from hydra_lambda.cache import TimedCache, forever, on_restore
from hydra_lambda.config import get_settings
from hydra_lambda.credentials import Credentials
from hydra_lambda.errors import Forbidden, Unauthorized
from hydra_lambda.observability import logger
from hydra_lambda.policies import Decision, Policy
from hydra_lambda.storage import policies as policy_store
from hydra_lambda.storage.policies import decision_inputs
from hydra_lambda.tokens import lookup
from hydra_lambda.tokens.model import Token


class _PrivateNetworkSubject(str):
    """The subject of a call served through the private admin entry. The type, not the text, carries
    the trust: the text is ``""`` (the anonymous subject), and any string made from it (a slice, a
    concatenation, a value read back from storage or a request) is a plain ``str`` that the policies
    judge as anonymous. Only :func:`require_access` makes one, from ``Credentials.private_network``."""

    __slots__ = ()


PRIVATE_NETWORK = _PrivateNetworkSubject("")


def is_private_network(subject: str) -> bool:
    return type(subject) is _PrivateNetworkSubject


@dataclass
class AccessContext:
    subject: str
    client_id: str
    scopes: list[str]
    token: Token | None  # None on the private admin API (no token there)
    private_network: bool = False


def resource_name(resource: str) -> str:
    """``clients:abc`` -> ``rn:hydra:clients:abc``; a name that already has the prefix is kept."""
    prefix = get_settings().resource_name_prefix + ":"
    return resource if resource.startswith(prefix) else prefix + resource


def authenticate(caller: Credentials, *, form_token: str | None = None) -> Token:
    """The live access token of the request, or Unauthorized."""
    row = lookup.live(caller.bearer or form_token)
    if row is None:
        raise Unauthorized()
    return row


# Decisions remembered for the policy list they were made from. ``decision_inputs`` returns the same
# list object for as long as its cache (POLICY_CACHE_SECONDS) lives and a new one after any change to
# a policy or a group, so a new list starts an empty memo: a decision is never older than the
# policies and group memberships it came from.
# Each key starts with the generation of the policy list its decision came from (a new object per
# list, alive as long as a key holds it, so never reused): a decision made from an older list by a
# thread that raced a policy change is never found for the new one.
_memo: TimedCache[tuple[Any, ...], Decision] = TimedCache("warden decisions", forever, max_entries=4096)
_generation: tuple[list[Policy] | None, object] = (None, object())


def decide(subject: str, resource: str, action: str, context: dict[str, Any] | None = None) -> Decision:
    """The policies' decision on ``subject`` doing ``action`` on ``<prefix>:<resource>``."""
    return decide_name(subject, resource_name(resource), action, context)


def decide_name(subject: str, name: str, action: str, context: dict[str, Any] | None = None) -> Decision:
    """The decision on ``subject`` doing ``action`` on the resource named exactly ``name`` (the warden
    API's callers name their own resources), asking for the subject and for each of its groups."""
    global _generation
    if is_private_network(subject):  # the private admin API: the operator's network holds every right
        return Decision.ALLOW
    policies, member_of = decision_inputs()
    groups = member_of.get(subject, ())
    generation = _generation
    if generation[0] is not policies:
        _memo.clear()
        generation = _generation = (policies, object())
    # Each value's type is part of the key: 1 == True == 1.0 in Python, but Ladon's conditions tell
    # them apart (BooleanCondition wants a real bool), so one must never answer for the other.
    key = (generation[1], subject, name, action,
           *((k, type(v).__name__, v) for k, v in sorted(context.items()))) if context \
        else (generation[1], subject, name, action)
    try:
        decision = _memo.get(key)
    except TypeError:  # a context with list values is not hashable: evaluate every time
        return _evaluate(policies, (subject, *groups), name, action, context)
    if decision is None:
        decision = _memo.put(key, _evaluate(policies, (subject, *groups), name, action, context))
    return decision


# When the subject and its groups disagree: a policy that cannot be evaluated, then an explicit deny,
# then an allow, then the default deny (classic Hydra's warden over Ladon).
_PRECEDENCE = ("UNUSABLE_POLICY", "FORCEFULLY_DENIED", "ALLOW", "DENIED_BY_DEFAULT")


def _evaluate(
    found: list[Policy], subjects: tuple[str, ...], name: str, action: str, context: dict[str, Any] | None
) -> Decision:
    """Ladon asked once for the subject and once per group it belongs to (the group id as subject)."""
    decisions = {policies.decide(found, subject, name, action, context) for subject in subjects}
    return min(decisions, key=lambda d: _PRECEDENCE.index(d.name))


def singles_out(name: str) -> bool:
    """Whether the policies or groups name ``name`` in particular: a group of that id or listing it, or
    a policy whose subjects match it but not just any name (``<.*>`` gives every subject its rights
    anyway). Read fresh, so a name taken right after a policy names it is seen."""
    found = policy_store.all_policies(fresh=True)
    if any(group.id == name or name in group.members for group in policy_store.all_groups()):
        return True
    anybody = str(uuid.uuid4())
    for policy in found:
        for subject in policy.subjects:
            try:
                if policies.matches(subject, name) and not policies.matches(subject, anybody):
                    return True
            except policies.InvalidPolicy:
                continue  # a pattern that cannot compile matches nothing (the warden denies on it)
    return False


# An id no policy or group names in particular (per process, unguessable): asking for it asks whether a
# subject holds a right over any member of a resource set, not over one named member.
_ANY_ID = uuid.uuid4().hex


@on_restore
def _new_any_id() -> None:
    """Per process, also when processes are restored from one SnapStart snapshot."""
    global _ANY_ID
    _ANY_ID = uuid.uuid4().hex
    _memo.clear()


def holds_admin_rights(subject: str) -> bool:
    """Whether the policies let ``subject`` (or a group of its) reach every other right: write
    policies (create one, or update any or an existing one), make warden groups or add members to one
    (members hold what policies give the group), or update any client (set the root client's
    secret). Each of these makes its holder root in a step or two."""
    policies, _ = decision_inputs()
    probes = [("policies", "create"), (f"policies:{_ANY_ID}", "update"), ("warden:groups", "create"),
              (f"warden:groups:{_ANY_ID}", "members.add"), (f"clients:{_ANY_ID}", "update"),
              *((f"policies:{policy.id}", "update") for policy in policies),
              *((f"warden:groups:{group.id}", "members.add") for group in policy_store.all_groups())]
    return any(is_allowed(subject, resource, action) for resource, action in probes)


def is_allowed(subject: str, resource: str, action: str, context: dict[str, Any] | None = None) -> bool:
    """The policy decision alone (no token): e.g. anonymous JWKS access with subject ``""``."""
    return decide(subject, resource, action, context).allowed


def require_access(
    caller: Credentials,
    *,
    scope: str,
    resource: str,
    action: str,
    context: dict[str, str] | None = None,
    form_token: str | None = None,
) -> AccessContext:
    if caller.private_network is True:
        return _private_network_access(scope, action)
    try:
        token = authenticate(caller, form_token=form_token)
    except Unauthorized as exc:
        needed = f"Send 'Authorization: Bearer <token>': a live access token of this server with the scope {scope}."
        exc.reason = needed  # type: ignore[misc]
        raise
    if not scopes.allows(token.scopes, scope):
        raise Forbidden("insufficient_scope", reason=f"The access token does not hold the scope {scope}: "
                        f"request a token with the scope {scope}.")
    decision = decide(token.subject, resource, action, context)
    if not decision.allowed:
        raise Forbidden(f"{decision.value}: request_forbidden",
                        reason=denial_reason(decision, token.subject, resource, action, context))
    logger.append_keys(client_id=token.client_id, admin_mode="token")  # on every later log line of this call
    return AccessContext(subject=token.subject, client_id=token.client_id, scopes=list(token.scopes), token=token)


def _private_network_access(scope: str, action: str) -> AccessContext:
    """A call of the private admin API: served without a token, and logged as such (the scope and action
    only: no resource id, no credential)."""
    logger.append_keys(admin_mode="private-network")
    logger.info("admin call served on the private admin API, without a token",
                extra={"admin_mode": "private-network", "scope": scope, "action": action})
    return AccessContext(subject=PRIVATE_NETWORK, client_id="", scopes=[], token=None, private_network=True)


def denial_reason(decision: Decision, subject: str, resource: str, action: str,
                  context: dict[str, Any] | None = None) -> str:
    """Why ``decide`` refused: the deny policies that matched, or that no policy allows it."""
    asked = f"'{subject}' doing '{action}' on '{resource_name(resource)}'"
    if decision is Decision.DENIED_BY_DEFAULT:
        return f"No policy allows {asked}: denied by default."
    if decision is Decision.UNUSABLE_POLICY:
        return f"A stored policy that applies to {asked} cannot be evaluated: denied."
    found, member_of = decision_inputs()
    denying = []
    for policy in found:
        try:
            if policy.effect != "allow" and any(policies.applies(policy, one, resource_name(resource), action,
                                                                 context or {})
                                                for one in (subject, *member_of.get(subject, ()))):
                denying.append(policy.id)
        except policies.InvalidPolicy:
            continue
    return f"Denied by the policy {', '.join(denying)} for {asked}." if denying else f"Denied for {asked}."
