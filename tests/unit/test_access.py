"""Sign-in, lockout and least privilege, checked in the library (not the pages).

Each role's allowed and refused reads and writes on a private copy of the scored
demo store; a refused write leaves every table as it was.
"""

import dataclasses
import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa

from greendoor import access, account360, audit, periods, privacy
from greendoor import actions as A
from greendoor import settings as S
from greendoor import users as U
from greendoor.access import AccessDenied, Principal
from greendoor.analytics import expansion, portfolio_health, renewals
from greendoor.cli import main
from greendoor.ingest import import_path
from greendoor.store import schema
from tests.conftest import DEMO_AS_OF, two_largest_books

PASSWORD = "correct horse battery"


def table_counts(eng) -> dict:
    with eng.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                for t in (schema.actions, schema.audit_log, schema.accounts, schema.alerts,
                          schema.settings_versions, schema.opportunities, schema.users)}


def audit_rows(eng, action: str) -> list[dict]:
    a = schema.audit_log
    with eng.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(a).where(a.c.action == action)
                                              .order_by(a.c.occurred_at)).mappings()]


@pytest.fixture
def store(scored_store_copy):
    """(engine, books): a scored store copy with one user per role; ``books`` maps
    each CSM owner to their account ids."""
    _, eng = scored_store_copy
    owner_of, mine, other = two_largest_books(eng)
    books: dict[str, set[str]] = {}
    for aid, owner in owner_of.items():
        books.setdefault(owner, set()).add(aid)
    U.add_user(eng, "Vera", "viewer", PASSWORD)
    U.add_user(eng, "Carl", "csm", PASSWORD, book=mine)
    U.add_user(eng, "Mona", "manager", PASSWORD)
    U.add_user(eng, "Ada", "admin", PASSWORD)
    return eng, books, mine, other


def who(eng, name: str) -> Principal:
    return U.authenticate(eng, name, PASSWORD)


# --------------------------------------------------------------------------- #
# sign-in
# --------------------------------------------------------------------------- #
def test_password_is_stored_as_an_argon2id_hash_and_logins_are_audited(store):
    eng, *_ = store
    with eng.connect() as conn:
        h = conn.execute(sa.select(schema.users.c.password_hash)
                         .where(schema.users.c.username == "carl")).scalar()
    assert h.startswith("$argon2id$") and PASSWORD not in h
    p = U.authenticate(eng, "  CARL ", PASSWORD)  # names are case-insensitive
    assert (p.username, p.role) == ("carl", "csm")
    assert audit_rows(eng, "login")[-1]["entity_id"] == "carl"
    with pytest.raises(U.LoginFailed, match="wrong user name or password"):
        U.authenticate(eng, "carl", PASSWORD + "!")
    with pytest.raises(U.LoginFailed, match="wrong user name or password"):  # same message
        U.authenticate(eng, "nobody", PASSWORD)
    failed = audit_rows(eng, "login.failed")
    assert [json.loads(r["after_json"])["reason"] for r in failed] == ["wrong password",
                                                                        "unknown user"]


def test_lockout_after_five_failures_even_for_the_right_password(store):
    eng, *_ = store
    t0 = dt.datetime(2026, 11, 22, 9, 0)
    for i in range(U.MAX_FAILED_LOGINS):
        with pytest.raises(U.LoginFailed):
            U.authenticate(eng, "mona", f"guess {i}", now=t0)
    assert len(audit_rows(eng, "login.locked")) == 1
    # locked: the right password is refused with the same words as a wrong one
    with pytest.raises(U.LoginFailed, match="^wrong user name or password$"):
        U.authenticate(eng, "mona", PASSWORD, now=t0 + dt.timedelta(minutes=5))
    assert json.loads(audit_rows(eng, "login.failed")[-1]["after_json"])["reason"] == "locked"
    # after the lockout the right password works and the counter is reset
    p = U.authenticate(eng, "mona", PASSWORD, now=t0 + dt.timedelta(minutes=U.LOCKOUT_MINUTES + 1))
    assert p.role == "manager"
    with eng.connect() as conn:
        row = conn.execute(sa.select(schema.users).where(schema.users.c.username == "mona")
                           ).mappings().one()
    assert row["failed_logins"] == 0 and row["locked_until"] is None


def test_single_sign_on_maps_known_emails_only(store):
    eng, *_ = store
    U.add_user(eng, "Sam@Example.com", "viewer", None)
    assert U.sso_principal(eng, "sam@example.COM").role == "viewer"
    with pytest.raises(U.LoginFailed, match="not a Greendoor user"):
        U.sso_principal(eng, "stranger@example.com")
    with pytest.raises(U.LoginFailed):  # a single-sign-on user has no password
        U.authenticate(eng, "sam@example.com", "")
    assert audit_rows(eng, "login.failed")[-1]["entity_id"] == "sam@example.com"


def test_auth_mode_is_validated(monkeypatch):
    monkeypatch.setenv(U.AUTH_ENV, "PASSWORD")
    assert U.auth_mode() == "password"
    monkeypatch.setenv(U.AUTH_ENV, "ldap")
    with pytest.raises(ValueError, match="GREENDOOR_AUTH='ldap'"):
        U.auth_mode()


def test_users_cli_add_set_role_remove_are_audited(scored_store_copy, monkeypatch, capsys):
    url, eng = scored_store_copy
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["--db-url", url, "users", "add", "Lee", "--role", "csm", "--book", "Dana",
                 "--password-stdin"]) == 0
    assert U.authenticate(eng, "lee", PASSWORD).book == "Dana"
    assert main(["--db-url", url, "users", "set-role", "lee", "manager"]) == 0
    assert main(["--db-url", url, "users", "add", "x", "--role", "csm", "--no-password"]) == 2
    assert "needs a book" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["--db-url", url, "users", "add", "y", "--role", "viewer",
                 "--password-stdin"]) == 2
    assert main(["--db-url", url, "users", "remove", "lee"]) == 0
    assert main(["--db-url", url, "users", "list"]) == 0
    assert "no users" in capsys.readouterr().out
    change = audit_rows(eng, "user.set_role")[0]
    assert json.loads(change["before_json"])["role"] == "csm"
    assert json.loads(change["after_json"]) == {"role": "manager", "book": None,
                                                "display_name": None}
    assert [r["entity_id"] for r in audit_rows(eng, "user.add")] == ["lee"]
    assert [r["entity_id"] for r in audit_rows(eng, "user.remove")] == ["lee"]
    assert all(r["actor"].startswith("cli:") for r in audit_rows(eng, "user.add"))


# --------------------------------------------------------------------------- #
# roles
# --------------------------------------------------------------------------- #
def test_csm_reads_only_their_own_book(store):
    eng, books, mine, other = store
    carl = who(eng, "carl")
    f = periods.Filters(DEMO_AS_OF)
    scoped = access.scope(carl, f)
    assert scoped.owner == mine
    with eng.connect() as conn:
        table = portfolio_health.account_table(conn, scoped)
        assert set(table["account_id"]) <= books[mine] and len(table) > 0
        assert set(table["csm_owner"]) == {mine}
        assert set(access.visible_accounts(conn, carl)) == books[mine]
        assert set(portfolio_health.scores(conn, scoped)["account_id"]) <= books[mine]
        assert set(expansion.open_pipeline(conn, scoped)["account_id"]) <= books[mine]
        assert set(renewals.due(conn, scoped, [120, 90, 60, 30])["account_id"]) <= books[mine]
        # another owner's book, by filter or by account id, is refused
        with pytest.raises(AccessDenied, match="only see the book"):
            access.scope(carl, dataclasses.replace(f, owner=other))
        theirs = sorted(books[other])[0]
        with pytest.raises(AccessDenied, match="not in the book"):
            account360.load(conn, theirs, DEMO_AS_OF, carl)
        assert account360.load(conn, sorted(books[mine])[0], DEMO_AS_OF, carl) is not None
        with pytest.raises(AccessDenied):  # an unknown id does not reveal anything either
            account360.load(conn, "no-such-account", DEMO_AS_OF, carl)
        with pytest.raises(AccessDenied):
            audit.entries(conn, principal=carl)


def test_csm_acts_on_own_accounts_and_is_refused_on_others(store):
    eng, books, mine, other = store
    carl = who(eng, "carl")
    own, theirs = sorted(books[mine])[0], sorted(books[other])[0]
    aid = A.create_task(eng, own, "Check in", owner="Carl", due_date=DEMO_AS_OF, actor=carl)
    with eng.connect() as conn:
        row = conn.execute(sa.select(schema.actions).where(schema.actions.c.action_id == aid)
                           ).mappings().one()
    assert row["created_by"] == "carl"
    assert audit_rows(eng, "action.task")[-1]["actor"] == "carl"
    before = table_counts(eng)
    with pytest.raises(AccessDenied):
        A.create_task(eng, theirs, "Sneaky", owner="Carl", due_date=DEMO_AS_OF, actor=carl)
    with pytest.raises(AccessDenied):
        A.escalate(eng, theirs, "Carl", DEMO_AS_OF, "because", actor=carl)
    with pytest.raises(AccessDenied):
        A.create_expansion_opportunity(eng, theirs, 1000, DEMO_AS_OF, actor=carl)
    with pytest.raises(AccessDenied, match="reassign"):  # not even on their own account
        A.reassign_owner(eng, own, "Carl's friend", actor=carl)
    assert table_counts(eng) == before
    other_task = A.create_task(eng, theirs, "Manager's task", owner="x", due_date=DEMO_AS_OF)
    with eng.connect() as conn:
        alert = conn.execute(sa.select(schema.alerts.c.alert_id).where(
            schema.alerts.c.account_id.in_(books[other]))).scalar()
    assert alert is not None
    before = table_counts(eng)
    with pytest.raises(AccessDenied):
        A.set_status(eng, other_task, "done", actor=carl)
    with pytest.raises(AccessDenied):
        A.snooze_alert(eng, alert, DEMO_AS_OF, "not mine", actor=carl)
    assert table_counts(eng) == before
    with eng.connect() as conn:
        listed = A.list_actions(conn, principal=carl)
    assert set(listed["account_id"]) <= books[mine] and aid in set(listed["action_id"])


def test_viewer_reads_everything_masked_and_cannot_act(store):
    eng, books, mine, other = store
    vera = who(eng, "vera")
    f = periods.Filters(DEMO_AS_OF)
    assert access.scope(vera, f) == f  # every account
    with eng.connect() as conn:
        c = schema.contacts
        aid = conn.execute(sa.select(c.c.account_id).where(c.c.email.is_not(None)).limit(1)).scalar()
        plain = account360.load(conn, aid, DEMO_AS_OF)
        masked = account360.load(conn, aid, DEMO_AS_OF, vera)
    assert masked.account["name"].startswith("Account ") and masked.account["name"] != plain.account["name"]
    assert set(masked.contacts["email"]) == {"hidden"}
    assert not set(masked.contacts["name"]) & set(plain.contacts["name"])
    before = table_counts(eng)
    with pytest.raises(AccessDenied, match="may not act"):
        A.create_task(eng, aid, "x", owner="v", due_date=DEMO_AS_OF, actor=vera)
    with pytest.raises(AccessDenied):
        A.log_interaction(eng, aid, "call", DEMO_AS_OF, True, actor=vera)
    assert table_counts(eng) == before


def test_manager_acts_everywhere_but_does_not_administer(store, tmp_path):
    eng, books, mine, other = store
    mona = who(eng, "mona")
    theirs = sorted(books[other])[0]
    A.create_task(eng, theirs, "Manager check-in", owner="Mona", due_date=DEMO_AS_OF, actor=mona)
    A.reassign_owner(eng, theirs, mine, "rebalancing", actor=mona)
    with eng.connect() as conn:
        assert access.in_scope(conn, who(eng, "carl"), theirs)  # now in Carl's book
        version, current = S.current(conn)
    before = table_counts(eng)
    changed = json.loads(json.dumps(current))
    changed["health"]["bands"]["green"] = 85.0
    with pytest.raises(AccessDenied, match="administer"):
        S.save(eng, changed, actor=mona)
    with pytest.raises(AccessDenied):
        import_path(eng, tmp_path, "canonical", actor=mona)
    with pytest.raises(AccessDenied):
        U.add_user(eng, "eve", "admin", PASSWORD, actor=mona)
    with pytest.raises(AccessDenied):
        privacy.erase_subject(eng, "any", actor=mona)
    with eng.connect() as conn, pytest.raises(AccessDenied):
        U.list_users(conn, mona)
    assert table_counts(eng) == before
    ada = who(eng, "ada")
    assert S.save(eng, changed, actor=ada) == version + 1
    assert audit_rows(eng, "settings.update")[-1]["actor"] == "ada"
    with eng.connect() as conn:
        assert len(audit.entries(conn, principal=ada)) > 0
    U.set_role(eng, "carl", "viewer", actor=ada)
    assert who(eng, "carl").role == "viewer"


def test_rescoring_is_for_admins_and_audited(store):
    from greendoor.scoring.run import score

    eng, *_ = store
    mona = who(eng, "mona")  # (signing in writes an audit row)
    before = table_counts(eng)
    with pytest.raises(AccessDenied):
        score(eng, backfill_weeks=0, evaluate_models=False, actor=mona)
    assert table_counts(eng) == before
    rep = score(eng, backfill_weeks=0, evaluate_models=False, actor=who(eng, "ada"))
    row = audit_rows(eng, "score.run")[-1]
    assert row["actor"] == "ada" and row["entity_id"] == str(rep.as_of)
    assert json.loads(row["after_json"])["accounts"] == rep.accounts


@pytest.mark.parametrize("value", ["carl' --", "' OR '1'='1", "x" * 10_000, "Ünïcødé 👩‍💼",
                                   "carl\x00", ""])
def test_hostile_sign_in_values_are_refused_and_audited_safely(store, value):
    eng, *_ = store
    before = table_counts(eng)
    with pytest.raises(U.LoginFailed, match="wrong user name or password"):
        U.authenticate(eng, value, value or PASSWORD)
    after = table_counts(eng)
    assert after["users"] == before["users"]
    assert after["audit_log"] - before["audit_log"] in (0, 1)  # a name too long is not audited
    with eng.connect() as conn:
        assert conn.execute(sa.select(schema.users.c.failed_logins)
                            .where(schema.users.c.username == "carl")).scalar() == 0
