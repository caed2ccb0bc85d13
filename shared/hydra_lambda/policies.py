"""Ladon-style access policies (the classic Hydra warden's engine).

A policy ``{id, description, subjects, resources, actions, effect, conditions}`` applies to a request
``(subject, resource, action, context)`` when one of its subjects, one of its resources and one of its
actions match and every condition holds. Matching is exact string equality unless the pattern has
``<regex>`` parts: then each part is a regular expression, the rest is literal, and the whole is
anchored and case-sensitive. Any applicable ``deny`` policy denies ("forcefully"); otherwise any
applicable ``allow`` allows; otherwise the request is denied by default.

Python's ``re`` backtracks (Go's, which Ladon used, does not), so patterns are checked when stored:
bounded length, no nested or adjacent unbounded repetition, no alternation under repetition, no
backreferences or lookarounds; and matched input is bounded in length.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

try:  # Python 3.11+
    import re._constants as _sre_c  # type: ignore[import-not-found]
    import re._parser as _sre_p  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_p  # type: ignore[no-redef]

MAX_PATTERN_LENGTH = 512
MAX_INPUT_LENGTH = 1024
MAX_REPEATS = 2  # separated unbounded repeats: matching is O(n^k); n <= MAX_INPUT_LENGTH
MAX_ENTRIES = 100
EFFECTS = ("allow", "deny")
CONDITION_TYPES = (
    "EqualsSubjectCondition",
    "StringEqualCondition",
    "StringMatchCondition",
    "CIDRCondition",
    "StringPairsEqualCondition",
)


class InvalidPolicy(ValueError):
    """A policy that cannot be stored; the message says why."""


class Decision(enum.Enum):
    ALLOW = "allow"
    DENIED_BY_DEFAULT = "Request was denied by default"
    FORCEFULLY_DENIED = "Request was forcefully denied"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


@dataclass
class Policy:
    id: str
    subjects: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    effect: str = "allow"
    description: str = ""
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "subjects": list(self.subjects),
            "effect": self.effect,
            "resources": list(self.resources),
            "actions": list(self.actions),
            "conditions": dict(self.conditions),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Policy:
        """Build and validate a policy from its JSON shape; InvalidPolicy on anything wrong."""
        if not isinstance(data, dict):
            raise InvalidPolicy("a policy must be a JSON object")
        unknown = set(data) - {"id", "description", "subjects", "effect", "resources", "actions", "conditions"}
        if unknown:
            raise InvalidPolicy(f"unknown fields: {', '.join(sorted(unknown))}")

        def strings(name: str) -> list[str]:
            value = data.get(name) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidPolicy(f"{name} must be a list of strings")
            return value

        conditions = data.get("conditions") or {}
        if not isinstance(conditions, dict):
            raise InvalidPolicy("conditions must be an object")
        policy = cls(
            id=str(data.get("id") or ""),
            description=str(data.get("description") or ""),
            subjects=strings("subjects"),
            resources=strings("resources"),
            actions=strings("actions"),
            effect=str(data.get("effect") or "allow").lower(),
            conditions=conditions,
        )
        validate(policy)
        return policy


# ---------------------------------------------------------------- patterns


def _split(pattern: str) -> list[tuple[bool, str]]:
    """``pattern`` as (is_regex, text) pieces; ``<`` and ``>`` nest as in Ladon's compiler."""
    pieces: list[tuple[bool, str]] = []
    level, start = 0, 0
    for index, char in enumerate(pattern):
        if char == "<":
            if level == 0:
                pieces.append((False, pattern[start:index]))
                start = index + 1
            level += 1
        elif char == ">" and level > 0:
            level -= 1
            if level == 0:
                pieces.append((True, pattern[start:index]))
                start = index + 1
    if level != 0:
        raise InvalidPolicy(f"unbalanced '<' in pattern '{pattern[:80]}'")
    pieces.append((False, pattern[start:]))
    return [(is_regex, text) for is_regex, text in pieces if is_regex or text]


def _check_regex_safety(source: str) -> None:
    try:
        parsed = _sre_p.parse(source)
    except re.error as exc:
        raise InvalidPolicy(f"invalid regular expression '{source[:80]}': {exc}") from None
    repeats = _walk(list(parsed), inside_repeat=False)
    if repeats > MAX_REPEATS:
        raise InvalidPolicy(f"'{source[:80]}' has more than {MAX_REPEATS} repetitions")


def _is_unbounded_repeat(item: tuple[Any, Any]) -> bool:
    op, av = item
    return op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, getattr(_sre_c, "POSSESSIVE_REPEAT", None)) and av[1] > 1


def _walk(items: list[tuple[Any, Any]], *, inside_repeat: bool) -> int:
    """Count repetitions; reject the shapes that make a backtracking engine explode."""
    count = 0
    previous_repeat = False
    for item in items:
        op, av = item
        if op in (_sre_c.GROUPREF, _sre_c.GROUPREF_EXISTS, _sre_c.ASSERT, _sre_c.ASSERT_NOT):
            raise InvalidPolicy("backreferences and lookarounds are not allowed in policy patterns")
        repeat = _is_unbounded_repeat(item)
        if repeat:
            if inside_repeat:
                raise InvalidPolicy("nested repetition (like (a+)+) is not allowed in policy patterns")
            if previous_repeat:
                raise InvalidPolicy("adjacent repetitions (like .*.*) are not allowed in policy patterns")
            count += 1 + _walk(list(av[2]), inside_repeat=True)
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT):
            count += _walk(list(av[2]), inside_repeat=inside_repeat)
        elif op is _sre_c.SUBPATTERN:
            count += _walk(list(av[-1]), inside_repeat=inside_repeat)
        elif op is _sre_c.BRANCH:
            if inside_repeat:
                raise InvalidPolicy("alternation inside a repetition is not allowed in policy patterns")
            for branch in av[1]:
                count += _walk(list(branch), inside_repeat=inside_repeat)
        elif op is getattr(_sre_c, "ATOMIC_GROUP", None):
            count += _walk(list(av), inside_repeat=inside_repeat)
        previous_repeat = repeat
    return count


def validate_pattern(pattern: str) -> None:
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidPolicy(f"patterns must be 1 to {MAX_PATTERN_LENGTH} characters")
    if "<" not in pattern:
        return
    pieces = _split(pattern)
    source = "".join(f"({text})" if is_regex else re.escape(text) for is_regex, text in pieces)
    _check_regex_safety(source)


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    """The anchored regex of a ``<...>`` pattern; None when the pattern is unusable."""
    try:
        validate_pattern(pattern)
        pieces = _split(pattern)
        source = "".join(f"({text})" if is_regex else re.escape(text) for is_regex, text in pieces)
        return re.compile(f"^{source}$")
    except (InvalidPolicy, re.error):
        return None


def matches(pattern: str, value: str) -> bool:
    if "<" not in pattern:
        return pattern == value
    if len(value) > MAX_INPUT_LENGTH:
        return False
    compiled = _compiled(pattern)
    return compiled is not None and compiled.fullmatch(value) is not None


def _any_match(patterns: list[str], value: str) -> bool:
    return any(matches(pattern, value) for pattern in patterns)


# ---------------------------------------------------------------- conditions


def _check_condition(key: str, condition: Any) -> None:
    if not isinstance(condition, dict) or condition.get("type") not in CONDITION_TYPES:
        raise InvalidPolicy(f"condition '{key}' must be an object with a type among {', '.join(CONDITION_TYPES)}")
    options = condition.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidPolicy(f"condition '{key}': options must be an object")
    kind = condition["type"]
    if kind == "StringEqualCondition" and not isinstance(options.get("equals"), str):
        raise InvalidPolicy(f"condition '{key}': StringEqualCondition needs options.equals")
    if kind == "StringMatchCondition":
        if not isinstance(options.get("matches"), str):
            raise InvalidPolicy(f"condition '{key}': StringMatchCondition needs options.matches")
        validate_pattern("<" + options["matches"] + ">")
    if kind == "CIDRCondition":
        try:
            ipaddress.ip_network(str(options.get("cidr")), strict=False)
        except ValueError:
            raise InvalidPolicy(f"condition '{key}': CIDRCondition needs a valid options.cidr") from None


def condition_holds(condition: dict[str, Any], value: Any, subject: str) -> bool:
    kind = condition.get("type")
    options = condition.get("options") or {}
    if kind == "EqualsSubjectCondition":
        return isinstance(value, str) and value == subject
    if kind == "StringEqualCondition":
        return isinstance(value, str) and value == options.get("equals")
    if kind == "StringMatchCondition":
        return isinstance(value, str) and matches("<" + str(options.get("matches", "")) + ">", value)
    if kind == "CIDRCondition":
        try:
            return ipaddress.ip_address(str(value)) in ipaddress.ip_network(str(options.get("cidr")), strict=False)
        except ValueError:
            return False
    if kind == "StringPairsEqualCondition":
        return isinstance(value, list) and all(
            isinstance(pair, list) and len(pair) == 2 and pair[0] == pair[1] for pair in value
        )
    return False  # unknown condition: the policy does not apply


def validate(policy: Policy) -> None:
    if not policy.id or len(policy.id) > 255 or any(ord(ch) < 0x20 for ch in policy.id):
        raise InvalidPolicy("id must be 1 to 255 printable characters")
    if policy.effect not in EFFECTS:
        raise InvalidPolicy("effect must be allow or deny")
    for name in ("subjects", "resources", "actions"):
        values = getattr(policy, name)
        if len(values) > MAX_ENTRIES:
            raise InvalidPolicy(f"{name}: at most {MAX_ENTRIES} entries")
        for value in values:
            validate_pattern(value)
    for key, condition in policy.conditions.items():
        _check_condition(key, condition)


# ---------------------------------------------------------------- decisions


def applies(policy: Policy, subject: str, resource: str, action: str, context: dict[str, Any]) -> bool:
    if not (_any_match(policy.actions, action) and _any_match(policy.subjects, subject)):
        return False
    if not _any_match(policy.resources, resource):
        return False
    return all(condition_holds(cond, context.get(key), subject) for key, cond in policy.conditions.items())


def decide(
    policies: list[Policy], subject: str, resource: str, action: str, context: dict[str, Any] | None = None
) -> Decision:
    """Deny beats allow; no applicable policy is a deny."""
    context = context or {}
    allowed = False
    for policy in policies:
        if not applies(policy, subject, resource, action, context):
            continue
        if policy.effect == "deny":
            return Decision.FORCEFULLY_DENIED
        allowed = True
    return Decision.ALLOW if allowed else Decision.DENIED_BY_DEFAULT
