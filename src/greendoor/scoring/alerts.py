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


def _floats(col: pd.Series) -> list[float]:
    """A column as Python floats, NaN for anything missing or not a number."""
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan).tolist()


def account_alerts(features: pd.DataFrame, scores: pd.DataFrame, settings: dict,
                   as_of: dt.date, drivers: dict[str, list[dict]] | None = None) -> pd.DataFrame:
    """Alerts for each account at ``as_of``.

    ``features``: :func:`greendoor.scoring.features.features_as_of` output;
    ``scores``: same index with ``band``, ``health_score``, ``health_change``
    (points over the trend window). Returns ``account_id, rule, severity, title,
    evidence`` (dict), account by account in the features' order, each account's
    alerts in the order of the rules below. Each rule is a condition on whole columns;
    only the alerts raised are built one by one (about 1 s less than a loop over the
    85,000 accounts of bench tier L).
    """
    r = settings["rules"]
    windows = sorted(settings["renewal_windows_days"])
    drivers = drivers or {}
    used = ["arr", "usage_change_mom", "arr_change_90d", "days_to_renewal", "days_since_touch",
            "logins_change_mom", "tickets_30d", "tickets_prior_30d", "champion_left_90d",
            "champion_active", "seat_utilization", "usage_growth_90d"]
    v = {c: _floats(features[c]) for c in used}  # Python floats, NaN when missing
    x = {c: np.asarray(vals, dtype=float) for c, vals in v.items()}
    band = scores["band"].astype(object).where(scores["band"].notna(), None).to_numpy(dtype=object)
    health_score = _floats(scores["health_score"])
    health_change = _floats(scores["health_change"])
    hc = np.asarray(health_change, dtype=float)
    accounts = features.index.tolist()
    out: list[tuple] = []  # (account position, rule order, account_id, rule, severity, title, evidence)

    def raised(order, mask, build):
        for i in np.flatnonzero(mask).tolist():
            rule, severity, title, evidence = build(i)
            out.append((i, order, accounts[i], rule, severity, title,
                        {"arr": v["arr"][i], **evidence}))

    with np.errstate(invalid="ignore"):
        usage_mom, arr_change = x["usage_change_mom"], x["arr_change_90d"]
        downgrade = arr_change < 0
        collapse = usage_mom <= -r["escalation_usage_drop"]
        red = band == "red"

        def escalation(i):
            why = ([f"health is red ({health_score[i]:.0f})"] if red[i] else []) + \
                  ([f"usage down {-v['usage_change_mom'][i]:.0%} month over month"]
                   if collapse[i] else []) + \
                  ([f"ARR down {-v['arr_change_90d'][i]:.0%} in 90 days"] if downgrade[i] else [])
            renewal = v["days_to_renewal"][i]
            deadline = as_of + dt.timedelta(days=14)
            if not math.isnan(renewal) and 30 < renewal < 44:
                deadline = as_of + dt.timedelta(days=int(renewal) - 30)
            return ("churn_escalation", "critical", "Churn escalation: " + "; ".join(why),
                    {"reasons": why, "drivers": drivers.get(accounts[i], []),
                     "recommended_actions": RECOMMENDED["churn_escalation"],
                     "intervention_deadline": deadline.isoformat()})
        raised(0, red | collapse | downgrade, escalation)

        raised(1, (band == "yellow") & (x["days_since_touch"] > r["checkin_no_contact_days"]),
               lambda i: ("proactive_checkin", "warning",
                          "Proactive check-in: yellow health and no CSM contact in "
                          f"{v['days_since_touch'][i]:.0f} days",
                          {"days_since_touch": v["days_since_touch"][i],
                           "threshold_days": r["checkin_no_contact_days"],
                           "recommended_actions": RECOMMENDED["proactive_checkin"]}))
        raised(2, (usage_mom <= -r["warning_usage_decline"]) & ~collapse,
               lambda i: ("usage_decline", "warning",
                          f"Usage down {-v['usage_change_mom'][i]:.0%} month over month",
                          {"change": v["usage_change_mom"][i],
                           "threshold": -r["warning_usage_decline"]}))
        raised(3, x["logins_change_mom"] <= -r["warning_login_drop"],
               lambda i: ("logins_drop", "warning",
                          f"Logins down {-v['logins_change_mom'][i]:.0%} month over month",
                          {"change": v["logins_change_mom"][i],
                           "threshold": -r["warning_login_drop"]}))
        t_now, t_before = x["tickets_30d"], x["tickets_prior_30d"]
        raised(4, (t_now >= 3) & (t_now >= (1 + r["warning_ticket_increase"]) * t_before),
               lambda i: ("tickets_spike", "warning",
                          f"Tickets up: {v['tickets_30d'][i]:.0f} in 30 days vs "
                          f"{v['tickets_prior_30d'][i]:.0f} before",
                          {"tickets_30d": v["tickets_30d"][i],
                           "tickets_prior_30d": v["tickets_prior_30d"][i],
                           "threshold": r["warning_ticket_increase"]}))
        raised(5, hc <= -r["warning_health_drop_points"],
               lambda i: ("health_drop", "warning",
                          f"Health down {-health_change[i]:.0f} points in 30 days",
                          {"change_points": health_change[i],
                           "threshold_points": -r["warning_health_drop_points"]}))
        if features["champion_active"].notna().any():
            left = x["champion_left_90d"] == 1
            raised(6, left | (x["champion_active"] == 0),
                   lambda i: ("champion_inactive", "warning",
                              "Champion left in the last 90 days" if left[i]
                              else "No active champion",
                              {"champion_active": v["champion_active"][i]}))
        days = x["days_to_renewal"]

        def renewal_window(i):
            d = v["days_to_renewal"][i]
            w = min(w for w in windows if d <= w)
            return (f"renewal_{w}", "warning" if w <= 30 else "info",
                    f"Renewal in {d:.0f} days ({w}-day window)", {"days_to_renewal": d, "window": w})
        raised(7, (days >= 0) & (days <= max(windows)), renewal_window)
        busy = x["seat_utilization"] > r["expansion_seat_utilization"]
        growing = x["usage_growth_90d"] >= r["expansion_usage_growth"]

        def expansion(i):
            util, growth = v["seat_utilization"][i], v["usage_growth_90d"][i]
            why = ([f"seat utilization {util:.0%}"] if busy[i] else []) + \
                  ([f"usage up {growth:.0%} over 90 days"] if growing[i] else [])
            return ("expansion_signal", "info", "Expansion signal: " + "; ".join(why),
                    {"seat_utilization": util, "usage_growth_90d": growth,
                     "thresholds": {"seat_utilization": r["expansion_seat_utilization"],
                                    "usage_growth_90d": r["expansion_usage_growth"]}})
        raised(8, busy | growing, expansion)
    out.sort(key=lambda a: (a[0], a[1]))
    return pd.DataFrame([a[2:] for a in out],
                        columns=["account_id", "rule", "severity", "title", "evidence"])


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
