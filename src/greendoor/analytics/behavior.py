"""Product behavior (SPEC.md "Pages" 7; stickiness per "Metric definitions").

An active user has at least one event that day; a user is (account_id, user_id).
All aggregation runs in the store; results are per week, feature, cohort or account.
Active users, anomalies and cohorts read the usage rollups
(:mod:`greendoor.store.rollups`) when they are fresh, and the raw rows otherwise; the
results are the same (tests/unit/test_analytics.py).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import state
from greendoor.config import DEFAULT_SETTINGS
from greendoor.metrics import sql as msql
from greendoor.periods import Filters
from greendoor.store import schema
from greendoor.store.rollups import first_active_day, use_rollups

#: SPEC.md: adoption gap = fewer than 20 % of active accounts using a feature 30 days
#: after its first use in the portfolio ("release").
#: The Behavior page compares the latest week with this many weeks earlier.
COMPARE_WEEKS = 4
#: Defaults of the settings ``behavior.adoption_gap`` and ``behavior.anomaly_drop``.
ADOPTION_GAP = DEFAULT_SETTINGS["behavior"]["adoption_gap"]
ANOMALY_DROP = DEFAULT_SETTINGS["behavior"]["anomaly_drop"]


def _conds(u, f: Filters, start: dt.date, end: dt.date) -> list:
    conds = [u.c.date >= start, u.c.date < end, u.c.events > 0]
    flt = msql.account_filter(u.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        conds.append(flt)
    return conds


def active_users(conn: Connection, f: Filters, weeks: int = 26,
                 rollup: bool | None = None) -> pd.DataFrame:
    """Weekly DAU, WAU, MAU and stickiness over the last ``weeks`` weeks.

    For each week ending at ``d`` (the as-of date and every 7 days back): ``dau`` =
    mean distinct active users per day over the 7 days before ``d``; ``wau`` =
    distinct users in those 7 days; ``mau`` = distinct users in the 30 days before
    ``d``; ``stickiness`` = DAU / MAU. Columns ``week_end, dau, wau, mau, stickiness``.
    ``rollup`` (default: whether the usage rollups are fresh) reads the user-days of
    ``usage_user_days``, where a user is counted once in a window by the row whose
    previous active day is before the window (no DISTINCT).
    """
    ends = [f.as_of - dt.timedelta(days=7 * k) for k in range(weeks - 1, -1, -1)]
    first = ends[0] - dt.timedelta(days=30)
    dates = sa.values(sa.column("d", sa.Date), name="ends").data([(d,) for d in ends])
    if use_rollups(conn, rollup):
        r = schema.usage_user_days
        ud = (sa.select(r.c.date, r.c.prev_date).where(*_conds(r, f, first, f.as_of))
              .subquery("ud"))
        in7 = sa.and_(ud.c.date >= dates.c.d - sa.literal(7), ud.c.date < dates.c.d)

        def first_since(days):
            return first_active_day(ud.c.prev_date, dates.c.d - sa.literal(days))

        wau = sa.func.count(sa.case((sa.and_(in7, first_since(7)), 1)))
        mau = sa.func.count(sa.case((first_since(30), 1)))
    else:
        u = schema.usage
        key = u.c.account_id + sa.literal(":") + sa.func.coalesce(u.c.user_id, "")
        ud = (sa.select(key.label("uk"), u.c.date).where(*_conds(u, f, first, f.as_of))
              .group_by(key, u.c.date).subquery("ud"))
        in7 = sa.and_(ud.c.date >= dates.c.d - sa.literal(7), ud.c.date < dates.c.d)
        wau = sa.func.count(sa.distinct(sa.case((in7, ud.c.uk))))
        mau = sa.func.count(sa.distinct(ud.c.uk))
    q = (sa.select(dates.c.d.label("week_end"),
                   sa.func.count(sa.case((in7, 1))).label("user_days_7"),
                   wau.label("wau"), mau.label("mau"))
         .select_from(dates.join(ud, sa.and_(ud.c.date >= dates.c.d - sa.literal(30),
                                             ud.c.date < dates.c.d)))
         .group_by(dates.c.d).order_by(dates.c.d))
    df = pd.read_sql(q, conn)
    df["dau"] = df["user_days_7"] / 7.0
    df["stickiness"] = df["dau"] / df["mau"].where(df["mau"] > 0)
    return df[["week_end", "dau", "wau", "mau", "stickiness"]]


def active_users_from_aggregates(conn: Connection, f: Filters, weeks: int = 26) -> pd.DataFrame:
    """:func:`active_users` for a store whose usage stays in the warehouse
    (:mod:`greendoor.store.usage_features`), from the per-account aggregates the sync
    computed, for those of the weeks (the as-of date and every 7 days back) it computed.

    ``wau`` = the sum of the accounts' ``active_users_7d`` and ``mau`` = the sum of their
    ``active_users_30d`` (a user is an (account, user) pair, so the sums are the distinct
    users of :func:`active_users`, equal to them); ``dau`` is the **30-day** mean (the sum
    of ``user_days_30d`` / 30: the aggregates hold no 7-day user-days) and
    ``stickiness`` = that DAU / MAU. Columns ``week_end, dau, wau, mau, stickiness``.

    The weeks end on the latest computed date on or before ``f.as_of`` and every 7 days
    back (a past as-of date between two synced weeks shows the week before it); no rows
    when nothing was computed by then."""
    t = schema.usage_features
    anchor = conn.execute(sa.select(sa.func.max(t.c.as_of)).where(t.c.as_of <= f.as_of)).scalar()
    if anchor is None:
        return pd.DataFrame(columns=["week_end", "dau", "wau", "mau", "stickiness"])
    anchor = anchor.date() if isinstance(anchor, dt.datetime) else anchor
    ends = [anchor - dt.timedelta(days=7 * k) for k in range(weeks - 1, -1, -1)]
    conds = [t.c.as_of.in_(ends)]
    flt = msql.account_filter(t.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        conds.append(flt)
    df = pd.read_sql(sa.select(t.c.as_of.label("week_end"),
                               sa.func.sum(t.c.active_users_7d).label("wau"),
                               sa.func.sum(t.c.active_users_30d).label("mau"),
                               sa.func.sum(t.c.user_days_30d).label("user_days"))
                     .where(*conds).group_by(t.c.as_of).order_by(t.c.as_of), conn)
    df["week_end"] = pd.to_datetime(df["week_end"]).dt.date  # as active_users gives them
    for c in ("wau", "mau", "user_days"):
        df[c] = pd.to_numeric(df[c]).astype(float)
    df["dau"] = df.pop("user_days") / 30.0
    df["stickiness"] = df["dau"] / df["mau"].where(df["mau"] > 0)
    return df[["week_end", "dau", "wau", "mau", "stickiness"]]


def _first_month(conn: Connection, f: Filters, rel: pd.DataFrame) -> pd.DataFrame:
    """``feature, adoption_30d_after_release``: of the accounts active in the 30 days
    from each feature's release (``rel``: ``feature, released``), the share that used
    it then; NaN while those 30 days have not passed by ``f.as_of`` or none was active.
    One query for every feature (the windows as a VALUES list joined with the usage)."""
    u = schema.usage
    month = dt.timedelta(days=30)
    done = [(r.feature, r.released, r.released + month) for r in rel.itertuples()
            if r.released + month <= f.as_of]
    got = pd.DataFrame(columns=["feature", "act", "used"])
    if done:
        w = sa.values(sa.column("feature", sa.String), sa.column("released", sa.Date),
                      sa.column("until", sa.Date), name="windows").data(done)
        conds = [u.c.events > 0]
        flt = msql.account_filter(u.c.account_id, f.segment, f.owner, f.as_of)
        if flt is not None:
            conds.append(flt)
        got = pd.read_sql(
            sa.select(w.c.feature, sa.func.count(sa.distinct(u.c.account_id)).label("act"),
                      sa.func.count(sa.distinct(sa.case((u.c.feature == w.c.feature,
                                                         u.c.account_id)))).label("used"))
            .select_from(w.join(u, sa.and_(u.c.date >= w.c.released, u.c.date < w.c.until)))
            .where(*conds).group_by(w.c.feature), conn)
    out = rel[["feature"]].merge(got, on="feature", how="left")
    act = out["act"].astype(float)
    out["adoption_30d_after_release"] = out["used"].astype(float) / act.where(act > 0)
    return out[["feature", "adoption_30d_after_release"]]


def feature_adoption(conn: Connection, f: Filters, days: int = 30,
                     gap: float = ADOPTION_GAP) -> pd.DataFrame:
    """Per feature: ``feature, released`` (first use in the portfolio), ``accounts``
    using it in the last ``days`` days, ``adoption`` = that / accounts active in the
    last ``days`` days, ``adoption_30d_after_release`` = share of the accounts active
    in the 30 days after release that used it then, ``gap`` (that share below ``gap``,
    the setting ``behavior.adoption_gap``, 20 % in SPEC.md), ``events``, ``errors`` and ``error_rate`` (errors / events, last
    ``days`` days), and ``error_rate_prior`` (the ``days`` before that)."""
    u = schema.usage
    start, prior = f.as_of - dt.timedelta(days=days), f.as_of - dt.timedelta(days=2 * days)
    flt = msql.account_filter(u.c.account_id, f.segment, f.owner, f.as_of)
    base = [u.c.date < f.as_of, u.c.events > 0, u.c.feature.is_not(None)]
    if flt is not None:
        base.append(flt)
    recent = u.c.date >= start
    before = sa.and_(u.c.date >= prior, u.c.date < start)
    per = pd.read_sql(sa.select(
        u.c.feature,
        sa.func.count(sa.distinct(sa.case((recent, u.c.account_id)))).label("accounts"),
        sa.func.sum(sa.case((recent, u.c.events), else_=0)).label("events"),
        sa.func.sum(sa.case((recent, sa.func.coalesce(u.c.errors, 0)), else_=0)).label("errors"),
        sa.func.sum(sa.case((before, u.c.events), else_=0)).label("events_prior"),
        sa.func.sum(sa.case((before, sa.func.coalesce(u.c.errors, 0)), else_=0)).label(
            "errors_prior"),
    ).where(*base, u.c.date >= prior).group_by(u.c.feature), conn)
    if per.empty:
        return pd.DataFrame()
    active = conn.execute(sa.select(sa.func.count(sa.distinct(u.c.account_id))).where(
        *_conds(u, f, start, f.as_of))).scalar() or 0
    rel = pd.read_sql(sa.select(u.c.feature, sa.func.min(u.c.date).label("released"))
                      .where(*base).group_by(u.c.feature), conn)
    rel = rel.merge(_first_month(conn, f, rel), on="feature", how="left")
    df = per.merge(rel, on="feature", how="left")
    df["adoption"] = df["accounts"] / active if active else np.nan
    df["gap"] = df["adoption_30d_after_release"] < gap
    df["error_rate"] = df["errors"] / df["events"].where(df["events"] > 0)
    df["error_rate_prior"] = df["errors_prior"] / df["events_prior"].where(df["events_prior"] > 0)
    # (ties by name: one order whatever order the database grouped in)
    return df.sort_values(["adoption", "feature"], ascending=[False, True], ignore_index=True)[
        ["feature", "released", "accounts", "adoption", "adoption_30d_after_release", "gap",
         "events", "errors", "error_rate", "error_rate_prior"]]


def cohort_retention(conn: Connection, f: Filters, months: int = 24,
                     rollup: bool | None = None) -> pd.DataFrame:
    """Signup-cohort retention: share of each signup month's accounts with any usage
    in each month since signup. Long frame ``cohort`` (month start), ``age`` (months
    since signup, 0 = the signup month), ``active``, ``size``, ``retention``; cohorts
    that signed up in the last ``months`` months before the as-of date. ``rollup``
    (default: whether the usage rollups are fresh) reads ``usage_account_days``."""
    a = schema.accounts
    u = schema.usage_account_days if use_rollups(conn, rollup) else schema.usage
    since = (f.as_of.replace(day=1) - pd.DateOffset(months=months - 1)).date()
    acc = sa.select(a.c.account_id, a.c.signup_date).where(
        a.c.signup_date >= since, a.c.signup_date < f.as_of)
    flt = msql.account_filter(a.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        acc = acc.where(flt)
    accounts = pd.read_sql(acc, conn)
    if accounts.empty:
        return pd.DataFrame(columns=["cohort", "age", "active", "size", "retention"])
    acc_sq = acc.subquery("acc")
    month = sa.cast(sa.func.date_trunc("month", u.c.date), sa.Date)
    act = pd.read_sql(sa.select(u.c.account_id, month.label("month"))
                      .select_from(u.join(acc_sq, acc_sq.c.account_id == u.c.account_id))
                      .where(u.c.date < f.as_of, u.c.events > 0)
                      .group_by(u.c.account_id, month), conn)  # account-days: events > 0
    accounts["cohort"] = pd.to_datetime(accounts["signup_date"]).dt.to_period("M")
    size = accounts.groupby("cohort").size()
    act["month"] = pd.to_datetime(act["month"]).dt.to_period("M")
    act = act.merge(accounts[["account_id", "cohort"]], on="account_id")
    act["age"] = (act["month"] - act["cohort"]).map(lambda x: x.n)
    act = act[act["age"] >= 0]
    g = act.groupby(["cohort", "age"])["account_id"].nunique().rename("active").reset_index()
    g["size"] = g["cohort"].map(size)
    g["retention"] = g["active"] / g["size"]
    g["cohort"] = g["cohort"].dt.start_time
    return g


def anomalies(conn: Connection, f: Filters, days: int = 14,
              rollup: bool | None = None, drop: float = ANOMALY_DROP) -> pd.DataFrame:
    """Accounts whose events or session time over the last ``days`` days fell more
    than ``drop`` (the setting ``behavior.anomaly_drop``, 20 % in SPEC.md) below the
    ``days`` before, largest ARR first. Columns
    ``account_id, name, segment, csm_owner, arr, events_now, events_before,
    events_change, minutes_now, minutes_before, minutes_change, anomaly`` (words).
    Accounts with fewer than 20 events in the earlier window are left out (too
    little to call a drop). ``rollup`` (default: whether the usage rollups are fresh)
    reads ``usage_account_days``."""
    a = schema.accounts
    if use_rollups(conn, rollup):
        u = schema.usage_account_days
        seconds = u.c.seconds
    else:
        u = schema.usage
        seconds = u.c.duration_seconds
    start, prior = f.as_of - dt.timedelta(days=days), f.as_of - dt.timedelta(days=2 * days)
    now = u.c.date >= start
    q = (sa.select(u.c.account_id,
                   sa.func.sum(sa.case((now, u.c.events), else_=0)).label("events_now"),
                   sa.func.sum(sa.case((~now, u.c.events), else_=0)).label("events_before"),
                   (sa.func.sum(sa.case((now, seconds), else_=0.0)) / 60.0).label("minutes_now"),
                   (sa.func.sum(sa.case((~now, seconds), else_=0.0)) / 60.0)
                   .label("minutes_before"))
         .where(*_conds(u, f, prior, f.as_of)).group_by(u.c.account_id)).subquery("w")
    arr = msql.arr_as_of_query(f.as_of, f.segment, f.owner).subquery("arr")
    df = pd.read_sql(sa.select(q, a.c.name, state.segment_as_of(a, arr.c.arr).label("segment"),
                               a.c.csm_owner, arr.c.arr)
                     .select_from(q.join(arr, arr.c.account_id == q.c.account_id)
                                  .join(a, a.c.account_id == q.c.account_id))
                     .where(q.c.events_before >= 20), conn)
    df["events_change"] = df["events_now"] / df["events_before"] - 1
    df["minutes_change"] = df["minutes_now"] / df["minutes_before"].where(df["minutes_before"] > 0) - 1
    ev = df["events_change"] < -drop
    mi = df["minutes_change"] < -drop
    df = df[ev | mi].copy()
    df["anomaly"] = [
        "; ".join(([f"events {e:+.0%}"] if x else []) + ([f"session time {m:+.0%}"] if y else []))
        for e, m, x, y in zip(df["events_change"], df["minutes_change"], ev[ev | mi], mi[ev | mi],
                              strict=True)]
    return df.sort_values("arr", ascending=False, ignore_index=True)[
        ["account_id", "name", "segment", "csm_owner", "arr", "events_now", "events_before",
         "events_change", "minutes_now", "minutes_before", "minutes_change", "anomaly"]]


def power_users(conn: Connection, f: Filters, days: int = 30, top: int = 50) -> pd.DataFrame:
    """The most active users of the last ``days`` days: ``account_id, name (account),
    user_id, active_days, events, features`` (distinct), ranked by active days then
    events."""
    u, a = schema.usage, schema.accounts
    q = (sa.select(u.c.account_id, a.c.name, u.c.user_id,
                   sa.func.count(sa.distinct(u.c.date)).label("active_days"),
                   sa.func.sum(u.c.events).label("events"),
                   sa.func.count(sa.distinct(u.c.feature)).label("features"))
         .select_from(u.join(a, a.c.account_id == u.c.account_id))
         .where(*_conds(u, f, f.as_of - dt.timedelta(days=days), f.as_of),
                u.c.user_id.is_not(None))
         .group_by(u.c.account_id, a.c.name, u.c.user_id)
         .order_by(sa.desc("active_days"), sa.desc("events")).limit(top))
    return pd.read_sql(q, conn)


def feature_accounts(conn: Connection, f: Filters, feature: str, days: int = 30) -> pd.DataFrame:
    """Accounts using ``feature`` in the last ``days`` days, highest error rate first:
    ``account_id, name, segment, csm_owner, users, events, errors, error_rate``."""
    u, a = schema.usage, schema.accounts
    q = (sa.select(u.c.account_id, a.c.name, a.c.csm_owner,
                   sa.func.count(sa.distinct(u.c.user_id)).label("users"),
                   sa.func.sum(u.c.events).label("events"),
                   sa.func.sum(sa.func.coalesce(u.c.errors, 0)).label("errors"))
         .select_from(u.join(a, a.c.account_id == u.c.account_id))
         .where(*_conds(u, f, f.as_of - dt.timedelta(days=days), f.as_of),
                u.c.feature == feature)
         .group_by(u.c.account_id, a.c.name, a.c.csm_owner))
    df = state.with_segment_at(conn, pd.read_sql(q, conn), f.as_of)
    df["error_rate"] = df["errors"] / df["events"].where(df["events"] > 0)
    return df.sort_values(["error_rate", "events"], ascending=False, ignore_index=True)


def cohort_accounts(conn: Connection, f: Filters, cohort: dt.date) -> pd.DataFrame:
    """Accounts that signed up in the month of ``cohort``: ``account_id, name,
    segment, csm_owner, signup_date, last_usage`` (latest usage day before as-of)."""
    a, u = schema.accounts, schema.usage
    end = (pd.Timestamp(cohort) + pd.offsets.MonthBegin(1)).date()
    last = (sa.select(u.c.account_id, sa.func.max(u.c.date).label("last_usage"))
            .where(u.c.date < f.as_of, u.c.events > 0).group_by(u.c.account_id).subquery("l"))
    q = (sa.select(a.c.account_id, a.c.name, a.c.csm_owner, a.c.signup_date,
                   last.c.last_usage)
         .select_from(a.outerjoin(last, last.c.account_id == a.c.account_id))
         .where(a.c.signup_date >= cohort, a.c.signup_date < end))
    flt = msql.account_filter(a.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        q = q.where(flt)
    return state.with_segment_at(conn, pd.read_sql(q.order_by(a.c.name), conn), f.as_of)
