"""Rules -> alerts (SPEC.md "Rules, alerts and playbooks"); thresholds from settings.

Account rules read one row of features and scores per account; portfolio rules
(product and documentation gaps) read the tickets of the last 90 days. Every
alert carries its evidence: the values that triggered it and the threshold.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import rules
from greendoor.labels import human
from greendoor.store import schema

PORTFOLIO = "portfolio"  # account_id of portfolio-level alerts


def _floats(col: pd.Series) -> list[float]:
    """A column as Python floats, NaN for anything missing or not a number."""
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan).tolist()


def account_alerts(features: pd.DataFrame, scores: pd.DataFrame, settings: dict,
                   as_of: dt.date, drivers: dict[str, list[dict]] | None = None) -> pd.DataFrame:
    """Alerts for each account at ``as_of``: the rules of
    :data:`greendoor.rules.ACCOUNT_RULES`, each a condition on whole columns (only the
    alerts raised are built one by one: about 1 s less than a loop over the 85,000
    accounts of bench tier L).

    ``features``: :func:`greendoor.scoring.features.features_as_of` output (its
    ``segment``, as of ``as_of``, picks each account's thresholds:
    :func:`greendoor.rules.per_account`);
    ``scores``: same index with ``band``, ``health_score``, ``health_change``
    (points over the trend window). Returns ``account_id, rule, severity, title,
    evidence`` (dict), account by account in the features' order, each account's
    alerts in the order of the rules.
    """
    x = {c: np.asarray(_floats(features[c]), dtype=float) for c in rules.features_used()}
    ctx = rules.Context(
        accounts=features.index.tolist(), x=x,
        band=scores["band"].astype(object).where(scores["band"].notna(), None)
        .to_numpy(dtype=object),
        health_score=np.asarray(_floats(scores["health_score"]), dtype=float),
        health_change=np.asarray(_floats(scores["health_change"]), dtype=float),
        r=rules.per_account(settings, features["segment"].to_numpy(dtype=object)
                            if "segment" in features else [None] * len(features)),
        windows=sorted(settings["renewal_windows_days"]), as_of=as_of,
        drivers=drivers or {}, has_contacts=bool(features["champion_active"].notna().any()))
    out: list[tuple] = []  # (account position, rule order, account_id, rule, ...)
    with np.errstate(invalid="ignore"):
        for order, rule in enumerate(rules.ACCOUNT_RULES):
            if not rule.applies(ctx):
                continue
            for i in np.flatnonzero(rule.condition(ctx)).tolist():
                name, severity, title, evidence = rule.alert(ctx, i)
                out.append((i, order, ctx.accounts[i], name, severity, title,
                            {"arr": float(x["arr"][i]), **evidence}))
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


def mention_alerts(conn: Connection, as_of: dt.date, settings: dict,
                   scored: pd.Index | None = None) -> pd.DataFrame:
    """Negative mentions by an account's people (issue 25): one ``negative_mention`` alert
    (warning) per account with a mention in the ``mentions.alert_days`` before ``as_of``
    whose VADER sentiment is at or below ``mentions.negative_below``
    (:mod:`greendoor.analytics.mentions`); the latest one in the title, all of them
    counted in the evidence. Only ``scored`` accounts when given. Empty without mentions."""
    from greendoor.analytics import mentions as MN

    cfg = settings["mentions"]
    m = schema.mentions
    cols = ["account_id", "rule", "severity", "title", "evidence"]
    if conn.execute(sa.select(sa.literal(1)).select_from(m).limit(1)).first() is None:
        return pd.DataFrame(columns=cols)  # no mentions in the store: no VADER load
    df = pd.read_sql(sa.select(m.c.account_id, m.c.source, m.c.author, m.c.text,
                               m.c.occurred_at).where(
        m.c.account_id.is_not(None), m.c.occurred_at < as_of,
        m.c.occurred_at >= as_of - dt.timedelta(days=cfg["alert_days"]))
        .order_by(m.c.occurred_at.desc()), conn)
    if scored is not None:
        df = df[df["account_id"].isin(scored)]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["sentiment"] = MN.sentiment(df["text"])
    neg = df[df["sentiment"] <= cfg["negative_below"]]
    rows = []
    for account, g in neg.groupby("account_id", sort=True):
        last = g.iloc[0]
        text = str(last["text"])
        snippet = text if len(text) <= 90 else text[:87].rstrip() + "…"
        rows.append((account, "negative_mention", "warning",
                     f"Negative mention on {human(last['source'])}: \u201c{snippet}\u201d",
                     {"mentions": int(len(g)), "source": last["source"],
                      "author": last["author"], "text": text,
                      "date": str(pd.Timestamp(last["occurred_at"]).date()),
                      "sentiment": float(last["sentiment"]),
                      "threshold": cfg["negative_below"]}))
    return pd.DataFrame(rows, columns=cols)


def onboarding_alerts(conn: Connection, as_of: dt.date, settings: dict,
                      scored: pd.Index | None = None) -> pd.DataFrame:
    """Success plans (issue 20), as known the day before ``as_of``: ``onboarding_stuck``
    (warning) for a plan in its first ``onboarding.feature_window_days`` whose most overdue
    open milestone is ``onboarding.stuck_days`` late, and ``value_risk`` (warning) when a
    plan's realized value is ``onboarding.value_risk_margin`` below its planned trajectory
    (:func:`greendoor.analytics.onboarding.value_table`). Only ``scored`` accounts when
    given. Empty on a store without plans."""
    from greendoor import success_plans as SP
    from greendoor.analytics import onboarding as OBA
    from greendoor.periods import Filters

    cols = ["account_id", "rule", "severity", "title", "evidence"]
    if not SP.has_plans(conn):
        return pd.DataFrame(columns=cols)
    cfg = settings["onboarding"]
    d = as_of - dt.timedelta(days=1)
    plans = SP.plans_as_of(conn, d)
    plans = plans[(pd.Timestamp(d) - plans["start_date"]).dt.days
                  .between(0, cfg["feature_window_days"])]
    if scored is not None:
        plans = plans[plans["account_id"].isin(scored)]
    if plans.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    prog = SP.progress(conn, d, cfg["behind_days"], cfg["stuck_days"], plans=plans)
    for r in prog[prog["status"] == "stuck"].itertuples():
        rows.append((r.account_id, "onboarding_stuck", "warning",
                     f"Onboarding stuck: \u201c{r.next_milestone}\u201d {int(r.days_behind)} "
                     "days late",
                     {"plan_id": r.plan_id, "day": int(r.day), "done": int(r.done),
                      "milestones": int(r.milestones), "days_behind": int(r.days_behind),
                      "threshold": cfg["stuck_days"]}))
    acc = OBA._accounts(conn, Filters(as_of=d))
    val = OBA.value_table(plans, SP.value_as_of(conn, d, plans), acc, d, cfg, interval=False)
    for r in val[val["value_risk"]].itertuples():
        rows.append((r.account_id, "value_risk", "warning",
                     f"Value behind plan: {r.realization:.0%} of the planned value realized",
                     {"plan_id": r.plan_id, "benefit": float(r.benefit),
                      "planned_benefit": float(r.planned_benefit),
                      "margin": cfg["value_risk_margin"]}))
    return pd.DataFrame(rows, columns=cols).drop_duplicates(["account_id", "rule"])
