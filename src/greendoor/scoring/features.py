"""Point-in-time account features, computed in the store (SQL pushdown).

``features_as_of(conn, as_of)`` returns one row per account with ARR as of the
date, built only from rows dated strictly before ``as_of``. Python receives one
row per account per query, never raw usage, ticket or survey rows.

Windows are counted back from the as-of date: "30d" is ``[as_of - 30, as_of)``,
"prior 60d" is ``[as_of - 90, as_of - 30)``, "prior 30d" is ``[as_of - 60,
as_of - 30)`` and "30d, 90 days ago" is ``[as_of - 120, as_of - 90)``. Units:
days, counts, USD, ratios (0-1), scores on their survey scale.

Contacts are point-in-time when the store has ``started_at`` / ``ended_at``;
otherwise their current ``active`` flag is used for every date (stated in the
Model quality page as a limit of such data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import state
from greendoor.metrics.core import DETRACTOR_MAX, PROMOTER_MIN
from greendoor.metrics.sql import arr_as_of_query
from greendoor.store import schema, usage_features
from greendoor.store.bulk import read_frame
from greendoor.store.rollups import first_active_day, use_rollups

#: Categorical features (strings); every other feature is numeric (NaN = unknown).
CATEGORICAL = ("segment", "plan", "industry", "region")

#: Feature name -> (group, description with unit). The order is the column order.
FEATURES: dict[str, tuple[str, str]] = {
    "active_days_7d": ("activity", "days with any usage in the last 7 days"),
    "active_days_30d": ("activity", "days with any usage in the last 30 days"),
    "active_days_90d": ("activity", "days with any usage in the last 90 days"),
    "active_users_7d": ("activity", "distinct users active in the last 7 days"),
    "active_users_30d": ("activity", "distinct users active in the last 30 days"),
    "active_users_90d": ("activity", "distinct users active in the last 90 days"),
    "seat_utilization": ("activity", "active users in 30 days / seats (0-1+)"),
    "seat_utilization_change": ("activity", "seat utilization now minus 90 days earlier"),
    "feature_breadth_30d": ("activity", "distinct features used in the last 30 days"),
    "events_30d": ("activity", "usage events in the last 30 days"),
    "events_prior_60d": ("activity", "usage events in the 60 days before that"),
    "usage_trend": ("activity", "daily events, last 30 days / prior 60 days (1 = flat)"),
    "usage_change_mom": ("activity", "events last 30 days / previous 30 days - 1"),
    "usage_growth_90d": ("activity", "events last 30 days / the 30 days 90 days ago - 1"),
    "logins_change_mom": ("activity", "active user-days last 30 days / previous 30 days - 1"),
    "session_minutes_30d": ("activity", "minutes of use per active user-day, last 30 days"),
    "session_change": ("activity", "minutes per user-day, last 30 days / prior 60 days - 1"),
    "errors_30d": ("activity", "errors in the last 30 days"),
    "error_rate_30d": ("activity", "errors per event in the last 30 days"),
    "tickets_30d": ("support", "tickets opened in the last 30 days"),
    "tickets_prior_30d": ("support", "tickets opened in the 30 days before that"),
    "tickets_90d": ("support", "tickets opened in the last 90 days"),
    "high_priority_tickets_90d": ("support", "high or urgent tickets in the last 90 days"),
    "escalated_tickets_90d": ("support", "escalated tickets in the last 90 days"),
    "open_tickets": ("support", "tickets open at the as-of date"),
    "csat_90d": ("support", "mean CSAT (1-5) of answers in the last 90 days"),
    "resolution_hours_90d": ("support", "mean resolution time (hours) of tickets closed in 90 days"),
    "latest_nps": ("voice", "latest NPS answer (0-10)"),
    "nps_detractor": ("voice", "1 if the latest NPS answer is 0-6"),
    "nps_promoter": ("voice", "1 if the latest NPS answer is 9-10"),
    "days_since_nps": ("voice", "days since the latest NPS answer"),
    "days_since_touch": ("relationship", "days since the latest CSM interaction"),
    "meetings_90d": ("relationship", "meetings, calls, QBRs and EBRs in the last 90 days"),
    "meeting_attendance_90d": ("relationship", "share of those the customer attended (0-1)"),
    "champion_active": ("relationship", "1 if a champion is in place"),
    "sponsor_active": ("relationship", "1 if an executive sponsor is in place"),
    "champion_left_90d": ("relationship", "1 if a champion left in the last 90 days"),
    "advocacy_asks_90d": ("relationship", "advocacy asks in the last 90 days"),
    "arr": ("commercial", "ARR as of the date (USD)"),
    "arr_change_90d": ("commercial", "ARR now / ARR 90 days earlier - 1"),
    "seats": ("commercial", "seats in force"),
    "tenure_days": ("commercial", "days since signup"),
    "days_to_renewal": ("commercial", "days to the next renewal date"),
    "term_months": ("commercial", "contract term in months (1 = month-to-month)"),
    "auto_renew": ("commercial", "1 if a subscription in force renews automatically"),
    "overdue_invoices": ("commercial", "invoices past due and unpaid at the date"),
    "max_days_late_180d": ("commercial", "most days late of invoices due in the last 180 days"),
    "open_expansion_pipeline": ("commercial", "open expansion opportunity amount (USD)"),
    "open_opportunities": ("commercial", "open opportunities (any type)"),
    "onboarding_days_behind": ("onboarding", "days the most overdue open milestone of the "
                               "success plan is late (plans of the last year)"),
    "onboarding_stuck": ("onboarding", "1 if the success plan is stuck"),
    "time_to_value_days": ("onboarding", "days from the plan's start to its first value "
                           "milestone (so far, past day 90 without one)"),
    "segment": ("commercial", "segment"),
    "plan": ("commercial", "plan"),
    "industry": ("commercial", "industry"),
    "region": ("commercial", "region"),
}


#: Descriptions of model-only inputs derived from FEATURES (see scoring.run).
DERIVED_INPUTS = {"log_arr": ("commercial", "ARR (size, log scale)")}


_DESCRIPTIONS = {k: v[1] for k, v in {**FEATURES, **DERIVED_INPUTS}.items()}


def describe(name: str) -> str:
    """Plain-language description of a feature or model input."""
    return _DESCRIPTIONS.get(name, name)


def _ts(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time())


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _usage(conn: Connection, d: dt.date, rollup: bool = False) -> pd.DataFrame:
    """Usage aggregates without DISTINCT: user-days first (one row per account, user
    and day of the last 120 days), then account-days, users by their last active day
    and days by account, each a plain GROUP BY. With ``rollup`` the user-days and the
    account-days are read from ``usage_user_days`` and ``usage_account_days``
    (:mod:`greendoor.store.rollups`) instead of summed from the raw rows, and active
    users are counted from ``usage_user_days.prev_date`` without grouping by user; the
    result is the same."""
    q, breadth = usage_selects(d, rollup=rollup)
    return read_frame(q, conn).merge(read_frame(breadth, conn), on="account_id", how="left")


def usage_selects(d: dt.date, usage: sa.FromClause = schema.usage,
                  rollup: bool = False) -> tuple[sa.Select, sa.Select]:
    """The two statements of :func:`_usage` as of ``d`` (dates before ``d``): the sums,
    active days and active users per account, and ``feature_breadth_30d`` per account.
    ``usage`` is any table or subquery with the usage columns (``account_id, user_id,
    date, feature, events, errors, duration_seconds``): the store's, or a warehouse's
    (:mod:`greendoor.warehouse.features` runs them there, on DuckDB, PostgreSQL or
    Spark). ``rollup`` reads the store's rollups instead (store only)."""
    u = usage
    c30 = d - _days(30)
    ud, ad = _user_and_account_days(d, rollup, u)
    sums = _usage_sums(ad, d)
    users = _active_users_rollup(d) if rollup else _active_users_raw(ud, d)
    q = sa.select(sums, *[c for c in users.c if c.name != "account_id"]).select_from(
        sums.join(users, users.c.account_id == sums.c.account_id))
    breadth = (
        sa.select(u.c.account_id, sa.func.count(sa.distinct(u.c.feature)).label("feature_breadth_30d"))
        .where(u.c.date >= c30, u.c.date < d, u.c.events > 0)
        .group_by(u.c.account_id)
    )
    return q, breadth


def _n_if(cond):
    return sa.func.sum(sa.case((cond, 1), else_=0))


def _sum_if(cond, value):
    return sa.func.sum(sa.case((cond, value), else_=0))


def _user_and_account_days(d: dt.date, rollup: bool, u: sa.FromClause = schema.usage):
    """``(user_days, account_days)`` of the 120 days before ``d``: user-days (a CTE of
    ``account_id, user_id, date, events, errors, seconds``; ``None`` from the rollups)
    and account-days (``account_id, date, users, events, errors, seconds``), from the
    usage table ``u``."""
    c120 = d - _days(120)
    if rollup:
        a = schema.usage_account_days
        return None, (sa.select(a.c.account_id, a.c.date, a.c.users, a.c.events, a.c.errors,
                                a.c.seconds)
                      .where(a.c.date >= c120, a.c.date < d).subquery("ad"))
    ud = (
        sa.select(u.c.account_id, u.c.user_id, u.c.date,
                  sa.func.sum(u.c.events).label("events"),
                  sa.func.sum(u.c.errors).label("errors"),
                  sa.func.sum(u.c.duration_seconds).label("seconds"))
        .where(u.c.date >= c120, u.c.date < d, u.c.events > 0)
        .group_by(u.c.account_id, u.c.user_id, u.c.date)
        .cte("ud").prefix_with("MATERIALIZED")
    )
    ad = (sa.select(ud.c.account_id, ud.c.date, sa.func.count().label("users"),
                    sa.func.sum(ud.c.events).label("events"),
                    sa.func.sum(ud.c.errors).label("errors"),
                    sa.func.sum(ud.c.seconds).label("seconds"))
          .group_by(ud.c.account_id, ud.c.date).subquery("ad"))
    return ud, ad


def _usage_sums(ad, d: dt.date):
    """Per account: events, user-days, seconds and errors in the windows the features
    compare (last 30 days, the 30 and 60 before, 90-120 days ago) and active days."""
    c7, c30, c60, c90 = (d - _days(n) for n in (7, 30, 60, 90))
    in30 = ad.c.date >= c30
    prior60 = (ad.c.date < c30) & (ad.c.date >= c90)
    prior30 = (ad.c.date < c30) & (ad.c.date >= c60)
    ago = ad.c.date < c90
    return (
        sa.select(
            ad.c.account_id,
            _sum_if(in30, ad.c.events).label("events_30d"),
            _sum_if(prior60, ad.c.events).label("events_prior_60d"),
            _sum_if(prior30, ad.c.events).label("events_prior_30d"),
            _sum_if(ago, ad.c.events).label("events_30d_90ago"),
            _sum_if(in30, ad.c.users).label("user_days_30d"),
            _sum_if(prior30, ad.c.users).label("user_days_prior_30d"),
            _sum_if(prior60, ad.c.users).label("user_days_prior_60d"),
            _sum_if(in30, ad.c.seconds).label("seconds_30d"),
            _sum_if(prior60, ad.c.seconds).label("seconds_prior_60d"),
            _sum_if(in30, ad.c.errors).label("errors_30d"),
            _n_if(ad.c.date >= c7).label("active_days_7d"),
            _n_if(in30).label("active_days_30d"),
            _n_if(ad.c.date >= c90).label("active_days_90d"),
        ).group_by(ad.c.account_id).subquery("sums")
    )


def _active_users_rollup(d: dt.date):
    """Active users per account in the last 7, 30 and 90 days and 90-120 days ago, from
    ``usage_user_days.prev_date``: a user is active in [c, d) iff one of their rows there
    has prev_date < c (:func:`first_active_day`), a filtered count per account."""
    r = schema.usage_user_days
    c7, c30, c90, c120 = (d - _days(n) for n in (7, 30, 90, 120))

    def first_since(c):
        return (r.c.date >= c) & first_active_day(r.c.prev_date, c)

    return (
        sa.select(
            r.c.account_id,
            _n_if(first_since(c7)).label("active_users_7d"),
            _n_if(first_since(c30)).label("active_users_30d"),
            _n_if(first_since(c90)).label("active_users_90d"),
            _n_if((r.c.date < c90) & first_since(c120)).label("active_users_30d_90ago"),
        ).where(r.c.date >= c120, r.c.date < d,
                sa.or_(first_since(c120), first_since(c90), first_since(c30), first_since(c7)))
        .group_by(r.c.account_id).subquery("users")
    )


def _active_users_raw(ud, d: dt.date):
    """The same counts as :func:`_active_users_rollup` from the user-days: each user's
    last and first active day in the 120 days."""
    c7, c30, c90 = (d - _days(n) for n in (7, 30, 90))
    per_user = (
        sa.select(ud.c.account_id, sa.func.max(ud.c.date).label("last_day"),
                  sa.func.min(ud.c.date).label("first_day"))
        .group_by(ud.c.account_id, ud.c.user_id).subquery("per_user")
    )
    return (
        sa.select(
            per_user.c.account_id,
            _n_if(per_user.c.last_day >= c7).label("active_users_7d"),
            _n_if(per_user.c.last_day >= c30).label("active_users_30d"),
            _n_if(per_user.c.last_day >= c90).label("active_users_90d"),
            _n_if(per_user.c.first_day < c90).label("active_users_30d_90ago"),
        ).group_by(per_user.c.account_id).subquery("users")
    )


def _tickets(conn: Connection, d: dt.date) -> pd.DataFrame:
    t = schema.tickets
    ts = _ts(d)
    t30, t60, t90 = (_ts(d - _days(n)) for n in (30, 60, 90))
    recent = t.c.opened_at >= t90
    q = (
        sa.select(
            t.c.account_id,
            sa.func.sum(sa.case((t.c.opened_at >= t30, 1), else_=0)).label("tickets_30d"),
            sa.func.sum(sa.case(((t.c.opened_at >= t60) & (t.c.opened_at < t30), 1), else_=0))
            .label("tickets_prior_30d"),
            sa.func.sum(sa.case((recent, 1), else_=0)).label("tickets_90d"),
            sa.func.sum(sa.case((recent & t.c.priority.in_(["high", "urgent"]), 1), else_=0))
            .label("high_priority_tickets_90d"),
            sa.func.sum(sa.case((recent & t.c.escalated.is_(True), 1), else_=0))
            .label("escalated_tickets_90d"),
            sa.func.sum(sa.case((sa.or_(t.c.closed_at.is_(None), t.c.closed_at >= ts), 1), else_=0))
            .label("open_tickets"),
            sa.func.avg(sa.case(((t.c.closed_at >= t90) & (t.c.closed_at < ts), t.c.csat)))
            .label("ticket_csat_90d"),
            sa.func.count(sa.case(((t.c.closed_at >= t90) & (t.c.closed_at < ts), t.c.csat)))
            .label("ticket_csat_n"),
            sa.func.avg(sa.case(((t.c.closed_at >= t90) & (t.c.closed_at < ts), t.c.resolution_hours)))
            .label("resolution_hours_90d"),
        )
        .where(t.c.opened_at < ts, sa.or_(t.c.closed_at.is_(None), t.c.closed_at >= t90,
                                          t.c.opened_at >= t90))
        .group_by(t.c.account_id)
    )
    return read_frame(q, conn)


def _surveys(conn: Connection, d: dt.date) -> pd.DataFrame:
    r = schema.survey_responses
    ts = _ts(d)
    ranked = (
        sa.select(r.c.account_id, r.c.score, r.c.responded_at, sa.func.row_number().over(
            partition_by=r.c.account_id, order_by=r.c.responded_at.desc()).label("rn"))
        .where(r.c.survey == "nps", r.c.responded_at < ts)
        .subquery("ranked")
    )
    nps = read_frame(sa.select(ranked.c.account_id, ranked.c.score.label("latest_nps"),
                                ranked.c.responded_at.label("nps_at")).where(ranked.c.rn == 1),
                      conn)
    csat = read_frame(
        sa.select(r.c.account_id, sa.func.avg(r.c.score).label("survey_csat_90d"),
                  sa.func.count().label("survey_csat_n"))
        .where(r.c.survey == "csat", r.c.responded_at < ts, r.c.responded_at >= _ts(d - _days(90)))
        .group_by(r.c.account_id), conn)
    return nps.merge(csat, on="account_id", how="outer")


def _relationship(conn: Connection, d: dt.date) -> pd.DataFrame:
    i, c, adv = schema.interactions, schema.contacts, schema.advocacy_activities
    ts, t90 = _ts(d), _ts(d - _days(90))
    meeting = i.c.type != "email"
    touch = read_frame(
        sa.select(
            i.c.account_id,
            sa.func.max(i.c.occurred_at).label("last_touch"),
            sa.func.sum(sa.case(((i.c.occurred_at >= t90) & meeting, 1), else_=0)).label("meetings_90d"),
            sa.func.sum(sa.case(((i.c.occurred_at >= t90) & meeting & i.c.attended.is_(True), 1),
                                else_=0)).label("attended_90d"),
        ).where(i.c.occurred_at < ts).group_by(i.c.account_id), conn)
    # point-in-time roles when started_at/ended_at exist, else the current flag
    has_dates = sa.or_(c.c.started_at.is_not(None), c.c.ended_at.is_not(None))
    in_role = sa.case(
        (has_dates, sa.and_(sa.or_(c.c.started_at.is_(None), c.c.started_at < d),
                            sa.or_(c.c.ended_at.is_(None), c.c.ended_at >= d))),
        else_=sa.func.coalesce(c.c.active, True))
    roles = read_frame(
        sa.select(
            c.c.account_id,
            sa.func.max(sa.case(((c.c.role == "champion") & in_role, 1), else_=0)).label("champion_active"),
            sa.func.max(sa.case(((c.c.role == "executive_sponsor") & in_role, 1), else_=0)).label("sponsor_active"),
            sa.func.max(sa.case(((c.c.role == "champion") & (c.c.ended_at < d)
                                 & (c.c.ended_at >= d - _days(90)), 1), else_=0)).label("champion_left_90d"),
        ).group_by(c.c.account_id), conn)
    asks = read_frame(
        sa.select(adv.c.account_id, sa.func.count().label("advocacy_asks_90d"))
        .where(adv.c.occurred_at < d, adv.c.occurred_at >= d - _days(90))
        .group_by(adv.c.account_id), conn)
    return touch.merge(roles, on="account_id", how="outer").merge(asks, on="account_id", how="outer")


def _contracts(conn: Connection, d: dt.date) -> pd.DataFrame:
    """Each account with ARR as of ``d``: ARR, seats, ARR 90 days before, signup date,
    segment (as known then, :func:`greendoor.state.segment_as_of`), industry, region."""
    a = schema.accounts
    now = arr_as_of_query(d).subquery("now")
    before = arr_as_of_query(d - _days(90)).subquery("before")
    return read_frame(
        sa.select(now.c.account_id, now.c.arr, now.c.seats, before.c.arr.label("arr_90d_ago"),
                  a.c.signup_date, state.segment_as_of(a, now.c.arr).label("segment"),
                  a.c.industry, a.c.region)
        .select_from(now.join(a, a.c.account_id == now.c.account_id)
                     .outerjoin(before, before.c.account_id == now.c.account_id)),
        conn)


def _commercial(conn: Connection, d: dt.date) -> pd.DataFrame:
    """:func:`_contracts` with the plan, renewal timing, invoices and open opportunities as
    of ``d``; the changing attributes as they were then (:mod:`greendoor.state`)."""
    inv = schema.invoices
    base = _contracts(conn, d)
    renew = state.next_renewals(conn, d)[["account_id", "next_renewal", "auto_renew",
                                           "term_months"]]
    base = (base.merge(renew, on="account_id", how="left")
            .merge(state.plan_as_of(conn, d), on="account_id", how="left"))
    paid = sa.func.coalesce(inv.c.paid_at, d)
    late = read_frame(
        sa.select(
            inv.c.account_id,
            sa.func.sum(sa.case(((inv.c.due_at < d) & sa.or_(inv.c.paid_at.is_(None), inv.c.paid_at >= d), 1),
                                else_=0)).label("overdue_invoices"),
            sa.func.max(sa.case((inv.c.due_at >= d - _days(180),
                                 sa.case((paid < d, paid), else_=d) - inv.c.due_at))).label("max_late"),
        ).where(inv.c.due_at < d, inv.c.issued_at < d).group_by(inv.c.account_id), conn)
    opps = state.opportunities_as_of(conn, d, open_only=True)
    opps = opps.assign(expansion=opps["amount"].where(opps["type"] == "expansion", 0.0))
    opps = (opps.groupby("account_id").agg(open_opportunities=("opportunity_id", "size"),
                                           open_expansion_pipeline=("expansion", "sum"))
            .reset_index())
    return base.merge(late, on="account_id", how="left").merge(opps, on="account_id", how="left")


def _onboarding(conn: Connection, d: dt.date) -> pd.DataFrame:
    """Success-plan features (issue 20): :func:`greendoor.success_plans.onboarding_features`
    with the store's current onboarding settings; no rows on a store without plans."""
    from greendoor import settings as S
    from greendoor import success_plans

    # what was known before the as-of day, as every other feature
    return success_plans.onboarding_features(conn, d - dt.timedelta(days=1),
                                             S.current(conn)[1])


_CHECK = object()  # features_as_of's ``pushed``: read it from the store


def features_as_of(conn: Connection, as_of: dt.date,
                   has_rows: set[str] | None = None, rollup: bool | None = None,
                   pushed=_CHECK) -> pd.DataFrame:
    """Features of every account with ARR as of ``as_of`` (see :data:`FEATURES`).

    Returns a frame indexed by ``account_id`` with the columns of
    :data:`FEATURES` in order, plus ``as_of``. Numeric columns are floats with
    NaN where the data says nothing (e.g. no survey answer); counts are 0 when
    the table has rows for other accounts but none for this one. ``has_rows``
    (from :func:`tables_with_rows`) saves its queries when scoring many dates;
    ``rollup`` (from :func:`greendoor.store.rollups.usage_rollups_fresh`, checked
    here when ``None``) reads the daily per-user usage rollup. When the usage stays in
    the warehouse (``pushed``, :func:`greendoor.store.usage_features.pushed`, read here
    unless given) the usage aggregates are those the sync computed there for
    ``as_of``; for a date it did not compute, the usage features are NaN (unknown).
    """
    return _features(conn, as_of, has_rows, rollup, pushed, _PARTS)


#: The usage, seat and support features: :func:`features_as_of` computes them from the
#: usage, the commercial state (ARR, seats) and the tickets alone.
BEHAVIOR_FEATURES: tuple[str, ...] = (
    "active_days_7d", "active_days_30d", "active_days_90d", "active_users_7d",
    "active_users_30d", "active_users_90d", "feature_breadth_30d", "events_30d",
    "events_prior_60d", "errors_30d", "seat_utilization", "seat_utilization_change",
    "usage_trend", "usage_change_mom", "usage_growth_90d", "logins_change_mom",
    "session_minutes_30d", "session_change", "error_rate_30d", "tickets_30d",
    "tickets_prior_30d", "tickets_90d", "high_priority_tickets_90d",
    "escalated_tickets_90d", "open_tickets", "arr", "seats", "segment")


def behavior_features_as_of(conn: Connection, as_of: dt.date) -> pd.DataFrame:
    """:func:`features_as_of`'s :data:`BEHAVIOR_FEATURES` columns (and ``as_of``), the
    same values, read without the surveys, relationships and success plans: about half
    the time (Segmentation's persona a year earlier, issue 23)."""
    out = _features(conn, as_of, None, None, _CHECK, ("tickets",), commercial=_contracts)
    return out[["as_of", *BEHAVIOR_FEATURES]]


#: the parts :func:`features_as_of` joins beside the usage and the commercial state
_PARTS = ("tickets", "surveys", "relationship", "onboarding")


def _features(conn: Connection, as_of: dt.date, has_rows: set[str] | None,
              rollup: bool | None, pushed, parts: tuple[str, ...],
              commercial: Callable[[Connection, dt.date], pd.DataFrame] = _commercial
              ) -> pd.DataFrame:
    """:func:`features_as_of` over the usage, the commercial state (``commercial``:
    :func:`_commercial`, or :func:`_contracts` without plans, renewals, invoices and
    opportunities) and ``parts`` (of :data:`_PARTS`); a feature of a part left out is
    not what features_as_of gives."""
    has_rows = tables_with_rows(conn) if has_rows is None else has_rows
    push = usage_features.pushed(conn) if pushed is _CHECK else pushed
    if push is None:
        usage = _usage(conn, as_of, use_rollups(conn, rollup))
    elif as_of in push.dates:  # the usage stays in the warehouse: its stored aggregates
        usage = usage_features.read(conn, as_of)
    else:  # a date the sync did not compute: usage unknown, never zero
        usage, has_rows = pd.DataFrame({"account_id": []}), has_rows - {"usage"}
    base = commercial(conn, as_of)
    df = base.set_index("account_id")
    read = {"tickets": _tickets, "surveys": _surveys, "relationship": _relationship,
            "onboarding": _onboarding}
    for part in (usage, *(read[p](conn, as_of) for p in parts)):
        df = df.join(part.set_index("account_id"), how="left")
    df = df.sort_index()  # one order whatever order the database returned (parallel scans)
    return derive(df, as_of, has_rows=has_rows)


#: Tables a store may lack entirely; their features are then unknown, not zero.
OPTIONAL_TABLES = (schema.usage, schema.tickets, schema.survey_responses, schema.interactions,
                   schema.contacts, schema.invoices, schema.opportunities,
                   schema.advocacy_activities)


def tables_with_rows(conn: Connection) -> set[str]:
    """Names of the optional tables that hold at least one row (a table without
    rows leaves its features unknown rather than zero)."""
    out = {"usage"} if usage_features.pushed(conn) is not None else set()
    for t in OPTIONAL_TABLES:
        if conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first():
            out.add(t.name)
    return out


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den where den > 0, else NaN (both Series on the same index)."""
    num = pd.to_numeric(num, errors="coerce").astype(float)
    den = pd.to_numeric(den, errors="coerce").astype(float)
    return num / den.where(den > 0)


def derive(df: pd.DataFrame, as_of: dt.date, has_rows: set[str]) -> pd.DataFrame:
    """Turn the raw aggregates of :func:`features_as_of` into :data:`FEATURES`.

    A table with no rows at all leaves its features NaN (unknown), not 0.
    """
    d = pd.Timestamp(as_of)
    out = pd.DataFrame(index=df.index)

    def col(name):
        return pd.to_numeric(df[name], errors="coerce").astype(float) if name in df else \
            pd.Series(np.nan, index=df.index)

    def counts(names, table):
        for n in names:
            out[n] = col(n).fillna(0.0) if table in has_rows else np.nan

    counts(["active_days_7d", "active_days_30d", "active_days_90d", "active_users_7d",
            "active_users_30d", "active_users_90d", "feature_breadth_30d", "events_30d",
            "events_prior_60d", "errors_30d"], "usage")
    seats = col("seats")
    out["seat_utilization"] = _ratio(out["active_users_30d"], seats)
    before = col("active_users_30d_90ago")
    out["seat_utilization_change"] = out["seat_utilization"] - _ratio(
        before.fillna(0) if "usage" in has_rows else before, seats)
    out["usage_trend"] = _ratio(out["events_30d"] / 30.0, out["events_prior_60d"] / 60.0)
    out["usage_change_mom"] = _ratio(out["events_30d"], col("events_prior_30d").fillna(0)) - 1
    out["usage_growth_90d"] = _ratio(out["events_30d"], col("events_30d_90ago").fillna(0)) - 1
    out["logins_change_mom"] = _ratio(col("user_days_30d").fillna(0),
                                      col("user_days_prior_30d").fillna(0)) - 1
    per_day_now = _ratio(col("seconds_30d").fillna(0), col("user_days_30d").fillna(0))
    per_day_before = _ratio(col("seconds_prior_60d").fillna(0), col("user_days_prior_60d").fillna(0))
    out["session_minutes_30d"] = per_day_now / 60.0
    out["session_change"] = per_day_now / per_day_before - 1
    out["error_rate_30d"] = _ratio(out["errors_30d"], out["events_30d"])
    counts(["tickets_30d", "tickets_prior_30d", "tickets_90d", "high_priority_tickets_90d",
            "escalated_tickets_90d", "open_tickets"], "tickets")
    n_t, n_s = col("ticket_csat_n").fillna(0), col("survey_csat_n").fillna(0)
    total = n_t + n_s
    out["csat_90d"] = ((col("ticket_csat_90d").fillna(0) * n_t + col("survey_csat_90d").fillna(0) * n_s)
                       / total.where(total > 0))
    out["resolution_hours_90d"] = col("resolution_hours_90d")
    out["latest_nps"] = col("latest_nps")
    known = out["latest_nps"].notna()
    out["nps_detractor"] = (out["latest_nps"] <= DETRACTOR_MAX).astype(float).where(known)
    out["nps_promoter"] = (out["latest_nps"] >= PROMOTER_MIN).astype(float).where(known)
    nps_at = pd.to_datetime(df["nps_at"]) if "nps_at" in df else pd.Series(pd.NaT, index=df.index)
    out["days_since_nps"] = (d - nps_at).dt.days.astype(float)
    last_touch = pd.to_datetime(df["last_touch"]) if "last_touch" in df else \
        pd.Series(pd.NaT, index=df.index)
    out["days_since_touch"] = (d - last_touch).dt.days.astype(float)
    if "interactions" in has_rows:
        tenure = (d - pd.to_datetime(df["signup_date"])).dt.days.astype(float)
        # never touched: as long ago as the account exists
        out["days_since_touch"] = out["days_since_touch"].fillna(tenure)
    counts(["meetings_90d"], "interactions")
    out["meeting_attendance_90d"] = _ratio(col("attended_90d"), out["meetings_90d"])
    counts(["champion_active", "sponsor_active", "champion_left_90d"], "contacts")
    counts(["advocacy_asks_90d"], "advocacy_activities")
    out["arr"] = col("arr")
    out["arr_change_90d"] = _ratio(out["arr"], col("arr_90d_ago")) - 1
    out["seats"] = seats
    out["tenure_days"] = (d - pd.to_datetime(df["signup_date"])).dt.days.astype(float)
    out["days_to_renewal"] = (pd.to_datetime(df["next_renewal"]) - d).dt.days.astype(float) \
        if "next_renewal" in df else np.nan
    out["term_months"] = col("term_months")
    for name in ("onboarding_days_behind", "onboarding_stuck", "time_to_value_days"):
        out[name] = col(name)  # NaN without a plan of the last year: unknown, not zero
    out["auto_renew"] = col("auto_renew")
    counts(["overdue_invoices"], "invoices")
    max_late = df["max_late"] if "max_late" in df else pd.Series(np.nan, index=df.index)
    out["max_days_late_180d"] = pd.to_numeric(
        max_late.map(lambda v: v.days if hasattr(v, "days") else v), errors="coerce").astype(float)
    if "invoices" in has_rows:
        out["max_days_late_180d"] = out["max_days_late_180d"].fillna(0.0).clip(lower=0.0)
    counts(["open_expansion_pipeline", "open_opportunities"], "opportunities")
    for c in CATEGORICAL:
        out[c] = df[c].astype(object).where(df[c].notna(), None) if c in df else None
    out = out[list(FEATURES)]
    out.insert(0, "as_of", d)
    out.index.name = "account_id"
    return out
