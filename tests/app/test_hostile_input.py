"""Hostile input: quotes, SQL fragments, very long strings and unicode in URL
parameters, filters, dialog fields and uploaded files reach SQL only as bound
parameters. Nothing breaks, nothing is executed, nothing stored is lost."""

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import actions as A
from greendoor import config, periods
from greendoor.analytics import advocacy, behavior, expansion, portfolio_health
from greendoor.store import schema

APP = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")
HOSTILE = [
    "'; DROP TABLE accounts; --",
    "\" OR 1=1 --",
    "ACC-00001' OR '1'='1",
    "x" * 10_000,
    "Ünïcødé 👩‍💼 \u202e ‮ 名前",
    "%_%",
    "\\x00\\n\\r",
]


def counts(eng) -> dict:
    with eng.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                for t in (schema.accounts, schema.actions, schema.subscriptions, schema.usage)}


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_account_parameter_in_the_url(scored_store_copy, monkeypatch, value):
    url, eng = scored_store_copy
    monkeypatch.setenv(config.DB_URL_ENV, url)
    before = counts(eng)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/account_360.py")
    at.query_params["account"] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("No account" in w.value for w in at.warning)  # treated as an unknown id
    assert counts(eng) == before


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filter_values_match_nothing_and_break_nothing(scored_store_copy, value):
    _, eng = scored_store_copy
    before = counts(eng)
    f = periods.Filters(as_of=dt.date(2026, 6, 30), segment=value, owner=value)
    with eng.connect() as conn:
        assert portfolio_health.kpis(conn, f)["accounts"] == 0
        assert portfolio_health.account_table(conn, f).empty
        assert portfolio_health.scores(conn, f).empty
        assert expansion.open_pipeline(conn, f).empty
        assert advocacy.activities(conn, f).empty
        assert behavior.anomalies(conn, f).empty
    assert counts(eng) == before


@pytest.mark.parametrize("value", [v for v in HOSTILE if len(v) < 2000])
def test_hostile_dialog_text_is_stored_verbatim(scored_store_copy, value):
    _, eng = scored_store_copy
    with eng.connect() as conn:
        acc = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
    before = counts(eng)
    action_id = A.create_task(eng, acc, value[:200], owner="ana", due_date="2026-07-01",
                              note=value)
    with eng.connect() as conn:
        row = conn.execute(sa.select(schema.actions.c.title, schema.actions.c.note).where(
            schema.actions.c.action_id == action_id)).one()
    assert row.title == value[:200].strip() and row.note == value.strip()
    after = counts(eng)
    assert after["actions"] == before["actions"] + 1 and after["accounts"] == before["accounts"]


def test_overlong_and_bad_dialog_values_are_refused_with_a_message(scored_store_copy):
    _, eng = scored_store_copy
    with eng.connect() as conn:
        acc = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
    with pytest.raises(A.ActionError, match="title is longer than 200"):
        A.create_task(eng, acc, "x" * 10_000, owner="ana", due_date="2026-07-01")
    with pytest.raises(A.ActionError, match="unknown account"):
        A.create_task(eng, "'; DROP TABLE accounts; --", "t", owner="ana", due_date="2026-07-01")
    with pytest.raises(A.ActionError, match="not a date"):
        A.create_task(eng, acc, "t", owner="ana", due_date="2026-07-01'; --")


def test_hostile_upload_names_and_cells(engine, tmp_path):
    """A file named like a path and text cells holding SQL are imported as plain text
    (or refused by validation); nothing else changes."""
    from greendoor.ingest import import_path

    d = tmp_path / "up"
    d.mkdir()
    (d / "accounts.csv").write_text(
        "account_id,name,signup_date,industry\n"
        "A1,\"Robert'); DROP TABLE accounts;--\",2024-01-01,\"\"\" OR 1=1 --\"\n"
        "A2,Ünïcødé 👩‍💼 名前,2024-01-02,x\n", encoding="utf-8")
    rep = import_path(engine, d, "canonical")
    assert rep.ok, rep.summary()
    with engine.connect() as conn:
        names = dict(conn.execute(sa.select(schema.accounts.c.account_id, schema.accounts.c.name)).all())
        inds = dict(conn.execute(sa.select(schema.accounts.c.account_id,
                                           schema.accounts.c.industry)).all())
    assert names == {"A1": "Robert'); DROP TABLE accounts;--", "A2": "Ünïcødé 👩‍💼 名前"}
    assert inds["A1"] == "\" OR 1=1 --"
