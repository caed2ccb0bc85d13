"""A token's session is a typed value in the domain and a map only in storage: the mapping keeps the
keys rows were always written with, so rows stored before the typed session read the same (pure
logic, no engines)."""

from __future__ import annotations

from hydra_lambda.storage.token_rows import session_from_map, session_to_map
from hydra_lambda.tokens.model import CodeBinding, IdentityContext, TokenRef, TokenSession

# A code row's session as the second leg of /oauth2/auth wrote it before: the whole authorize request.
OLD_CODE_SESSION = {
    "auth_time": 1700000000, "nonce": "n-0S6", "acr": "urn:acr:pwd", "id_token_extra": {"tenant": "acme"},
    "amr": ["pwd", "otp"], "requested_at": 1699999990,
    "authorize": {"client_id": "app", "redirect_uri": "https://app.example/cb", "redirect_uri_sent": True,
                  "response_types": ["code"], "response_mode": "query", "scopes": ["openid"], "state": "xyz",
                  "nonce": "n-0S6", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                  "code_challenge_method": "S256", "max_age": None},
}


def test_an_old_code_row_reads_into_the_typed_session() -> None:
    session = session_from_map("alice", OLD_CODE_SESSION)
    assert session.identity == IdentityContext(subject="alice", auth_time=1700000000, nonce="n-0S6",
                                               acr="urn:acr:pwd", extra={"tenant": "acme"}, amr=["pwd", "otp"],
                                               requested_at=1699999990)
    assert session.code_binding == CodeBinding(redirect_uri="https://app.example/cb", redirect_uri_sent=True,
                                               code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                                               code_challenge_method="S256")
    assert session.access_signature == "" and session.issued == []


def test_the_map_keeps_the_stored_keys_and_round_trips() -> None:
    identity = IdentityContext(subject="alice", auth_time=5, nonce="n", acr="a", extra={"k": "v"})
    session = TokenSession(identity=identity, access_signature="0000000009sig",
                           issued=[TokenRef("access", "0000000009a"), TokenRef("refresh", "0000000009r")])
    stored = session_to_map(session)
    assert stored == {"auth_time": 5, "nonce": "n", "acr": "a", "id_token_extra": {"k": "v"},
                      "access_signature": "0000000009sig", "issued": ["access 0000000009a", "refresh 0000000009r"]}
    assert session_from_map("alice", stored) == session


def test_a_token_without_a_user_has_an_empty_session() -> None:
    assert session_to_map(TokenSession()) == {}  # a client_credentials row stays as small as before
    assert session_from_map("app", {}) == TokenSession()


def test_a_pairwise_grant_keeps_its_sub_and_a_public_one_adds_nothing() -> None:
    identity = IdentityContext(subject="alice", auth_time=5, pairwise_subject="9f86d0")
    stored = session_to_map(TokenSession(identity=identity))
    assert stored["pairwise_subject"] == "9f86d0"
    assert session_from_map("alice", stored).identity == identity
    assert identity.client_subject == "9f86d0"
    public = IdentityContext(subject="alice", auth_time=5)
    assert "pairwise_subject" not in session_to_map(TokenSession(identity=public)) and public.client_subject == "alice"
