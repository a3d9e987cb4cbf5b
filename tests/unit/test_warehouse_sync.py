"""`greendoor sync` from a warehouse source (issue 24): the demo's export read from a
DuckDB warehouse or by Spark over its Parquet files gives the same store, health
scores and churn probabilities as importing the files; a second sync after one more
day of usage reads only that day and ends where a full sync does."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor.demo import DemoParams, generate
from greendoor.ingest import import_path
from greendoor.ingest.contract import CONTRACT
from greendoor.scoring.run import score
from greendoor.store import schema
from greendoor.store.backup import content_digest
from greendoor.store.engine import init_store, make_engine
from greendoor.warehouse.mapping import SourceMapping
from greendoor.warehouse.sync import sync_source
from tests.conftest import DEMO_AS_OF, assume_skill

SCORES = ["account_id", "health_score", "band", "churn_probability", "risk_basis"]


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """The demo's canonical tables as Parquet files (60 accounts, 8 months)."""
    return _write_export(tmp_path_factory.mktemp("export"))


def _write_export(folder: Path) -> Path:
    """:func:`export` into ``folder``: times to the second (the demo's have nanoseconds,
    which DuckDB truncates to microseconds and the import rounds: a difference no real
    export has)."""
    frames = generate(DemoParams(n_accounts=60, months=8, seed=3, as_of=DEMO_AS_OF))
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        if name in CONTRACT and len(df):
            for c in df.select_dtypes("datetime").columns:
                df[c] = df[c].dt.floor("s")
            # microseconds, as Spark writes them (it cannot read nanosecond Parquet)
            df.to_parquet(folder / f"{name}.parquet", index=False, coerce_timestamps="us")
    return folder


@pytest.fixture(scope="module")
def imported(export, tmp_path_factory):
    """(engine, content digest, scores) of a store that imported the files."""
    eng = _store(tmp_path_factory.mktemp("imported") / "s.duckdb")
    report = import_path(eng, export, "canonical")
    assert report.ok, report.summary()
    with eng.connect() as conn:
        digest = content_digest(conn)
    yield eng, digest, _scores(eng)
    eng.dispose()


def _store(path: Path):
    eng = make_engine(f"duckdb:///{path}")
    init_store(eng)
    return eng


def _scores(eng) -> pd.DataFrame:
    assume_skill(eng)  # as in the shared demo store: the models drive the numbers
    run = score(eng, backfill_weeks=0, evaluate_models=False)
    ss = schema.score_snapshots
    with eng.connect() as conn:
        df = pd.read_sql(sa.select(*(ss.c[c] for c in SCORES)).where(ss.c.as_of == run.as_of),
                         conn)
    return df.sort_values("account_id", ignore_index=True)


def _mapping(tables, **source) -> SourceMapping:
    return SourceMapping.model_validate(
        {"version": 1, **source, "tables": {t: {"from": t} for t in tables}})


def _warehouse(export: Path, path: Path, before: str | None = None) -> str:
    """A DuckDB warehouse holding the export's tables (usage before ``before``)."""
    url = f"duckdb:///{path}"
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        for f in sorted(export.glob("*.parquet")):
            where = f" WHERE date < DATE '{before}'" if before and f.stem == "usage" else ""
            conn.exec_driver_sql(f"CREATE TABLE {f.stem} AS SELECT * FROM "
                                 f"read_parquet('{f}'){where}")
    eng.dispose()
    return url


def _add_usage_day(url: str, export: Path, day) -> None:
    """The warehouse at ``url`` gains the export's usage rows of ``day``."""
    wh = sa.create_engine(url)
    with wh.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO usage SELECT * FROM read_parquet("
                             f"'{export / 'usage.parquet'}') WHERE date = DATE '{day:%Y-%m-%d}'")
    wh.dispose()


def test_a_sync_gives_the_store_and_scores_of_an_import(export, imported, tmp_path):
    _, digest, scores = imported
    url = _warehouse(export, tmp_path / "wh.duckdb")
    eng = _store(tmp_path / "synced.duckdb")
    report = sync_source(eng, _mapping([f.stem for f in export.glob("*.parquet")], url=url))
    assert report.ok, report.summary()
    usage_rows = len(pd.read_parquet(export / "usage.parquet"))
    assert report.rows_read["usage"] == usage_rows
    with eng.connect() as conn:
        assert content_digest(conn) == digest
    pd.testing.assert_frame_equal(_scores(eng), scores)
    last = pd.read_parquet(export / "usage.parquet")["date"].max()
    assert f"usage synced up to {last:%Y-%m-%d}" in report.summary()
    eng.dispose()


def test_a_sync_copies_a_sql_source_in_chunks_and_gives_the_same_store(
        export, imported, tmp_path, monkeypatch):
    """A SQL source's tables are copied 1,000 rows at a time (memory bounded by the
    chunk, not the table) with one Parquet schema for every chunk: the store is the
    import's, row for row."""
    from greendoor.warehouse import check

    monkeypatch.setattr(check, "CHUNK_ROWS", 1000)
    _, digest, _ = imported
    url = _warehouse(export, tmp_path / "wh.duckdb")
    eng = _store(tmp_path / "synced.duckdb")
    report = sync_source(eng, _mapping([f.stem for f in export.glob("*.parquet")], url=url))
    assert report.ok, report.summary()
    assert report.rows_read["usage"] > 20 * 1000  # many chunks
    with eng.connect() as conn:
        assert content_digest(conn) == digest
    eng.dispose()


def test_a_second_sync_reads_only_the_new_day_and_ends_where_a_full_sync_does(
        export, imported, tmp_path):
    _, digest, _ = imported
    usage = pd.read_parquet(export / "usage.parquet")
    last = usage["date"].max()
    url = _warehouse(export, tmp_path / "wh.duckdb", before=f"{last:%Y-%m-%d}")
    mapping = _mapping([f.stem for f in export.glob("*.parquet")], url=url)
    eng = _store(tmp_path / "synced.duckdb")
    first = sync_source(eng, mapping)
    assert first.ok and first.watermark_after == f"{last - pd.Timedelta(days=1):%Y-%m-%d}"
    # the warehouse gains one more day of usage
    _add_usage_day(url, export, last)
    second = sync_source(eng, mapping)
    assert second.ok, second.summary()
    assert second.rows_read["usage"] == int((usage["date"] == last).sum()) > 0
    assert second.watermark_before == first.watermark_after
    assert second.watermark_after == f"{last:%Y-%m-%d}"
    assert "incremental: usage after" in second.summary()
    with eng.connect() as conn:
        assert content_digest(conn) == digest
    third = sync_source(eng, mapping)  # nothing new: no usage read, nothing changes
    assert third.ok and third.rows_read["usage"] == 0
    with eng.connect() as conn:
        assert content_digest(conn) == digest
    eng.dispose()


def test_a_source_that_fails_its_check_syncs_nothing(export, tmp_path):
    url = _warehouse(export, tmp_path / "wh.duckdb")
    wh = sa.create_engine(url)
    with wh.begin() as conn:
        conn.exec_driver_sql("UPDATE usage SET account_id = 'NOBODY' WHERE rowid = 0")
    wh.dispose()
    eng = _store(tmp_path / "synced.duckdb")
    with eng.connect() as conn:
        empty = content_digest(conn)
    report = sync_source(eng, _mapping([f.stem for f in export.glob("*.parquet")], url=url))
    assert not report.ok and report.imported is None
    assert "no such account" in report.summary() and "sync stopped" in report.summary()
    with eng.connect() as conn:
        assert content_digest(conn) == empty
    eng.dispose()


def test_a_spark_sync_gives_the_scores_of_the_duckdb_import(export, imported, spark, tmp_path):
    _, digest, scores = imported
    views = {f.stem: str(f) for f in export.glob("*.parquet")}
    mapping = _mapping(list(views), spark={"master": "local[1]", "views": views})
    eng = _store(tmp_path / "spark.duckdb")
    report = sync_source(eng, mapping, spark=spark)
    assert report.ok, report.summary()
    with eng.connect() as conn:
        assert content_digest(conn) == digest
    pd.testing.assert_frame_equal(_scores(eng), scores)
    eng.dispose()


def test_the_command_line_syncs_then_syncs_only_what_is_new(export, tmp_path, capsys):
    import yaml

    from greendoor.cli import main

    url = _warehouse(export, tmp_path / "wh.duckdb")
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "url": url, "tables": {
        f.stem: {"from": f.stem} for f in export.glob("*.parquet")}}))
    store = f"duckdb:///{tmp_path / 'store.duckdb'}"
    assert main(["--db-url", store, "sync", str(path)]) == 0
    first = capsys.readouterr().out
    assert "(full)" in first and "usage synced up to" in first
    assert main(["--db-url", store, "sync", str(path)]) == 0
    again = capsys.readouterr().out
    assert "incremental: usage after" in again
    assert next(line for line in again.splitlines() if line.strip().startswith("usage ")
                ).split()[1] == "0"


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values("account_id", ignore_index=True)
    return out[sorted(out.columns)].astype({c: float for c in out.columns if c != "account_id"})


def test_usage_features_computed_on_each_engine_equal_the_stores(export, imported, spark,
                                                                  tmp_path):
    """The point-in-time usage features, computed on DuckDB, PostgreSQL and Spark from the
    warehouse's rows, equal those the store computes from the imported rows (to 1e-9)."""
    from greendoor.scoring.features import _usage
    from greendoor.warehouse.features import source_usage_features
    from tests.conftest import pg_database

    eng, _, _ = imported
    as_of = DEMO_AS_OF - pd.Timedelta(days=20).to_pytimedelta()  # a past date, data after it
    with eng.connect() as conn:
        expected = _features(_usage(conn, as_of))
    assert len(expected) > 40 and expected["active_users_30d"].sum() > 0
    tables = ["accounts", "subscriptions", "usage"]
    got = {"duckdb": source_usage_features(
        _mapping(tables, url=_warehouse(export, tmp_path / "wh.duckdb")), as_of)}
    views = {t: str(export / f"{t}.parquet") for t in tables}
    got["spark"] = source_usage_features(
        _mapping(tables, spark={"master": "local[1]", "views": views}), as_of, spark=spark)
    with pg_database() as url:
        pg = sa.create_engine(url)
        for t in tables:
            pd.read_parquet(export / f"{t}.parquet").to_sql(t, pg, index=False, chunksize=20_000)
        got["postgresql"] = source_usage_features(_mapping(tables, url=url), as_of)
        pg.dispose()
    for engine, frame in got.items():
        pd.testing.assert_frame_equal(_features(frame), expected, rtol=1e-9, atol=0,
                                      obj=f"usage features on {engine}")


# --- usage_mode: features: the usage stays in the warehouse (issue 24) -------------

def _features_mapping(export: Path, **source) -> SourceMapping:
    return SourceMapping.model_validate({
        "version": 1, **source, "usage_mode": "features",
        "tables": {f.stem: {"from": f.stem} for f in export.glob("*.parquet")}})


def _stored(eng, table) -> int:
    with eng.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_features_mode_brings_back_only_per_account_rows_and_scores_the_same(
        export, imported, tmp_path):
    """No usage row reaches the store, only one row per account and as-of date the
    scoring needs, and the scores equal those of the store that imported every row."""
    _, _, scores = imported
    url = _warehouse(export, tmp_path / "wh.duckdb")
    eng = _store(tmp_path / "pushed.duckdb")
    report = sync_source(eng, _features_mapping(export, url=url), backfill_weeks=0)
    assert report.ok, report.summary()
    assert report.rows_read["usage"] == 0 and _stored(eng, schema.usage) == 0
    accounts = _stored(eng, schema.accounts)
    assert report.feature_rows == _stored(eng, schema.usage_features) > 0
    # at most one row per account and date: per-account rows, not usage rows
    assert report.feature_rows <= accounts * len(report.feature_dates)
    assert report.feature_rows < len(pd.read_parquet(export / "usage.parquet")) / 20
    assert f"{len(report.feature_dates)} new dates" in report.summary()
    pd.testing.assert_frame_equal(_scores(eng), scores)
    eng.dispose()


def test_features_mode_second_sync_computes_only_the_new_dates(export, imported, tmp_path):
    _, _, scores = imported
    usage = pd.read_parquet(export / "usage.parquet")
    last = usage["date"].max()
    url = _warehouse(export, tmp_path / "wh.duckdb", before=f"{last:%Y-%m-%d}")
    mapping = _features_mapping(export, url=url)
    eng = _store(tmp_path / "pushed.duckdb")
    first = sync_source(eng, mapping, backfill_weeks=0)
    assert first.ok, first.summary()
    _add_usage_day(url, export, last)
    second = sync_source(eng, mapping, backfill_weeks=0)
    assert second.ok, second.summary()
    as_of = (last + pd.Timedelta(days=1)).date()
    # the first sync computed the as-of date too (tickets reach the last day) without
    # its last usage day; the second computes that date again, and only that date
    assert as_of.isoformat() in first.feature_dates and len(first.feature_dates) > 1
    assert second.feature_dates == [as_of.isoformat()]
    pd.testing.assert_frame_equal(_scores(eng), scores)
    # the same aggregates as a full sync of the whole warehouse
    full = _store(tmp_path / "full.duckdb")
    assert sync_source(full, mapping, backfill_weeks=0).ok
    t = schema.usage_features
    q = sa.select(t).where(t.c.as_of == as_of).order_by(t.c.account_id)
    with eng.connect() as a, full.connect() as b:
        pd.testing.assert_frame_equal(pd.read_sql(q, a), pd.read_sql(q, b))
    eng.dispose()
    full.dispose()


def test_features_mode_refuses_a_store_with_usage_rows_and_scoring_a_date_not_computed(
        export, imported, tmp_path):
    from greendoor.warehouse.sync import SyncRefused

    url = _warehouse(export, tmp_path / "wh.duckdb")
    eng = _store(tmp_path / "rows.duckdb")
    assert sync_source(eng, _mapping([f.stem for f in export.glob("*.parquet")], url=url)).ok
    with eng.connect() as conn:
        before = content_digest(conn)
    with pytest.raises(SyncRefused, match="holds usage rows"):
        sync_source(eng, _features_mapping(export, url=url))
    with eng.connect() as conn:
        assert content_digest(conn) == before and _stored(eng, schema.usage_features) == 0
    pushed = _store(tmp_path / "pushed.duckdb")
    assert sync_source(pushed, _features_mapping(export, url=url), backfill_weeks=0).ok
    with pytest.raises(SyncRefused, match="keeps its usage in the warehouse"):
        sync_source(pushed, _mapping([f.stem for f in export.glob("*.parquet")], url=url))
    past = DEMO_AS_OF - pd.Timedelta(days=10).to_pytimedelta()  # never synced for
    with pytest.raises(ValueError, match="usage stays in the warehouse.*not in the store"):
        score(pushed, as_of=past, backfill_weeks=0)
    eng.dispose()
    pushed.dispose()


def test_features_mode_on_spark_scores_as_the_duckdb_import(export, imported, spark, tmp_path):
    _, _, scores = imported
    views = {f.stem: str(f) for f in export.glob("*.parquet")}
    mapping = _features_mapping(export, spark={"master": "local[1]", "views": views})
    eng = _store(tmp_path / "spark.duckdb")
    report = sync_source(eng, mapping, spark=spark, backfill_weeks=0)
    assert report.ok, report.summary()
    assert _stored(eng, schema.usage) == 0 and report.feature_rows > 0
    pd.testing.assert_frame_equal(_scores(eng), scores)
    eng.dispose()


def test_the_aggregates_stored_are_the_columns_scoring_reads(export, tmp_path):
    """schema.USAGE_AGGREGATES is exactly what usage_selects computes."""
    from greendoor.warehouse.features import source_usage_features

    url = _warehouse(export, tmp_path / "wh.duckdb")
    got = source_usage_features(_mapping(["accounts", "subscriptions", "usage"], url=url),
                                DEMO_AS_OF)
    assert list(got.columns) == ["account_id", *schema.USAGE_AGGREGATES]


def test_weekly_active_users_from_the_aggregates_equal_those_from_the_rows(
        export, imported, tmp_path):
    """Behavior on a store whose usage stays in the warehouse: WAU and MAU summed from
    the accounts' aggregates equal the distinct users counted from the rows, week by
    week; DAU is the 30-day mean (user-days / 30), by hand from the rows."""
    from greendoor.analytics.behavior import active_users, active_users_from_aggregates
    from greendoor.periods import Filters, default_as_of

    eng_rows, _, _ = imported
    url = _warehouse(export, tmp_path / "wh.duckdb")
    eng = _store(tmp_path / "pushed.duckdb")
    assert sync_source(eng, _features_mapping(export, url=url), backfill_weeks=3).ok
    with eng.connect() as conn:
        f = Filters(as_of=default_as_of(conn), segment="smb")
        got = active_users_from_aggregates(conn, f).set_index("week_end")
    with eng_rows.connect() as conn:
        want = active_users(conn, f).set_index("week_end")
    assert len(got) >= 4  # the as-of date, 3 weeks of backfill, training dates on the grid
    pd.testing.assert_series_equal(got["wau"], want.loc[got.index, "wau"].astype(float))
    pd.testing.assert_series_equal(got["mau"], want.loc[got.index, "mau"].astype(float))
    usage = pd.read_parquet(export / "usage.parquet")
    smb = set(pd.read_parquet(export / "accounts.parquet").query("segment == 'smb'")
              ["account_id"])
    d = pd.Timestamp(f.as_of)
    window = usage[(usage["date"] >= d - pd.Timedelta(days=30)) & (usage["date"] < d)
                   & (usage["events"] > 0) & usage["account_id"].isin(smb)]
    user_days = len(window[["account_id", "user_id", "date"]].drop_duplicates())
    assert got["dau"].iloc[-1] == pytest.approx(user_days / 30)
    eng.dispose()


def test_weekly_active_users_at_a_past_date_between_synced_weeks(export, tmp_path):
    """A past as-of date that is not a synced week shows the weeks ending on the latest
    synced date before it, never a date after it."""
    from greendoor.analytics.behavior import active_users_from_aggregates
    from greendoor.periods import Filters, default_as_of

    url = _warehouse(export, tmp_path / "wh.duckdb")
    eng = _store(tmp_path / "pushed.duckdb")
    assert sync_source(eng, _features_mapping(export, url=url), backfill_weeks=3).ok
    with eng.connect() as conn:
        as_of = default_as_of(conn)
        past = as_of - pd.Timedelta(days=10).to_pytimedelta()  # between two synced weeks
        got = active_users_from_aggregates(conn, Filters(as_of=past))
        early = active_users_from_aggregates(conn, Filters(as_of=as_of.replace(year=2000)))
    eng.dispose()
    assert got["week_end"].iloc[-1] == as_of - pd.Timedelta(days=14).to_pytimedelta()
    assert (got["week_end"] <= past).all() and (got["mau"] > 0).all()
    assert early.empty


def test_a_sync_from_postgresql_in_chunks_gives_the_same_store(export, imported, tmp_path,
                                                                 monkeypatch):
    """The same from PostgreSQL (a server-side cursor in a READ ONLY transaction;
    NUMERIC and TIMESTAMP columns as pandas writes them)."""
    from greendoor.warehouse import check
    from tests.conftest import pg_database

    monkeypatch.setattr(check, "CHUNK_ROWS", 5000)
    _, digest, _ = imported
    with pg_database() as url:
        pg = sa.create_engine(url)
        for f in sorted(export.glob("*.parquet")):
            pd.read_parquet(f).to_sql(f.stem, pg, index=False, chunksize=20_000)
        pg.dispose()
        eng = _store(tmp_path / "synced.duckdb")
        report = sync_source(eng, _mapping([f.stem for f in export.glob("*.parquet")],
                                           url=url))
        assert report.ok, report.summary()
        with eng.connect() as conn:
            assert content_digest(conn) == digest
        eng.dispose()


def test_a_features_sync_that_stops_halfway_leaves_no_stale_date(export, imported, tmp_path,
                                                                 monkeypatch):
    """The first sync computed the as-of date before its last usage day had arrived; a
    second sync that stops after recording the new usage day drops that date (scoring
    it says so instead of using stale numbers), and the next sync computes it."""
    from greendoor.scoring import run as scoring_run
    from greendoor.store.usage_features import pushed

    _, _, scores = imported
    usage = pd.read_parquet(export / "usage.parquet")
    last = usage["date"].max()
    url = _warehouse(export, tmp_path / "wh.duckdb", before=f"{last:%Y-%m-%d}")
    mapping = _features_mapping(export, url=url)
    eng = _store(tmp_path / "pushed.duckdb")
    first = sync_source(eng, mapping, backfill_weeks=0)
    as_of = (last + pd.Timedelta(days=1)).date()
    assert first.ok and as_of.isoformat() in first.feature_dates
    _add_usage_day(url, export, last)

    def stop(*a, **k):
        raise RuntimeError("the sync stops here")

    monkeypatch.setattr(scoring_run, "feature_dates", stop)
    with pytest.raises(RuntimeError, match="stops here"):
        sync_source(eng, mapping, backfill_weeks=0)
    with eng.connect() as conn:
        assert as_of not in pushed(conn).dates
    with pytest.raises(ValueError, match="not in the store"):
        score(eng, as_of=as_of, backfill_weeks=0, evaluate_models=False)
    monkeypatch.undo()
    third = sync_source(eng, mapping, backfill_weeks=0)
    assert third.ok and third.feature_dates == [as_of.isoformat()]
    pd.testing.assert_frame_equal(_scores(eng), scores)
    eng.dispose()
