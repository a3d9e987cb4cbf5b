"""Sign-in accounting under parallel attempts, on DuckDB and PostgreSQL (issue 26).

Before: ``failed_logins + 1`` was computed in Python from an earlier read, so 20
simultaneous wrong passwords on PostgreSQL left the counter at 2 and the user unlocked;
on DuckDB 7 of 8 parallel failures were missing from the audit log and the users saw
"cannot reach its store".
"""

from __future__ import annotations

import concurrent.futures as cf
import json

import sqlalchemy as sa

from greendoor import users as U
from greendoor.store import schema

PASSWORD = "correct horse battery"


def _audit(engine, action: str) -> list[dict]:
    a = schema.audit_log
    with engine.connect() as conn:
        return [json.loads(r.after_json or "{}") for r in conn.execute(
            sa.select(a.c.after_json).where(a.c.action == action).order_by(a.c.occurred_at))]


def _user(engine, name: str):
    u = schema.users
    with engine.connect() as conn:
        return conn.execute(sa.select(u).where(u.c.username == name)).mappings().one()


def _attempt(engine, password: str) -> str:
    try:
        U.authenticate(engine, "rita", password)
        return "ok"
    except U.LoginFailed as exc:
        return str(exc)


def test_twenty_parallel_wrong_passwords_lock_the_user_and_are_all_audited(engine):
    U.add_user(engine, "rita", "manager", PASSWORD)
    with cf.ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda i: _attempt(engine, f"guess {i}"), range(20)))
    # every attempt got the same answer: no store error, no hint that a lock exists
    assert answers == ["wrong user name or password"] * 20
    failed = _audit(engine, "login.failed")
    assert len(failed) == 20
    # every attempt that saw an unlocked row counted; the fifth of them locked the user
    counted = [f["failed_logins"] for f in failed if f["reason"] == "wrong password"]
    assert sorted(counted) == list(range(1, len(counted) + 1))
    assert len(counted) >= U.MAX_FAILED_LOGINS
    assert all(f["reason"] == "locked" for f in failed if f["reason"] != "wrong password")
    assert len(_audit(engine, "login.locked")) == 1
    row = _user(engine, "rita")
    assert row["failed_logins"] == len(counted) and row["locked_until"] is not None
    # locked: the right password is refused too, with the same words
    assert _attempt(engine, PASSWORD) == "wrong user name or password"


def test_a_locked_user_answers_like_an_unknown_one(engine):
    U.add_user(engine, "rita", "manager", PASSWORD)
    for i in range(U.MAX_FAILED_LOGINS):
        _attempt(engine, f"guess {i}")
    locked = _attempt(engine, "guess again")
    try:
        U.authenticate(engine, "nobody-here", "guess again")
    except U.LoginFailed as exc:
        unknown = str(exc)
    assert locked == unknown == "wrong user name or password"
    reasons = [f["reason"] for f in _audit(engine, "login.failed")]
    assert reasons[-2:] == ["locked", "unknown user"]


def test_session_tokens_expire_and_end_with_a_new_password(engine):
    import datetime as dt

    U.add_user(engine, "rita", "manager", PASSWORD)
    p = U.authenticate(engine, "rita", PASSWORD)
    t0 = dt.datetime(2026, 11, 30, 9, 0)
    token = U.session_token(engine, p, now=t0)
    assert U.session_principal(engine, token, now=t0 + dt.timedelta(hours=1)) == p
    # expired after SESSION_HOURS
    assert U.session_principal(engine, token, now=t0 + dt.timedelta(hours=U.SESSION_HOURS)) is None
    # tampered payload, bad MAC, garbage
    payload, mac = token.split(".")
    assert U.session_principal(engine, payload + "." + "0" * len(mac), now=t0) is None
    assert U.session_principal(engine, "x" + token, now=t0) is None
    for junk in (None, "", ".", "a.b.c", "%%%.%%%", "x" * 5_000):
        assert U.session_principal(engine, junk, now=t0) is None
    # a new password ends every session
    U.set_password(engine, "rita", PASSWORD + "!")
    assert U.session_principal(engine, token, now=t0 + dt.timedelta(hours=1)) is None
