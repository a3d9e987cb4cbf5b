"""Metrics computed in the store (SQL pushdown), same formulas as :mod:`.core`.

Point-in-time convention: the ARR of an account **as of** date ``d`` is the sum
of the ARR of its subscriptions in force on day ``d - 1`` (``start_date < d`` and
``end_date`` empty or ``>= d``), i.e. known strictly before ``d``. A period
``[start, end)`` compares ARR as of ``start`` with ARR as of ``end``.

Every function takes an open SQLAlchemy ``Connection``, Python ``date`` bounds
and optional filters ``segment`` and ``owner`` (CSM); values reach SQL only as
bound parameters. The segment filter keeps the accounts in that segment as known at
the date the figure is for (:func:`greendoor.state.segment_at_query`: a derived segment
follows the ARR then, not the latest contract's); for a change over ``[start, end)`` an
account counts in the segment it had at ``start`` (new accounts: at ``end``).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import state
from greendoor.metrics import core
from greendoor.store.schema import accounts, subscriptions, survey_responses, tickets, usage


def _ts(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time())


def account_filter(account_col, segment: str | None, owner: str | None, as_of: dt.date):
    """``account_col IN (accounts matching the filters)``, or ``None`` for no filter: the
    accounts in ``segment`` as known at ``as_of`` (:func:`greendoor.state.
    segment_at_query`) and owned by ``owner``."""
    conds = []
    if segment:
        seg = state.segment_at_query(as_of).subquery("seg_at")
        conds.append(account_col.in_(sa.select(seg.c.account_id)
                                     .where(seg.c.segment == segment)))
    if owner:
        conds.append(account_col.in_(sa.select(accounts.c.account_id)
                                     .where(accounts.c.csm_owner == owner)))
    if not conds:
        return None
    return sa.and_(*conds)


def arr_as_of_query(as_of: dt.date, segment: str | None = None, owner: str | None = None):
    """SELECT account_id, arr, seats of the accounts with ARR as of ``as_of``; with
    ``segment``, those whose segment at ``as_of`` is it (a derived segment: the segment
    of that ARR, :func:`greendoor.state.segment_as_of`)."""
    s = subscriptions
    q = (
        sa.select(
            s.c.account_id,
            sa.func.sum(s.c.arr).label("arr"),
            sa.func.sum(s.c.seats).label("seats"),
        )
        .where(s.c.start_date < as_of, sa.or_(s.c.end_date.is_(None), s.c.end_date >= as_of))
        .group_by(s.c.account_id)
        .having(sa.func.sum(s.c.arr) > 0)
    )
    if segment:
        q = _in_segment(q, segment)
    f = account_filter(s.c.account_id, None, owner, as_of)
    return q.where(f) if f is not None else q


def _in_segment(q: sa.Select, segment: str) -> sa.Select:
    """``q`` (subscriptions grouped by account, and by date for several) kept to the
    accounts whose segment at that date is ``segment``: the source's, or (derived) the
    segment of the ARR ``q`` sums (:func:`greendoor.state.segment_as_of`)."""
    a, s = accounts, subscriptions
    return (q.join(a, a.c.account_id == s.c.account_id)
            .group_by(a.c.segment, a.c.segment_source)
            .having(state.segment_as_of(a, sa.func.sum(s.c.arr)) == segment))


def arr_at_dates_query(dates, segment: str | None = None, owner: str | None = None):
    """SELECT d, account_id, arr: :func:`arr_as_of_query` at each of ``dates`` in one
    query (the dates as a VALUES list joined with the subscriptions in force); with
    ``segment``, each date keeps the accounts in that segment then."""
    dates = sorted(set(dates))
    vals = sa.values(sa.column("d", sa.Date), name="dates").data([(d,) for d in dates])
    s = subscriptions
    q = (sa.select(vals.c.d, s.c.account_id, sa.func.sum(s.c.arr).label("arr"))
         .select_from(vals.join(s, sa.and_(s.c.start_date < vals.c.d,
                                           sa.or_(s.c.end_date.is_(None),
                                                  s.c.end_date >= vals.c.d))))
         .group_by(vals.c.d, s.c.account_id)
         .having(sa.func.sum(s.c.arr) > 0))
    if segment:
        q = _in_segment(q, segment)
    f = account_filter(s.c.account_id, None, owner, dates[-1])  # the owner has no history
    return q.where(f) if f is not None else q


def arr_as_of(conn: Connection, as_of: dt.date, segment=None, owner=None) -> pd.DataFrame:
    """Per-account ARR and seats as of a date: columns ``account_id, arr, seats``."""
    return pd.read_sql(arr_as_of_query(as_of, segment, owner), conn)


def retention(
    conn: Connection, start: dt.date, end: dt.date, segment=None, owner=None
) -> dict[str, float]:
    """GRR, NRR and logo churn over ``[start, end)`` (SPEC.md "Metric definitions").

    Over the accounts with ARR as of ``start``: expansion, contraction and
    churned ARR compare each account's ARR as of ``end`` with its start ARR.
    Returns ``start_arr, end_arr, expansion, contraction, churned_arr, grr, nrr,
    accounts_start, accounts_lost, logo_churn`` (rates as fractions; NaN when no
    account had ARR at ``start``).
    """
    if end <= start:
        raise ValueError("end must be after start")
    st = arr_as_of_query(start, segment, owner).subquery("st")
    en = arr_as_of_query(end).subquery("en")
    end_arr = sa.func.coalesce(en.c.arr, 0.0)
    q = sa.select(
        sa.func.count().label("accounts_start"),
        sa.func.sum(sa.case((end_arr <= 0, 1), else_=0)).label("accounts_lost"),
        sa.func.sum(st.c.arr).label("start_arr"),
        sa.func.sum(end_arr).label("end_arr"),
        sa.func.sum(sa.case((end_arr > st.c.arr, end_arr - st.c.arr), else_=0.0)).label(
            "expansion"
        ),
        sa.func.sum(
            sa.case(((end_arr > 0) & (end_arr < st.c.arr), st.c.arr - end_arr), else_=0.0)
        ).label("contraction"),
        sa.func.sum(sa.case((end_arr <= 0, st.c.arr), else_=0.0)).label("churned_arr"),
    ).select_from(st.outerjoin(en, st.c.account_id == en.c.account_id))
    row = conn.execute(q).mappings().one()
    out = {k: float(v or 0) for k, v in row.items()}
    s = out["start_arr"]
    nan = float("nan")
    out["grr"] = (s - out["contraction"] - out["churned_arr"]) / s if s > 0 else nan
    out["nrr"] = (s + out["expansion"] - out["contraction"] - out["churned_arr"]) / s if s > 0 else nan
    n0 = out["accounts_start"]
    out["logo_churn"] = out["accounts_lost"] / n0 if n0 > 0 else nan
    return out


def arr_movements(conn: Connection, start: dt.date, end: dt.date, segment=None,
                  owner=None) -> pd.DataFrame:
    """Every account with ARR as of ``start`` or as of ``end`` (within the filters):
    ``account_id, start_arr, end_arr`` (USD, 0 when none) and ``movement``
    (:func:`greendoor.metrics.core.arr_movement`). :func:`greendoor.metrics.core.
    retention_bridge` of these rows gives the same GRR and NRR as :func:`retention`.
    With ``segment``, an account counts in the segment it had at ``start`` (an account
    new since: at ``end``), so one that changed segment shows as expansion or
    contraction, not as churn in one segment and new in another.
    Raises ``ValueError`` when ``end`` is not after ``start``."""
    if end <= start:
        raise ValueError("end must be after start")
    st = arr_as_of_query(start, None, owner).subquery("st")
    en = arr_as_of_query(end, None, owner).subquery("en")
    q = sa.select(sa.func.coalesce(st.c.account_id, en.c.account_id).label("account_id"),
                  sa.func.coalesce(st.c.arr, 0.0).label("start_arr"),
                  sa.func.coalesce(en.c.arr, 0.0).label("end_arr")).select_from(
        st.join(en, st.c.account_id == en.c.account_id, full=True))
    if segment:
        s0 = arr_as_of_query(start, segment, owner).subquery("s0")
        s1 = arr_as_of_query(end, segment, owner).subquery("s1")
        q = q.where(sa.or_(st.c.account_id.in_(sa.select(s0.c.account_id)),
                           st.c.account_id.is_(None) & en.c.account_id.in_(
                               sa.select(s1.c.account_id))))
    df = pd.read_sql(q, conn)
    df["movement"] = core.arr_movement(df["start_arr"], df["end_arr"])
    return df


def nps(conn: Connection, start: dt.date, end: dt.date, segment=None, owner=None) -> dict:
    """NPS over the ``nps`` survey answers dated in ``[start, end)``.

    Returns ``responses, promoters, passives, detractors, nps`` (NaN without answers).
    """
    r = survey_responses
    conds = [r.c.survey == "nps", r.c.responded_at >= _ts(start), r.c.responded_at < _ts(end)]
    f = account_filter(r.c.account_id, segment, owner, end)
    if f is not None:
        conds.append(f)
    q = sa.select(
        sa.func.count().label("responses"),
        sa.func.sum(sa.case((r.c.score >= core.PROMOTER_MIN, 1), else_=0)).label("promoters"),
        sa.func.sum(sa.case(((r.c.score > core.DETRACTOR_MAX) & (r.c.score < core.PROMOTER_MIN), 1),
                            else_=0)).label("passives"),
        sa.func.sum(sa.case((r.c.score <= core.DETRACTOR_MAX, 1), else_=0)).label("detractors"),
    ).where(*conds)
    row = {k: int(v or 0) for k, v in conn.execute(q).mappings().one().items()}
    n = row["responses"]
    row["nps"] = 100.0 * (row["promoters"] - row["detractors"]) / n if n else float("nan")
    return row


def csat(conn: Connection, start: dt.date, end: dt.date, segment=None, owner=None) -> dict:
    """CSAT over ``[start, end)``: ticket CSAT answers and ``csat`` survey answers.

    Returns ``responses, mean`` (1-5) and ``pct_satisfied`` (share of 4-5 answers).
    """
    t, r = tickets, survey_responses
    tq = sa.select(t.c.account_id, t.c.csat.label("score")).where(
        t.c.csat.is_not(None), t.c.closed_at >= _ts(start), t.c.closed_at < _ts(end)
    )
    sq = sa.select(r.c.account_id, r.c.score.label("score")).where(
        r.c.survey == "csat", r.c.responded_at >= _ts(start), r.c.responded_at < _ts(end)
    )
    u = sa.union_all(tq, sq).subquery("answers")
    q = sa.select(
        sa.func.count().label("responses"),
        sa.func.avg(u.c.score).label("mean"),
        sa.func.avg(sa.case((u.c.score >= 4, 1.0), else_=0.0)).label("pct_satisfied"),
    )
    f = account_filter(u.c.account_id, segment, owner, end)
    if f is not None:
        q = q.where(f)
    row = conn.execute(q).mappings().one()
    n = int(row["responses"] or 0)
    return {
        "responses": n,
        "mean": float(row["mean"]) if n else math.nan,
        "pct_satisfied": float(row["pct_satisfied"]) if n else math.nan,
    }


def stickiness(conn: Connection, start: dt.date, end: dt.date, segment=None, owner=None) -> float:
    """Mean DAU / MAU over ``[start, end)`` (see :func:`greendoor.metrics.core.stickiness`).

    A user is identified by (account_id, user_id); rows with events > 0 count.
    """
    n_days = (end - start).days
    if n_days <= 0:
        raise ValueError("end must be after start")
    u = usage
    user_key = u.c.account_id + sa.literal(":") + sa.func.coalesce(u.c.user_id, "")
    conds = [u.c.date >= start, u.c.date < end, u.c.events > 0]
    f = account_filter(u.c.account_id, segment, owner, end)
    if f is not None:
        conds.append(f)
    daily = (
        sa.select(u.c.date, sa.func.count(sa.distinct(user_key)).label("dau"))
        .where(*conds)
        .group_by(u.c.date)
        .subquery("daily")
    )
    dau_sum = conn.execute(sa.select(sa.func.sum(daily.c.dau))).scalar() or 0
    mau = conn.execute(sa.select(sa.func.count(sa.distinct(user_key))).where(*conds)).scalar() or 0
    return float(dau_sum) / n_days / mau if mau else math.nan


def seat_utilization(conn: Connection, as_of: dt.date, segment=None, owner=None) -> pd.DataFrame:
    """Per account with ARR as of ``as_of``: ``account_id, seats, active_users_30d,
    seat_utilization`` (active users with events in the 30 days before ``as_of`` /
    seats; NaN without seats)."""
    a = arr_as_of_query(as_of, segment, owner).subquery("a")
    u = usage
    active = (
        sa.select(u.c.account_id, sa.func.count(sa.distinct(u.c.user_id)).label("active_users_30d"))
        .where(u.c.date >= as_of - dt.timedelta(days=30), u.c.date < as_of, u.c.events > 0)
        .group_by(u.c.account_id)
        .subquery("act")
    )
    q = sa.select(
        a.c.account_id, a.c.seats, sa.func.coalesce(active.c.active_users_30d, 0).label(
            "active_users_30d")
    ).select_from(a.outerjoin(active, a.c.account_id == active.c.account_id))
    df = pd.read_sql(q, conn)
    seats = df["seats"].astype(float)
    df["seat_utilization"] = df["active_users_30d"] / seats.where(seats > 0)
    return df
