"""The hot token rows skip pynamodb's Model layer: ``token_rows.row_item`` builds the attribute values
the write sends, ``token_rows.token_from_item`` reads them back. Both must agree with what the Model
layer (``to_record(...).serialize()``, ``from_record(TokenRecord.from_raw_data(...))``) produces for
every token, or rows written one way would read differently the other (pure logic, no engines)."""

from __future__ import annotations

from hydra_lambda.storage.tables import TokenRecord, bind
from hydra_lambda.storage.token_rows import from_record, row_item, to_record, token_from_item
from hydra_lambda.tokens.model import CodeBinding, IdentityContext, Token, TokenRef, TokenSession
from hypothesis import given, settings
from hypothesis import strategies as st

text = st.text(max_size=12)
json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                           max_leaves=6)
epoch = st.integers(0, 4_102_444_800)
identities = st.builds(IdentityContext, subject=text, auth_time=epoch, nonce=text, acr=text,
                       extra=st.dictionaries(text, json_values, max_size=3), amr=st.lists(text, max_size=2),
                       requested_at=epoch)
sessions = st.builds(
    TokenSession,
    identity=st.none() | identities,
    code_binding=st.none() | st.builds(CodeBinding, redirect_uri=text, redirect_uri_sent=st.booleans(),
                                       code_challenge=text, code_challenge_method=text),
    access_signature=text,
    issued=st.lists(st.builds(TokenRef, st.sampled_from(["access", "refresh", "code"]),
                              st.text(min_size=1, max_size=12).filter(lambda s: " " not in s)), max_size=3),
)
tokens = st.builds(
    Token,
    signature=st.text(min_size=1, max_size=60),
    kind=st.sampled_from(["access", "refresh", "code"]),
    request_id=text,
    client_id=text,
    expires_at=epoch,
    subject=text,
    scopes=st.lists(text, max_size=4),
    audience=st.lists(text, max_size=3),
    extra=st.dictionaries(text, json_values, max_size=3),
    session=sessions,
    issued_at=st.integers(1, 4_102_444_800),
    used_at=st.none() | epoch,
    client_since=st.integers(0, 2**62),
)


def _identity_subjects_match(token: Token) -> Token:
    """A row stores the subject once: the identity's subject is the row's when read back."""
    if token.session.identity is not None:
        token.session.identity.subject = token.subject
    return token


@settings(max_examples=300, deadline=None)
@given(tokens.map(_identity_subjects_match))
def test_the_pre_serialised_row_is_the_models_row_and_reads_back_the_same(token: Token) -> None:
    bind()
    item = row_item(token)
    assert item == to_record(token).serialize(null_check=True)
    assert token_from_item(item) == from_record(TokenRecord.from_raw_data(item))
    assert token_from_item(item) == token


@settings(max_examples=100, deadline=None)
@given(tokens.map(_identity_subjects_match), epoch, st.lists(text, min_size=1, max_size=2))
def test_rows_marked_later_read_the_same_both_ways(token: Token, revoked_at: int, reissued: list[str]) -> None:
    """Rows updated in place (revoked, reissued, a stored row with attributes left out) read as the
    Model layer reads them."""
    bind()
    record = to_record(token)
    record.revoked_at = revoked_at
    record.reissued = [f"access {value}" for value in reissued]
    item = record.serialize(null_check=True)
    assert token_from_item(item) == from_record(TokenRecord.from_raw_data(item))
    for optional in ("subject", "scopes", "audience", "extra", "session", "client_since"):
        partial = {k: v for k, v in item.items() if k != optional}
        assert token_from_item(partial) == from_record(TokenRecord.from_raw_data(partial))
