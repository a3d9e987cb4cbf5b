"""Forecast calls and their accuracy (issue 21): the CSM's call on each renewal beside the
model, and, once a quarter has closed, how close each way of forecasting came.

**Calls.** A call (commit, best case, at risk, lost) and the expected renewed ARR are
stored append-only (:data:`greendoor.store.schema.forecast_calls`), so the calls in force
at any past week are known: the weekly snapshot of the calls and of the commit is read as
of that week, never from today's calls.

**What is forecast.** For a quarter ``[qs, qe)``: the renewals due in it as known at ``qs``
(:func:`greendoor.forecast.renewals.due_in`), and the ARR that renewed, checked 14 days
after the quarter (:func:`greendoor.forecast.renewals.renewed`). Two bases, kept apart:

* **GRR basis**: renewed ARR capped at the renewal value (ARR due of each renewal that
  renewed; a call's amount is capped at its ARR due);
* **NRR basis**: renewed ARR with expansion and contraction (the account's ARR at the
  check; a call's amount as entered).

**Forecasts at week ``w`` of the quarter** (``w = qs + 7k``; Day 1 is ``k = 0``): the
renewals dated before ``w`` count with their known outcome; each later renewal with

* ``constant`` (the baseline): the trailing four quarters' renewal rate (GRR basis:
  renewed ARR due / ARR due; NRR basis: ARR after / ARR due) × its ARR due;
* ``calls``: the call in force at ``w`` (min(amount, ARR due) on the GRR basis), and the
  constant rate for a renewal without a call (``coverage``: the share of the ARR still
  due that has a call);
* ``commit``: the amount of the renewals called commit, nothing for the others;
* ``model`` (GRR basis): on Day 1, Σ ARR due × P(renew) from a churn model trained on
  outcomes known at ``qs`` (the stored past-quarter forecast of ``greendoor forecast``);
  in later weeks, P(renew) from the weekly scoring recorded live that week (scored within
  :data:`LIVE_DAYS` of its date), the constant rate for a renewal it did not score.
  Scores backfilled later by today's model are never used: they would leak.

Accuracy = 1 − |forecast − actual| / actual, bias = (forecast − actual) / actual, and
MAPE = the mean of |forecast − actual| / actual over the trailing four closed quarters
(Day-1 forecasts), with the share of quarters within ±5 % and ±10 %.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.actions import FORECAST_CALLS
from greendoor.forecast import renewals as FR
from greendoor.metrics.sql import arr_at_dates_query
from greendoor.store import schema

#: The ways of forecasting compared, in the order shown.
METHODS = {"model": "Model: Σ ARR × P(renew), Day 1",
           "calls": "CSM calls (constant rate where no call)",
           "commit": "Commit only",
           "constant": "Constant: trailing four quarters' renewal rate"}
#: Days after a quarter's end at which its renewals' outcome is read.
CHECK_DAYS = 14
#: A weekly score counts as recorded live when it was computed within this many days of
#: its as-of date (a backfill runs later, with a model that has seen the outcomes).
LIVE_DAYS = 7


def call_history(conn: Connection) -> pd.DataFrame:
    """Every call recorded, oldest first: ``account_id, renewal_date`` (Timestamp),
    ``call, amount, note, created_by, created_at``."""
    fc = schema.forecast_calls
    df = pd.read_sql(sa.select(fc.c.account_id, fc.c.renewal_date, fc.c.call, fc.c.amount,
                               fc.c.note, fc.c.created_by, fc.c.created_at)
                     .order_by(fc.c.created_at), conn)
    df["renewal_date"] = pd.to_datetime(df["renewal_date"])
    return df


def in_force(history: pd.DataFrame, when: dt.datetime | None = None) -> pd.DataFrame:
    """The call in force on each renewal at ``when``: the latest of ``history``
    (:func:`call_history`) recorded before it (every call when ``None``), one row per
    account and renewal date."""
    h = history if when is None else history[pd.to_datetime(history["created_at"])
                                             < pd.Timestamp(when)]
    return h.drop_duplicates(["account_id", "renewal_date"], keep="last").reset_index(drop=True)


def calls_at(conn: Connection, when: dt.datetime | None = None) -> pd.DataFrame:
    """:func:`in_force` of the stored calls at ``when``."""
    return in_force(call_history(conn), when)


def call_sheet(upcoming: pd.DataFrame, calls: pd.DataFrame, model_skill: bool) -> pd.DataFrame:
    """The renewals to call: ``upcoming`` (:func:`greendoor.forecast.renewals.upcoming`
    rows) with the call in force (``calls``: :func:`calls_at`), ``expected`` = ARR × P(renew)
    (NaN, as P(renew), when the renewal model has no measured skill: ``model_skill``) and
    ``amount`` defaulting to nothing until a call is made."""
    df = upcoming.copy()
    if not model_skill:
        df["renewal_probability"] = np.nan
    df["expected"] = df["arr"] * df["renewal_probability"]
    cols = ["account_id", "renewal_date", "call", "amount", "note", "created_by", "created_at"]
    c = calls.reindex(columns=cols) if len(calls) else pd.DataFrame(columns=cols)
    c["renewal_date"] = pd.to_datetime(c["renewal_date"])
    return df.merge(c, on=["account_id", "renewal_date"], how="left")


def changed_calls(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """The rows of an edited call sheet to record: those whose ``call``, ``amount`` or
    ``note`` differ from ``before`` (same rows, same order) and that have a call. A call
    without an amount takes the ARR due (a lost call is recorded as 0 by
    :func:`greendoor.actions.record_forecast_calls`). Columns ``account_id, renewal_date,
    call, amount, note``."""
    keys = ["call", "amount", "note"]
    diff = (before[keys].astype(object).fillna("") != after[keys].astype(object).fillna("")
            ).any(axis=1)
    out = after[diff & after["call"].notna()].astype({"call": object, "note": object})
    out["amount"] = out["amount"].where(out["amount"].notna(), out["arr"])
    return out[["account_id", "renewal_date", "call", "amount", "note"]]


def _arr_at(conn: Connection, dates) -> dict[dt.date, pd.Series]:
    """Each account's ARR as of each of ``dates`` (:func:`greendoor.metrics.sql.
    arr_at_dates_query`), in one query: date -> Series indexed by ``account_id``."""
    dates = sorted(set(dates))
    df = pd.read_sql(arr_at_dates_query(dates), conn)
    df["d"] = pd.to_datetime(df["d"]).dt.date
    out = {d: pd.Series(dtype=float, name="arr", index=pd.Index([], name="account_id"))
           for d in dates}
    for d, g in df.groupby("d"):
        out[d] = g.set_index("account_id")["arr"]
    return out


class _Reads:
    """What one :func:`accuracy` reads from the store, each read once: the renewals due in
    a quarter (the closed quarters and the four before each, for their constant rates,
    overlap: 7 quarters instead of 20), the ARR at a date (a quarter's weeks in one
    query instead of 14) and the churn events (once instead of 70 times): 2.7-2.8 s ->
    1.6-1.8 s at 1,500 accounts, the same frames."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._due: dict[dt.date, pd.DataFrame] = {}
        self._arr: dict[dt.date, pd.Series] = {}
        self.churns = FR.churn_dates(conn)

    def due(self, qs: dt.date) -> pd.DataFrame:
        """:func:`greendoor.forecast.renewals.due_in` of the quarter starting ``qs`` (a
        copy)."""
        if qs not in self._due:
            self._due[qs] = FR.due_in(self.conn, qs, FR.add_quarters(qs, 1))
        return self._due[qs].copy()

    def arr(self, d: dt.date) -> pd.Series:
        """Each account's ARR as of ``d``."""
        if d not in self._arr:
            self.prefetch([d])
        return self._arr[d]

    def prefetch(self, dates) -> None:
        """Read the ARR as of each of ``dates`` not yet read, in one query."""
        todo = set(dates) - self._arr.keys()
        if todo:
            self._arr.update(_arr_at(self.conn, todo))


def _outcomes(conn: Connection, due: pd.DataFrame, qs: dt.date, check: dt.date,
              reads: _Reads | None = None) -> pd.DataFrame:
    """``due`` with ``renewed`` (bool), ``grr`` (ARR due if renewed) and ``nrr`` (ARR at
    ``check`` if renewed) as known at ``check``."""
    out = due.copy()
    reads = reads or _Reads(conn)
    arr = reads.arr(check)  # read once: renewal and NRR both need it
    ok = FR.renewed(conn, out["account_id"], qs, check, arr_at_check=arr,
                    churns=reads.churns).to_numpy()
    after = out["account_id"].map(arr).fillna(0.0).to_numpy()
    out["renewed"] = ok
    out["grr"] = np.where(ok, out["arr"], 0.0)
    out["nrr"] = np.where(ok, after, 0.0)
    return out


def trailing_rates(conn: Connection, qs: dt.date, quarters: int = 4,
                   reads: _Reads | None = None) -> dict[str, float]:
    """The constant baseline's rates for a quarter starting ``qs``: over the ``quarters``
    before it, with outcomes known at ``qs`` (each checked :data:`CHECK_DAYS` after its
    end, or at ``qs`` if earlier): ``{"grr": Σ renewed ARR due / Σ ARR due, "nrr": Σ ARR
    after / Σ ARR due}`` (NaN without renewals). ``reads``: the caller's reads to share."""
    reads = reads or _Reads(conn)
    due_sum = grr = nrr = 0.0
    for k in range(1, quarters + 1):
        ps = FR.add_quarters(qs, -k)
        pe = FR.add_quarters(ps, 1)
        due = reads.due(ps)
        if due.empty:
            continue
        o = _outcomes(conn, due, ps, min(pe + dt.timedelta(days=CHECK_DAYS), qs), reads)
        due_sum += float(o["arr"].sum())
        grr += float(o["grr"].sum())
        nrr += float(o["nrr"].sum())
    return {"grr": grr / due_sum if due_sum else np.nan, "nrr": nrr / due_sum if due_sum else np.nan}


def closed_quarters(as_of: dt.date, n: int = 4) -> list[dt.date]:
    """Starts of the last ``n`` quarters whose outcome is known at ``as_of`` (ended at least
    :data:`CHECK_DAYS` before it), oldest first."""
    last = FR.add_quarters(FR.quarter_start(as_of - dt.timedelta(days=CHECK_DAYS)), -1)
    return [FR.add_quarters(last, -k) for k in range(n - 1, -1, -1)]


def accuracy_date(as_of: dt.date) -> dt.date:
    """The earliest as-of date with ``as_of``'s :func:`closed_quarters`: the start of the
    quarter holding ``as_of`` − :data:`CHECK_DAYS`, plus :data:`CHECK_DAYS` (on or before
    ``as_of``). :func:`accuracy` reads nothing after its quarters' outcome checks, so it
    is the same at every date from this one to the next quarter's: the app computes it
    once per quarter, not once per as-of date visited (3.6 s at 1,500 accounts)."""
    days = dt.timedelta(days=CHECK_DAYS)
    return FR.quarter_start(as_of - days) + days


def _model_day1(conn: Connection) -> dict[pd.Timestamp, float]:
    rf = schema.renewal_forecasts
    df = pd.read_sql(sa.select(rf.c.period_start, rf.c.expected).where(
        rf.c.kind == "past", rf.c.expected.isnot(None)), conn)
    return {pd.Timestamp(d): float(v) for d, v in zip(df["period_start"], df["expected"],
                                                      strict=True)}


def live_scores(conn: Connection, accounts, start: dt.date, end: dt.date) -> pd.DataFrame:
    """P(renew) of ``accounts`` from the weekly scorings dated in ``[start, end)`` that were
    recorded live (``scored_at`` within :data:`LIVE_DAYS` of the date) and carry a model
    probability: ``account_id, as_of`` (Timestamp), ``renewal_probability``."""
    ss = schema.score_snapshots
    df = pd.read_sql(sa.select(ss.c.account_id, ss.c.as_of, ss.c.renewal_probability,
                               ss.c.scored_at)
                     .where(ss.c.account_id.in_(list(accounts)), ss.c.as_of >= start,
                            ss.c.as_of < end, ss.c.renewal_probability.isnot(None)), conn)
    df["as_of"] = pd.to_datetime(df["as_of"])
    live = pd.to_datetime(df["scored_at"]) <= df["as_of"] + pd.Timedelta(days=LIVE_DAYS)
    return df.loc[live, ["account_id", "as_of", "renewal_probability"]]


def _model_week(o: pd.DataFrame, live: pd.DataFrame, w: dt.date, rate: float):
    """The model's GRR forecast at week ``w`` from the latest live scoring on or before it
    (``None`` when there is none): known outcomes + Σ ARR due × P(renew), the constant
    rate where the scoring has no probability; and the share of ARR it scored."""
    seen = live[live["as_of"] <= pd.Timestamp(w)]
    if seen.empty:
        return None
    p = seen[seen["as_of"] == seen["as_of"].max()].set_index("account_id")["renewal_probability"]
    known = o[o["renewal_date"] < pd.Timestamp(w)]
    future = o[o["renewal_date"] >= pd.Timestamp(w)]
    prob = future["account_id"].map(p).astype(float)  # (an empty map keeps the str dtype)
    due = float(future["arr"].sum())
    forecast = float(known["grr"].sum()) + float((future["arr"] * prob.fillna(rate)).sum())
    return forecast, float(future.loc[prob.notna(), "arr"].sum()) / due if due else np.nan


def _week_forecasts(o: pd.DataFrame, calls: pd.DataFrame, w: dt.date, rates: dict) -> list:
    """(method, basis, forecast, coverage) at week ``w`` (see the module docstring)."""
    known = o[o["renewal_date"] < pd.Timestamp(w)]
    future = o[o["renewal_date"] >= pd.Timestamp(w)].merge(
        calls[["account_id", "renewal_date", "call", "amount"]] if len(calls) else
        pd.DataFrame(columns=["account_id", "renewal_date", "call", "amount"]),
        on=["account_id", "renewal_date"], how="left")
    called = future["call"].notna()
    due = float(future["arr"].sum())
    coverage = float(future.loc[called, "arr"].sum()) / due if due else np.nan
    out = []
    for basis in ("grr", "nrr"):
        base = float(known[basis].sum())
        amount = future["amount"].astype(float)
        if basis == "grr":
            amount = np.minimum(amount, future["arr"])
        const = rates[basis] * due
        out += [("constant", basis, base + const, np.nan),
                ("calls", basis, base + float(amount[called].sum())
                 + rates[basis] * float(future.loc[~called, "arr"].sum()), coverage),
                ("commit", basis, base + float(amount[future["call"] == "commit"].sum()),
                 coverage)]
    return out


def accuracy(conn: Connection, as_of: dt.date, n_quarters: int = 4) -> pd.DataFrame:
    """Week-by-week forecasts of the last ``n_quarters`` closed quarters against what
    renewed (module docstring): one row per ``quarter_start, week`` (the date), ``week_no``
    (0 = Day 1), ``method`` (:data:`METHODS`), ``basis`` (grr | nrr), ``forecast``,
    ``actual``, ``accuracy``, ``bias``, ``ape`` (|forecast − actual| / actual) and
    ``coverage`` (calls and commit: share of the ARR still due with a call then).
    Empty when no quarter has closed with renewals due."""
    model = _model_day1(conn)
    history = call_history(conn)
    reads = _Reads(conn)
    rows = []
    for qs in closed_quarters(as_of, n_quarters):
        qe = FR.add_quarters(qs, 1)
        due = reads.due(qs)
        if due.empty:
            continue
        due["renewal_date"] = pd.to_datetime(due["renewal_date"])
        weeks = [w for k in range(14) if (w := qs + dt.timedelta(days=7 * k)) < qe]
        reads.prefetch([*weeks[1:], qe + dt.timedelta(days=CHECK_DAYS)])
        final = _outcomes(conn, due, qs, qe + dt.timedelta(days=CHECK_DAYS), reads)
        actual = {"grr": float(final["grr"].sum()), "nrr": float(final["nrr"].sum())}
        rates = trailing_rates(conn, qs, reads=reads)
        live = live_scores(conn, due["account_id"], qs - dt.timedelta(days=7), qe)
        for k, w in enumerate(weeks):
            o = _outcomes(conn, due, qs, w, reads) if k else due.assign(grr=0.0, nrr=0.0)
            calls = in_force(history, dt.datetime.combine(w, dt.time()))
            found = _week_forecasts(o, calls, w, rates)
            if k == 0 and pd.Timestamp(qs) in model:
                found.append(("model", "grr", model[pd.Timestamp(qs)], np.nan))
            elif (week := _model_week(o, live, w, rates["grr"])) is not None:
                found.append(("model", "grr", *week))
            rows += [{"quarter_start": pd.Timestamp(qs), "week": pd.Timestamp(w), "week_no": k,
                      "method": m, "basis": b, "forecast": f, "actual": actual[b],
                      "coverage": cov} for m, b, f, cov in found]
    df = pd.DataFrame(rows, columns=["quarter_start", "week", "week_no", "method", "basis",
                                     "forecast", "actual", "coverage"])
    err = df["forecast"] - df["actual"]
    df["bias"] = err / df["actual"].where(df["actual"] > 0)
    df["ape"] = df["bias"].abs()
    df["accuracy"] = 1 - df["ape"]
    return df


def summary(acc: pd.DataFrame) -> pd.DataFrame:
    """Day-1 figures per method and basis over the closed quarters: ``method, basis,
    quarters, accuracy`` (mean), ``bias`` (mean, signed), ``mape`` (mean APE over the
    trailing four quarters), ``within_5`` / ``within_10`` (share of quarters with APE at
    most 5 % / 10 %), ``coverage`` (mean) and ``beats_constant``: a lower MAPE than the
    constant baseline on the same basis *and* closer in most of the same quarters."""
    d1 = acc[(acc["week_no"] == 0) & acc["ape"].notna()]
    if d1.empty:
        return pd.DataFrame(columns=["method", "basis", "quarters", "accuracy", "bias", "mape",
                                     "within_5", "within_10", "coverage", "beats_constant"])
    trail = d1[d1["quarter_start"].isin(sorted(d1["quarter_start"].unique())[-4:])]
    const = trail[trail["method"] == "constant"].set_index(["basis", "quarter_start"])["ape"]
    rows = []
    for (method, basis), g in trail.groupby(["method", "basis"], sort=False):
        c = const.reindex(pd.MultiIndex.from_arrays([g["basis"], g["quarter_start"]])).to_numpy()
        wins = int((g["ape"].to_numpy() < c).sum())
        beats = None if method == "constant" else bool(
            g["ape"].mean() < np.nanmean(c) and wins > len(g) / 2) if np.isfinite(c).any() else None
        rows.append({"method": method, "basis": basis, "quarters": len(g),
                     "accuracy": g["accuracy"].mean(), "bias": g["bias"].mean(),
                     "mape": g["ape"].mean(), "within_5": (g["ape"] <= 0.05).mean(),
                     "within_10": (g["ape"] <= 0.10).mean(), "coverage": g["coverage"].mean(),
                     "beats_constant": beats})
    order = {m: i for i, m in enumerate(METHODS)}
    return (pd.DataFrame(rows).sort_values(["basis", "method"], key=lambda s: s.map(order)
                                           if s.name == "method" else s)
            .reset_index(drop=True))


__all__ = ["CHECK_DAYS", "FORECAST_CALLS", "METHODS", "accuracy", "call_history", "call_sheet",
           "changed_calls",
           "calls_at", "accuracy_date", "closed_quarters", "in_force", "summary", "trailing_rates"]
