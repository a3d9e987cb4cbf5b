"""Forecasting on series with known answers; renewal simulation; `greendoor forecast`."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor.demo import DemoParams, load_demo
from greendoor.forecast import CannotFit, backtest, fit_forecast
from greendoor.forecast import metrics as FM
from greendoor.forecast.models import Z, seasonal_naive
from greendoor.forecast.renewals import simulate
from greendoor.forecast.run import run_forecasts
from greendoor.scoring.run import score
from greendoor.store import schema
from greendoor.store.engine import init_store, make_engine

DS = pd.date_range("2023-01-01", periods=30, freq="MS")
PATTERN = np.array([10, 12, 15, 11, 9, 8, 7, 9, 12, 14, 16, 20], dtype=float)


def seasonal_series():
    return pd.DataFrame({"ds": DS, "y": np.tile(PATTERN, 3)[:30]})


def trend_series():
    return pd.DataFrame({"ds": DS, "y": 100 + 5.0 * np.arange(30)})


def test_metrics_hand_computed():
    assert FM.mape([100, 200], [110, 180]) == pytest.approx((0.1 + 0.1) / 2)
    assert FM.mape([0, 100], [5, 90]) == pytest.approx(0.1)  # zero actual skipped
    assert FM.smape([100], [50]) == pytest.approx(2 * 50 / 150)
    assert FM.mase_scale([1, 2, 4, 7], 1) == pytest.approx((1 + 2 + 3) / 3)
    assert FM.mase_scale([1, 2, 4, 7, 11], 2) == pytest.approx((3 + 5 + 7) / 3)
    assert FM.coverage([1, 5, 9], [0, 6, 8], [2, 7, 10]) == pytest.approx(2 / 3)


def test_seasonal_naive_is_exact_on_a_purely_seasonal_series():
    bt = backtest(seasonal_series(), 3).set_index("model")
    sn = bt.loc["seasonal_naive"]
    assert sn["status"] == "ok" and sn["cutoffs"] == 12  # 14 possible, MAX_CUTOFFS kept
    assert sn["mape"] == 0 and sn["mase"] == 0 and sn["coverage"] == 1.0
    f = fit_forecast(seasonal_series(), 12, "seasonal_naive")
    assert f["yhat"].tolist() == pytest.approx(list(np.roll(PATTERN, -6)))  # months 31..42
    # auto finds it
    auto = fit_forecast(seasonal_series(), 3)
    assert auto["model"].iloc[0] == "seasonal_naive"


def test_linear_trend_errors_behave_as_expected():
    bt = backtest(trend_series(), 3).set_index("model")
    # seasonal naive lags one season behind: its error equals the seasonal difference
    assert bt.loc["seasonal_naive", "mase"] == pytest.approx(1.0)
    assert bt.loc["seasonal_naive", "coverage"] == 0.0
    # a trend model recovers a straight line almost exactly
    assert bt.loc["ets", "mase"] < 0.05 and bt.loc["prophet", "mase"] < 0.05
    assert bt.loc["ets", "mape"] < 0.01


def test_auto_picks_the_lowest_backtest_error():
    rng = np.random.default_rng(3)
    s = pd.DataFrame({"ds": DS, "y": 200 + 3 * np.arange(30) + 15 * np.tile(PATTERN - PATTERN.mean(), 3)[:30]
                      + rng.normal(0, 4, 30)})
    f = fit_forecast(s, 6)
    bt = f.attrs["backtest"]
    best = bt.loc[bt["mase"].idxmin(), "model"]
    assert f["model"].iloc[0] == best
    assert "lowest backtest MASE" in f.attrs["reason"]
    assert list(f.columns) == ["ds", "yhat", "yhat_lower", "yhat_upper", "model"]
    assert (f["yhat_lower"] <= f["yhat"]).all() and (f["yhat"] <= f["yhat_upper"]).all()
    assert f["ds"].iloc[0] == pd.Timestamp("2025-07-01")


def test_seasonal_naive_interval_width():
    """A perfectly seasonal series with one value raised by 3: the 18 seasonal
    differences are seventeen 0s and one 3. Mean 3/18 = 1/6; squared deviations
    17 x (1/6)^2 + (17/6)^2 = 17/36 + 289/36 = 8.5; variance 8.5 / 17 = 0.5 (ddof 1);
    sigma = sqrt(0.5) = 0.7071. The 80 % half-width is Z x sigma = 1.2816 x 0.7071 =
    0.9062 in the first season and x sqrt(2) = 1.2816 in the second (FPP3 table 5.2)."""
    s = seasonal_series().copy()
    s.loc[29, "y"] += 3.0
    f = seasonal_naive(s, 13, "MS", 12)
    width = (f["yhat_upper"] - f["yhat"]).to_numpy()
    assert Z == pytest.approx(1.2816, abs=1e-4)
    assert width[0] == pytest.approx(0.9062, abs=1e-4)
    assert width[11] == pytest.approx(0.9062, abs=1e-4)
    assert width[12] == pytest.approx(1.2816, abs=1e-4)  # second season ahead
    # the forecast repeats the last season, the raised value included
    assert f["yhat"].iloc[11] == s["y"].iloc[29] == 11.0 and f["yhat"].iloc[0] == s["y"].iloc[18]


def test_too_little_history_is_skipped_with_a_reason():
    short = seasonal_series().iloc[:10]
    bt = backtest(short, 3)
    assert (bt["status"] == "skipped").all() and bt["reason"].str.contains("observations").all()
    f = fit_forecast(short, 3)
    assert f["model"].iloc[0] == "ets" and "no backtest was possible" in f.attrs["reason"]
    with pytest.raises(CannotFit):
        fit_forecast(short.iloc[:5], 3)
    with pytest.raises(CannotFit, match="seasonal naive"):
        fit_forecast(short, 3, "seasonal_naive")


def test_renewal_simulation():
    r = pd.DataFrame({"renewal_date": pd.to_datetime(["2026-01-15", "2026-02-01", "2026-04-02"]),
                      "arr": [100.0, 200.0, 50.0], "renewal_probability": [1.0, 1.0, 0.0]})
    q = simulate(r, "quarter").set_index("period_start")
    assert q.loc["2026-01-01", "expected"] == 300 and q.loc["2026-01-01", "p10"] == 300
    assert q.loc["2026-04-01", "p90"] == 0 and q.loc["2026-04-01", "arr_due"] == 50
    r["renewal_probability"] = [0.5, 0.5, np.nan]
    m = simulate(r, "month").set_index("period_start")
    assert m.loc["2026-01-01", "expected"] == 50
    assert m.loc["2026-01-01", "p10"] == 0 and m.loc["2026-01-01", "p90"] == 100
    assert m.loc["2026-04-01", "unscored"] == 1


@pytest.fixture(scope="module")
def forecast_store(tmp_path_factory):
    url = f"duckdb:///{tmp_path_factory.mktemp('fc') / 'f.duckdb'}"
    eng = make_engine(url)
    init_store(eng)
    load_demo(eng, DemoParams(n_accounts=300, months=20, seed=5, as_of=dt.date(2026, 6, 30)))
    score(eng, backfill_weeks=2, evaluate_models=False)
    report = run_forecasts(eng, past_quarters=2)
    yield eng, report
    eng.dispose()


def test_forecast_run_writes_every_series_and_backtest(forecast_store):
    eng, report = forecast_store
    assert report.series == 4 * 6 + 1  # portfolio + 3 segments x 6 monthly series, weekly ARR
    with eng.connect() as conn:
        f = pd.read_sql(sa.select(schema.forecasts), conn)
        bt = pd.read_sql(sa.select(schema.forecast_backtests), conn)
        rf = pd.read_sql(sa.select(schema.renewal_forecasts), conn)
    fc = f[f["kind"] == "forecast"]
    assert set(fc["series"]) >= {"arr", "renewed_arr", "churned_arr", "expansion_arr"}
    arr = fc[(fc["series"] == "arr") & (fc["segment"] == "all") & (fc["freq"] == "MS")]
    assert len(arr) == 12 and (arr["yhat_lower"] <= arr["yhat_upper"]).all()
    port = bt[(bt["series"] == "arr") & (bt["segment"] == "all") & (bt["freq"] == "MS")]
    assert set(port["model"]) == {"prophet", "ets", "seasonal_naive"}
    assert port["chosen"].sum() == 1
    chosen = port[port["chosen"]].iloc[0]
    ok = port[port["status"] == "ok"]
    assert chosen["mase"] == pytest.approx(ok["mase"].min())
    up = rf[(rf["kind"] == "upcoming") & (rf["period"] == "quarter")]
    assert len(up) >= 4 and (up["p10"] <= up["p90"]).all()
    assert (up["expected"] <= up["arr_due"] + 1e-6).all()
    past = rf[rf["kind"] == "past"]
    assert len(past) == 2 and past["actual"].notna().all() and past["accuracy"].between(0, 1).all()


def test_a_constant_series_is_not_forecast():
    from greendoor.forecast.run import _fit_one

    flat = pd.DataFrame({"ds": DS, "renewed_arr": 0.0})
    out = _fit_one("renewed_arr", "all", "MS", flat, 12)
    assert out["model"] is None and "constant" in out["reason"]
    assert len(out["rows"]) == 30  # the history is still kept


def _stored_forecast(eng) -> dict[str, pd.DataFrame]:
    """Every forecast table without its run id, in a stable order."""
    out = {}
    with eng.connect() as conn:
        for t in (schema.forecasts, schema.forecast_backtests, schema.renewal_forecasts):
            df = pd.read_sql(sa.select(t), conn).drop(columns="run_id")
            keys = [c.name for c in t.primary_key.columns if c.name != "run_id"]
            out[t.name] = df.sort_values(keys, ignore_index=True)
    return out


def test_a_repeated_forecast_refits_only_the_series_whose_points_changed(forecast_store,
                                                                           tmp_path):
    """Issue 23: nothing changed -> every fit and the past quarters come from the previous
    run and the stored forecast is identical; one enterprise subscription's ARR changed
    -> the portfolio's and the enterprise series are fitted again, the other segments'
    are kept, and the past quarters (whose data changed) are recomputed."""
    import shutil

    from greendoor.forecast.run import _tasks, series_fingerprint

    eng0, first = forecast_store
    eng0.dispose()  # the file is complete on disk
    path = tmp_path / "again.duckdb"
    shutil.copy(eng0.url.database, path)
    eng = make_engine(f"duckdb:///{path}")
    before = _stored_forecast(eng)
    again = run_forecasts(eng, past_quarters=2)
    assert again.reused_fits == again.series == first.series and again.past_reused
    assert again.previous_run == first.run_id and "reused from run" in again.summary()
    after = _stored_forecast(eng)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame, check_dtype=False, obj=name)

    s, a = schema.subscriptions, schema.accounts
    with eng.begin() as conn:
        sub = conn.execute(sa.select(s.c.subscription_id).join(a, a.c.account_id == s.c.account_id)
                           .where(a.c.segment == "enterprise").order_by(s.c.start_date)
                           .limit(1)).scalar()
        conn.execute(s.update().where(s.c.subscription_id == sub).values(arr=s.c.arr * 3 + 1000))
        tasks = _tasks(conn, again.as_of, 12)
    changed = {(t[0], t[1], t[2]) for t in tasks
               if series_fingerprint(*t) != json_fits(eng)[f"{t[0]}|{t[1]}|{t[2]}"]}
    assert changed and {seg for _, seg, _ in changed} <= {"all", "enterprise"}
    third = run_forecasts(eng, past_quarters=2)
    assert third.reused_fits == third.series - len(changed) > 0
    assert not third.past_reused
    forced = run_forecasts(eng, past_quarters=2, refit=True)
    assert forced.reused_fits == 0 and forced.previous_run is None
    eng.dispose()


def json_fits(eng) -> dict[str, str]:
    """The latest forecast run's stored fingerprint per series key."""
    import json

    fr = schema.forecast_runs
    with eng.connect() as conn:
        detail = conn.execute(sa.select(fr.c.detail_json).order_by(fr.c.created_at.desc())
                              .limit(1)).scalar()
    return {k: v["fingerprint"] for k, v in json.loads(detail)["fits"].items()}
