"""AppTest: the Data page (upload, validate, import) and the pages on RavenStack data."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import config
from greendoor.store import schema

APP = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")
DATA_PAGE = "../pages/data.py"

ACCOUNTS = b"account_id,name,segment,signup_date\nA1,Alpha,smb,2024-01-05\nA2,Beta,enterprise,2024-02-10\n"
SUBS = (b"subscription_id,account_id,start_date,arr,seats\n"
        b"S1,A1,2024-01-05,6000,5\nS2,A2,2024-02-10,90000,40\n")


@pytest.fixture
def use_store(monkeypatch):
    def _use(url: str):
        monkeypatch.setenv(config.DB_URL_ENV, url)
    return _use


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame_with(at: AppTest, column: str):
    """The first table on the page that has ``column``."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with column {column!r}")


def accounts_in(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.accounts)).scalar()


def test_upload_validate_then_import(engine, use_store):
    use_store(engine.url.render_as_string(hide_password=False))
    at = open_page(DATA_PAGE)
    assert [t.value for t in at.title] == ["Data & settings"]
    up = at.file_uploader(key="import_files")
    up.upload("accounts.csv", ACCOUNTS, "text/csv")
    up.upload("subscriptions.csv", SUBS, "text/csv")
    at.run()
    at.button(key="import_validate").click().run()
    assert not at.exception
    assert any("Valid" in s.value for s in at.success)
    assert accounts_in(engine) == 0  # a dry run writes nothing
    at.button(key="import_run").click().run()  # asks first
    assert accounts_in(engine) == 0 and any("Import 2 file(s)" in w.value for w in at.warning)
    at.button(key="import_confirm_yes").click().run()
    assert not at.exception
    assert any("Imported" in s.value for s in at.success)
    assert accounts_in(engine) == 2
    history = frame_with(at, "rows_inserted")
    assert len(history) == 1 and history["status"].iloc[0] == "ok"


def test_a_bad_upload_shows_where_the_problem_is(engine, use_store):
    use_store(engine.url.render_as_string(hide_password=False))
    at = open_page(DATA_PAGE)
    at.file_uploader(key="import_files").upload(
        "accounts.csv", ACCOUNTS.replace(b"2024-02-10", b"2024-02-31"), "text/csv")
    at.run()
    at.button(key="import_run").click().run()
    at.button(key="import_confirm_yes").click().run()
    assert not at.exception
    assert any("nothing was written" in e.value for e in at.error)
    issues = frame_with(at, "rule")
    row = issues[issues["severity"] == "error"].iloc[0]
    assert (row["file"], row["line"], row["column"]) == ("accounts.csv", 3, "signup_date")
    assert accounts_in(engine) == 0


def test_pages_on_ravenstack_say_what_is_missing_and_what_is_wrong(ravenstack_store, use_store):
    use_store(ravenstack_store[0])
    at = open_page()
    assert [t.value for t in at.title] == ["Portfolio health"]
    values = {m.label: m.value for m in at.metric}
    assert values["Accounts"] == "500"
    assert values["NPS (12 months)"] == "—"  # no surveys: not shown as zero
    assert any("survey_responses" in i.value for i in at.info)
    assert any("churn event still hold subscriptions" in w.value for w in at.warning)
    at.switch_page(DATA_PAGE).run()
    assert not at.exception
    fresh = frame_with(at, "last_load").set_index("table")
    assert fresh.loc["usage", "rows"] == 25_000 and fresh.loc["contacts", "rows"] == 0
    assert fresh["last_load"].notna()["usage"] and fresh["last_load"].isna()["contacts"]
