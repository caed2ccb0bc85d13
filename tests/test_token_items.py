"""The token row's hand-written DynamoDB encoding (the hot path's write and read) equals pynamodb's
encoding of the model, for any token: the two cannot drift apart unnoticed."""

from __future__ import annotations

from typing import Any

from hydra_lambda.storage.tables import TokenRecord
from hydra_lambda.storage.tokens import Token
from hypothesis import given, settings
from hypothesis import strategies as st

text = st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
tokens = st.builds(
    Token,
    signature=st.text(min_size=1, max_size=43),
    kind=st.sampled_from(["access", "refresh", "code"]),
    request_id=st.text(min_size=1, max_size=36),
    client_id=st.text(min_size=1, max_size=40),
    expires_at=st.integers(0, 2**37),
    subject=text,
    scopes=st.lists(text, max_size=4),
    audience=st.lists(text, max_size=3),
    extra=st.dictionaries(text, json_values, max_size=3),
    session=st.dictionaries(text, json_values, max_size=3),
    issued_at=st.integers(1, 2**37),
    used_at=st.none() | st.integers(0, 2**40),
)


@settings(max_examples=200, deadline=None)
@given(tokens)
def test_to_item_is_what_pynamodb_would_write(token: Token) -> None:
    assert token.to_item() == token.to_record().serialize()


@settings(max_examples=200, deadline=None)
@given(tokens)
def test_from_item_reads_what_pynamodb_would_read(token: Token) -> None:
    item: dict[str, Any] = token.to_record().serialize()
    assert Token.from_item(item) == Token.from_record(TokenRecord.from_raw_data(item)) == token


def test_a_missing_used_at_is_unused() -> None:
    token = Token("sig", "code", "req", "client", 10, issued_at=1)
    assert "used_at" not in token.to_item()
    assert Token.from_item(token.to_item()).used_at is None
