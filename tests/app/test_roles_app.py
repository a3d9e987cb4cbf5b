"""Sign-in and roles through the app (AppTest): the login form, a csm editing the
URL to reach another owner's book or account, a viewer's masked read-only view,
and the admin-only pages."""

from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import config
from greendoor import users as U
from greendoor.labels import human
from greendoor.store import schema
from tests.conftest import shown_alert_ids, two_largest_books

APP = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")
PAGES = Path(__file__).resolve().parents[2] / "pages"
PASSWORD = "correct horse battery"


@pytest.fixture
def signed_store(scored_store_copy, monkeypatch):
    """(engine, mine, other, names): the store copy in password mode with a csm (book
    ``mine``), a viewer and an admin; ``names`` maps account id -> name."""
    url, eng = scored_store_copy
    monkeypatch.setenv(config.DB_URL_ENV, url)
    monkeypatch.setenv(U.AUTH_ENV, "password")
    books, mine, other = two_largest_books(eng)
    U.add_user(eng, "carl", "csm", PASSWORD, book=mine)
    U.add_user(eng, "vera", "viewer", PASSWORD)
    U.add_user(eng, "ada", "admin", PASSWORD)
    a = schema.accounts
    with eng.connect() as conn:
        names = dict(conn.execute(sa.select(a.c.account_id, a.c.name)).all())
    return eng, mine, other, names, books


def signed_in(eng, username: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["principal"] = U.authenticate(eng, username, PASSWORD)
    return at


def texts(at) -> str:
    parts = [e.value for e in (*at.title, *at.markdown, *at.caption, *at.subheader)]
    for df in at.dataframe:
        parts.append(unquote(df.value.to_csv()))  # links carry names URL-encoded
    for chart in at.get("plotly_chart"):  # hover texts and labels travel in the figure
        parts.append(chart.proto.spec)
    for box in at.selectbox:
        parts.extend(str(o) for o in box.options)
    return "\n".join(str(p) for p in parts)


def assert_admin_pages_refused(eng, username: str, at: AppTest) -> None:
    """The admin pages are not in the user's menu, and their scripts refuse to run
    for the user when reached anyway."""
    for page in ("data.py", "audit.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"../pages/{page}")
        direct = AppTest.from_file(str(PAGES / page), default_timeout=120)
        direct.session_state["principal"] = U.authenticate(eng, username, PASSWORD)
        direct.run()
        assert [e.value for e in direct.exception][0].endswith(
            "may not administer Greendoor (import, settings, users, audit log)")
        assert not direct.dataframe and not direct.get("file_uploader")


def test_password_mode_shows_only_the_sign_in_form_until_signed_in(signed_store):
    eng, *_ = signed_store
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert [t.value for t in at.title] == ["Sign in to Greendoor"]
    assert not at.dataframe and not at.metric  # no data before sign-in
    at.text_input(key="login_user").input("carl")
    at.text_input(key="login_password").input("wrong password!")
    at.button[0].click().run()
    assert any("wrong user name or password" in e.value for e in at.error)
    assert not at.metric
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Portfolio health" in [t.value for t in at.title]
    assert any("Signed in as **carl** · csm" in c.value for c in at.sidebar.caption)
    a = schema.audit_log
    with eng.connect() as conn:
        actions = [r[0] for r in conn.execute(sa.select(a.c.action).where(
            a.c.entity == "users", a.c.entity_id == "carl").order_by(a.c.occurred_at))]
    assert actions[-2:] == ["login.failed", "login"]


def test_password_mode_without_users_says_how_to_add_the_first_admin(scored_store_copy,
                                                                       monkeypatch):
    url, _ = scored_store_copy
    monkeypatch.setenv(config.DB_URL_ENV, url)
    monkeypatch.setenv(U.AUTH_ENV, "password")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert any("greendoor users add NAME --role admin" in w.value for w in at.warning)
    assert not at.text_input


def test_csm_sees_their_book_and_url_tampering_is_refused(signed_store):
    eng, mine, other, names, books = signed_store
    at = signed_in(eng, "carl").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    own_names = [n for aid, n in names.items() if books[aid] == mine]
    # (names that are part of an own account's name, "Oak Outfitters" in "Oak Outfitters
    # Holdings", cannot be told apart in the page text)
    their_names = [n for aid, n in names.items()
                   if books[aid] == other and not any(n in m for m in own_names)]
    assert any(n in shown for n in own_names)
    assert not any(n in shown for n in their_names)
    assert "owner" not in [s.key for s in at.sidebar.selectbox]  # no owner picker for a csm
    # another owner's book in the URL
    at.query_params["owner"] = other
    at.run()
    assert any("Not allowed" in e.value and "only see the book" in e.value for e in at.error)
    assert not any(n in texts(at) for n in their_names)
    del at.query_params["owner"]
    at.run()  # back to their own book (the refused run never reached the navigation)
    assert not at.error
    # another owner's account in the URL
    theirs = next(aid for aid, o in books.items() if o == other)
    at.switch_page("../pages/account_360.py")
    at.query_params["account"] = theirs
    at.run()
    assert any("Not allowed" in e.value and "not in the book" in e.value for e in at.error)
    assert names[theirs] not in texts(at)
    # their own account opens, with the action buttons
    own = next(aid for aid, o in books.items() if o == mine)
    at.query_params["account"] = own
    at.run()
    assert not at.error and names[own] in [t.value for t in at.title]
    assert any(b.label == "Create task" for b in at.button)
    assert_admin_pages_refused(eng, "carl", at)


def test_viewer_sees_pseudonyms_and_cannot_act(signed_store):
    eng, mine, other, names, books = signed_store
    at = signed_in(eng, "vera").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "Account 0001" in shown or "Account 00" in shown
    assert not any(n in shown for n in names.values())
    for page in ("this_week", "churn_risk", "actions", "expansion", "renewals", "advocacy",
                 "segmentation", "behavior", "model_quality", "account_360"):
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        leaked = [n for n in names.values() if n in texts(at)]
        assert not leaked, (page, leaked[:3])
    aid = next(iter(names))
    at.switch_page("../pages/account_360.py")
    at.query_params["account"] = aid
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert names[aid] not in shown
    assert "Read-only: the viewer role cannot act" in shown
    assert not any(b.label == "Create task" for b in at.button)
    assert_admin_pages_refused(eng, "vera", at)


def test_admin_sees_users_and_the_audit_of_sign_ins(signed_store):
    eng, *_ = signed_store
    at = signed_in(eng, "ada").run()
    at.switch_page("../pages/data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    users = next(df.value for df in at.dataframe if "username" in df.value.columns)
    assert set(users["username"]) == {"ada", "carl", "vera"}
    assert "password_hash" not in users.columns
    at.switch_page("../pages/audit.py").run()
    log = next(df.value for df in at.dataframe if "action" in df.value.columns)
    assert {human("user.add"), human("login")} <= set(log["action"])  # shown in words


def test_single_sign_on_without_a_provider_says_what_to_configure(scored_store_copy,
                                                                  monkeypatch):
    url, _ = scored_store_copy
    monkeypatch.setenv(config.DB_URL_ENV, url)
    monkeypatch.setenv(U.AUTH_ENV, "oidc")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("no identity provider is configured" in e.value for e in at.error)
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback",
                          "cookie_secret": "x" * 32, "client_id": "greendoor",
                          "client_secret": "s", "server_metadata_url":
                          "https://idp.example.com/.well-known/openid-configuration"}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(b.label == "Sign in with your company account" for b in at.button)
    assert not at.metric


def test_a_csms_alert_inbox_holds_their_book_only(signed_store):
    """Issue 19: the inbox of a csm lists the live alerts of their book and nothing else;
    acting on another owner's alert is refused by the library (test_alert_inbox.py)."""
    eng, mine, other, names, books = signed_store
    at = signed_in(eng, "carl").run()
    at.switch_page("../pages/alerts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    inbox = next(d.value for d in at.dataframe if "severity" in d.value.columns)
    assert len(inbox) > 0 and set(inbox["csm_owner"]) == {mine}
    al = schema.alerts
    with eng.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(al.c.as_of))).scalar()
        theirs = {r[0] for r in conn.execute(sa.select(al.c.alert_id).where(
            al.c.as_of == latest, al.c.account_id.in_(
                [a for a, o in books.items() if o == other])))}
    assert theirs and not theirs & set(shown_alert_ids(eng, inbox))
