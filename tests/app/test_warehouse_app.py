"""AppTest: a store whose usage stays in the warehouse (``usage_mode: features``, issue
24). The pages that read per-account figures show them; the pages that show usage rows
say that those rows stay in the warehouse instead of "import usage"; nothing crashes."""

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import config
from greendoor.demo import DemoParams, generate
from greendoor.ingest.contract import CONTRACT
from greendoor.scoring.run import score
from greendoor.store import schema
from greendoor.store.engine import init_store, make_engine
from greendoor.warehouse.mapping import SourceMapping
from greendoor.warehouse.sync import sync_source
from tests.conftest import DEMO_AS_OF, assume_skill

APP = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")
WAREHOUSE_NOTE = "Usage stays in your data warehouse"


@pytest.fixture(scope="module")
def pushed_store(tmp_path_factory) -> str:
    """A DuckDB warehouse holding a 60-account demo export, synced with usage_mode:
    features into a new store, then scored; the store's URL."""
    tmp = tmp_path_factory.mktemp("pushed")
    wh = sa.create_engine(f"duckdb:///{tmp / 'wh.duckdb'}")
    frames = generate(DemoParams(n_accounts=60, months=8, seed=3, as_of=DEMO_AS_OF))
    with wh.begin() as conn:
        for name, df in frames.items():
            if name in CONTRACT and len(df):
                for c in df.select_dtypes("datetime").columns:
                    df[c] = df[c].dt.floor("s")
                conn.connection.driver_connection.register("frame", df)
                conn.exec_driver_sql(f"CREATE TABLE {name} AS SELECT * FROM frame")
                conn.connection.driver_connection.unregister("frame")
        tables = [n for n, df in frames.items() if n in CONTRACT and len(df)]
    wh.dispose()
    mapping = SourceMapping.model_validate({
        "version": 1, "url": f"duckdb:///{tmp / 'wh.duckdb'}", "usage_mode": "features",
        "tables": {t: {"from": t} for t in tables}})
    url = f"duckdb:///{tmp / 'store.duckdb'}"
    eng = make_engine(url)
    init_store(eng)
    assert sync_source(eng, mapping, backfill_weeks=0).ok
    assume_skill(eng)
    score(eng, backfill_weeks=0, evaluate_models=False)
    with eng.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.usage)).scalar() == 0
        first = conn.execute(sa.select(schema.accounts.c.account_id).order_by(
            schema.accounts.c.account_id).limit(1)).scalar()
    eng.dispose()
    return url, first


def open_page(page: str, account: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(f"../pages/{page}.py")
    if account:
        at.query_params["account"] = account
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_portfolio_health_does_not_call_the_usage_missing(pushed_store, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, pushed_store[0])
    at = open_page("portfolio_health")
    notes = " ".join(i.value for i in at.info)
    assert "**usage**" not in notes and WAREHOUSE_NOTE not in notes
    assert len(at.metric) >= 4


@pytest.mark.parametrize("page", ["behavior", "expansion"])
def test_pages_that_show_usage_rows_say_they_stay_in_the_warehouse(pushed_store, monkeypatch,
                                                                   page):
    monkeypatch.setenv(config.DB_URL_ENV, pushed_store[0])
    at = open_page(page)
    notes = " ".join(i.value for i in at.info)
    assert WAREHOUSE_NOTE in notes and "**usage**" not in notes
    if page == "behavior":  # what the aggregates can say: weekly active users
        metrics = {m.label: m.value for m in at.metric}
        assert {"DAU (30-day mean)", "WAU", "MAU"} <= set(metrics)
        assert int(metrics["MAU"].replace(",", "")) > 0


def test_account_360_says_where_the_weekly_usage_is(pushed_store, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, pushed_store[0])
    at = open_page("account_360", pushed_store[1])
    captions = " ".join(c.value for c in at.caption)
    assert "usage rows stay in your data warehouse" in captions
    assert any(m.label.startswith("Health") for m in at.metric), [m.label for m in at.metric]


def test_the_scored_date_reads_the_pushed_usage(pushed_store):
    """The as-of date's usage features come from the warehouse's aggregates: known, and
    the active users match the stored aggregate."""
    from greendoor.periods import default_as_of
    from greendoor.scoring.features import features_as_of

    eng = make_engine(pushed_store[0])
    with eng.connect() as conn:
        as_of = default_as_of(conn)
        f = features_as_of(conn, as_of)
        uf = schema.usage_features
        stored = pd.read_sql(sa.select(uf.c.account_id, uf.c.active_users_30d)
                             .where(uf.c.as_of == as_of), conn).set_index("account_id")
    eng.dispose()
    assert f["active_days_30d"].notna().all() and (f["active_users_30d"] > 0).sum() > 30
    both = stored.index.intersection(f.index)
    assert len(both) > 30
    assert (f.loc[both, "active_users_30d"] == stored.loc[both, "active_users_30d"]).all()
