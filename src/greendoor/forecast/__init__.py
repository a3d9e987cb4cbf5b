"""Forecasts with honest baselines: Prophet, exponential smoothing (ETS) and
seasonal naive behind one interface, each backtested by rolling origin.

    fit_forecast(series, horizon, model="auto")  -> ds, yhat, yhat_lower, yhat_upper, model
    backtest(series, horizon, initial=None, period=None) -> one row per model

``series`` has columns ``ds`` (regular timestamps: monthly, weekly, ...) and ``y``.
Intervals are 80 % (P10-P90). "auto" uses the model with the lowest backtest MASE on
this series at the horizon it is asked for, and says so.

**Intervals that hold.** A model's own interval assumes its error model is right; in
rolling backtests the 80 % intervals of the demo's ARR covered about a quarter of the
outcomes. :func:`fit_forecast` therefore replaces them with intervals calibrated on
the model's own backtest errors, step by step ahead (empirical quantiles of the
absolute errors at each step, split-conformal style: Vovk et al. 2005; Hyndman &
Athanasopoulos, FPP3 §5.5). :func:`backtest` measures both the model's own coverage
and the calibrated one, the latter honestly: each cutoff's interval is calibrated only
on errors whose outcome was known at that cutoff.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from greendoor.forecast import metrics as FM
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
    n = len(series)
    full = all(c + horizon < n for c in cutoffs)
    spans = {series["ds"].iloc[c + horizon] - series["ds"].iloc[c] for c in cutoffs} if full \
        else set()
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


#: Backtests use at most this many cutoffs (the latest, evenly spaced): a 250-point
#: series backtests in seconds.
MAX_CUTOFFS = 12
#: Fewest errors at a step ahead to calibrate its interval on (else: extrapolated).
MIN_ERRORS = 4


def cutoff_positions(n: int, horizon: int, initial: int, period: int = 1) -> list[int]:
    """Positions of the backtest's cutoffs in a series of ``n`` points: from
    ``initial - 1``, every ``period``, keeping those with the full ``horizon`` ahead when
    there are at least :data:`MIN_ERRORS` + 2 of them, else every one with at least one
    point ahead (partial horizons); at most :data:`MAX_CUTOFFS`, the latest kept."""
    every = list(range(initial - 1, n - 1, period))
    full = [c for c in every if c + horizon < n]
    chosen = full if len(full) >= MIN_ERRORS + 2 else every
    if len(chosen) > MAX_CUTOFFS:
        idx = np.linspace(0, len(chosen) - 1, MAX_CUTOFFS).round().astype(int)
        chosen = [chosen[i] for i in sorted(set(idx))]
    return chosen


def error_quantiles(errors: pd.DataFrame, horizon: int, level: float = INTERVAL) -> np.ndarray:
    """Half-width of a ``level`` interval at each step 1..``horizon`` ahead from absolute
    backtest errors (``errors``: columns ``step``, ``abs_error``): the finite-sample
    conformal quantile ``ceil((n + 1) level) / n`` of the step's errors; a step with
    fewer than :data:`MIN_ERRORS` errors takes the last well-measured step's width times
    sqrt(step / that step) (errors grow like a random walk's). NaN without any."""
    out = np.full(horizon, np.nan)
    ref = None
    for h in range(1, horizon + 1):
        e = errors.loc[errors["step"] == h, "abs_error"].to_numpy(dtype=float)
        if len(e) >= MIN_ERRORS:
            q = min(1.0, np.ceil((len(e) + 1) * level) / len(e))
            out[h - 1] = float(np.quantile(e, q))
            ref = h
        elif ref is not None:
            out[h - 1] = out[ref - 1] * np.sqrt(h / ref)
    return out


def _calibrated_coverage(cv: pd.DataFrame, horizon: int) -> float:
    """Coverage of calibrated intervals in the rolling backtest, each cutoff's interval
    calibrated only on the errors known at that cutoff (targets on or before it)."""
    inside, total = 0, 0
    for c in sorted(cv["cutoff_pos"].unique()):
        cut_ds = cv.loc[cv["cutoff_pos"] == c, "cutoff_ds"].iloc[0]
        known = cv[cv["ds"] <= cut_ds]
        width = error_quantiles(known, horizon)
        rows = cv[cv["cutoff_pos"] == c]
        w = width[rows["step"].to_numpy() - 1]
        ok = ~np.isnan(w)
        if ok.any():
            err = rows["abs_error"].to_numpy()[ok]
            inside += int((err <= w[ok]).sum())
            total += int(ok.sum())
    return inside / total if total else float("nan")


def backtest(series: pd.DataFrame, horizon: int, initial: int | None = None,
             period: int | None = None, models=None, keep_errors: bool = False) -> pd.DataFrame:
    """Rolling-origin evaluation of every model on the same cutoffs.

    ``initial``: observations before the first cutoff (default: one season + 2,
    at least 8); ``period``: periods between cutoffs (default 1). Each cutoff
    forecasts up to ``horizon`` periods, compared with what happened.

    Returns one row per model: ``model, status`` (ok | skipped), ``reason``,
    ``cutoffs``, ``mape``, ``smape``, ``mase`` (fractions), ``coverage`` (share of
    actuals inside the model's own 80 % interval) and ``coverage_calibrated`` (inside
    the interval calibrated on earlier backtest errors, see the module docstring).
    Cutoffs: :func:`cutoff_positions`. For a fixed-span horizon (weekly data) with full
    horizons, Prophet is evaluated with its own ``diagnostics.cross_validation`` on the
    same cutoff dates; a model that fails is skipped with the reason, the others go on.
    With ``keep_errors`` each row also holds ``errors``: the frame of absolute errors
    by step ahead that :func:`fit_forecast` calibrates its interval on.
    """
    s = _clean(series)
    freq, season = infer_frequency(s)
    n = len(s)
    initial = initial or max(season + 2, 8)
    period = period or 1
    cutoffs = cutoff_positions(n, horizon, initial, period)
    rows = []
    for name in (models or MODELS):
        row = {"model": name, "status": "skipped", "reason": None, "cutoffs": 0,
               "mape": np.nan, "smape": np.nan, "mase": np.nan, "coverage": np.nan,
               "coverage_calibrated": np.nan}
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
        scale = cv["cutoff_pos"].map(lambda c: FM.mase_scale(s["y"].iloc[: c + 1], season))
        err = (cv["y"] - cv["yhat"]).abs().to_numpy()
        sc = scale.to_numpy()
        # a flat or exactly repeating history has scale 0: exact forecasts score 0
        scaled = np.where(sc > 0, err / np.where(sc > 0, sc, 1), np.where(err > 1e-9, np.inf, 0.0))
        cv["step"] = cv.groupby("cutoff_pos").cumcount() + 1
        cv["abs_error"] = err
        cv["cutoff_ds"] = cv["cutoff_pos"].map(s["ds"])
        row.update(status="ok", cutoffs=len(cutoffs), mape=FM.mape(cv["y"], cv["yhat"]),
                   smape=FM.smape(cv["y"], cv["yhat"]), mase=float(np.mean(scaled)),
                   coverage=FM.coverage(cv["y"], cv["yhat_lower"], cv["yhat_upper"]),
                   coverage_calibrated=_calibrated_coverage(cv, horizon))
        if keep_errors:
            row["errors"] = cv[["step", "abs_error", "ds"]]
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
    bh = backtest_horizon or horizon
    if model == "auto":
        bt = backtest(s, bh, keep_errors=True)
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
    interval = "the model's own (no backtest errors to calibrate on)"
    errors = None
    if bt is not None and "errors" in bt:
        hit = bt[(bt["model"] == model) & (bt["status"] == "ok")]
        errors = hit["errors"].iloc[0] if len(hit) else None
        bt = bt.drop(columns="errors")
    if errors is not None:
        width = error_quantiles(errors, horizon)
        ok = ~np.isnan(width)
        if ok.any():
            out.loc[ok, "yhat_lower"] = out.loc[ok, "yhat"] - width[ok]
            out.loc[ok, "yhat_upper"] = out.loc[ok, "yhat"] + width[ok]
            interval = (f"calibrated on {len(errors)} backtest errors (80 % of them within "
                        "the band at each step ahead)")
    out.attrs.update(backtest=bt, reason=why, frequency=freq, season=season, interval=interval)
    return out
