"""The warehouse source on Snowflake's SQL (issue 24), through fakesnow: Snowflake's
connector patched to run Snowflake SQL on DuckDB, with snowflake-sqlalchemy's dialect
on top, as Greendoor reaches a real account. The source check names a broken mapping's
table, column and key as on DuckDB and PostgreSQL, and Greendoor's usage features
computed there equal the store's to 1e-9. An emulator, not Snowflake: its types and
functions are DuckDB's behind Snowflake's parser (docs/warehouse.md)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor.warehouse.check import check_source
from greendoor.warehouse.mapping import SourceMapping
from tests.conftest import DEMO_AS_OF, missing
from tests.unit.test_warehouse_check import MAPPING, WAREHOUSE

URL = "snowflake://greendoor:secret@emulated/ANALYTICS/PUBLIC"


@pytest.fixture
def snowflake():
    """fakesnow's patch for the test: every ``snowflake://`` connection reaches one
    in-memory emulated account (database and schemas created on connect)."""
    try:
        import fakesnow
        import snowflake.sqlalchemy  # noqa: F401
    except ImportError:
        missing("fakesnow and snowflake-sqlalchemy (pip install -e '.[snowflake-test]')")
    with fakesnow.patch(create_database_on_connect=True, create_schema_on_connect=True):
        eng = sa.create_engine(URL)
        yield eng
        eng.dispose()


def _mapping(**changes) -> SourceMapping:
    m = {**MAPPING, "url": URL, "tables": {t: dict(v) for t, v in MAPPING["tables"].items()}}
    return SourceMapping.model_validate({**m, **changes})


def test_the_source_check_on_snowflake_passes_then_names_what_breaks(snowflake):
    with snowflake.begin() as conn:
        for stmt in WAREHOUSE:
            conn.exec_driver_sql(stmt)
    report = check_source(_mapping())
    assert report.ok, report.summary()
    assert report.rows == {"accounts": 3, "subscriptions": 3, "usage": 3}
    assert report.url == "snowflake://greendoor:***@emulated/ANALYTICS/PUBLIC"
    with snowflake.begin() as conn:
        conn.exec_driver_sql("UPDATE crm.accounts SET created = '03/15/2024' WHERE id = 'A2'")
        conn.exec_driver_sql("INSERT INTO product.daily_usage VALUES "
                             "('ZZ9', DATE '2024-07-03', 'api', 1)")
        conn.exec_driver_sql("INSERT INTO billing.subs VALUES ('S3', 'A3', NULL, 100)")
    report = check_source(_mapping())
    by_rule = {(i.table, i.column, i.rule.split(" (")[0]): i for i in report.issues}
    date = by_rule[("accounts", "signup_date", "not a date")]
    assert date.keys == ("account_id=A2",) and date.values == ("03/15/2024",)
    orphan = by_rule[("usage", "account_id", "no such account in crm.accounts.id")]
    assert orphan.keys == ("account_id=ZZ9, date=2024-07-03, feature=api",)
    assert by_rule[("subscriptions", "start_date", "a value is required")].keys == (
        "subscription_id=S3",)
    assert by_rule[("subscriptions", "subscription_id", "the key is not unique")].count == 1
    assert len(report.issues) == 4, report.summary()
    with snowflake.connect() as conn:  # the check wrote nothing
        assert conn.exec_driver_sql("SELECT count(*) FROM crm.accounts").scalar() == 3


def test_usage_features_computed_on_snowflake_equal_the_stores(snowflake, tmp_path):
    from greendoor.demo import DemoParams, generate
    from greendoor.ingest import import_path
    from greendoor.scoring.features import _usage
    from greendoor.store.engine import init_store, make_engine
    from greendoor.warehouse.features import source_usage_features

    frames = generate(DemoParams(n_accounts=40, months=6, seed=5, as_of=DEMO_AS_OF))
    tables = ["accounts", "subscriptions", "usage"]
    folder = tmp_path / "export"
    folder.mkdir()
    for t in tables:
        frames[t].to_parquet(folder / f"{t}.parquet", index=False, coerce_timestamps="us")
    store = make_engine(f"duckdb:///{tmp_path / 'store.duckdb'}")
    init_store(store)
    assert import_path(store, folder, "canonical").ok
    with snowflake.begin() as conn:
        for t in tables:  # the emulator runs DuckDB underneath: it can read the files
            conn.exec_driver_sql(f"CREATE TABLE {t} AS SELECT * FROM "
                                 f"read_parquet('{folder / f'{t}.parquet'}')")
    as_of = DEMO_AS_OF - dt.timedelta(days=20)
    with store.connect() as conn:
        want = _usage(conn, as_of)
    store.dispose()
    got = source_usage_features(SourceMapping.model_validate(
        {"version": 1, "url": URL, "tables": {t: {"from": t} for t in tables}}), as_of)

    def norm(frame):
        out = frame.sort_values("account_id", ignore_index=True)
        return out[sorted(out.columns)].astype({c: float for c in out.columns
                                                if c != "account_id"})
    assert len(want) > 25 and want["active_users_30d"].sum() > 0
    pd.testing.assert_frame_equal(norm(got), norm(want), rtol=1e-9, atol=0)


def test_a_features_only_sync_from_snowflake_scores_as_the_import(snowflake, tmp_path):
    """``greendoor sync`` with ``usage_mode: features`` from the emulated Snowflake: no
    usage row reaches the store and the scores equal those of the store that imported
    every row (the demo's export; tests/unit/test_warehouse_sync.py builds both)."""
    from greendoor.store import schema
    from greendoor.warehouse.sync import sync_source
    from tests.unit.test_warehouse_sync import _scores, _store, _write_export

    export = _write_export(tmp_path / "export")
    imported = _store(tmp_path / "imported.duckdb")
    from greendoor.ingest import import_path

    assert import_path(imported, export, "canonical").ok
    want = _scores(imported)
    imported.dispose()
    with snowflake.begin() as conn:
        for f in sorted(export.glob("*.parquet")):
            conn.exec_driver_sql(f"CREATE TABLE {f.stem} AS SELECT * FROM read_parquet('{f}')")
    eng = _store(tmp_path / "pushed.duckdb")
    report = sync_source(eng, SourceMapping.model_validate({
        "version": 1, "url": URL, "usage_mode": "features",
        "tables": {f.stem: {"from": f.stem} for f in export.glob("*.parquet")}}),
        backfill_weeks=0)
    assert report.ok, report.summary()
    with eng.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.usage)).scalar() == 0
    pd.testing.assert_frame_equal(_scores(eng), want)
    eng.dispose()
