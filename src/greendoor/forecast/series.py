"""Time series from the store, for the portfolio or one segment (SQL pushdown).

Monthly, on month starts up to the as-of date; flows cover whole months only:

* ``arr``: ARR as of each month start (USD).
* ``churned_arr``, ``expansion_arr``, ``contraction_arr``: ARR lost, added and
  reduced during the month among the accounts active at its start (SPEC.md GRR/NRR
  terms).
* ``renewed_arr``: start-of-month ARR of the accounts whose contract came up for
  renewal in the month (the next renewal of the contract in force at the month start,
  :func:`greendoor.state.next_renewals`) and that still have ARR at the month's end;
  ``due_arr`` is the same for all of those accounts, ``renewal_rate`` = renewed / due.
* ``grr``, ``nrr``: trailing-12-month GRR and NRR at each month start.

Weekly: ``arr`` on every 7th day ending at the as-of date.

A segment's series count each account in the segment it had at the date of each point
(:func:`greendoor.state.segment_at_query`); its flows, the accounts in it at the start
of the period.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import state
from greendoor.forecast.renewals import due_in, renewed
from greendoor.metrics import sql as msql
from greendoor.periods import data_start

MONTHLY_SERIES = ("arr", "renewed_arr", "churned_arr", "expansion_arr", "grr", "nrr")


def _month_starts(first: dt.date, as_of: dt.date) -> list[dt.date]:
    out, d = [], dt.date(first.year, first.month, 1)
    if d < first:
        d = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    while d <= as_of:
        out.append(d)
        d = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def _arr_at(conn: Connection, dates: list[dt.date], segment: str | None) -> pd.Series:
    if not dates:
        return pd.Series(dtype=float)
    # each account's ARR at each date (a segment: the accounts in it then); a date
    # without any is 0
    pa = msql.arr_at_dates_query(dates, segment).subquery("pa")
    df = pd.read_sql(sa.select(pa.c.d, sa.func.sum(pa.c.arr).label("arr")).group_by(pa.c.d),
                     conn)
    df["d"] = pd.to_datetime(df["d"])
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates)), name="d")
    return df.set_index("d")["arr"].reindex(idx).fillna(0.0).sort_index()


def _renewals(conn: Connection, start: dt.date, end: dt.date, segment: str | None) -> tuple[float, float]:
    """(ARR due, ARR renewed) in ``[start, end)``: the accounts whose next renewal in force
    at ``start`` falls in the month (point in time, :func:`greendoor.state.next_renewals`)
    and that still have ARR at ``end``."""
    due = due_in(conn, start, end)
    if segment:  # the accounts in the segment at the start
        due = due[due["account_id"].map(state.segments_at(conn, start)) == segment]
    if due.empty:
        return 0.0, 0.0
    ok = renewed(conn, due["account_id"], start, end).to_numpy()
    return float(due["arr"].sum()), float(due["arr"][ok].sum())


def monthly(conn: Connection, as_of: dt.date, segment: str | None = None) -> pd.DataFrame:
    """Monthly series (see the module docstring): columns ``ds`` plus
    :data:`MONTHLY_SERIES`, ``contraction_arr``, ``due_arr`` and ``renewal_rate``.
    Flow columns are NaN for the last, incomplete month; ``grr``/``nrr`` are NaN
    before 12 months of history."""
    start = data_start(conn)
    if start is None:
        return pd.DataFrame(columns=["ds", *MONTHLY_SERIES])
    months = _month_starts(start, as_of)
    arr = _arr_at(conn, months, segment)
    rows = []
    for i, m in enumerate(months):
        row = {"ds": pd.Timestamp(m), "arr": float(arr.get(pd.Timestamp(m), 0.0))}
        if i + 1 < len(months):
            nxt = months[i + 1]
            r = msql.retention(conn, m, nxt, segment)
            due, renewed = _renewals(conn, m, nxt, segment)
            row.update(churned_arr=r["churned_arr"], expansion_arr=r["expansion"],
                       contraction_arr=r["contraction"], due_arr=due, renewed_arr=renewed,
                       renewal_rate=renewed / due if due else float("nan"))
        if i >= 12:
            r12 = msql.retention(conn, months[i - 12], m, segment)
            row.update(grr=r12["grr"], nrr=r12["nrr"])
        rows.append(row)
    cols = ["ds", "arr", "renewed_arr", "due_arr", "renewal_rate", "churned_arr",
            "expansion_arr", "contraction_arr", "grr", "nrr"]
    return pd.DataFrame(rows).reindex(columns=cols)


def weekly_arr(conn: Connection, as_of: dt.date, segment: str | None = None) -> pd.DataFrame:
    """ARR every 7 days ending at ``as_of``: columns ``ds``, ``arr``."""
    start = data_start(conn)
    if start is None:
        return pd.DataFrame(columns=["ds", "arr"])
    dates = []
    d = as_of
    while d >= start:
        dates.append(d)
        d -= dt.timedelta(days=7)
    arr = _arr_at(conn, sorted(dates), segment)
    return pd.DataFrame({"ds": arr.index, "arr": arr.to_numpy()})
