"""Ladon v0.8.8 policies (the classic Hydra warden's engine), with Ladon's semantics.

A policy ``{id, description, subjects, resources, actions, effect, conditions}`` applies to a request
``(subject, resource, action, context)`` when one of its actions, one of its subjects and one of its
resources match (in that order, as Ladon checks them) and every condition holds for the context
value under its key. Matching is exact string equality unless the pattern has ``<regex>`` parts: then
each part is a regular expression, the rest is literal, and the whole is anchored (``^...$``) and
case-sensitive.

An applicable policy whose effect is exactly ``"allow"`` allows; an applicable policy with any other
effect denies ("forcefully") and beats every allow; no applicable policy is a deny by default. Only
``allow`` and ``deny`` can be written, and a missing effect is ``deny``.

The regex dialect is RE2, as Go's ``regexp`` that Ladon used (``google-re2`` matches in time linear
in the input, so no pattern can make matching explode). A pattern that is not valid RE2 is refused at
write time; one stored behind our back that does not compile denies every request that reaches it, as
Ladon's compile error did.

Conditions (every type Ladon v0.8.8 knows, and ``BooleanCondition``, added to Ladon in March 2018):
``StringEqualCondition`` (``options.equals``), ``StringMatchCondition`` (``options.matches``, an
unanchored RE2 search as Go's ``regexp.MatchString``), ``EqualsSubjectCondition`` (the value equals
the request's subject), ``CIDRCondition`` (``options.cidr`` contains the IP address value),
``StringPairsEqualCondition`` (the value is a list of two-string lists, each pair equal),
``ResourceContainsCondition`` (the value ``{"value", "delimiter"?}`` is found in the resource, between
delimiters when one is given) and ``BooleanCondition`` (``options.value`` equals the boolean value).
Options are read as Go's ``encoding/json`` read them (missing fields are zero values, field names
match case-insensitively, a value of the wrong type is refused) and stored in Ladon's canonical
``{"type", "options"}`` shape.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import re2

MAX_PATTERN_LENGTH = 512
MAX_ENTRIES = 100
MAX_DESCRIPTION_LENGTH = 2000
KIND_NAMES = {str: "a string", list: "a list", dict: "an object"}
ALLOW = "allow"
EFFECTS = (ALLOW, "deny")
DEFAULT_EFFECT = "deny"
# Each condition type and its options as Go fields: name -> JSON type (Go zero value when absent).
CONDITION_OPTIONS: dict[str, dict[str, type]] = {
    "StringEqualCondition": {"equals": str},
    "StringMatchCondition": {"matches": str},
    "EqualsSubjectCondition": {},
    "CIDRCondition": {"cidr": str},
    "StringPairsEqualCondition": {},
    "ResourceContainsCondition": {},
    "BooleanCondition": {"value": bool},
}
CONDITION_TYPES = tuple(CONDITION_OPTIONS)
_GO_META = frozenset("\\.+*?()|[]{}^$")  # what Go's regexp.QuoteMeta escapes

_options = re2.Options()
_options.log_errors = False  # a refused pattern is our answer, not a line on stderr


class InvalidPolicy(ValueError):
    """A policy that cannot be stored (or, read back, evaluated); the message says why."""


class Decision(enum.Enum):
    ALLOW = "allow"
    DENIED_BY_DEFAULT = "Request was denied by default"
    FORCEFULLY_DENIED = "Request was forcefully denied"
    UNUSABLE_POLICY = "Request was denied: a stored policy cannot be evaluated"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


@dataclass
class Group:
    """A warden group: its members act with the rights the policies give the group id."""

    id: str
    members: list[str] = field(default_factory=list)


@dataclass
class Policy:
    id: str
    subjects: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    effect: str = DEFAULT_EFFECT
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

        def typed(name: str, kind: type, default: Any) -> Any:
            """A present field must have its JSON type (null included: it is refused, never guessed at)."""
            if name not in data:
                return default
            if not isinstance(data[name], kind):
                raise InvalidPolicy(f"{name} must be {KIND_NAMES[kind]}")
            return data[name]

        def strings(name: str) -> list[str]:
            value = typed(name, list, [])
            if not all(isinstance(v, str) for v in value):
                raise InvalidPolicy(f"{name} must be a list of strings")
            return value

        conditions = typed("conditions", dict, {})
        if len(conditions) > MAX_ENTRIES:
            raise InvalidPolicy(f"conditions: at most {MAX_ENTRIES} entries")
        effect = data.get("effect", DEFAULT_EFFECT)
        if effect not in EFFECTS:  # exactly; "", "Allow" and null are refused, never guessed at
            raise InvalidPolicy('effect must be exactly "allow" or "deny"')
        description = typed("description", str, "")
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidPolicy(f"description: at most {MAX_DESCRIPTION_LENGTH} characters")
        policy = cls(
            id=typed("id", str, ""),
            description=description,
            subjects=strings("subjects"),
            resources=strings("resources"),
            actions=strings("actions"),
            effect=effect,
            conditions={key: canonical_condition(key, value) for key, value in conditions.items()},
        )
        validate(policy)
        return policy


# ---------------------------------------------------------------- patterns


def _quote_meta(text: str) -> str:
    return "".join("\\" + char if char in _GO_META else char for char in text)


def _utf8(value: str) -> str:
    """``value`` as valid UTF-8 text (lone surrogates become U+FFFD, as Go's JSON decoder made them)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _compile(source: str, where: str) -> Any:
    try:
        return re2.compile(_utf8(source), _options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise InvalidPolicy(f"'{where[:80]}' is not a valid RE2 regular expression: {reason}") from None


def _split(pattern: str) -> list[tuple[bool, str]]:
    """``pattern`` as (is_regex, text) pieces; ``<`` and ``>`` nest as in Ladon's compiler, and an
    unbalanced one is an error there too."""
    pieces: list[tuple[bool, str]] = []
    level, start = 0, 0
    for index, char in enumerate(pattern):
        if char == "<":
            level += 1
            if level == 1:
                pieces.append((False, pattern[start:index]))
                start = index + 1
        elif char == ">":
            level -= 1
            if level == 0:
                pieces.append((True, pattern[start:index]))
                start = index + 1
            elif level < 0:
                raise InvalidPolicy(f"unbalanced '>' in pattern '{pattern[:80]}'")
    if level != 0:
        raise InvalidPolicy(f"unbalanced '<' in pattern '{pattern[:80]}'")
    pieces.append((False, pattern[start:]))
    return [(is_regex, text) for is_regex, text in pieces if is_regex or text]


@functools.lru_cache(maxsize=4096)
def _template(pattern: str) -> Any:
    """The compiled ``^literal(regex)literal$`` of a ``<...>`` pattern, or the InvalidPolicy why not."""
    try:
        pieces = _split(pattern)
        for is_regex, text in pieces:  # Ladon also compiles each part alone: each must be valid
            if is_regex:
                _compile(f"^{text}$", text)
        source = "".join(f"({text})" if is_regex else _quote_meta(text) for is_regex, text in pieces)
        return _compile(f"^{source}$", pattern)
    except InvalidPolicy as exc:
        return exc


def validate_pattern(pattern: str) -> None:
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidPolicy(f"patterns must be 1 to {MAX_PATTERN_LENGTH} characters")
    if "<" in pattern:
        compiled = _template(pattern)
        if isinstance(compiled, InvalidPolicy):
            raise compiled


def matches(pattern: str, value: str) -> bool:
    """Ladon's matcher: equality without ``<``, else the anchored template. InvalidPolicy when the
    pattern cannot be compiled (the caller denies)."""
    if "<" not in pattern:
        return pattern == value
    compiled = _template(pattern)
    if isinstance(compiled, InvalidPolicy):
        raise compiled
    return compiled.search(_utf8(value)) is not None


def _any_match(patterns: list[str], value: str) -> bool:
    return any(matches(pattern, value) for pattern in patterns)


# ---------------------------------------------------------------- conditions


def _member(document: dict[str, Any], name: str) -> Any:
    """``document[name]`` as Go's encoding/json finds a struct field: exact key first, else any case."""
    if name in document:
        return document[name]
    folded = name.casefold()
    found = None
    for key, value in document.items():
        if isinstance(key, str) and key.casefold() == folded:
            found = value
    return found


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Go's ``net.ParseCIDR``: ``address/prefix-length``, host bits allowed."""
    address, slash, length = cidr.partition("/")
    if not slash or not length.isdigit() or "%" in address:
        raise ValueError(cidr)
    return ipaddress.ip_network(f"{address}/{int(length)}", strict=False)


def canonical_condition(key: str, condition: Any) -> dict[str, Any]:
    """A condition as Ladon stored it: ``{"type", "options"}`` with the type's fields; InvalidPolicy
    when Ladon could not have decoded it (or, here, when its regex or CIDR could never work)."""
    if not isinstance(condition, dict):
        raise InvalidPolicy(f"condition '{key}' must be an object")
    kind = _member(condition, "type")
    if kind not in CONDITION_OPTIONS:
        raise InvalidPolicy(f"condition '{key}': type must be one of {', '.join(CONDITION_TYPES)}")
    raw = _member(condition, "options")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidPolicy(f"condition '{key}': options must be an object")
    options: dict[str, Any] = {}
    for name, kind_of in CONDITION_OPTIONS[kind].items():
        value = _member(raw, name)
        value = kind_of() if value is None else value
        if type(value) is not kind_of:
            raise InvalidPolicy(f"condition '{key}': options.{name} must be a {kind_of.__name__}")
        options[name] = value
    if kind == "StringMatchCondition":
        _search_regex(options["matches"])
    if kind == "CIDRCondition":
        try:
            _network(options["cidr"])
        except ValueError:
            raise InvalidPolicy(f"condition '{key}': options.cidr must be a CIDR like 10.0.0.0/8") from None
    return {"type": kind, "options": options}


@functools.lru_cache(maxsize=1024)
def _search_regex(source: str) -> Any:
    """A StringMatchCondition's regex: searched unanchored, as Go's ``regexp.MatchString``."""
    return _compile(source, source)


def _ip_in(value: Any, cidr: str) -> bool:
    if not isinstance(value, str) or "%" in value:
        return False
    try:
        network = _network(cidr)
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # Go compares an IPv4-mapped address as IPv4
    return address.version == network.version and address in network


def _resource_contains(value: Any, resource: str) -> bool:
    if not isinstance(value, dict):
        return False
    needle, delimiter = value.get("value"), value.get("delimiter")
    if not isinstance(needle, str) or not needle:
        return False
    delimiter = delimiter if isinstance(delimiter, str) else ""
    return f"{delimiter}{needle}{delimiter}" in f"{delimiter}{resource}{delimiter}"


def _pairs_equal(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], str)
        and pair[0] == pair[1]
        for pair in value
    )


def condition_holds(condition: dict[str, Any], value: Any, subject: str, resource: str = "") -> bool:
    """Whether a (canonical) condition holds for the context ``value`` under its key; a missing key's
    value is None, which fulfils no condition."""
    kind, options = condition["type"], condition["options"]
    if kind == "EqualsSubjectCondition":
        return isinstance(value, str) and value == subject
    if kind == "StringEqualCondition":
        return isinstance(value, str) and value == options["equals"]
    if kind == "StringMatchCondition":
        return isinstance(value, str) and _search_regex(options["matches"]).search(_utf8(value)) is not None
    if kind == "CIDRCondition":
        return _ip_in(value, options["cidr"])
    if kind == "StringPairsEqualCondition":
        return _pairs_equal(value)
    if kind == "ResourceContainsCondition":
        return _resource_contains(value, resource)
    if kind == "BooleanCondition":
        return type(value) is bool and value == options["value"]
    raise InvalidPolicy(f"unknown condition type {kind!r}")


def valid_id(value: object) -> bool:
    """An id policies and warden groups may have: 1 to 255 printable characters and no ``/`` (API
    Gateway decodes ``%2F`` before routing, so such an id could never be read, changed or deleted)."""
    return (isinstance(value, str) and 0 < len(value) <= 255 and "/" not in value
            and not any(ord(ch) < 0x20 for ch in value))


ID_RULE = "1 to 255 printable characters, without '/'"


def validate(policy: Policy) -> None:
    if not valid_id(policy.id):
        raise InvalidPolicy(f"id must be {ID_RULE}")
    if policy.effect not in EFFECTS:
        raise InvalidPolicy('effect must be exactly "allow" or "deny"')
    for name in ("subjects", "resources", "actions"):
        values = getattr(policy, name)
        if len(values) > MAX_ENTRIES:
            raise InvalidPolicy(f"{name}: at most {MAX_ENTRIES} entries")
        for value in values:
            validate_pattern(value)
    for key, condition in policy.conditions.items():
        canonical_condition(key, condition)


# ---------------------------------------------------------------- decisions


def applies(policy: Policy, subject: str, resource: str, action: str, context: dict[str, Any]) -> bool:
    """Ladon's order: actions, subjects, resources, then conditions. InvalidPolicy when a part that
    has to be evaluated cannot be."""
    if not _any_match(policy.actions, action) or not _any_match(policy.subjects, subject):
        return False
    if not _any_match(policy.resources, resource):
        return False
    for key, condition in policy.conditions.items():
        canonical = canonical_condition(key, condition)
        if not condition_holds(canonical, context.get(key), subject, resource):
            return False
    return True


def decide(
    policies: list[Policy], subject: str, resource: str, action: str, context: dict[str, Any] | None = None
) -> Decision:
    """Deny beats allow; only an effect of exactly "allow" allows; no applicable policy is a deny."""
    context = context or {}
    allowed = False
    for policy in policies:
        try:
            if not applies(policy, subject, resource, action, context):
                continue
        except InvalidPolicy:
            return Decision.UNUSABLE_POLICY
        if policy.effect != ALLOW:
            return Decision.FORCEFULLY_DENIED
        allowed = True
    return Decision.ALLOW if allowed else Decision.DENIED_BY_DEFAULT
