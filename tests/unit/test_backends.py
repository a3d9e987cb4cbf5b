"""The same demo store on PostgreSQL and on DuckDB gives the same numbers: GRR, NRR,
KPIs, health scores, bands, churn and renewal probabilities (to 1e-9), and every
analytics read model."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import periods
from greendoor.analytics import portfolio_health
from greendoor.demo import DemoParams, load_demo
from greendoor.metrics import sql as msql
from greendoor.scoring.run import score
from greendoor.store import schema
from greendoor.store.engine import init_store, make_engine
from tests.conftest import assume_skill, pg_database

AS_OF = dt.date(2026, 6, 30)
PARAMS = DemoParams(n_accounts=120, months=12, seed=11, as_of=AS_OF)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    engines = {}
    with pg_database() as pg_url:
        for name, url in (("duckdb", f"duckdb:///{tmp_path_factory.mktemp('b') / 'b.duckdb'}"),
                          ("postgresql", pg_url)):
            eng = make_engine(url)
            init_store(eng)
            load_demo(eng, PARAMS)
            assume_skill(eng)  # the models drive the numbers compared below
            score(eng, backfill_weeks=3, evaluate_models=False)
            engines[name] = eng
        yield engines
        for eng in engines.values():
            eng.dispose()


def test_retention_and_kpis_are_equal(both):
    out = {}
    for name, eng in both.items():
        with eng.connect() as conn:
            out[name] = {
                "t12m": msql.retention(conn, AS_OF - dt.timedelta(days=365), AS_OF),
                "q": msql.retention(conn, AS_OF - dt.timedelta(days=90), AS_OF, segment="smb"),
                "kpis": portfolio_health.kpis(conn, periods.Filters(AS_OF)),
            }
    d, p = out["duckdb"], out["postgresql"]
    for key in ("t12m", "q", "kpis"):
        assert d[key].keys() == p[key].keys()
        for k in d[key]:
            assert d[key][k] == pytest.approx(p[key][k], rel=1e-9, abs=1e-9, nan_ok=True), (key, k)
    assert 0.5 < d["t12m"]["grr"] <= 1 and d["t12m"]["nrr"] > 0.5  # real figures, not empty


def _snapshots(eng) -> pd.DataFrame:
    ss = schema.score_snapshots
    with eng.connect() as conn:
        df = pd.read_sql(sa.select(ss.c.account_id, ss.c.as_of, ss.c.health_score, ss.c.band,
                                   ss.c.trend, ss.c.confidence, ss.c.churn_probability,
                                   ss.c.risk_index, ss.c.renewal_probability,
                                   ss.c.expansion_probability, ss.c.arr), conn)
    df["as_of"] = pd.to_datetime(df["as_of"])
    return df.sort_values(["as_of", "account_id"], ignore_index=True)


def test_scores_are_equal(both):
    d, p = _snapshots(both["duckdb"]), _snapshots(both["postgresql"])
    assert len(d) == len(p) > 0
    assert (d[["account_id", "as_of", "band", "trend"]].equals(
        p[["account_id", "as_of", "band", "trend"]]))
    for col in ("health_score", "confidence", "churn_probability", "risk_index",
                "renewal_probability", "expansion_probability", "arr"):
        a, b = d[col].to_numpy(float), p[col].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        ok = ~np.isnan(a)
        assert np.allclose(a[ok], b[ok], rtol=1e-9, atol=1e-9), (col, np.abs(a[ok] - b[ok]).max())
    assert d["churn_probability"].notna().any()  # the models did score


def test_analytics_read_models_are_equal(both):
    from greendoor.analytics import advocacy, behavior, expansion, segments

    f = periods.Filters(AS_OF)
    frames = {}
    for name, eng in both.items():
        with eng.connect() as conn:
            frames[name] = {
                "pipeline": expansion.open_pipeline(conn, f).drop(columns=["created_at"]),
                "adoption": behavior.feature_adoption(conn, f),
                "active": behavior.active_users(conn, f, weeks=4),
                "cohorts": behavior.cohort_retention(conn, f),
                "advocates": advocacy.advocates_vs_others(conn, f),
                "bands": segments.band_migration(conn, f, AS_OF - dt.timedelta(days=14)),
            }
    for key, a in frames["duckdb"].items():
        b = frames["postgresql"][key]
        sort = [c for c in ("account_id", "opportunity_id", "feature", "week_end", "cohort", "age",
                            "group") if c in a.columns]
        a = a.sort_values(sort, ignore_index=True) if sort else a
        b = b.sort_values(sort, ignore_index=True) if sort else b
        pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9,
                                      atol=1e-9, obj=key)


def test_rescoring_updates_in_place_on_both(both):
    """Rescoring the as-of date updates its snapshots in place and keeps the alerts raised
    again unchanged, on PostgreSQL as on DuckDB (the upsert and the alert diff)."""
    al, ss = schema.alerts, schema.score_snapshots

    def scored_at(eng):
        with eng.connect() as conn:
            return pd.read_sql(sa.select(ss.c.scored_at).where(ss.c.as_of == AS_OF), conn)["scored_at"]

    def alert_ids(eng):
        with eng.connect() as conn:
            return set(pd.read_sql(sa.select(al.c.alert_id).where(al.c.as_of == AS_OF), conn)["alert_id"])

    for name, eng in both.items():
        before, first, ids = _snapshots(eng), scored_at(eng).max(), alert_ids(eng)
        score(eng, backfill_weeks=0, evaluate_models=False)
        after = _snapshots(eng)
        assert after[["account_id", "as_of", "band"]].equals(before[["account_id", "as_of", "band"]])
        assert (scored_at(eng) > first).all(), name
        assert ids and alert_ids(eng) == ids, name
