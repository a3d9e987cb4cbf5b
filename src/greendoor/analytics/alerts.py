"""The alert inbox: every live alert across the book, grouped by rule, and how good each
rule has been (read model of the Alerts page).

An alert is live while ``open`` or ``acknowledged`` (:data:`greendoor.rules.LIVE_ALERT`);
a snoozed alert whose date has passed is back in the inbox until the next scoring raises
it again. Writes go through :func:`greendoor.actions.update_alerts`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import state
from greendoor.analytics.portfolio_health import alerts_at, scores, snapshot_date
from greendoor.labels import human
from greendoor.periods import Filters
from greendoor.rules import AUTOMATION_ALERT, LIVE_ALERT
from greendoor.scoring import feature_snapshots as FS
from greendoor.scoring.features import tables_with_rows
from greendoor.scoring.health import trend_days as health_trend_days
from greendoor.scoring.labels import churn_labels, expansion_labels
from greendoor.store import schema

#: Severity order, worst first.
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
#: Rules whose alerts announce an opportunity: measured against expansion, not churn.
EXPANSION_RULES = ("expansion_signal",)


def inbox(conn: Connection, f: Filters, today: dt.date | None = None) -> pd.DataFrame:
    """The live alerts of the latest scoring on or before ``f.as_of`` within the filters,
    plus the snoozed ones whose date has passed (status shown as ``snooze ended``):
    ``alert_id, account_id, name, segment, csm_owner, arr, days_to_renewal, rule,
    severity, title, status, snoozed_until, created_at, age_days`` (since raised, as of
    ``today``), worst severity and largest ARR first.

    At an as-of date before the latest scoring, the alerts that week's scoring raised, as
    they stood that day (status ``raised then``, ``alert_id`` None: nothing to act on)."""
    today = today or dt.date.today()
    cols = ["alert_id", "account_id", "name", "segment", "csm_owner", "arr", "days_to_renewal",
            "rule", "rule_label", "severity", "title", "status", "assignee", "snoozed_until",
            "created_at", "age_days"]
    week = snapshot_date(conn, f.as_of)
    latest = conn.execute(sa.select(sa.func.max(schema.alerts.c.as_of))).scalar()
    if week is None:
        return pd.DataFrame(columns=cols)
    if latest is not None and week >= latest:
        al = schema.alerts
        live = al.c.status.in_(LIVE_ALERT) | ((al.c.status == "snoozed")
                                             & (al.c.snoozed_until <= today))
        raised = pd.read_sql(sa.select(al.c.alert_id, al.c.account_id, al.c.as_of, al.c.rule,
                                       al.c.severity, al.c.title, al.c.status,
                                       al.c.assignee, al.c.snoozed_until, al.c.created_at)
                             .where(al.c.as_of == latest, live), conn)
        raised["status"] = raised["status"].where(raised["status"] != "snoozed",
                                                  "snooze ended")
    else:
        raised = alerts_at(conn, week).drop(columns=["evidence_json"])
        raised["status"] = "raised then"
        raised["assignee"] = None
        raised["created_at"] = pd.Timestamp(week)
    who = scores(conn, f, snapshot=week)[["account_id", "name", "segment", "csm_owner", "arr",
                                          "days_to_renewal"]]
    df = raised.merge(who, on="account_id")  # the filters: scores() applies them
    df["rule_label"] = [rule_label(r, t) for r, t in zip(df["rule"], df["title"], strict=True)]
    df["age_days"] = (pd.Timestamp(min(today, f.as_of)) - pd.to_datetime(df["created_at"])
                      ).dt.days.clip(lower=0)
    order = df["severity"].map(SEVERITY_ORDER).fillna(9)
    df = df.assign(_o=order).sort_values(["_o", "arr"], ascending=[True, False])
    return df.drop(columns="_o").reset_index(drop=True)[cols]


def rule_label(rule: str, title: str) -> str:
    """A rule in words: the rule's label, or for an automation rule's alert
    (:data:`greendoor.rules.AUTOMATION_ALERT`) "Automation: " and the alert's title."""
    if str(rule).startswith(AUTOMATION_ALERT):
        return f"Automation: {title}"
    return human(rule)


def by_rule(alerts: pd.DataFrame) -> pd.DataFrame:
    """One row per rule of an :func:`inbox` frame: ``rule, rule_label, alerts, accounts,
    arr`` (USD, each account counted once), ``critical`` (alerts), ``oldest_days``; most
    ARR first."""
    if alerts.empty:
        return pd.DataFrame(columns=["rule", "rule_label", "alerts", "accounts", "arr",
                                     "critical", "oldest_days"])
    arr = alerts.drop_duplicates(["rule", "account_id"]).groupby("rule")["arr"].sum()
    g = alerts.groupby("rule").agg(alerts=("alert_id", "size"),
                                   accounts=("account_id", "nunique"),
                                   critical=("severity", lambda s: int((s == "critical").sum())),
                                   oldest_days=("age_days", "max"),
                                   rule_label=("rule_label", "first"))
    return (g.join(arr).reset_index().sort_values("arr", ascending=False, ignore_index=True)
            [["rule", "rule_label", "alerts", "accounts", "arr", "critical", "oldest_days"]])


def _raised(conn: Connection, d: dt.date) -> pd.DataFrame:
    """``account_id, rule`` of the alerts the scoring of ``d`` raised (its snapshots'
    details: what the rules said that day, whatever users did later)."""
    ss = schema.score_snapshots
    rows = []
    for account, text in conn.execute(sa.select(ss.c.account_id, ss.c.details_json)
                                      .where(ss.c.as_of == d)).all():
        for x in (json.loads(text).get("alerts", []) if text else []):
            rows.append((account, x["rule"]))
    return pd.DataFrame(rows, columns=["account_id", "rule"]).drop_duplicates()


def _churn_dates(conn: Connection) -> pd.DataFrame:
    """``account_id, churn_date`` (Timestamp) of every churn: the churn events that are
    not reactivations, and the end of an account's last subscription when none runs on
    (an export without churn events)."""
    ce, s = schema.churn_events, schema.subscriptions
    events = pd.read_sql(sa.select(ce.c.account_id, ce.c.churn_date).where(
        sa.func.coalesce(ce.c.is_reactivation, False).is_(False)), conn)
    ended = pd.read_sql(
        sa.select(s.c.account_id, sa.func.max(s.c.end_date).label("churn_date"))
        .group_by(s.c.account_id)
        .having(sa.func.count() == sa.func.count(s.c.end_date)), conn)  # no open contract
    df = pd.concat([events, ended], ignore_index=True)
    df["churn_date"] = pd.to_datetime(df["churn_date"])
    return df


def _leads(churns: pd.DataFrame, d: dt.date, horizon_days: int) -> pd.Series:
    """Days from ``d`` to each account's first churn within the horizon (account_id ->
    days; accounts without one are absent)."""
    start, end = pd.Timestamp(d), pd.Timestamp(d + dt.timedelta(days=horizon_days))
    c = churns[(churns["churn_date"] > start) & (churns["churn_date"] <= end)]
    return (c.groupby("account_id")["churn_date"].min() - start).dt.days


def _within(ids, scope: set | None) -> np.ndarray:
    """Mask of ``ids`` in ``scope`` (all when ``None``: no filter). A set look-up per
    id: ``isin`` on pandas' Arrow strings builds a pyarrow scalar per value of the
    scope, 0.2 s per page at 1,500 accounts."""
    if scope is None:
        return np.ones(len(ids), dtype=bool)
    return np.fromiter((x in scope for x in ids), dtype=bool, count=len(ids))


def measured_dates(conn: Connection, as_of: dt.date, horizon_days: int = 90,
                   every_weeks: int = 4, max_dates: int = 12) -> list[dt.date]:
    """The score snapshot dates a rule's record is measured on at ``as_of``, newest first:
    every ``every_weeks``-th snapshot counted from the first one, of those whose
    ``horizon_days`` have passed by ``as_of``, the latest ``max_dates``. Counted from the
    first snapshot, a later as-of date keeps the dates an earlier one measured and adds
    the new ones (counted from the latest, every date changed as the as-of date moved by
    a week, and nothing measured before could be reused)."""
    ss = schema.score_snapshots
    last = as_of - dt.timedelta(days=horizon_days)
    every = [r[0] for r in conn.execute(sa.select(ss.c.as_of).distinct().order_by(ss.c.as_of))]
    return [d for i, d in enumerate(every) if i % every_weeks == 0 and d <= last][::-1][:max_dates]


def alert_scope(conn: Connection, on: dt.date, segment: str | None,
                owner: str | None) -> set | None:
    """The accounts within the filters at ``on`` (their segment then; the owner as
    stored); ``None`` without a filter (every account)."""
    a = schema.accounts
    if not segment and not owner:
        return None
    ids = set(pd.read_sql(sa.select(a.c.account_id).where(
        a.c.csm_owner == owner if owner else sa.true()), conn)["account_id"])
    if segment:
        seg = state.segments_at(conn, on)
        ids &= set(seg.index[seg == segment])
    return ids


def rule_outcomes(conn: Connection, d: dt.date, horizon_days: int, scope: set | None,
                  churns: pd.DataFrame | None = None) -> dict:
    """What the rules raised at the scoring of ``d`` (its snapshots' details) among the
    accounts of ``scope`` (:func:`alert_scope`; ``None``: all) and what followed within
    ``horizon_days``: ``{"hits": {(rule, outcome): [0/1 per account alerted]}, "leads":
    {churn rule: [days from d to the churn that followed]}, "bases": {outcome: [0/1 per
    account scored]}}``. It reads nothing after ``d`` + the horizon, so it is the same at
    every as-of date after that (the app keeps it per date). ``churns``:
    :func:`_churn_dates`, read here when not given."""
    churns = _churn_dates(conn) if churns is None else churns
    raised = _raised(conn, d)
    raised = raised[_within(raised["account_id"], scope)]
    labels = {"churn": churn_labels(conn, d, horizon_days),
              "expansion": expansion_labels(conn, d, horizon_days)}
    out: dict = {"hits": {}, "leads": {}, "bases": {}}
    for outcome, y in labels.items():
        out["bases"][outcome] = y[_within(y.index, scope)].tolist()
    lead = _leads(churns, d, horizon_days)
    for rule, g in raised.groupby("rule"):
        outcome = "expansion" if rule in EXPANSION_RULES else "churn"
        y = labels[outcome].reindex(g["account_id"]).dropna()
        out["hits"][(rule, outcome)] = y.tolist()
        if outcome == "churn":
            out["leads"][rule] = lead.reindex(y.index[y == 1]).dropna().astype(int).tolist()
    return out


def rule_quality(conn: Connection, f: Filters, horizon_days: int = 90, every_weeks: int = 4,
                 max_dates: int = 12,
                 outcomes: Callable[[dt.date], dict] | None = None) -> pd.DataFrame:
    """How well each rule has told what happened next, from the score snapshots whose
    horizon has passed by ``f.as_of`` (:func:`measured_dates`):
    ``rule, outcome`` ("churn", or "expansion" for :data:`EXPANSION_RULES`),
    ``raised`` (account-dates alerted), ``hit_rate`` (share of them followed by the
    outcome within ``horizon_days``), ``base_rate`` (the same share over every account
    scored those dates), ``lift`` = hit_rate / base_rate (above 1: the rule finds
    accounts more likely than others to have the outcome), ``dates``. From live
    feedback on the alerts table: ``resolved``, ``false_positive`` and ``fp_share`` =
    false_positive / (resolved + false_positive). ``lead_days``: for the churn rules, the
    median days from the alert to the churn that followed it (how much warning the rule
    gives; NaN for expansion rules). Only accounts within the filters. ``outcomes``: each
    date's :func:`rule_outcomes` within the filters (a cache of it), computed here when
    not given."""
    al = schema.alerts
    dates = measured_dates(conn, f.as_of, horizon_days, every_weeks, max_dates)
    if outcomes is None:
        churns = _churn_dates(conn)

        def outcomes(d: dt.date) -> dict:
            return rule_outcomes(conn, d, horizon_days,
                                 alert_scope(conn, d, f.segment, f.owner), churns)

    hits: dict[tuple[str, str], list[float]] = {}
    leads: dict[str, list[int]] = {}
    bases: dict[str, list[float]] = {"churn": [], "expansion": []}
    for d in dates:
        o = outcomes(d)
        for outcome, ys in o["bases"].items():
            bases[outcome] += ys
        for key, ys in o["hits"].items():
            hits.setdefault(key, []).extend(ys)
        for rule, days in o["leads"].items():
            leads.setdefault(rule, []).extend(days)
    live = alert_scope(conn, f.as_of, f.segment, f.owner) or set()
    fb = pd.read_sql(sa.select(al.c.rule, al.c.status, sa.func.count().label("n"))
                     .where(al.c.status.in_(["resolved", "false_positive"]),
                            al.c.account_id.in_(live) if (f.segment or f.owner) else sa.true())
                     .group_by(al.c.rule, al.c.status), conn)
    fb = fb.pivot_table(index="rule", columns="status", values="n", aggfunc="sum",
                        fill_value=0) if len(fb) else pd.DataFrame()
    rows = []
    for (rule, outcome), ys in sorted(hits.items()):
        base = float(np.mean(bases[outcome])) if bases[outcome] else float("nan")
        hit = float(np.mean(ys)) if ys else float("nan")
        res = int(fb.at[rule, "resolved"]) if rule in fb.index and "resolved" in fb else 0
        fp = int(fb.at[rule, "false_positive"]) if rule in fb.index and "false_positive" in fb \
            else 0
        rows.append({"rule": rule, "outcome": outcome, "raised": len(ys), "hit_rate": hit,
                     "base_rate": base, "lift": hit / base if base > 0 else float("nan"),
                     "dates": len(dates), "resolved": res, "false_positive": fp,
                     "fp_share": fp / (res + fp) if res + fp else float("nan"),
                     "lead_days": float(np.median(leads[rule])) if leads.get(rule)
                     else float("nan")})
    cols = ["rule", "outcome", "raised", "hit_rate", "base_rate", "lift", "dates", "resolved",
            "false_positive", "fp_share", "lead_days"]
    return pd.DataFrame(rows, columns=cols)


def _rule_inputs(conn: Connection, d: dt.date, has_rows: set[str],
                 trend_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the account rules read at the scoring of ``d``: the features as of ``d`` and
    the stored ``band, health_score`` with ``health_change`` (points since the snapshot
    ``trend_days`` before; NaN without one). The features are those the scoring run of
    ``d`` stored (:mod:`greendoor.scoring.feature_snapshots`), else computed now."""
    ss = schema.score_snapshots
    f = FS.features_known(conn, d, has_rows=has_rows)[1]

    def health(day: dt.date) -> pd.DataFrame:
        return pd.read_sql(sa.select(ss.c.account_id, ss.c.health_score, ss.c.band)
                           .where(ss.c.as_of == day), conn).set_index("account_id")

    sc = health(d).reindex(f.index)
    before = health(d - dt.timedelta(days=trend_days))["health_score"].reindex(f.index)
    sc["health_change"] = sc["health_score"] - before
    return f, sc


def threshold_preview(conn: Connection, settings: dict, candidate: dict, segment: str,
                      as_of: dt.date, horizon_days: int = 90, every_weeks: int = 4,
                      max_dates: int = 6) -> pd.DataFrame:
    """What new thresholds for one segment would do, before they are saved: for each
    account rule reading a threshold that differs between ``settings`` (in force) and
    ``candidate`` (proposed; both full settings dicts) for accounts of ``segment``, the
    rules are re-run on the segment's accounts with each:

    - ``now_current``, ``now_candidate``: accounts it raises at the scoring of ``as_of``;
    - ``raised_current``, ``raised_candidate``: account-dates it raises on the past
      scorings whose ``horizon_days`` have passed (every ``every_weeks``-th, at most
      ``max_dates``), and ``lift_current``, ``lift_candidate``: the share of them
      followed by the rule's outcome (churn; expansion for :data:`EXPANSION_RULES`)
      within the horizon, over ``base_rate``, the same share over all the segment's
      accounts those dates (as in :func:`rule_quality`); ``dates``.

    Features are recomputed as of each date (only what was known then); bands and
    health come from that date's snapshot. An empty frame when no threshold changes."""
    from greendoor import rules as R
    from greendoor.scoring.alerts import account_alerts

    old, new = R.for_segment(settings, segment), R.for_segment(candidate, segment)
    changed = {k for k in old if old[k] != new.get(k)}
    names = [rule.name for rule in R.ACCOUNT_RULES
             if changed & {t.name for t in rule.thresholds}]
    cols = ["rule", "now_current", "now_candidate", "raised_current", "raised_candidate",
            "lift_current", "lift_candidate", "base_rate", "dates"]
    if not names:
        return pd.DataFrame(columns=cols)
    trend_days = health_trend_days(settings)
    has_rows = tables_with_rows(conn)
    past = measured_dates(conn, as_of, horizon_days, every_weeks, max_dates)
    now = snapshot_date(conn, as_of)

    def raised(d: dt.date) -> tuple[dict[str, set], dict[str, set], pd.Index]:
        f, sc = _rule_inputs(conn, d, has_rows, trend_days)
        f = f[f["segment"] == segment]
        out = []
        for s in (settings, candidate):
            al = account_alerts(f, sc.reindex(f.index), s, d)
            al["rule"] = al["rule"].where(~al["rule"].str.startswith("renewal_"),
                                          "renewal_window")
            out.append({n: set(al.loc[al["rule"] == n, "account_id"]) for n in names})
        return out[0], out[1], f.index

    rows = {n: {"rule": n, "now_current": 0, "now_candidate": 0} for n in names}
    if now is not None:
        cur, cand, _ = raised(now)
        for n in names:
            rows[n].update(now_current=len(cur[n]), now_candidate=len(cand[n]))
    hits: dict[tuple[str, str], list[int]] = {}
    bases: dict[str, list[int]] = {"churn": [], "expansion": []}
    for d in past:
        cur, cand, accounts = raised(d)
        labels = {"churn": churn_labels(conn, d, horizon_days),
                  "expansion": expansion_labels(conn, d, horizon_days)}
        for outcome, y in labels.items():
            bases[outcome] += y.reindex(accounts).dropna().astype(int).tolist()
        for n in names:
            y = labels["expansion" if n in EXPANSION_RULES else "churn"]
            for which, got in (("current", cur[n]), ("candidate", cand[n])):
                hits.setdefault((n, which), []).extend(
                    y.reindex(sorted(got)).dropna().astype(int).tolist())
    for n in names:
        b = bases["expansion" if n in EXPANSION_RULES else "churn"]
        base = float(np.mean(b)) if b else float("nan")
        rows[n]["base_rate"] = base
        rows[n]["dates"] = len(past)
        for which in ("current", "candidate"):
            ys = hits.get((n, which), [])
            rows[n][f"raised_{which}"] = len(ys)
            hit = float(np.mean(ys)) if ys else float("nan")
            rows[n][f"lift_{which}"] = hit / base if base > 0 else float("nan")
    return pd.DataFrame(list(rows.values()), columns=cols)
