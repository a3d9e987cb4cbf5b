"""Forecast error metrics on aligned arrays (pure functions).

References: Hyndman & Koehler (2006) for MASE; sMAPE as in the M3/M4
competitions (0-2 scale, here a fraction).
"""

from __future__ import annotations

import numpy as np


def mape(y, yhat) -> float:
    """Mean absolute percentage error, a fraction (0.05 = 5 %); zero actuals are skipped."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    ok = y != 0
    return float(np.mean(np.abs(y[ok] - yhat[ok]) / np.abs(y[ok]))) if ok.any() else float("nan")


def smape(y, yhat) -> float:
    """Symmetric MAPE: mean of 2|y - ŷ| / (|y| + |ŷ|), a fraction (0-2)."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    den = np.abs(y) + np.abs(yhat)
    ok = den != 0
    return float(np.mean(2 * np.abs(y[ok] - yhat[ok]) / den[ok])) if ok.any() else 0.0


def mase_scale(train, season: int) -> float:
    """In-sample mean absolute seasonal difference (lag ``season``, or 1 when the
    history is shorter than two seasons): the denominator of MASE."""
    t = np.asarray(train, float)
    lag = season if len(t) > season else 1
    d = np.abs(t[lag:] - t[:-lag])
    return float(d.mean()) if len(d) else float("nan")


def coverage(y, lower, upper) -> float:
    """Share of actuals inside [lower, upper]."""
    y, lo, hi = (np.asarray(a, float) for a in (y, lower, upper))
    return float(np.mean((y >= lo) & (y <= hi))) if len(y) else float("nan")
