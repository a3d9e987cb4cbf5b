"""Customer-success metrics as small pure functions (SPEC.md "Metric definitions").

Each function takes plain numbers or array-likes and returns a float; the SQL
versions in :mod:`greendoor.metrics.sql` aggregate raw rows in the store and
apply the same formulas. Rates are fractions (0.9 = 90 %); NPS is in points
(-100 to 100); money is in the account currency.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def logo_churn_rate(accounts_lost: int, accounts_at_start: int) -> float:
    """Logo churn = accounts lost in the period / accounts active at period start.

    Raises ``ValueError`` when no account was active at the start, or when more
    accounts were lost than were active.
    """
    if accounts_at_start <= 0:
        raise ValueError("logo churn needs at least one account active at period start")
    if not 0 <= accounts_lost <= accounts_at_start:
        raise ValueError("accounts_lost must be between 0 and accounts_at_start")
    return accounts_lost / accounts_at_start


def annualize_churn(rate: float, days: float) -> float:
    """Annualize a churn rate observed over ``days``: 1 - (1 - c) ** (365 / days).

    Source: SPEC.md "Logo churn rate". Raises ``ValueError`` for ``days <= 0`` or
    a rate outside [0, 1].
    """
    if days <= 0:
        raise ValueError("days must be positive")
    if not 0.0 <= rate <= 1.0:
        raise ValueError("rate must be in [0, 1]")
    return 1.0 - (1.0 - rate) ** (365.0 / days)


def _start_end(start_arr, end_arr) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(start_arr, dtype=float)
    e = np.nan_to_num(np.asarray(end_arr, dtype=float), nan=0.0)
    if s.shape != e.shape:
        raise ValueError("start_arr and end_arr must have the same length")
    if (s < 0).any() or (e < 0).any():
        raise ValueError("ARR cannot be negative")
    keep = s > 0  # accounts active at period start
    if not keep.any():
        raise ValueError("no account had ARR at period start")
    return s[keep], e[keep]


def grr(start_arr: Iterable[float], end_arr: Iterable[float]) -> float:
    """Gross revenue retention over the accounts active at period start.

    GRR = (start ARR - contraction - churned ARR) / start ARR, each account's end
    ARR capped at its start ARR, i.e. sum(min(end, start)) / sum(start).
    ``start_arr`` and ``end_arr`` are aligned per account (end NaN = 0, churned).
    Source: SPEC.md "GRR". Raises ``ValueError`` when no account had start ARR.
    """
    s, e = _start_end(start_arr, end_arr)
    return float(np.minimum(s, e).sum() / s.sum())


def nrr(start_arr: Iterable[float], end_arr: Iterable[float]) -> float:
    """Net revenue retention: (start ARR + expansion - contraction - churn) / start ARR.

    Over the accounts active at period start (new logos excluded), i.e.
    sum(end) / sum(start). Source: SPEC.md "NRR".
    """
    s, e = _start_end(start_arr, end_arr)
    return float(e.sum() / s.sum())


#: The ARR movements of a retention bridge, in the order the bars are drawn.
MOVEMENTS = ("new", "expansion", "contraction", "churn")


def arr_movement(start_arr: Iterable[float], end_arr: Iterable[float]) -> np.ndarray:
    """Each account's ARR movement over a period, aligned per account (NaN = 0):
    ``"new"`` (no ARR at the start, some at the end), ``"expansion"`` (end > start > 0),
    ``"contraction"`` (0 < end < start), ``"churn"`` (start > 0, end 0), ``"flat"``
    (end = start > 0) or ``"none"`` (no ARR at either). Raises ``ValueError`` for
    negative ARR or unequal lengths."""
    s = np.nan_to_num(np.asarray(start_arr, dtype=float), nan=0.0)
    e = np.nan_to_num(np.asarray(end_arr, dtype=float), nan=0.0)
    if s.shape != e.shape:
        raise ValueError("start_arr and end_arr must have the same length")
    if (s < 0).any() or (e < 0).any():
        raise ValueError("ARR cannot be negative")
    return np.select([(s <= 0) & (e > 0), (s > 0) & (e > s), (s > 0) & (e > 0) & (e < s),
                      (s > 0) & (e <= 0), (s > 0) & (e == s)],
                     ["new", "expansion", "contraction", "churn", "flat"], "none")


def retention_bridge(start_arr: Iterable[float], end_arr: Iterable[float]) -> dict[str, float]:
    """The retention bridge of a period from per-account ARR at its start and end
    (aligned, NaN = 0): ``start, new, expansion, contraction, churn, end`` (USD; the
    movements as positive amounts, end = start + new + expansion - contraction - churn)
    and ``grr, nrr`` computed from exactly those bars:
    GRR = (start - contraction - churn) / start, NRR = (start + expansion - contraction
    - churn) / start (SPEC.md "GRR", "NRR"; new logos are outside both). They equal
    :func:`grr` and :func:`nrr` over the accounts active at the start. Raises
    ``ValueError`` when no account had ARR at the start."""
    s = np.nan_to_num(np.asarray(start_arr, dtype=float), nan=0.0)
    e = np.nan_to_num(np.asarray(end_arr, dtype=float), nan=0.0)
    kind = arr_movement(s, e)
    start = float(s.sum())
    if start <= 0:
        raise ValueError("no account had ARR at the start of the period")
    out = {"start": start,
           "new": float(e[kind == "new"].sum()),
           "expansion": float((e - s)[kind == "expansion"].sum()),
           "contraction": float((s - e)[kind == "contraction"].sum()),
           "churn": float(s[kind == "churn"].sum())}
    out["end"] = start + out["new"] + out["expansion"] - out["contraction"] - out["churn"]
    out["grr"] = (start - out["contraction"] - out["churn"]) / start
    out["nrr"] = (start + out["expansion"] - out["contraction"] - out["churn"]) / start
    return out


#: SPEC.md: promoters answer 9-10, detractors 0-6, passives 7-8 (the one home of the
#: NPS cut-offs).
PROMOTER_MIN = 9
DETRACTOR_MAX = 6


def nps_category(score: float) -> str | None:
    """``"promoter"``, ``"passive"`` or ``"detractor"`` for a 0-10 answer; None if missing."""
    if score is None or score != score:
        return None
    return ("promoter" if score >= PROMOTER_MIN else
            "detractor" if score <= DETRACTOR_MAX else "passive")


def nps(scores: Iterable[float]) -> float:
    """Net Promoter Score = % promoters (9-10) - % detractors (0-6), in points.

    Raises ``ValueError`` for an empty input or a score outside 0-10.
    """
    s = np.asarray(list(scores), dtype=float)
    s = s[~np.isnan(s)]
    if s.size == 0:
        raise ValueError("NPS needs at least one response")
    if (s < 0).any() or (s > 10).any():
        raise ValueError("NPS scores must be between 0 and 10")
    return float(100.0 * ((s >= PROMOTER_MIN).mean() - (s <= DETRACTOR_MAX).mean()))


def csat(scores: Iterable[float]) -> tuple[float, float]:
    """CSAT as (mean of 1-5 scores, share of 4-5 answers in 0-1). NaN ignored.

    Raises ``ValueError`` for an empty input or a score outside 1-5.
    """
    s = np.asarray(list(scores), dtype=float)
    s = s[~np.isnan(s)]
    if s.size == 0:
        raise ValueError("CSAT needs at least one response")
    if (s < 1).any() or (s > 5).any():
        raise ValueError("CSAT scores must be between 1 and 5")
    return float(s.mean()), float((s >= 4).mean())


def stickiness(activity: pd.DataFrame, start, end) -> float:
    """Stickiness = mean DAU / MAU over the window ``[start, end)``.

    ``activity`` has columns ``date`` and ``user_id`` (one row per active user and
    day; duplicates allowed). DAU is averaged over every calendar day of the
    window (a day without activity counts as 0); MAU is the number of distinct
    users active in the window. Returns NaN when nobody was active.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    n_days = (end - start).days
    if n_days <= 0:
        raise ValueError("end must be after start")
    d = pd.to_datetime(activity["date"])
    inside = activity[(d >= start) & (d < end)]
    mau = inside["user_id"].nunique()
    if mau == 0:
        return float("nan")
    dau_sum = inside.drop_duplicates(["date", "user_id"]).shape[0]
    return float(dau_sum / n_days / mau)


def seat_utilization(active_users_30d: float, seats: float) -> float:
    """Seat utilization = active users in the last 30 days / seats (NaN without seats)."""
    if seats is None or seats <= 0 or np.isnan(seats):
        return float("nan")
    return float(active_users_30d / seats)


def cohort_retention(start_arr: pd.Series, end_arr: pd.Series, ids) -> dict[str, float]:
    """Logo churn, GRR and NRR of the accounts ``ids`` over one period.

    ``start_arr`` and ``end_arr``: ARR per account (index account_id) at the period
    start and end; an account missing at the end has churned. ``ids`` are accounts
    with ARR at the start. Returns ``logo_churn, grr, nrr`` (fractions; NaN for no
    ids). Source: SPEC.md, via :func:`logo_churn_rate`, :func:`grr`, :func:`nrr`.
    """
    ids = list(ids)
    if not ids:
        return {"logo_churn": float("nan"), "grr": float("nan"), "nrr": float("nan")}
    s, e = start_arr.reindex(ids), end_arr.reindex(ids).fillna(0.0)
    return {"logo_churn": logo_churn_rate(int((e <= 0).sum()), len(ids)),
            "grr": grr(s, e), "nrr": nrr(s, e)}


def arr_at_risk(arr: Iterable[float], churn_probability: Iterable[float]) -> float:
    """ARR at risk = sum(ARR x P(churn within horizon)). Source: SPEC.md.

    Raises ``ValueError`` for a probability outside [0, 1] or mismatched lengths.
    """
    a = np.asarray(list(arr), dtype=float)
    p = np.asarray(list(churn_probability), dtype=float)
    if a.shape != p.shape:
        raise ValueError("arr and churn_probability must have the same length")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("churn probabilities must be in [0, 1]")
    return float(np.nansum(a * p))
