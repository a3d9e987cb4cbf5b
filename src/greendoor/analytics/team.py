"""Team view (issue 19): each CSM's book, its risk and renewals, open and overdue work,
and the load against capacity from the hours model in the settings
(:class:`greendoor.config.Capacity`), with reassignment suggestions that balance load and
keep segment expertise.

**Load** (hours a month) of a CSM = Σ over their accounts of the segment's hours a month
+ onboarding hours × 30 / onboarding days for each account signed up in the last
onboarding days + renewal preparation hours × 30 / window days for each renewal due in the
window (contracts of a year or more: a month-to-month contract has no renewal to prepare); **utilisation** = load / the CSM's hours a month. Everything is as of the date:
the latest score snapshot on or before it, signups and actions before it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import state
from greendoor.analytics.portfolio_health import churn_90, scores
from greendoor.metrics import sql as msql
from greendoor.periods import Filters, is_present
from greendoor.store import schema

#: Actions that are a CSM's open work.
WORK = ("task", "playbook_step", "escalation")
#: Days in a month of the load model.
MONTH_DAYS = 30


def account_load(conn: Connection, f: Filters, capacity: dict) -> pd.DataFrame:
    """One row per scored account in the filters: ``account_id, name, segment,
    csm_owner, arr, health_score, band, days_to_renewal, p_churn_90`` (the model's when it
    has skill, else the rule's), ``onboarding`` and ``renewing`` (bool) and ``hours`` (a
    month, by the load model of the module docstring)."""
    df = scores(conn, f)
    cols = ["account_id", "name", "segment", "csm_owner", "arr", "health_score", "band",
            "days_to_renewal", "p_churn_90", "onboarding", "renewing", "hours"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    a = schema.accounts
    signup = pd.read_sql(sa.select(a.c.account_id, a.c.signup_date), conn).set_index(
        "account_id")["signup_date"]
    since = pd.Timestamp(f.as_of - dt.timedelta(days=capacity["onboarding_days"]))
    signed = pd.to_datetime(df["account_id"].map(signup))
    df["onboarding"] = (signed >= since) & (signed < pd.Timestamp(f.as_of))
    # a renewal is prepared when it is a real one: a contract of a year or more (a
    # month-to-month contract "renews" every month without a renewal conversation)
    term = state.next_renewals(conn, f.as_of).set_index("account_id")["term_months"]
    annual = pd.to_numeric(df["account_id"].map(term), errors="coerce").fillna(12) >= 12
    df["renewing"] = df["days_to_renewal"].between(0, capacity["renewal_window_days"]) & annual
    per_segment = capacity["hours_per_account_month"]
    typical = float(np.mean(list(per_segment.values()))) if per_segment else 0.0
    df["hours"] = (df["segment"].map(per_segment).fillna(typical)
                   + df["onboarding"] * capacity["onboarding_hours"] * MONTH_DAYS
                   / capacity["onboarding_days"]
                   + df["renewing"] * capacity["renewal_prep_hours"] * MONTH_DAYS
                   / capacity["renewal_window_days"])
    df["p_churn_90"] = churn_90(df)
    return df[cols]


def open_work(conn: Connection, f: Filters) -> pd.DataFrame:
    """Open tasks, playbook steps and escalations on the filtered accounts as of the date:
    ``account_id, csm_owner, due_date, overdue`` (due before the date)."""
    t, a = schema.actions, schema.accounts
    q = (sa.select(t.c.account_id, a.c.csm_owner, t.c.due_date)
         .select_from(t.join(a, a.c.account_id == t.c.account_id))
         .where(t.c.status == "open", t.c.type.in_(WORK)))
    if not is_present(conn, f.as_of):
        q = q.where(t.c.created_at < dt.datetime.combine(f.as_of, dt.time()))
    flt = msql.account_filter(a.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        q = q.where(flt)
    df = pd.read_sql(q, conn)
    df["overdue"] = pd.to_datetime(df["due_date"]) < pd.Timestamp(f.as_of)
    return df


def team(load: pd.DataFrame, work: pd.DataFrame, capacity: dict) -> pd.DataFrame:
    """Per CSM: ``csm_owner, accounts, arr, avg_health, arr_at_risk`` (Σ ARR × P(churn,
    90 days)), ``renewals_90``/``renewal_arr`` (in the renewal window), ``onboarding``,
    ``open_tasks``, ``overdue_tasks``, ``load_hours``, ``utilisation`` (load / hours a
    month) and ``status`` (overloaded | ok | can take more), most loaded first."""
    if load.empty:
        return pd.DataFrame(columns=["csm_owner", "accounts", "arr", "avg_health", "arr_at_risk",
                                     "renewals_90", "renewal_arr", "onboarding", "open_tasks",
                                     "overdue_tasks", "load_hours", "utilisation", "status"])
    g = load.assign(risk=load["arr"] * load["p_churn_90"],
                    renew_arr=load["arr"].where(load["renewing"], 0.0)).groupby("csm_owner")
    out = pd.DataFrame({
        "accounts": g.size(), "arr": g["arr"].sum(), "avg_health": g["health_score"].mean(),
        "arr_at_risk": g["risk"].sum(min_count=1), "renewals_90": g["renewing"].sum(),
        "renewal_arr": g["renew_arr"].sum(), "onboarding": g["onboarding"].sum(),
        "load_hours": g["hours"].sum()})
    w = work.groupby("csm_owner").agg(open_tasks=("account_id", "size"),
                                      overdue_tasks=("overdue", "sum"))
    out = out.join(w, how="left").fillna({"open_tasks": 0, "overdue_tasks": 0})
    out[["open_tasks", "overdue_tasks"]] = out[["open_tasks", "overdue_tasks"]].astype(int)
    out["utilisation"] = out["load_hours"] / capacity["csm_hours_month"]
    out["status"] = np.where(out["utilisation"] > capacity["overloaded"], "overloaded",
                             np.where(out["utilisation"] < capacity["underloaded"],
                                      "can take more", "ok"))
    return (out.reset_index().sort_values("utilisation", ascending=False, ignore_index=True))


def suggestions(load: pd.DataFrame, summary: pd.DataFrame, capacity: dict) -> pd.DataFrame:
    """Reassignments that bring each overloaded CSM back to the overloaded share: their
    smallest-ARR accounts first that are neither onboarding nor renewing (no handover in
    the middle of either), each to the least loaded CSM who already looks after accounts
    of that segment (expertise kept) and stays at or under the share after it. Columns
    ``account_id, name, segment, arr, hours, from_csm, to_csm, from_after, to_after``
    (utilisations after the move); empty when nobody is overloaded or nobody can take it."""
    cols = ["account_id", "name", "segment", "arr", "hours", "from_csm", "to_csm",
            "from_after", "to_after"]
    if summary.empty:
        return pd.DataFrame(columns=cols)
    cap, limit = capacity["csm_hours_month"], capacity["overloaded"]
    hours = summary.set_index("csm_owner")["load_hours"].to_dict()
    segs = load.groupby("csm_owner")["segment"].agg(set).to_dict()
    rows = []
    for csm in summary.loc[summary["status"] == "overloaded", "csm_owner"]:
        movable = load[(load["csm_owner"] == csm) & ~load["onboarding"] & ~load["renewing"]]
        for _, acc in movable.sort_values("arr").iterrows():
            if hours[csm] / cap <= limit:
                break
            takers = [c for c in hours if c != csm and acc["segment"] in segs.get(c, set())
                      and (hours[c] + acc["hours"]) / cap <= limit]
            if not takers:
                continue
            to = min(takers, key=lambda c: hours[c])
            hours[csm] -= acc["hours"]
            hours[to] += acc["hours"]
            rows.append({"account_id": acc["account_id"], "name": acc["name"],
                         "segment": acc["segment"], "arr": acc["arr"], "hours": acc["hours"],
                         "from_csm": csm, "to_csm": to, "from_after": hours[csm] / cap,
                         "to_after": hours[to] / cap})
    return pd.DataFrame(rows, columns=cols)
