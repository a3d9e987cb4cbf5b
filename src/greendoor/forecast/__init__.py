"""Forecasts with honest baselines: Prophet, exponential smoothing (ETS) and
seasonal naive behind one interface, each backtested by rolling origin.

    fit_forecast(series, horizon, model="auto")  -> ds, yhat, yhat_lower, yhat_upper, model
    backtest(series, horizon, initial=None, period=None) -> one row per model

``series`` has columns ``ds`` (regular timestamps: monthly, weekly, ...) and ``y``.
Intervals are 80 % (P10-P90). "auto" uses the model with the lowest backtest MASE on
this series, and says so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from greendoor.forecast import metrics as M
from greendoor.forecast.models import INTERVAL, MODELS, CannotFit, fit_prophet, prophet_model

__all__ = ["CannotFit", "INTERVAL", "MODELS", "backtest", "fit_forecast", "infer_frequency"]

SEASONS = {"MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "W": 52, "D": 7}


def infer_frequency(series: pd.DataFrame) -> tuple[str, int]:
    """(pandas frequency, season length) of a regular series; raises ValueError."""
    ds = pd.DatetimeIndex(pd.to_datetime(series["ds"]))
    if len(ds) < 3:
        raise ValueError("a series needs at least 3 points")
    with warnings.catch_warnings():  # pandas 4 returns an offset, pandas 3 a string
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(ds)
    freq = getattr(freq, "freqstr", freq)
    if freq is None:
        raise ValueError("the series is not regular (no inferable frequency)")
    base = freq.split("-")[0]
    return freq, SEASONS.get(base, SEASONS.get(base.rstrip("S"), 1))


def _clean(series: pd.DataFrame) -> pd.DataFrame:
    s = series[["ds", "y"]].copy()
    s["ds"] = pd.to_datetime(s["ds"])
    s = s.dropna(subset=["y"]).sort_values("ds").reset_index(drop=True)
    return s


def _rolling(series, model, horizon, cutoffs, freq, season) -> pd.DataFrame:
    """Forecasts from each cutoff position, aligned with the actuals."""
    rows = []
    spans = {series["ds"].iloc[c + horizon] - series["ds"].iloc[c] for c in cutoffs}
    if model == "prophet" and len(spans) == 1:
        # Prophet's own diagnostics when the horizon is one fixed span (weekly data);
        # calendar months differ in length, so monthly series refit below instead
        from prophet.diagnostics import cross_validation

        m = fit_prophet(prophet_model(series.iloc[: cutoffs[0] + 1], season), series)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cv = cross_validation(m, horizon=spans.pop(),
                                  cutoffs=[series["ds"].iloc[c] for c in cutoffs],
                                  disable_tqdm=True)
        cv = cv.sort_values(["cutoff", "ds"])
        cv["step"] = cv.groupby("cutoff").cumcount() + 1
        cv = cv[cv["step"] <= horizon]
        pos = {series["ds"].iloc[c]: c for c in cutoffs}
        cv["cutoff_pos"] = cv["cutoff"].map(pos)
        return cv[["cutoff_pos", "ds", "y", "yhat", "yhat_lower", "yhat_upper"]]
    for c in cutoffs:
        train = series.iloc[: c + 1]
        actual = series.iloc[c + 1: c + 1 + horizon]
        f = MODELS[model](train, len(actual), freq, season)
        f["y"] = actual["y"].to_numpy()
        f["cutoff_pos"] = c
        rows.append(f)
    return pd.concat(rows, ignore_index=True)


def backtest(series: pd.DataFrame, horizon: int, initial: int | None = None,
             period: int | None = None, models=None) -> pd.DataFrame:
    """Rolling-origin evaluation of every model on the same cutoffs.

    ``initial``: observations before the first cutoff (default: one season + 2,
    at least 8); ``period``: periods between cutoffs (default 1). Each cutoff
    forecasts up to ``horizon`` periods, compared with what happened.

    Returns one row per model: ``model, status`` (ok | skipped), ``reason``,
    ``cutoffs``, ``mape``, ``smape``, ``mase`` (fractions), ``coverage`` (share of
    actuals inside the 80 % interval). For a fixed-span horizon (weekly data)
    Prophet is evaluated with its own ``diagnostics.cross_validation`` on the same
    cutoff dates; a model that fails is skipped with the reason, the others go on.
    """
    s = _clean(series)
    freq, season = infer_frequency(s)
    n = len(s)
    initial = initial or max(season + 2, 8)
    period = period or 1
    cutoffs = list(range(initial - 1, n - horizon, period))
    rows = []
    for name in (models or MODELS):
        row = {"model": name, "status": "skipped", "reason": None, "cutoffs": 0,
               "mape": np.nan, "smape": np.nan, "mase": np.nan, "coverage": np.nan}
        if not cutoffs:
            row["reason"] = (f"{n} observations: a backtest needs at least {initial} before the "
                             f"first cutoff and {horizon} after it")
            rows.append(row)
            continue
        try:
            cv = _rolling(s, name, horizon, cutoffs, freq, season)
        except (CannotFit, ValueError, RuntimeError) as exc:
            row["reason"] = str(exc)
            rows.append(row)
            continue
        scale = cv["cutoff_pos"].map(lambda c: M.mase_scale(s["y"].iloc[: c + 1], season))
        err = (cv["y"] - cv["yhat"]).abs().to_numpy()
        sc = scale.to_numpy()
        # a flat or exactly repeating history has scale 0: exact forecasts score 0
        scaled = np.where(sc > 0, err / np.where(sc > 0, sc, 1), np.where(err > 1e-9, np.inf, 0.0))
        row.update(status="ok", cutoffs=len(cutoffs), mape=M.mape(cv["y"], cv["yhat"]),
                   smape=M.smape(cv["y"], cv["yhat"]), mase=float(np.mean(scaled)),
                   coverage=M.coverage(cv["y"], cv["yhat_lower"], cv["yhat_upper"]))
        rows.append(row)
    return pd.DataFrame(rows)


def fit_forecast(series: pd.DataFrame, horizon: int, model: str = "auto",
                 backtest_horizon: int | None = None) -> pd.DataFrame:
    """Forecast ``horizon`` periods after the series with ``model`` (prophet, ets,
    seasonal_naive) or "auto": the model with the lowest backtest MASE on this
    series, backtested ``backtest_horizon`` periods ahead (default: the horizon, at
    most a quarter of a season, so that short histories still yield cutoffs).
    Returns ``ds, yhat, yhat_lower, yhat_upper, model``; ``.attrs`` holds the
    backtest table and why the model was chosen. Raises :class:`CannotFit` when no
    model can be fitted, ``ValueError`` for an unknown model.
    """
    s = _clean(series)
    freq, season = infer_frequency(s)
    bt = None
    why = f"{model} was requested"
    if model == "auto":
        bh = backtest_horizon or min(horizon, max(1, season // 4))
        bt = backtest(s, bh)
        ok = bt[bt["status"] == "ok"].dropna(subset=["mase"])
        if len(ok):
            best = ok.loc[ok["mase"].idxmin()]
            model = str(best["model"])
            others = ok[ok["model"] != model]
            why = (f"lowest backtest MASE ({best['mase']:.3f} over {int(best['cutoffs'])} cutoffs)"
                   + ("; others: " + ", ".join(f"{r.model} {r.mase:.3f}" for r in others.itertuples())
                      if len(others) else ""))
        else:
            distinct = list(dict.fromkeys(bt["reason"].dropna()))
            reasons = (distinct[0] if len(distinct) == 1
                       else "; ".join(f"{r.model}: {r.reason}" for r in bt.itertuples()))
            for name in ("seasonal_naive", "ets", "prophet"):
                try:
                    MODELS[name](s, 1, freq, season)
                except CannotFit:
                    continue
                model, why = name, f"no backtest was possible ({reasons}); simplest model that fits"
                break
            else:
                raise CannotFit(f"no model can be fitted: {reasons}")
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected auto or one of {list(MODELS)}")
    out = MODELS[model](s, horizon, freq, season)
    out["model"] = model
    out.attrs.update(backtest=bt, reason=why, frequency=freq, season=season)
    return out
