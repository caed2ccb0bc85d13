"""Login and consent sessions against Amazon DynamoDB Local (storage/sessions.py, login_sessions.py)."""

from __future__ import annotations

import uuid

import pytest
from hydra_lambda import clock, login_sessions
from hydra_lambda.storage import sessions as store


def _subject() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def test_a_new_session_is_found_from_its_cookie_and_only_from_it() -> None:
    subject = _subject()
    session, cookie = login_sessions.new_session(subject, auth_time=clock.now_int() - 5, lifespan=3600, acr="1",
                                                 amr=["pwd"], remember=True, remember_for=3600)
    found = login_sessions.from_cookie(cookie)
    assert found is not None
    assert (found.sid, found.subject, found.acr, found.amr) == (session.sid, subject, "1", ["pwd"])
    sid, _, secret = cookie.partition(".")
    assert cookie.count(".") == 1 and secret not in repr(store.get_login_session(sid))  # only its hash is kept
    for tampered in (f"{sid}.{secret[:-1]}x", f"{sid}.", f".{secret}", sid, f"{uuid.uuid4()}.{secret}",
                     cookie + "x" * 300, ""):
        assert login_sessions.from_cookie(tampered) is None, tampered


def test_an_expired_session_reads_as_none() -> None:
    session, cookie = login_sessions.new_session(_subject(), auth_time=clock.now_int(), lifespan=3600)
    session.expires_at = clock.now_int() - 1
    store.save_login_session(session)
    assert login_sessions.from_cookie(cookie) is None
    assert store.get_login_session(session.sid) is None
    assert store.get_login_session(session.sid, include_expired=True) is not None


def test_sessions_of_a_subject_are_one_query_and_end_on_delete() -> None:
    subject = _subject()
    made = [login_sessions.new_session(subject, auth_time=clock.now_int(), lifespan=3600)[0] for _ in range(3)]
    login_sessions.new_session(_subject(), auth_time=clock.now_int(), lifespan=3600)  # someone else's
    assert {s.sid for s in store.login_sessions_of(subject)} == {s.sid for s in made}
    ended = store.delete_login_session(made[0].sid)
    assert ended is not None and ended.subject == subject
    assert store.delete_login_session(made[0].sid) is None  # idempotent
    assert {s.sid for s in store.login_sessions_of(subject)} == {s.sid for s in made[1:]}
    with pytest.raises(LookupError):  # an ended session is never brought back by a later save
        store.save_login_session(made[0])


def test_a_resent_create_finds_its_own_row_and_a_collision_is_refused() -> None:
    session, _cookie = login_sessions.new_session(_subject(), auth_time=clock.now_int(), lifespan=3600)
    store.create_login_session(session)  # botocore's resend of a put whose answer was lost
    other = store.LoginSession(sid=session.sid, subject="mallory", cookie_hash="0" * 64, auth_time=1,
                               expires_at=clock.now_int() + 60)
    with pytest.raises(store.SessionExists):
        store.create_login_session(other)
    assert store.get_login_session(session.sid).subject == session.subject


def test_consent_sessions_by_subject_client_and_login_session() -> None:
    subject, now = _subject(), clock.now_int()
    rows = [store.ConsentSession(challenge=uuid.uuid4().hex, subject=subject, client_id=client, login_session_id=sid,
                                 expires_at=now + 600, grant_scope=["openid"], handled_at=now + i, remember=True,
                                 created_at=now, id_token_session={"email": "a@example.com"}, context={"k": [1]})
            for i, (client, sid) in enumerate([("c1", "s1"), ("c2", "s1"), ("c1", "s2")])]
    gone = store.ConsentSession(challenge=uuid.uuid4().hex, subject=subject, client_id="c1", expires_at=now - 1)
    for row in [*rows, gone]:
        store.save_consent_session(row)
    assert [r.challenge for r in store.consent_sessions_of(subject)] == [r.challenge for r in reversed(rows)]
    assert {r.challenge for r in store.consent_sessions_of(subject, client_id="c1")} == {rows[0].challenge,
                                                                                       rows[2].challenge}
    assert [r.client_id for r in store.consent_sessions_of(subject, login_session_id="s1")] == ["c2", "c1"]
    assert store.get_consent_session(rows[0].challenge) == rows[0]
    assert store.get_consent_session(gone.challenge) is None
    store.delete_consent_sessions([rows[0].challenge, "absent"])
    assert store.get_consent_session(rows[0].challenge) is None
    assert len(store.consent_sessions_of(subject)) == 2
