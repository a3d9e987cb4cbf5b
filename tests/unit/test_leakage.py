"""The leakage harness (issue 17): nothing computed as of a date D may depend on what
was not yet known at D.

``known_at(store, D)`` copies a store and removes everything not yet known at D: rows
dated on or after D; values written later on rows that already existed (a ticket closed,
an invoice paid, a subscription ended, a contact who left, an opportunity won or lost,
its later stage and forecast category) reset to what was known; renewal dates that a
later export overwrote removed (the contract's term is what was known); segments the
import derived from ARR derived again from the contracts known at D (an import at D would
have stored those); the export date set to D. Features, health scores, churn, expansion
and renewal predictions (the same fitted models), drivers, the bottom-up renewal
forecast, and the segment every page files an account under (its filter, its columns,
ARR by segment) as of D must then be the same on the copy as on the full store. The older leakage test in ``test_features.py``
only appends rows after D, so it cannot see leaks through columns whose values were
written later on rows that existed at D; this one can.
"""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import periods, state
from greendoor.analytics import portfolio_health
from greendoor.config import segment_from_arr
from greendoor.demo import DemoParams, load_demo
from greendoor.forecast import renewals as FR
from greendoor.scoring import run as SR
from greendoor.scoring import skill
from greendoor.scoring.churn import NotEnoughData
from greendoor.scoring.health import health_panel
from greendoor.settings import current as current_settings
from greendoor.store import meta, schema
from greendoor.store.engine import init_store, make_engine
from greendoor.store.rollups import refresh_usage_rollups

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def leak_demo(tmp_path_factory):
    """(url, engine) of a demo store long enough to train every model 5 months back."""
    url = f"duckdb:///{tmp_path_factory.mktemp('leak') / 'leak.duckdb'}"
    eng = make_engine(url)
    init_store(eng)
    load_demo(eng, DemoParams(n_accounts=300, months=20, seed=11, as_of=AS_OF))
    yield url, eng
    eng.dispose()


def known_at(source_url: str, path, d: dt.date):
    """A copy of the DuckDB store at ``source_url`` holding only what was known at ``d``."""
    shutil.copy(sa.make_url(source_url).database, path)
    eng = make_engine(f"duckdb:///{path}")
    ts = dt.datetime.combine(d, dt.time())
    t = schema
    with eng.begin() as c:
        c.execute(t.usage.delete().where(t.usage.c.date >= d))
        c.execute(t.tickets.delete().where(t.tickets.c.opened_at >= ts))
        c.execute(t.tickets.update().where(t.tickets.c.closed_at >= ts).values(
            closed_at=None, csat=None, resolution_hours=None))
        c.execute(t.survey_responses.delete().where(t.survey_responses.c.responded_at >= ts))
        c.execute(t.interactions.delete().where(t.interactions.c.occurred_at >= ts))
        c.execute(t.contacts.delete().where(t.contacts.c.started_at >= d))
        c.execute(t.contacts.update().where(t.contacts.c.ended_at >= d).values(
            ended_at=None, active=True))
        c.execute(t.contacts.update().where(t.contacts.c.last_engaged_at >= d).values(
            last_engaged_at=None))
        s = t.subscriptions
        c.execute(s.delete().where(s.c.start_date >= d))
        c.execute(s.update().where(s.c.end_date >= d).values(end_date=None, status="active"))
        # an export taken at d held other renewal dates: nothing may read today's
        c.execute(s.update().where(s.c.term_months.is_not(None)).values(renewal_date=None))
        o = t.opportunities
        c.execute(o.delete().where(o.c.created_at >= d))
        c.execute(o.update().where(sa.or_(o.c.close_date >= d, o.c.status == "open")).values(
            status="open", stage=None, forecast_category=None, probability=None))
        h = t.opportunity_history
        c.execute(h.delete().where(h.c.valid_from > d))
        # an export taken at d held, for those still open, the values logged by then
        logged = pd.read_sql(sa.select(h.c.opportunity_id, h.c.valid_from, h.c.stage,
                                       h.c.forecast_category, h.c.probability), c)
        logged = logged.sort_values("valid_from").drop_duplicates("opportunity_id", keep="last")
        for r in logged.itertuples(index=False):
            c.execute(o.update().where((o.c.opportunity_id == r.opportunity_id)
                                       & (o.c.status == "open")).values(
                stage=r.stage, forecast_category=r.forecast_category,
                probability=None if pd.isna(r.probability) else float(r.probability)))
        c.execute(t.churn_events.delete().where(t.churn_events.c.churn_date >= d))
        c.execute(t.advocacy_activities.delete().where(
            t.advocacy_activities.c.occurred_at >= ts))
        c.execute(t.invoices.delete().where(t.invoices.c.issued_at >= d))
        c.execute(t.invoices.update().where(t.invoices.c.paid_at >= d).values(paid_at=None))
        c.execute(t.accounts.delete().where(t.accounts.c.signup_date >= d))
        # an import at d derived segments from the contracts known then (its rule: the
        # latest contract's ARR, greendoor.ingest._derive_segments)
        a = t.accounts
        subs = pd.read_sql(sa.select(s.c.account_id, s.c.start_date, s.c.arr), c)
        last = (subs.sort_values("start_date").drop_duplicates("account_id", keep="last")
                .set_index("account_id")["arr"])
        rows = [{"aid": aid, "seg": segment_from_arr(arr) if arr and arr > 0 else None}
                for aid, arr in last.items()]
        if rows:
            c.execute(a.update().where(a.c.account_id == sa.bindparam("aid"),
                                       a.c.segment_source == "derived")
                      .values(segment=sa.bindparam("seg")), rows)
        for derived in (t.score_snapshots, t.feature_snapshots, t.alerts, t.model_runs):
            c.execute(derived.delete())
        meta.set_many(c, {"as_of": d.isoformat()})  # the export date is d
        refresh_usage_rollups(c)
    return eng


def all_models_gates() -> skill.Gates:
    """Gates that let every model drive its numbers and every feature be a driver, so
    every code path of scoring runs in the comparison."""
    g = skill.Gates(None)
    g.status = dict.fromkeys(g.MODELS, "skill")
    g.health_status = "skill"
    g.important = {k: list(SR.MODEL_FEATURES) for k in g.MODELS}
    g.band_churn = {"green": 0.01, "yellow": 0.05, "red": 0.2}
    g.band_renewal_loss = {"green": 0.05, "yellow": 0.15, "red": 0.5}
    g.base_rate = g.renewal_base_rate = 0.1
    return g


def as_of_d(engine, d: dt.date, models: dict, gates: skill.Gates) -> dict:
    """Everything computed as of ``d`` on ``engine`` with the given fitted models."""
    with engine.connect() as conn:
        _, settings = current_settings(conn)
    cache = SR.FeatureCache(engine, settings)
    cache.ensure([d])
    out, X, cat, _ = SR._score_date(cache, d, None, models, gates, engine)
    drivers = SR._drivers(models.get("churn"), X, gates, "churn")
    with engine.connect() as conn:
        due = FR.due_in(conn, d, d + dt.timedelta(days=365)).sort_values("account_id",
                                                                       ignore_index=True)
        opps = state.opportunities_as_of(conn, d).sort_values("opportunity_id",
                                                              ignore_index=True)
        segments = state.segments_at(conn, d).sort_index()
        by_segment = portfolio_health.by_segment(conn, periods.Filters(as_of=d)).sort_values(
            "segment", ignore_index=True)
    return {"segments": segments, "by_segment": by_segment, "features": cache.features[d], "health": health_panel(cache.features[d], settings)[0],
            "scores": out.drop(columns=["details_json"]), "categories": cat,
            "drivers": drivers, "due": due, "opportunities": opps}


def fitted_models(engine, d: dt.date) -> dict:
    """The churn, expansion and renewal models trained on outcomes known by ``d``."""
    with engine.connect() as conn:
        _, settings = current_settings(conn)
        start = SR.data_start(conn)
    cache = SR.FeatureCache(engine, settings)
    dates = SR.training_dates(d, start)
    cache.ensure(dates)
    models = {}
    for kind, (label_fn, renewal_only) in SR.KINDS.items():
        try:
            models[kind] = SR._train(cache, dates, label_fn, renewal_only)[0]
        except NotEnoughData:
            models[kind] = None
    return models


def assert_same(full: dict, cut: dict, where: str) -> None:
    for key in ("features", "health", "scores"):
        pd.testing.assert_frame_equal(full[key], cut[key], check_exact=False, rtol=1e-9,
                                      obj=f"{where}: {key}")
    pd.testing.assert_series_equal(full["categories"], cut["categories"], obj=f"{where}: cats")
    assert full["drivers"].keys() == cut["drivers"].keys(), f"{where}: driver accounts differ"
    for acct, ds in full["drivers"].items():  # contributions to float noise (sums' order)
        other = cut["drivers"][acct]
        assert [x["feature"] for x in ds] == [x["feature"] for x in other], (where, acct)
        assert np.allclose([x["contribution"] for x in ds], [x["contribution"] for x in other],
                           atol=2e-4), (where, acct)
    pd.testing.assert_frame_equal(full["due"], cut["due"], obj=f"{where}: renewals due")
    cols = ["opportunity_id", "status", "stage", "forecast_category", "probability", "known"]
    pd.testing.assert_frame_equal(full["opportunities"][cols], cut["opportunities"][cols],
                                  obj=f"{where}: opportunities")
    # the accounts known at D: a later signup has no segment at D on the full store
    seg = full["segments"][full["segments"].index.isin(cut["segments"].index)]
    pd.testing.assert_series_equal(seg, cut["segments"], obj=f"{where}: segments")
    pd.testing.assert_frame_equal(full["by_segment"], cut["by_segment"],
                                  obj=f"{where}: ARR by segment")


DEMO_DATES = [AS_OF - dt.timedelta(days=n) for n in (150, 75, 20)]


@pytest.mark.parametrize("d", DEMO_DATES, ids=str)
def test_demo_as_of_a_past_date_uses_only_what_was_known(leak_demo, tmp_path, d):
    url, eng = leak_demo
    models = fitted_models(eng, d)
    assert any(m is not None for m in models.values())  # the comparison exercises models
    gates = all_models_gates()
    full = as_of_d(eng, d, models, gates)
    cut_eng = known_at(url, tmp_path / "known.duckdb", d)
    cut = as_of_d(cut_eng, d, models, gates)
    cut_eng.dispose()
    assert len(full["features"]) > 50 and full["due"]["renewal_basis"].eq("contract").all()
    # the demo writes each opportunity's stage history, so every one open at d is known
    # through it (the path where history and the export disagree is exercised)
    assert full["opportunities"]["known"].all() and len(full["opportunities"]) > 0
    assert_same(full, cut, f"demo at {d}")


def _ravenstack_dates(engine) -> list[dt.date]:
    with engine.connect() as conn:
        end = SR.default_as_of(conn)
    return [end - dt.timedelta(days=n) for n in (300, 180, 60)]


def test_ravenstack_as_of_past_dates_uses_only_what_was_known(ravenstack_store, tmp_path):
    url, eng = ravenstack_store
    gates = all_models_gates()
    for i, d in enumerate(_ravenstack_dates(eng)):
        models = fitted_models(eng, d)
        full = as_of_d(eng, d, models, gates)
        cut_eng = known_at(url, tmp_path / f"known{i}.duckdb", d)
        cut = as_of_d(cut_eng, d, models, gates)
        cut_eng.dispose()
        assert len(full["features"]) > 50
        assert_same(full, cut, f"RavenStack at {d}")


def test_the_harness_catches_a_leak_through_an_overwritten_column(leak_demo, tmp_path,
                                                                  monkeypatch):
    """The harness can fail: reading the exported renewal_date (the leak this issue
    found: for month-to-month churners it holds the churn date) breaks the comparison."""
    url, eng = leak_demo
    d = DEMO_DATES[0]

    def leaky(conn, when):
        s = schema.subscriptions
        rows = pd.read_sql(sa.select(s.c.account_id, s.c.renewal_date).where(
            s.c.start_date < when, sa.or_(s.c.end_date.is_(None), s.c.end_date >= when),
            s.c.renewal_date >= when), conn)
        rows = rows.groupby("account_id")["renewal_date"].min().reset_index()
        rows["next_renewal"] = pd.to_datetime(rows.pop("renewal_date"))
        rows["days_to_renewal"] = (rows["next_renewal"] - pd.Timestamp(when)).dt.days.astype(float)
        return rows.assign(basis="stored", term_months=np.nan, auto_renew=np.nan)

    monkeypatch.setattr(state, "next_renewals", leaky)
    full = as_of_d(eng, d, {}, all_models_gates())
    cut_eng = known_at(url, tmp_path / "known.duckdb", d)
    cut = as_of_d(cut_eng, d, {}, all_models_gates())
    cut_eng.dispose()
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(full["features"], cut["features"])


def test_a_segment_less_reimport_scores_like_the_demo(leak_demo, tmp_path):
    """Before: imported without a ``segment`` column, the demo's accounts got a segment
    from their *current* ARR, so every churned account had none: churn AUC 0.9999 (0.921
    with the true segment). Now derived segments follow the ARR in force at each date,
    and no model's backtest AUC moves by more than 0.02: the leak moved it by 0.08, and a
    derived segment is not the true one for accounts near a band's edge (the expansion
    AUC differs by 0.011 on this portfolio since the demo gained its experiment)."""
    from greendoor.demo import generate
    from greendoor.ingest import import_path
    from greendoor.store.engine import init_store

    url, eng = leak_demo
    frames = generate(DemoParams(n_accounts=300, months=20, seed=11, as_of=AS_OF))
    folder = tmp_path / "export"
    folder.mkdir()
    for name, df in frames.items():
        (df.drop(columns=["segment"]) if name == "accounts" else df).to_csv(
            folder / f"{name}.csv", index=False)
    other = make_engine(f"duckdb:///{tmp_path / 'reimport.duckdb'}")
    init_store(other)
    report = import_path(other, folder, "canonical")
    assert report.ok, report.summary()
    with other.connect() as conn:
        derived = conn.execute(sa.select(sa.func.count()).select_from(schema.accounts).where(
            schema.accounts.c.segment_source == "derived")).scalar()
    assert derived == 300
    a = SR.evaluate(eng, as_of=AS_OF)
    b = SR.evaluate(other, as_of=AS_OF)
    for kind in ("churn", "renewal", "expansion"):
        if "test" in a[kind] and "test" in b[kind]:
            assert abs(a[kind]["test"]["auc"] - b[kind]["test"]["auc"]) <= 0.02, (
                kind, a[kind]["test"]["auc"], b[kind]["test"]["auc"])
    assert abs(a["health"]["auc_low_health"] - b["health"]["auc_low_health"]) <= 0.01


def test_the_harness_catches_a_page_filing_accounts_under_todays_segment(
        ravenstack_store, tmp_path, monkeypatch):
    """RavenStack gives no segments: the import derives them from the latest contract.
    Filing accounts under that stored segment at a past date (what every page's segment
    filter and column did before) breaks the comparison; the segment as known then does
    not (:func:`test_ravenstack_as_of_past_dates_uses_only_what_was_known`)."""
    url, eng = ravenstack_store
    d = _ravenstack_dates(eng)[0]
    a = schema.accounts
    monkeypatch.setattr(state, "segment_at_query",
                        lambda when: sa.select(a.c.account_id, a.c.segment))
    full = as_of_d(eng, d, {}, all_models_gates())
    cut_eng = known_at(url, tmp_path / "known.duckdb", d)
    cut = as_of_d(cut_eng, d, {}, all_models_gates())
    cut_eng.dispose()
    with pytest.raises(AssertionError, match="segments"):
        assert_same(full, cut, "RavenStack, stored segments")
