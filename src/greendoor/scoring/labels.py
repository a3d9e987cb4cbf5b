"""Outcome labels for training and backtests (what actually happened after a date).

Labels look *after* the as-of date, so they are only known for as-of dates at
least one horizon before the end of the data (see :func:`labeled_until`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.metrics.sql import arr_as_of_query
from greendoor.store import schema

#: ARR growth that counts as an expansion without an expansion opportunity
#: (above ordinary price uplifts of 3-7 %).
EXPANSION_ARR_GROWTH = 0.10


def churn_labels(conn: Connection, as_of: dt.date, horizon_days: int = 90) -> pd.Series:
    """1 if an account with ARR as of ``as_of`` churns in ``[as_of, as_of + horizon)``.

    Churn = its ARR as of the horizon's end is 0, or a churn event (not a
    reactivation) is dated in the window; the second covers exports whose
    subscriptions never end. Index ``account_id``; values 0/1.
    """
    end = as_of + dt.timedelta(days=horizon_days)
    now = pd.read_sql(arr_as_of_query(as_of), conn).set_index("account_id")["arr"]
    later = pd.read_sql(arr_as_of_query(end), conn).set_index("account_id")["arr"]
    ce = schema.churn_events
    events = {r[0] for r in conn.execute(
        sa.select(ce.c.account_id).where(
            ce.c.churn_date >= as_of, ce.c.churn_date < end,
            sa.func.coalesce(ce.c.is_reactivation, False).is_(False)))}
    lost = later.reindex(now.index).fillna(0) <= 0
    return (lost | now.index.isin(events)).astype(int).rename("churned")


def expansion_labels(conn: Connection, as_of: dt.date, horizon_days: int = 90) -> pd.Series:
    """1 if an account with ARR as of ``as_of`` expands in ``[as_of, as_of + horizon)``:
    a won expansion opportunity closes in the window, or its ARR grows by at least
    :data:`EXPANSION_ARR_GROWTH` while it stays a customer."""
    end = as_of + dt.timedelta(days=horizon_days)
    now = pd.read_sql(arr_as_of_query(as_of), conn).set_index("account_id")["arr"]
    later = pd.read_sql(arr_as_of_query(end), conn).set_index("account_id")["arr"]
    o = schema.opportunities
    won = {r[0] for r in conn.execute(
        sa.select(o.c.account_id).where(o.c.type == "expansion", o.c.status == "won",
                                        o.c.close_date >= as_of, o.c.close_date < end))}
    grew = later.reindex(now.index).fillna(0) >= now * (1 + EXPANSION_ARR_GROWTH)
    return (grew | now.index.isin(won)).astype(int).rename("expanded")


def labeled_until(data_end: dt.date, horizon_days: int = 90) -> dt.date:
    """Latest as-of date whose label window ends before ``data_end`` (exclusive)."""
    return data_end - dt.timedelta(days=horizon_days)
