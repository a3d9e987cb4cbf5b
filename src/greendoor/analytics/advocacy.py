"""Advocacy read models (SPEC.md "Pages" 5; NPS and CSAT per "Metric definitions").

NPS = % promoters (9-10) - % detractors (0-6). Advocacy candidates (SPEC.md):
promoter + green health + no advocacy ask in the last 90 days, from the latest
score snapshot's readiness conditions.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.analytics.portfolio_health import scores
from greendoor.metrics import core
from greendoor.metrics import sql as msql
from greendoor.periods import Filters
from greendoor.store import schema

STATUS_ORDER = ("asked", "accepted", "completed", "declined")


def _month_starts(as_of: dt.date, months: int) -> list[dt.date]:
    first = as_of.replace(day=1)
    out = []
    for k in range(months - 1, -1, -1):
        m = first.month - 1 - k
        out.append(dt.date(first.year + m // 12, m % 12 + 1, 1))
    return out


def nps_trend(conn: Connection, f: Filters, months: int = 12) -> pd.DataFrame:
    """Per calendar month (the last ``months``, up to the as-of date): ``month,
    responses, promoters, passives, detractors, nps`` (points) from NPS answers, and
    ``csat_responses, csat`` (mean 1-5) and ``csat_satisfied`` (share of 4-5) from
    ticket and survey CSAT answers."""
    rows = []
    starts = _month_starts(f.as_of, months)
    for i, m in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else f.as_of
        if end <= m:
            continue
        n = msql.nps(conn, m, end, f.segment, f.owner)
        c = msql.csat(conn, m, end, f.segment, f.owner)
        rows.append({"month": m, **n, "csat_responses": c["responses"], "csat": c["mean"],
                     "csat_satisfied": c["pct_satisfied"]})
    return pd.DataFrame(rows)


def latest_nps_by_account(conn: Connection, f: Filters, days: int = 365) -> pd.DataFrame:
    """Each account's latest NPS answer in the ``days`` before the as-of date:
    ``account_id, name, segment, csm_owner, score, responded_at, category``
    (promoter | passive | detractor)."""
    r, a = schema.survey_responses, schema.accounts
    ranked = (sa.select(r.c.account_id, r.c.score, r.c.responded_at,
                        sa.func.row_number().over(partition_by=r.c.account_id,
                                                  order_by=r.c.responded_at.desc()).label("rn"))
              .where(r.c.survey == "nps",
                     r.c.responded_at < dt.datetime.combine(f.as_of, dt.time()),
                     r.c.responded_at >= dt.datetime.combine(
                         f.as_of - dt.timedelta(days=days), dt.time())).subquery("rk"))
    q = (sa.select(ranked.c.account_id, a.c.name, a.c.segment, a.c.csm_owner, ranked.c.score,
                   ranked.c.responded_at)
         .select_from(ranked.join(a, a.c.account_id == ranked.c.account_id))
         .where(ranked.c.rn == 1))
    flt = msql.account_filter(ranked.c.account_id, f.segment, f.owner)
    if flt is not None:
        q = q.where(flt)
    df = pd.read_sql(q, conn)
    df["category"] = pd.cut(df["score"], [-1, 6, 8, 10],
                            labels=["detractor", "passive", "promoter"]).astype(str)
    return df


def candidates(conn: Connection, f: Filters) -> pd.DataFrame:
    """Accounts by advocacy readiness (0-100, 25 points per condition met: promoter,
    green health, active champion, no ask in 90 days), readiest first, with the
    conditions as booleans. ``candidate`` is True when SPEC.md's three conditions
    hold (promoter, green, no recent ask)."""
    sc = scores(conn, f)
    if sc.empty:
        return sc
    ss = schema.score_snapshots
    det = pd.read_sql(sa.select(ss.c.account_id, ss.c.details_json).where(
        ss.c.as_of == sc["as_of"].iloc[0]), conn).set_index("account_id")["details_json"]
    cond = sc["account_id"].map(lambda a: json.loads(det[a]).get("advocacy", {})
                                if a in det and det[a] else {})
    for k in ("promoter", "green", "champion_active", "no_recent_ask"):
        sc[k] = cond.map(lambda c, _k=k: bool(c.get(_k, False)))
    sc["candidate"] = sc["promoter"] & sc["green"] & sc["no_recent_ask"]
    return sc.sort_values(["advocacy_readiness", "arr"], ascending=False, ignore_index=True)


def activities(conn: Connection, f: Filters, days: int = 365) -> pd.DataFrame:
    """Advocacy activities dated in the ``days`` before the as-of date: ``activity_id,
    account_id, name, segment, csm_owner, type, status, occurred_at, value`` (USD,
    e.g. a referral's pipeline)."""
    v, a = schema.advocacy_activities, schema.accounts
    q = (sa.select(v.c.activity_id, v.c.account_id, a.c.name, a.c.segment, a.c.csm_owner,
                   v.c.type, v.c.status, v.c.occurred_at, v.c.value)
         .select_from(v.join(a, a.c.account_id == v.c.account_id))
         .where(v.c.occurred_at < f.as_of, v.c.occurred_at >= f.as_of - dt.timedelta(days=days)))
    flt = msql.account_filter(v.c.account_id, f.segment, f.owner)
    if flt is not None:
        q = q.where(flt)
    return pd.read_sql(q, conn)


def pipeline(acts: pd.DataFrame) -> pd.DataFrame:
    """Activities per ``type`` and ``status`` (asked, accepted, completed, declined):
    one row per type with a column per status and ``acceptance`` = (accepted +
    completed) / all asks answered or open."""
    if acts.empty:
        return pd.DataFrame(columns=["type", *STATUS_ORDER, "acceptance"])
    t = acts.pivot_table(index="type", columns="status", values="activity_id", aggfunc="count",
                         fill_value=0)
    t = t.reindex(columns=list(STATUS_ORDER), fill_value=0)
    total = t.sum(axis=1)
    t["acceptance"] = (t["accepted"] + t["completed"]) / total.where(total > 0)
    return t.reset_index().sort_values("completed", ascending=False, ignore_index=True)


def advocates_vs_others(conn: Connection, f: Filters) -> pd.DataFrame:
    """Trailing-12-month retention of advocates vs the other accounts.

    An advocate completed at least one advocacy activity in the year before the
    period start (so the grouping uses only what was known then). Over the accounts
    with ARR at the start: ``group, accounts, logo_churn, grr, nrr`` (fractions; NaN
    for an empty group). GRR/NRR per SPEC.md (:func:`greendoor.metrics.core.grr`).
    """
    start = f.as_of - dt.timedelta(days=365)
    st = msql.arr_as_of(conn, start, f.segment, f.owner).set_index("account_id")["arr"]
    en = msql.arr_as_of(conn, f.as_of).set_index("account_id")["arr"]
    v = schema.advocacy_activities
    adv = {r[0] for r in conn.execute(sa.select(v.c.account_id).where(
        v.c.status == "completed", v.c.occurred_at < start,
        v.c.occurred_at >= start - dt.timedelta(days=365)).distinct())}
    rows = []
    for name, ids in (("Advocates", [a for a in st.index if a in adv]),
                      ("Other accounts", [a for a in st.index if a not in adv])):
        rows.append({"group": name, "accounts": len(ids), **core.cohort_retention(st, en, ids)})
    return pd.DataFrame(rows)


def referrals(acts: pd.DataFrame, conn: Connection, f: Filters) -> dict:
    """Referrals in the activity window and influenced pipeline: ``referrals``
    (completed), ``referral_value`` (USD recorded on them), ``new_business_won`` and
    ``new_business_open`` (USD of new-business opportunities of the same accounts)."""
    ref = acts[(acts["type"] == "referral") & (acts["status"] == "completed")]
    o = schema.opportunities
    ids = list(set(ref["account_id"]))
    nb = pd.read_sql(sa.select(o.c.status, sa.func.sum(o.c.amount).label("amount"))
                     .where(o.c.type == "new_business", o.c.account_id.in_(ids))
                     .group_by(o.c.status), conn) if ids else pd.DataFrame(columns=["status", "amount"])
    by = nb.set_index("status")["amount"] if not nb.empty else pd.Series(dtype=float)
    return {"referrals": int(len(ref)), "referral_value": float(ref["value"].fillna(0).sum()),
            "new_business_won": float(by.get("won", 0.0)),
            "new_business_open": float(by.get("open", 0.0))}
