"""Renewal forecast read models (SPEC.md "Pages" 4, "Predictive models": Forecasts).

Bottom-up figures are computed live from the renewals due (so they follow the
sidebar filters); the top-down forecasts, their backtests and the past quarters
are read from the latest ``greendoor forecast`` run.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.forecast import calls as FC
from greendoor.forecast import renewals as FR
from greendoor.forecast.run import latest_run_id
from greendoor.periods import Filters, is_present
from greendoor.store import schema

#: Series of the top-down forecast, and how the page names them.
SERIES = {"arr": "ARR", "grr": "GRR (trailing 12 months)", "nrr": "NRR (trailing 12 months)",
          "renewed_arr": "Renewed ARR", "churned_arr": "Churned ARR",
          "expansion_arr": "Expansion ARR"}


def due(conn: Connection, f: Filters, windows: list[int], days: int = 365) -> pd.DataFrame:
    """Renewals due in ``[as_of, as_of + days)`` for the filtered accounts.

    Columns of :func:`greendoor.forecast.renewals.upcoming` plus ``days_to_renewal``,
    ``window`` (the smallest of ``windows`` (days) that contains it, else NaN),
    ``expected`` (ARR x P(renew), USD) and ``has_plan`` (a renewal playbook run exists
    for the account, open or done, started in the last 180 days).
    """
    df = FR.upcoming(conn, f.as_of, days)
    if f.segment:
        df = df[df["segment"] == f.segment]
    if f.owner:
        df = df[df["csm_owner"] == f.owner]
    df = df.reset_index(drop=True)
    df["days_to_renewal"] = (df["renewal_date"] - pd.Timestamp(f.as_of)).dt.days
    ws = sorted(windows)
    df["window"] = df["days_to_renewal"].map(
        lambda d: next((w for w in ws if d <= w), float("nan")))
    df["expected"] = df["arr"] * df["renewal_probability"]
    t = schema.actions
    plans = pd.read_sql(sa.select(t.c.account_id).where(
        t.c.type == "playbook_run", t.c.playbook == "renewal", t.c.status != "cancelled",
        t.c.created_at >= dt.datetime.combine(f.as_of - dt.timedelta(days=180), dt.time())), conn)
    df["has_plan"] = df["account_id"].isin(set(plans["account_id"]))
    return df


def periods(due_df: pd.DataFrame, period: str = "quarter") -> pd.DataFrame:
    """Expected renewed ARR per month or quarter with P10/P50/P90 (simulation) and
    the ARR due per forecast category: the output of
    :func:`greendoor.forecast.renewals.simulate` joined with
    :func:`greendoor.forecast.renewals.categories`."""
    if due_df.empty:
        return pd.DataFrame()
    sim = FR.simulate(due_df, period)
    cats = FR.categories(due_df, period)
    return sim.merge(cats, on="period_start", how="left")


def window_summary(due_df: pd.DataFrame, windows: list[int]) -> pd.DataFrame:
    """Per renewal window (days): ``window, renewals, arr, without_plan,
    arr_without_plan``."""
    rows = []
    for w in sorted(windows):
        g = due_df[due_df["window"] == w]
        n = g[~g["has_plan"]]
        rows.append({"window": w, "renewals": len(g), "arr": float(g["arr"].sum()),
                     "without_plan": len(n), "arr_without_plan": float(n["arr"].sum())})
    return pd.DataFrame(rows)


def top_down(conn: Connection, series: str, segment: str = "all") -> pd.DataFrame:
    """History and forecast of one series from the latest forecast run: ``ds, kind
    (actual | forecast), y, yhat, yhat_lower, yhat_upper, model`` (P10-P90 interval).
    Monthly series; empty when the series was not forecast (e.g. too short)."""
    run = latest_run_id(conn)
    if run is None:
        return pd.DataFrame()
    fc = schema.forecasts
    return pd.read_sql(sa.select(fc.c.ds, fc.c.kind, fc.c.y, fc.c.yhat, fc.c.yhat_lower,
                                 fc.c.yhat_upper, fc.c.model)
                       .where(fc.c.run_id == run, fc.c.series == series,
                              fc.c.segment == segment, fc.c.freq == "MS")
                       .order_by(fc.c.ds), conn)


def model_comparison(conn: Connection, series: str, segment: str = "all") -> pd.DataFrame:
    """The backtest of each model on one series (latest run): ``model, status, reason,
    horizon, cutoffs, mape, smape, mase, coverage, chosen``, best MASE first, plus
    ``vs_best`` (MASE / the best MASE: 1.0 for the winner)."""
    run = latest_run_id(conn)
    if run is None:
        return pd.DataFrame()
    fb = schema.forecast_backtests
    df = pd.read_sql(sa.select(fb.c.model, fb.c.status, fb.c.reason, fb.c.horizon, fb.c.cutoffs,
                               fb.c.mape, fb.c.smape, fb.c.mase, fb.c.coverage, fb.c.chosen)
                     .where(fb.c.run_id == run, fb.c.series == series, fb.c.segment == segment,
                            fb.c.freq == "MS"), conn)
    if df.empty:
        return df
    df = df.sort_values("mase", na_position="last", ignore_index=True)
    best = df["mase"].min()
    df["vs_best"] = df["mase"] / best if best and best > 0 else float("nan")
    return df


def verdict(comparison: pd.DataFrame) -> str:
    """One sentence: which model won on the backtest and by how much (MASE)."""
    ok = comparison[comparison["status"] == "ok"].dropna(subset=["mase"])
    if ok.empty:
        reasons = "; ".join(sorted(set(comparison["reason"].dropna()))) or "no backtest"
        return f"No model could be backtested: {reasons}."
    best = ok.iloc[0]
    if len(ok) == 1:
        return f"Only {best['model']} could be backtested (MASE {best['mase']:.2f})."
    runner = ok.iloc[1]
    gain = 1 - best["mase"] / runner["mase"] if runner["mase"] else float("nan")
    naive = ok[ok["model"] == "seasonal_naive"]
    extra = ""
    if best["model"] != "seasonal_naive" and not naive.empty and naive["mase"].iloc[0] > 0:
        extra = (f", and {1 - best['mase'] / naive['mase'].iloc[0]:.0%} below the "
                 "seasonal-naive baseline")
    return (f"{best['model']} won the rolling-origin backtest over {int(best['cutoffs'])} "
            f"cutoffs: MASE {best['mase']:.3f}, {gain:.0%} lower than the runner-up "
            f"{runner['model']} ({runner['mase']:.3f}){extra}. MAPE {best['mape']:.1%}.")


def forecast_as_of(conn: Connection) -> dt.date | None:
    """The as-of date of the latest forecast run."""
    fr = schema.forecast_runs
    return conn.execute(sa.select(fr.c.as_of).order_by(fr.c.created_at.desc()).limit(1)).scalar()


def forecast_calls(conn: Connection, f: Filters, model_skill: bool) -> dict:
    """The call sheet of the renewals due this quarter and the next (filtered), as of
    ``f.as_of``: ``sheet`` (:func:`greendoor.forecast.calls.call_sheet`: the calls in force
    at the as-of date; at the data's latest date, every call made since too), ``quarter``
    (its start), ``rates`` (the constant baseline's renewal rates for this quarter,
    :func:`greendoor.forecast.calls.trailing_rates`) and ``rollup``
    (:func:`call_rollup` of this quarter)."""
    qs = FR.quarter_start(f.as_of)
    end = FR.add_quarters(qs, 2)
    up = FR.upcoming(conn, f.as_of, (end - f.as_of).days)
    if f.segment:
        up = up[up["segment"] == f.segment]
    if f.owner:
        up = up[up["csm_owner"] == f.owner]
    when = None if is_present(conn, f.as_of) else dt.datetime.combine(f.as_of, dt.time())
    sheet = FC.call_sheet(up.reset_index(drop=True), FC.calls_at(conn, when), model_skill)
    rates = FC.trailing_rates(conn, qs)
    this_q = sheet[sheet["renewal_date"] < pd.Timestamp(FR.add_quarters(qs, 1))]
    return {"sheet": sheet, "quarter": qs, "rates": rates, "rollup": call_rollup(this_q, rates)}


def call_rollup(sheet: pd.DataFrame, rates: dict) -> dict:
    """This quarter's forecasts from a call sheet, on the GRR basis (amounts capped at the
    ARR due): ``due`` (ARR), ``model`` (Σ expected; NaN without a model with skill),
    ``calls`` (Σ capped call amounts + the constant rate × ARR without a call),
    ``commit`` (Σ capped amounts called commit), ``constant`` (rate × ARR due) and
    ``coverage`` (share of ARR due with a call)."""
    due = float(sheet["arr"].sum())
    called = sheet["call"].notna()
    capped = np.minimum(sheet["amount"].astype(float), sheet["arr"])
    rate = rates.get("grr", np.nan)
    return {"due": due, "renewals": int(len(sheet)),
            "model": float(sheet["expected"].sum()) if sheet["expected"].notna().any() else np.nan,
            "calls": float(capped[called].sum()) + rate * float(sheet.loc[~called, "arr"].sum()),
            "commit": float(capped[sheet["call"] == "commit"].sum()),
            "constant": rate * due,
            "coverage": float(sheet.loc[called, "arr"].sum()) / due if due else np.nan}


def call_accuracy(conn: Connection, as_of: dt.date) -> dict:
    """Forecast accuracy of the closed quarters before ``as_of``, portfolio-wide:
    ``weekly`` (:func:`greendoor.forecast.calls.accuracy`) and ``summary``
    (:func:`greendoor.forecast.calls.summary`, without the calls and commit rows when no
    call was recorded in those quarters)."""
    acc = FC.accuracy(conn, as_of)
    summ = FC.summary(acc)
    if len(summ):
        no_calls = summ["method"].isin(["calls", "commit"]) & ~(summ["coverage"].fillna(0) > 0)
        summ = summ[~no_calls].reset_index(drop=True)
    return {"weekly": acc, "summary": summ}
