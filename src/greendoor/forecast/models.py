"""Three forecasting models behind one interface, each with an 80 % interval.

Every model is a function ``(history, horizon, freq, season) -> frame`` where
``history`` has columns ``ds`` (regular timestamps) and ``y``. It returns ``ds``,
``yhat``, ``yhat_lower``, ``yhat_upper`` for the next ``horizon`` periods, or
raises :class:`CannotFit` with the reason (too little history).

* ``seasonal_naive``: the value one season earlier. The interval uses the
  residual standard deviation of the seasonal differences, times sqrt(k + 1)
  for a horizon in the k-th season ahead (Hyndman & Athanasopoulos, FPP3 §5.5).
* ``ets``: statsmodels' ETSModel (additive errors, damped additive trend, additive
  season when the history holds two full seasons), with analytic prediction
  intervals.
* ``prophet``: Prophet with yearly seasonality when the history spans two years,
  ``interval_width=0.8``.
"""

from __future__ import annotations

import logging
import warnings
from statistics import NormalDist

import numpy as np
import pandas as pd

INTERVAL = 0.8
Z = NormalDist().inv_cdf(0.5 + INTERVAL / 2)  # 1.2816 for an 80 % interval


class CannotFit(ValueError):
    """The model cannot be fitted honestly on this history (the reason says why)."""


def future_dates(history: pd.DataFrame, horizon: int, freq: str) -> pd.DatetimeIndex:
    """The ``horizon`` period starts after the last ``ds`` of ``history`` at pandas frequency
    ``freq`` (``"MS"``, ``"W-MON"``, ...)."""
    last = pd.Timestamp(history["ds"].iloc[-1])
    return pd.date_range(last, periods=horizon + 1, freq=freq)[1:]


def _frame(ds, yhat, lo, hi) -> pd.DataFrame:
    return pd.DataFrame({"ds": ds, "yhat": np.asarray(yhat, dtype=float),
                         "yhat_lower": np.asarray(lo, dtype=float),
                         "yhat_upper": np.asarray(hi, dtype=float)})


def seasonal_naive(history: pd.DataFrame, horizon: int, freq: str, season: int) -> pd.DataFrame:
    """Seasonal naive forecast: each future period repeats the value one season earlier
    (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., 5.2).

    ``history``: ``ds, y`` in time order; ``season``: periods per season (12 monthly).
    Returns ``ds, yhat, yhat_lower, yhat_upper`` for ``horizon`` periods; the 80 % interval
    is ``yhat +- Z * sigma * sqrt(k + 1)`` with ``sigma`` the standard deviation of the
    seasonal differences and ``k`` the number of whole seasons ahead (FPP3 5.5, table 5.2).
    Raises :class:`CannotFit` with fewer than ``season + 2`` observations."""
    y = history["y"].to_numpy(dtype=float)
    n = len(y)
    if n < season + 2:
        raise CannotFit(f"seasonal naive needs more than one season ({season} periods) of "
                        f"history plus 2; this series has {n}")
    h = np.arange(1, horizon + 1)
    k = (h - 1) // season
    idx = n - season + (h - 1) % season
    yhat = y[idx]
    resid = y[season:] - y[:-season]
    sigma = float(np.std(resid, ddof=1)) if len(resid) > 1 else 0.0
    width = Z * sigma * np.sqrt(k + 1)
    return _frame(future_dates(history, horizon, freq), yhat, yhat - width, yhat + width)


def ets(history: pd.DataFrame, horizon: int, freq: str, season: int) -> pd.DataFrame:
    """Exponential smoothing (statsmodels ``ETSModel``): additive error, additive damped
    trend, and an additive season when the series holds two seasons plus 2 periods
    (Hyndman et al. 2008). Same frame in and out as :func:`seasonal_naive`; the interval is
    the model's own 80 % prediction interval. Raises :class:`CannotFit` with fewer than
    8 observations."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = history["y"].to_numpy(dtype=float)
    n = len(y)
    if n < 8:
        raise CannotFit(f"exponential smoothing needs at least 8 observations; this series has {n}")
    # a season needs at least 2 periods (yearly data has none) and two full seasons
    seasonal = "add" if season > 1 and n >= 2 * season + 2 else None
    model = ETSModel(pd.Series(y), error="add", trend="add", damped_trend=True,
                     seasonal=seasonal, seasonal_periods=season if seasonal else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(disp=False)
        pred = res.get_prediction(start=n, end=n + horizon - 1).summary_frame(alpha=1 - INTERVAL)
    return _frame(future_dates(history, horizon, freq), pred["mean"], pred["pi_lower"],
                  pred["pi_upper"])


def _quiet_prophet() -> None:
    """cmdstanpy logs every fit at INFO through its own handler: switch it off;
    Prophet's loggers (prophet.models, ...) inherit an ERROR level."""
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)


def prophet_model(history: pd.DataFrame, season: int):
    """A Prophet instance configured for this history (not fitted)."""
    from prophet import Prophet

    _quiet_prophet()
    n = len(history)
    span_days = (pd.Timestamp(history["ds"].iloc[-1]) - pd.Timestamp(history["ds"].iloc[0])).days
    if n < 8:
        raise CannotFit(f"Prophet needs at least 8 observations; this series has {n}")
    return Prophet(interval_width=INTERVAL, yearly_seasonality=span_days >= 2 * 365 - 40,
                   weekly_seasonality=False, daily_seasonality=False, uncertainty_samples=300)


def fit_prophet(m, df: pd.DataFrame):
    """Fit with L-BFGS explicitly: on smooth or noiseless series Prophet's default
    path falls back to Newton and takes seconds per fit; retry the default on error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return m.fit(df, algorithm="LBFGS")
        except RuntimeError:
            fresh = prophet_model(df, 12)
            fresh.yearly_seasonality = m.yearly_seasonality
            return fresh.fit(df)


def prophet(history: pd.DataFrame, horizon: int, freq: str, season: int) -> pd.DataFrame:
    """Prophet (Taylor & Letham 2018), linear trend, with yearly seasonality when the
    history spans about two years (:func:`prophet_model`), fitted by L-BFGS
    (:func:`fit_prophet`). Same frame in and out as :func:`seasonal_naive`; the interval is
    Prophet's own 80 % uncertainty interval (300 samples). Raises :class:`CannotFit` with
    fewer than 8 observations."""
    m = fit_prophet(prophet_model(history, season), history[["ds", "y"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fut = pd.DataFrame({"ds": future_dates(history, horizon, freq)})
        f = m.predict(fut)
    return _frame(f["ds"], f["yhat"], f["yhat_lower"], f["yhat_upper"])


MODELS = {"prophet": prophet, "ets": ets, "seasonal_naive": seasonal_naive}
