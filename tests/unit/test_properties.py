"""Property tests (hypothesis) for the parsers and matchers every request goes through.

Example counts are bounded so the whole module stays well under a minute on two cores.
"""

from __future__ import annotations

import base64
import json
import re
import string
from urllib.parse import quote, urlencode

import pytest
from hydra_lambda import policies, scopes
from hydra_lambda.errors import BadRequest, HydraError, InvalidClient, InvalidRequest
from hydra_lambda.http.forms import MAX_JSON_DEPTH, basic_credentials, bearer_token, parse_json_object, parse_urlencoded
from hydra_lambda.tokens import opaque as opaque_tokens
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KINDS = st.sampled_from(["access", "refresh", "code"])
# RFC 6749 scope-token characters, without the '.' and '*' the wildcard strategy gives meaning to.
SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "_-:/", min_size=1, max_size=8)
SCOPE = st.lists(SEGMENT, min_size=1, max_size=4).map(".".join)
# Text a client could send: any code point except surrogates (which cannot be UTF-8 encoded).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


# ---------------------------------------------------------------- tokens


@FAST
@given(kind=KINDS)
def test_generated_tokens_verify_and_only_as_their_own_kind(kind: str) -> None:
    token, signature = opaque_tokens.generate(kind)  # type: ignore[arg-type]
    assert opaque_tokens.signature_of(token, kind) == signature  # type: ignore[arg-type]
    assert opaque_tokens.kind_of(token) == kind
    assert re.fullmatch(r"hl_(at|rt|ac)_[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}", token)
    for other in {"access", "refresh", "code"} - {kind}:
        assert opaque_tokens.signature_of(token, other) is None  # type: ignore[arg-type]
    assert opaque_tokens.identify(token, (kind, "nothing")) == (kind, signature)
    assert opaque_tokens.identify(token, {"access", "refresh", "code"} - {kind}) is None
    assert opaque_tokens.identify(token[:-1] + ("A" if token[-1] != "A" else "B"), (kind,)) is None


@FAST
@given(kind=KINDS, data=st.data())
def test_any_single_character_change_makes_a_token_invalid(kind: str, data: st.DataObject) -> None:
    token, _ = opaque_tokens.generate(kind)  # type: ignore[arg-type]
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from(string.ascii_letters + string.digits + "-_.=+/ "))
    assume(replacement != token[index])
    forged = token[:index] + replacement + token[index + 1 :]
    assert opaque_tokens.signature_of(forged, kind) is None  # type: ignore[arg-type]


@FAST
@given(kind=KINDS, text=st.one_of(TEXT, st.text(max_size=400), st.binary(max_size=100).map(lambda b: b.hex())))
def test_arbitrary_text_is_never_a_token_and_never_raises(kind: str, text: str) -> None:
    prefix = opaque_tokens.PREFIXES[kind]
    for candidate in (text, prefix + text, f"{prefix}{text}.{text}"):
        assert opaque_tokens.signature_of(candidate, kind) is None  # type: ignore[arg-type]


@FAST
@given(kind=KINDS, key=st.binary(min_size=32, max_size=32), signature=st.binary(min_size=32, max_size=32))
def test_well_formed_tokens_without_the_right_hmac_are_rejected(kind: str, key: bytes, signature: bytes) -> None:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    assert opaque_tokens.signature_of(f"{opaque_tokens.PREFIXES[kind]}{b64(key)}.{b64(signature)}", kind) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------- scopes


@FAST
@given(raw=TEXT)
def test_parse_scope_yields_valid_unique_tokens_or_value_error(raw: str) -> None:
    try:
        parsed = scopes.parse_scope(raw)
    except ValueError:
        return
    assert len(parsed) == len(set(parsed)) <= scopes.MAX_SCOPES
    assert all(scopes.is_valid_scope(token) and " " not in token for token in parsed)
    assert scopes.parse_scope(scopes.join(parsed)) == parsed


@FAST
@given(items=st.lists(SCOPE, max_size=10))
def test_scope_strings_round_trip(items: list[str]) -> None:
    unique = list(dict.fromkeys(items))
    assert scopes.parse_scope("  ".join(items)) == unique


@FAST
@given(matcher=SCOPE, needle=SCOPE)
def test_a_scope_without_wildcards_matches_only_itself(matcher: str, needle: str) -> None:
    assert scopes.wildcard_match(matcher, matcher)
    assert scopes.wildcard_match(matcher, needle) == (matcher == needle)


@FAST
@given(prefix=SCOPE, rest=st.lists(SEGMENT, min_size=1, max_size=3))
def test_trailing_wildcard_matches_descendants_never_the_parent(prefix: str, rest: list[str]) -> None:
    child = ".".join([prefix, *rest])
    assert scopes.wildcard_match(prefix + ".*", child)
    assert not scopes.wildcard_match(prefix + ".*", prefix)
    assert scopes.wildcard_match("*", child)


@FAST
@given(head=SEGMENT, middle=SEGMENT, tail=SEGMENT, other=SEGMENT)
def test_inner_wildcard_matches_exactly_one_segment(head: str, middle: str, tail: str, other: str) -> None:
    assert scopes.wildcard_match(f"{head}.*.{tail}", f"{head}.{middle}.{tail}")
    assume(other != tail)
    assert not scopes.wildcard_match(f"{head}.*.{tail}", f"{head}.{middle}.{other}")
    assert not scopes.wildcard_match(f"{head}.*.{tail}", f"{head}.{tail}")


@FAST
@given(granted=st.lists(SCOPE, max_size=5), extra=st.lists(SCOPE, max_size=3), needle=SCOPE)
def test_granting_more_scopes_never_allows_less(granted: list[str], extra: list[str], needle: str) -> None:
    if scopes.allows(granted, needle):
        assert scopes.allows(granted + extra, needle)
    assert scopes.allows_all(granted, []) is True


@FAST
@given(matcher=st.lists(st.one_of(SEGMENT, st.just("*")), min_size=1, max_size=4).map(".".join),
       needle=SCOPE, deeper=SEGMENT)
def test_wildcard_matching_never_crosses_into_a_shorter_scope(matcher: str, needle: str, deeper: str) -> None:
    if len(matcher.split(".")) > len(needle.split(".")):
        assert not scopes.wildcard_match(matcher, needle)
    if matcher.endswith("*") and scopes.wildcard_match(matcher, needle):
        assert scopes.wildcard_match(matcher, f"{needle}.{deeper}")


# ---------------------------------------------------------------- forms and credentials

FORM_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)


@FAST
@given(form=st.dictionaries(FORM_TEXT.filter(bool), FORM_TEXT, max_size=8))
def test_forms_round_trip(form: dict[str, str]) -> None:
    encoded = urlencode(form)
    assert parse_urlencoded(encoded) == form
    assert parse_urlencoded(encoded.encode("utf-8")) == form


@FAST
@given(form=st.dictionaries(FORM_TEXT.filter(bool), FORM_TEXT, min_size=1, max_size=5), data=st.data())
def test_a_repeated_parameter_is_always_rejected(form: dict[str, str], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(form)))
    value = data.draw(FORM_TEXT)
    pairs = [*form.items(), (key, value)]
    order = data.draw(st.permutations(pairs))
    with pytest.raises(InvalidRequest, match="more than once"):
        parse_urlencoded(urlencode(order))


@FAST
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_form_parsing_raises_only_hydra_errors(raw: bytes | str) -> None:
    try:
        parsed = parse_urlencoded(raw)
    except HydraError as exc:
        assert exc.status == 400
        return
    assert all("\x00" not in k + v for k, v in parsed.items())


@FAST
@given(client_id=FORM_TEXT.filter(bool), secret=FORM_TEXT)
def test_basic_credentials_round_trip_with_url_encoded_halves(client_id: str, secret: str) -> None:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    header = "Basic " + base64.b64encode(raw).decode()
    assert basic_credentials(header) == (client_id, secret)
    assert basic_credentials(header.replace("Basic", "basic", 1)) == (client_id, secret)
    assert bearer_token(header) is None


@FAST
@given(header=st.one_of(TEXT, st.binary(max_size=60).map(lambda b: "Basic " + base64.b64encode(b).decode()),
                        TEXT.map(lambda t: "Basic " + t)))
def test_basic_decoding_never_raises_anything_but_invalid_client(header: str) -> None:
    try:
        result = basic_credentials(header)
    except InvalidClient as exc:
        assert exc.status == 401
        return
    if result is not None:
        assert result[0]


def _nested(depth: int, leaf: object = 1) -> object:
    value: object = leaf
    for level in range(depth - 1):
        value = [value] if level % 2 else {"k": value}
    return {"root": value}


@FEW
@given(depth=st.integers(min_value=1, max_value=MAX_JSON_DEPTH * 2))
def test_json_objects_are_accepted_up_to_the_depth_limit_only(depth: int) -> None:
    document = _nested(depth)
    raw = json.dumps(document)
    if depth <= MAX_JSON_DEPTH:
        assert parse_json_object(raw) == document
    else:
        with pytest.raises(BadRequest):
            parse_json_object(raw)


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_absurdly_deep_json_is_a_clean_400(depth: int) -> None:
    with pytest.raises(BadRequest):
        parse_json_object("[" * depth + "]" * depth)
    with pytest.raises(BadRequest):
        parse_json_object('{"a":' * depth + "1" + "}" * depth)


@FAST
@given(raw=st.one_of(st.binary(max_size=200), TEXT, st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=20).map(json.dumps)))
def test_json_parsing_raises_only_bad_request(raw: bytes | str) -> None:
    try:
        value = parse_json_object(raw)
    except BadRequest:
        return
    assert isinstance(value, dict)


# ---------------------------------------------------------------- Ladon policies

LITERAL = st.text(alphabet=string.ascii_letters + string.digits + ":.-_*+?()[]{}|^$\\/", max_size=20)
EVIL_ATOM = st.sampled_from(["a", ".", "\\w", "[a-z]", "(ab)", "(aa|b)"])
QUANT = st.sampled_from(["+", "*", "{1,}", "{2,}"])


@FAST
@given(literal=LITERAL, value=st.text(max_size=30))
def test_literal_parts_are_matched_literally(literal: str, value: str) -> None:
    assume("<" not in literal and ">" not in literal)
    assert policies.matches(literal, value) == (literal == value)
    assert policies.matches(literal + "<.*>", literal + value) == ("\n" not in value)  # RE2: . is not \n
    if not value.startswith(literal):
        assert not policies.matches(literal + "<.*>", value)


@FAST
@given(atom=EVIL_ATOM, inner=QUANT, outer=QUANT, value=st.text(alphabet="abx!", max_size=12))
def test_nested_repetition_is_valid_re2_and_means_what_it_says(atom: str, inner: str, outer: str,
                                                               value: str) -> None:
    # Go's regexp (Ladon) accepts these; RE2 matches them in linear time, so they are no danger.
    for body in (f"({atom}{inner}){outer}", f"(x{atom}{inner}y){outer}", f"{atom}{inner}{atom}{outer}"):
        policies.validate_pattern(f"rn:<{body}>")
        assert policies.matches(f"rn:<{body}>", "rn:" + value) == (re.fullmatch(body, value) is not None)
        assert policies.matches(f"rn:<{body}>", "rn:" + "a" * 20_000 + "\n") is False


@pytest.mark.timeout(30)  # a backtracking engine would hang here
@pytest.mark.parametrize("pattern", [
    "<(a|aa)+>", "<(a|a?)+b>", "<(ab|a)*c>", "<(.*a){2,}>", "<(a*)*b>", "<(a+)+b>",
    "rn:hydra:<(.+)+>!", "<.*.*=.*>", "<\\w+\\w+!>", "<(a|b|ab)*c>", "<(x+x+)+y>",
    "rn:hydra:clients:<.*>:<.*>:<.*>:<.*>x",
])
def test_the_classic_exponential_shapes_match_in_linear_time(pattern: str) -> None:
    policies.validate_pattern(pattern)
    assert not policies.matches(pattern, "a" * 100_000 + "#")


@FAST
@given(length=st.integers(min_value=policies.MAX_PATTERN_LENGTH + 1, max_value=policies.MAX_PATTERN_LENGTH * 4))
def test_pattern_length_is_bounded(length: int) -> None:
    with pytest.raises(policies.InvalidPolicy):
        policies.validate_pattern("rn:<.*>" + "a" * length)
    with pytest.raises(policies.InvalidPolicy):
        policies.Policy.from_wire({"id": "p", "subjects": ["a" * length], "resources": ["r"], "actions": ["a"]})


@FAST
@given(pattern=st.text(max_size=60))
def test_validating_any_pattern_raises_only_invalid_policy(pattern: str) -> None:
    try:
        policies.validate_pattern(pattern)
    except policies.InvalidPolicy:
        return
    assert len(pattern) <= policies.MAX_PATTERN_LENGTH


@pytest.mark.timeout(60)
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=st.text(alphabet="ab.*+?()|<>[]{},0-9\\w", min_size=1, max_size=24),
       adversary=st.sampled_from(["a", "ab", "aab", "x"]))
def test_every_accepted_pattern_matches_hostile_input_quickly(pattern: str, adversary: str) -> None:
    try:
        policies.validate_pattern(pattern)
    except policies.InvalidPolicy:
        return
    for value in (adversary * 3000 + "!", adversary * 10_000):
        policies.matches(pattern, value)


@FAST
@given(subject=SEGMENT, resource=SEGMENT, action=SEGMENT)
def test_deny_beats_allow_and_default_is_deny(subject: str, resource: str, action: str) -> None:
    allow = policies.Policy(id="a", subjects=["<.*>"], resources=["<.*>"], actions=["<.*>"], effect="allow")
    deny = policies.Policy(id="d", subjects=[subject], resources=[resource], actions=[action], effect="deny")
    assert policies.decide([], subject, resource, action) is policies.Decision.DENIED_BY_DEFAULT
    assert policies.decide([allow], subject, resource, action).allowed
    assert policies.decide([allow, deny], subject, resource, action) is policies.Decision.FORCEFULLY_DENIED
    assert policies.decide([deny, allow], subject, resource, action) is policies.Decision.FORCEFULLY_DENIED


# ---------------------------------------------------------------- redirect URIs

HOST_LABEL = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=10)
PUBLIC_HOST = st.lists(HOST_LABEL, min_size=2, max_size=3).map(".".join).filter(lambda h: "localhost" not in h)
URI_PATH = st.text(alphabet=string.ascii_letters + string.digits + "/-._~", max_size=20).map(lambda p: "/" + p)


@FAST
@given(host=PUBLIC_HOST, path=URI_PATH)
def test_https_uris_are_accepted_and_http_only_on_loopback(host: str, path: str) -> None:
    from hydra_lambda.clients.registry import validate_redirect_uri

    validate_redirect_uri(f"https://{host}{path}")
    validate_redirect_uri(f"http://127.0.0.1:8080{path}")
    validate_redirect_uri(f"http://localhost{path}")
    with pytest.raises(BadRequest):
        validate_redirect_uri(f"http://{host}{path}")
    with pytest.raises(BadRequest):
        validate_redirect_uri(f"https://{host}{path}#frag")


@FAST
@given(uri=st.one_of(TEXT, st.text(max_size=80).map(lambda t: "https://" + t)))
def test_redirect_uri_validation_raises_only_bad_request(uri: str) -> None:
    from hydra_lambda.clients.registry import validate_redirect_uri

    try:
        validate_redirect_uri(uri)
    except BadRequest:
        return
    assert "#" not in uri
    assert not any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in uri)
    assert not uri.lower().startswith(("javascript:", "data:", "file:", "vbscript:"))


@FAST
@given(host=PUBLIC_HOST, path=URI_PATH, mutation=st.sampled_from(
    ["{u}/", "{u}.", "{u}?x=1", "{u}%2F", "{U}", "{u}@evil.example", "https://evil.example?{u}",
     "https://{h}.evil.example{p}", "https://{h}.{p}", "https://user@{h}{p}", "https://{h}%2Eevil.example{p}",
     "https://{h}\u3002evil.example{p}", "{u}/../..", "{u} "]))
def test_a_registered_redirect_uri_matches_only_exactly(host: str, path: str, mutation: str) -> None:
    from hydra_lambda.clients.model import Client

    registered = f"https://{host}{path}"
    attempt = mutation.format(u=registered, U=registered.upper(), h=host, p=path)
    assume(attempt != registered)
    client = Client(id="c", redirect_uris=[registered])
    assert client.has_redirect_uri(registered)
    assert not client.has_redirect_uri(attempt)
