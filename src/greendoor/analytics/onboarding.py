"""Read models of the Onboarding and Value realization pages (issue 20), at an as-of date.

Everything is as known at ``f.as_of`` (:mod:`greendoor.success_plans`): plans created by
then, milestones done by then, measurements up to then, ARR in force then.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import onboarding as OB
from greendoor import state
from greendoor import success_plans as SP
from greendoor.metrics.sql import arr_as_of
from greendoor.periods import Filters
from greendoor.store import schema


def _accounts(conn: Connection, f: Filters) -> pd.DataFrame:
    a = schema.accounts
    acc = state.with_segment_at(
        conn, pd.read_sql(sa.select(a.c.account_id, a.c.name, a.c.csm_owner), conn), f.as_of)
    arr = arr_as_of(conn, f.as_of)[["account_id", "arr"]]
    acc = acc.merge(arr, on="account_id", how="left")
    if f.segment:
        acc = acc[acc["segment"] == f.segment]
    if f.owner:
        acc = acc[acc["csm_owner"] == f.owner]
    return acc


def onboarding_book(conn: Connection, f: Filters, settings: dict) -> dict:
    """The Onboarding page at ``f.as_of``.

    Returns ``{"available": bool, "plans": frame, "kpis": dict, "rule": str}``. ``plans``
    holds one row per plan in its first 90 days, or of a current customer (ARR in force)
    not complete and started within ``onboarding.feature_window_days``:
    :func:`greendoor.success_plans.progress` columns plus ``name, segment, csm_owner, arr,
    plan_name, approval, approval_due, approval_overdue, ttv_segment_median`` (days, over
    every plan of the segment that reached value by ``as_of``) and ``ttv_vs_median``
    (days; positive = slower)."""
    cfg = settings["onboarding"]
    if not SP.has_plans(conn):
        return {"available": False, "plans": pd.DataFrame(), "kpis": {},
                "rule": OB.status_rule(cfg["behind_days"], cfg["stuck_days"])}
    d = f.as_of
    plans = SP.plans_as_of(conn, d)
    prog = SP.progress(conn, d, cfg["behind_days"], cfg["stuck_days"], plans=plans)
    acc = _accounts(conn, f)
    prog = prog.merge(acc, on="account_id", how="left")
    prog = prog.merge(plans[["plan_id", "name", "approval", "submitted_at", "owner"]]
                      .rename(columns={"name": "plan_name"}), on="plan_id", how="left")
    med = prog.groupby("segment")["time_to_value"].median()
    prog["ttv_segment_median"] = prog["segment"].map(med)
    prog["ttv_vs_median"] = prog["time_to_value"] - prog["ttv_segment_median"]
    window = cfg["feature_window_days"]
    # a plan in its first 90 days shows even before the first invoice (no ARR yet); after
    # that, only current customers' unfinished plans of the window
    live = prog["account_id"].isin(acc["account_id"]) & (
        (prog["day"] <= 90) | (prog["arr"].notna() & (prog["status"] != "complete")
                               & (prog["day"] <= window)))
    cur = prog[live].copy()
    end = dt.datetime.combine(d, dt.time(23, 59))
    due, late = [], []
    for sub, appr in zip(cur["submitted_at"], cur["approval"], strict=True):
        if appr == "submitted" and pd.notna(sub):
            s = OB.sla(pd.Timestamp(sub).to_pydatetime(), end, cfg["approval_business_days"])
            due.append(s.due)
            late.append(s.overdue)
        else:
            due.append(pd.NaT)
            late.append(False)
    cur["approval_due"] = pd.to_datetime(pd.Series(due, index=cur.index, dtype=object))
    cur["approval_overdue"] = late
    order = {"stuck": 0, "behind": 1, "on track": 2, "complete": 3}
    cur = cur.sort_values(["status", "days_behind", "arr"], key=lambda s: s.map(order)
                          if s.name == "status" else s, ascending=[True, False, False])
    counts = cur["status"].value_counts()
    reached = prog[prog["time_to_value"].notna()]
    kpis = {"in_onboarding": int(len(cur)),
            "on_track": int(counts.get("on track", 0)), "behind": int(counts.get("behind", 0)),
            "stuck": int(counts.get("stuck", 0)), "complete": int(counts.get("complete", 0)),
            "stuck_arr": float(cur.loc[cur["status"] == "stuck", "arr"].sum()),
            "median_ttv": float(reached["time_to_value"].median()) if len(reached) else np.nan,
            "median_ttfv": float(prog["time_to_first_value"].median())
            if prog["time_to_first_value"].notna().any() else np.nan,
            "approvals_pending": int((cur["approval"] == "submitted").sum()),
            "approvals_overdue": int(cur["approval_overdue"].sum())}
    return {"available": True, "plans": cur.reset_index(drop=True), "kpis": kpis,
            "rule": OB.status_rule(cfg["behind_days"], cfg["stuck_days"])}


def plan_detail(conn: Connection, plan_id: str, d: dt.date) -> dict:
    """One plan at ``d``: ``plan`` (row), ``milestones`` (with ``done_on, days_late,
    auto`` and ``critical``), ``critical_path`` (ids), ``stakeholders``, ``metrics``
    (:func:`greendoor.success_plans.value_as_of`), ``measurements`` (up to ``d``)."""
    plans = SP.plans_as_of(conn, d)
    plans = plans[plans["plan_id"] == plan_id]
    if plans.empty:
        return {}
    ms = SP.milestones_as_of(conn, d, plans).sort_values(["due_date", "milestone_id"])
    try:
        path = OB.critical_path(ms)
    except ValueError:
        path = []
    ms["critical"] = ms["milestone_id"].isin(path)
    st = schema.stakeholders
    people = pd.read_sql(sa.select(st).where(st.c.plan_id == plan_id), conn)
    rank = {"accountable": 0, "responsible": 1, "consulted": 2, "informed": 3}
    people = (people.assign(_r=people["raci"].map(rank).fillna(9),
                            _v=(people["side"] == "vendor").astype(int))
              .sort_values(["_v", "_r", "name", "stakeholder_id"])
              .drop(columns=["_r", "_v"]).reset_index(drop=True))
    metrics = SP.value_as_of(conn, d, plans)
    mm = schema.value_measurements
    meas = pd.read_sql(sa.select(mm).where(mm.c.metric_id.in_(list(metrics["metric_id"])),
                                           mm.c.measured_at <= d), conn)
    meas["measured_at"] = pd.to_datetime(meas["measured_at"])
    plan = plans.iloc[0].to_dict()
    o = schema.opportunities
    amount = conn.execute(sa.select(o.c.amount).where(
        o.c.opportunity_id == plan.get("opportunity_id"))).scalar() \
        if isinstance(plan.get("opportunity_id"), str) else None
    plan["filled"], plan["missing"] = SP.required_fields(plan, ms, people, len(metrics), amount)
    return {"plan": plan, "milestones": ms.reset_index(drop=True),
            "critical_path": path, "stakeholders": people, "metrics": metrics,
            "measurements": meas.sort_values("measured_at")}


def trajectory(detail: dict, d: dt.date) -> pd.DataFrame:
    """Realized against planned value of one plan, month by month to ``d``: ``date,
    metric, realized, planned`` (money per year at the realized or planned gain)."""
    rows = []
    plan = detail.get("plan") or {}
    if not plan:
        return pd.DataFrame(columns=["date", "metric", "realized", "planned"])
    start = pd.Timestamp(plan["start_date"]).date()
    meas = detail["measurements"]
    for r in detail["metrics"].itertuples():
        td = pd.Timestamp(r.target_date).date() if pd.notna(r.target_date) else \
            start + dt.timedelta(days=89)
        sign = -1.0 if r.direction == "decrease" else 1.0
        m = meas[meas["metric_id"] == r.metric_id]
        for day in [start, *[t.date() for t in m["measured_at"]]]:
            real = m[m["measured_at"] <= pd.Timestamp(day)]
            gain = OB.improvement(r.baseline, real["value"].iloc[-1], r.direction) \
                if len(real) else 0.0
            plan_gain = sign * (OB.planned(r.baseline, r.target, start, td, day) - r.baseline)
            rows.append({"date": pd.Timestamp(day), "metric": r.name,
                         "realized": gain * r.value_per_unit,
                         "planned": plan_gain * r.value_per_unit})
    return pd.DataFrame(rows)


def value_book(conn: Connection, f: Filters, settings: dict, interval: bool = True) -> dict:
    """The Value realization page at ``f.as_of``: ``{"available", "accounts", "kpis"}``.

    ``accounts``: one row per plan of a current customer with value metrics: ``plan_id,
    account_id, name, segment, csm_owner, arr, investment, cost`` (ARR in force +
    investment: the first year's cost), ``benefit`` (realized, money per year at the
    latest measurements), ``planned_benefit`` (the trajectory's at ``as_of``),
    ``realization`` (benefit / planned benefit), ``roi``, ``roi_low``, ``roi_high`` (the
    Monte Carlo interval, ``onboarding.roi_level``), ``quarter_benefit`` and
    ``annual_benefit`` (projected at the realized run rate), ``value_risk`` (realized below
    the trajectory by ``onboarding.value_risk_margin`` after
    ``onboarding.value_risk_min_days``), ``next_renewal``."""
    if not SP.has_plans(conn):
        return {"available": False, "accounts": pd.DataFrame(), "kpis": {}}
    cfg = settings["onboarding"]
    d = f.as_of
    acc = _accounts(conn, f)
    plans = SP.plans_as_of(conn, d)
    plans = plans[plans["account_id"].isin(acc.loc[acc["arr"].notna(), "account_id"])]
    met = SP.value_as_of(conn, d, plans)
    out = value_table(plans, met, acc, d, cfg, interval)
    if out.empty:
        return {"available": True, "accounts": out, "kpis": {}}
    from greendoor import state
    ren = state.next_renewals(conn, d)[["account_id", "next_renewal"]]
    out = out.merge(ren, on="account_id", how="left")
    measured = out[out["benefit"].notna()]
    kpis = {"plans": int(len(out)), "measured": int(len(measured)),
            "benefit": float(measured["benefit"].sum()),
            "planned": float(measured["planned_benefit"].sum()),
            "cost": float(measured["cost"].sum()),
            "value_risk": int(out["value_risk"].sum()),
            "value_risk_arr": float(out.loc[out["value_risk"], "arr"].sum())}
    kpis["roi"] = OB.roi(kpis["benefit"], kpis["cost"])
    return {"available": True, "accounts": out.sort_values(
        ["value_risk", "realization"], ascending=[False, True]).reset_index(drop=True),
        "kpis": kpis}


def value_table(plans: pd.DataFrame, met: pd.DataFrame, acc: pd.DataFrame, d: dt.date,
                cfg: dict, interval: bool = True) -> pd.DataFrame:
    """Per plan: benefit, cost, ROI with its interval (NaN without ``interval``: the Monte
    Carlo draws are skipped), projections and the value-risk flag (see :func:`value_book`);
    pure over its frames. One row per plan of ``met`` whose account is in ``acc``, in
    plan-id order. (Grouped sums, not a loop over plans: 0.74 s to 0.02 s for 440 plans.)"""
    cols = ["plan_id", "account_id", "name", "segment", "csm_owner", "arr", "investment",
            "cost", "benefit", "planned_benefit", "realization", "roi", "roi_low", "roi_high",
            "quarter_benefit", "annual_benefit", "value_risk"]
    if met.empty:
        return pd.DataFrame(columns=cols)
    m = met.assign(measured=met["gain"].notna())
    kept = m[m["measured"]]
    sums = pd.DataFrame({
        "measured": m.groupby("plan_id", sort=True)["measured"].any(),
        "benefit": kept.groupby("plan_id")["benefit"].sum().astype(float),
        "planned_benefit": kept.groupby("plan_id")["planned_benefit"].sum().astype(float)})
    p = plans.drop_duplicates("plan_id").set_index("plan_id")
    info = acc.drop_duplicates("account_id").set_index("account_id")[
        ["name", "segment", "csm_owner", "arr"]]
    out = sums.join(p[["account_id", "start_date", "investment"]], how="left")
    out = out.join(info, on="account_id", how="inner").reset_index()
    if out.empty:
        return pd.DataFrame(columns=cols)
    out["investment"] = pd.to_numeric(out["investment"], errors="coerce").fillna(0.0)
    out["cost"] = pd.to_numeric(out["arr"], errors="coerce") + out["investment"]
    b, pb, cost = out["benefit"], out["planned_benefit"], out["cost"]
    out["realization"] = (b / pb).where(pb > 0)
    out["roi"] = ((b - cost) / cost).where(cost > 0)
    out["quarter_benefit"] = b / 4
    out["annual_benefit"] = b
    days_in = (pd.Timestamp(d) - pd.to_datetime(out["start_date"])).dt.days
    out["value_risk"] = (out["measured"] & (days_in >= cfg["value_risk_min_days"]) & (pb > 0)
                         & (b < (1 - cfg["value_risk_margin"]) * pb)).astype(bool)
    out["roi_low"] = out["roi_high"] = np.nan
    if interval:
        low, high = [], []
        by_plan = dict(tuple(kept.groupby("plan_id")))
        for pid, c in zip(out["plan_id"], out["cost"], strict=True):
            gm = by_plan.get(pid)
            lo = hi = np.nan
            if gm is not None and c > 0:
                lo, _, hi = OB.roi_interval(gm["gain"].to_numpy(),
                                            gm["value_per_unit_low"].astype(float).to_numpy(),
                                            gm["value_per_unit"].astype(float).to_numpy(),
                                            gm["value_per_unit_high"].astype(float).to_numpy(),
                                            c, draws=cfg["roi_draws"], level=cfg["roi_level"])
            low.append(lo)
            high.append(hi)
        out["roi_low"], out["roi_high"] = low, high
    return out[cols]


def account_value(conn: Connection, account_id: str, d: dt.date, settings: dict) -> dict | None:
    """Account 360's value line: the latest plan of the account at ``d`` with its
    progress and value (:func:`value_table`), or ``None`` without a plan."""
    plans = SP.plans_as_of(conn, d, account_ids=[account_id])
    if plans.empty:
        return None
    plans = plans.sort_values("start_date").tail(1)
    cfg = settings["onboarding"]
    prog = SP.progress(conn, d, cfg["behind_days"], cfg["stuck_days"], plans=plans)
    acc = _accounts(conn, Filters(as_of=d))
    acc = acc[acc["account_id"] == account_id]
    met = SP.value_as_of(conn, d, plans)
    val = value_table(plans, met, acc, d, cfg) if acc["arr"].notna().any() else pd.DataFrame()
    return {"plan": plans.iloc[0].to_dict(), "progress": prog.iloc[0].to_dict(),
            "value": val.iloc[0].to_dict() if len(val) else None}


def open_deals(conn: Connection, f: Filters) -> pd.DataFrame:
    """Open new-business and expansion deals of the filtered book: ``opportunity_id,
    account_id, name (account), deal, type, amount, close_date``."""
    o = schema.opportunities
    df = pd.read_sql(sa.select(o.c.opportunity_id, o.c.account_id, o.c.name.label("deal"),
                               o.c.type, o.c.amount, o.c.close_date)
                     .where(o.c.status == "open", o.c.type.in_(["new_business", "expansion"]))
                     .order_by(o.c.close_date, o.c.opportunity_id), conn)
    acc = _accounts(conn, f)[["account_id", "name"]]
    return df.merge(acc, on="account_id", how="inner")
