"""Rules -> alerts (SPEC.md "Rules, alerts and playbooks"); thresholds from settings.

Account rules read one row of features and scores per account; portfolio rules
(product and documentation gaps) read the tickets of the last 90 days. Every
alert carries its evidence: the values that triggered it and the threshold.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.store import schema

PORTFOLIO = "portfolio"  # account_id of portfolio-level alerts

RECOMMENDED = {
    "churn_escalation": ["Start the 14-day retention playbook",
                         "Executive outreach within 7 days",
                         "Review open tickets and usage with the champion"],
    "proactive_checkin": ["Schedule a check-in call this week"],
}


def _num(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v


def _floats(col: pd.Series) -> list[float]:
    """A column as Python floats, NaN for anything missing or not a number (as
    :func:`_num`)."""
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan).tolist()


def account_alerts(features: pd.DataFrame, scores: pd.DataFrame, settings: dict,
                   as_of: dt.date, drivers: dict[str, list[dict]] | None = None) -> pd.DataFrame:
    """Alerts for each account at ``as_of``.

    ``features``: :func:`greendoor.scoring.features.features_as_of` output;
    ``scores``: same index with ``band``, ``health_score``, ``health_change``
    (points over the trend window). Returns ``account_id, rule, severity, title,
    evidence`` (dict).
    """
    r = settings["rules"]
    windows = sorted(settings["renewal_windows_days"])
    out = []
    drivers = drivers or {}
    has_contacts = features["champion_active"].notna().any()
    used = ["arr", "usage_change_mom", "arr_change_90d", "days_to_renewal", "days_since_touch",
            "logins_change_mom", "tickets_30d", "tickets_prior_30d", "champion_left_90d",
            "champion_active", "seat_utilization", "usage_growth_90d"]
    # column lists, not to_dict("index"): about 1 s less at bench tier L (85,000 accounts)
    values = zip(*(_floats(features[c]) for c in used), strict=True)
    score_rows = zip(scores["band"].astype(object).where(scores["band"].notna(), None).tolist(),
                     _floats(scores["health_score"]), _floats(scores["health_change"]),
                     strict=True)
    for acc, row, (band, health_score, health_change) in zip(
            features.index.tolist(), values, score_rows, strict=True):
        f = dict(zip(used, row, strict=True))
        arr = _num(f["arr"])

        def add(rule, severity, title, _acc=acc, _arr=arr, **evidence):
            out.append({"account_id": _acc, "rule": rule, "severity": severity, "title": title,
                        "evidence": {"arr": _arr, **evidence}})

        usage_mom = _num(f["usage_change_mom"])
        downgrade = _num(f["arr_change_90d"]) < 0
        usage_collapse = usage_mom <= -r["escalation_usage_drop"]
        if band == "red" or usage_collapse or downgrade:
            why = ([f"health is red ({health_score:.0f})"] if band == "red" else []) + \
                  ([f"usage down {-usage_mom:.0%} month over month"] if usage_collapse else []) + \
                  ([f"ARR down {-_num(f['arr_change_90d']):.0%} in 90 days"] if downgrade else [])
            renewal = _num(f["days_to_renewal"])
            deadline = as_of + dt.timedelta(days=14)
            if not math.isnan(renewal) and 30 < renewal < 44:
                deadline = as_of + dt.timedelta(days=int(renewal) - 30)
            add("churn_escalation", "critical", "Churn escalation: " + "; ".join(why),
                reasons=why, drivers=drivers.get(acc, []),
                recommended_actions=RECOMMENDED["churn_escalation"],
                intervention_deadline=deadline.isoformat())
        touch = _num(f["days_since_touch"])
        if band == "yellow" and touch > r["checkin_no_contact_days"]:
            add("proactive_checkin", "warning",
                f"Proactive check-in: yellow health and no CSM contact in {touch:.0f} days",
                days_since_touch=touch, threshold_days=r["checkin_no_contact_days"],
                recommended_actions=RECOMMENDED["proactive_checkin"])
        if usage_mom <= -r["warning_usage_decline"] and not usage_collapse:
            add("usage_decline", "warning", f"Usage down {-usage_mom:.0%} month over month",
                change=usage_mom, threshold=-r["warning_usage_decline"])
        logins = _num(f["logins_change_mom"])
        if logins <= -r["warning_login_drop"]:
            add("logins_drop", "warning", f"Logins down {-logins:.0%} month over month",
                change=logins, threshold=-r["warning_login_drop"])
        t_now, t_before = _num(f["tickets_30d"]), _num(f["tickets_prior_30d"])
        if t_now >= 3 and t_now >= (1 + r["warning_ticket_increase"]) * t_before:
            add("tickets_spike", "warning",
                f"Tickets up: {t_now:.0f} in 30 days vs {t_before:.0f} before",
                tickets_30d=t_now, tickets_prior_30d=t_before,
                threshold=r["warning_ticket_increase"])
        drop = health_change
        if drop <= -r["warning_health_drop_points"]:
            add("health_drop", "warning", f"Health down {-drop:.0f} points in 30 days",
                change_points=drop, threshold_points=-r["warning_health_drop_points"])
        if has_contacts and (_num(f["champion_left_90d"]) == 1 or _num(f["champion_active"]) == 0):
            add("champion_inactive", "warning",
                "Champion left in the last 90 days" if _num(f["champion_left_90d"]) == 1
                else "No active champion", champion_active=_num(f["champion_active"]))
        days = _num(f["days_to_renewal"])
        if not math.isnan(days) and 0 <= days <= max(windows):
            w = min(x for x in windows if days <= x)
            add(f"renewal_{w}", "warning" if w <= 30 else "info",
                f"Renewal in {days:.0f} days ({w}-day window)", days_to_renewal=days, window=w)
        util, growth = _num(f["seat_utilization"]), _num(f["usage_growth_90d"])
        if util > r["expansion_seat_utilization"] or growth >= r["expansion_usage_growth"]:
            why = ([f"seat utilization {util:.0%}"] if util > r["expansion_seat_utilization"] else []) + \
                  ([f"usage up {growth:.0%} over 90 days"] if growth >= r["expansion_usage_growth"]
                   else [])
            add("expansion_signal", "info", "Expansion signal: " + "; ".join(why),
                seat_utilization=util, usage_growth_90d=growth,
                thresholds={"seat_utilization": r["expansion_seat_utilization"],
                            "usage_growth_90d": r["expansion_usage_growth"]})
    return pd.DataFrame(out, columns=["account_id", "rule", "severity", "title", "evidence"])


def _topic(subject: str | None) -> str | None:
    if not subject:
        return None
    t = re.sub(r"^[^:]{2,40}:\s*", "", str(subject)).strip().lower()
    return t or None


def gap_alerts(conn: Connection, as_of: dt.date, settings: dict,
               arr: pd.Series | None = None) -> pd.DataFrame:
    """Product gaps (a feature request in 3+ tickets, or > $100K combined ARR of the
    requesting accounts) and documentation gaps (5+ how-to tickets on one topic),
    over the 90 days before ``as_of``. One portfolio-level alert per topic."""
    r = settings["rules"]
    t = schema.tickets
    start = dt.datetime.combine(as_of - dt.timedelta(days=90), dt.time())
    rows = pd.read_sql(
        sa.select(t.c.account_id, t.c.category, t.c.subject)
        .where(t.c.opened_at >= start, t.c.opened_at < dt.datetime.combine(as_of, dt.time()),
               t.c.category.in_(["Feature Request", "How-To Question"])), conn)
    out = []
    if rows.empty:
        return pd.DataFrame(out, columns=["account_id", "rule", "severity", "title", "evidence"])
    rows["topic"] = rows["subject"].map(_topic)
    rows = rows.dropna(subset=["topic"])
    arr = arr if arr is not None else pd.Series(dtype=float)
    for (cat, topic), g in rows.groupby(["category", "topic"]):
        accounts = sorted(set(g["account_id"]))
        combined = float(np.nansum([arr.get(a, np.nan) for a in accounts]))
        if cat == "Feature Request" and (len(g) >= r["product_gap_ticket_count"]
                                         or combined > r["product_gap_arr"]):
            out.append({"account_id": PORTFOLIO, "rule": "product_gap", "severity": "info",
                        "title": f"Product gap: '{topic}' requested in {len(g)} tickets "
                                 f"(${combined:,.0f} ARR)",
                        "evidence": {"topic": topic, "tickets": len(g), "accounts": accounts,
                                     "combined_arr": combined}})
        if cat == "How-To Question" and len(g) >= r["documentation_gap_ticket_count"]:
            out.append({"account_id": PORTFOLIO, "rule": "documentation_gap", "severity": "info",
                        "title": f"Documentation gap: {len(g)} how-to tickets on '{topic}'",
                        "evidence": {"topic": topic, "tickets": len(g), "accounts": accounts}})
    return pd.DataFrame(out, columns=["account_id", "rule", "severity", "title", "evidence"])
