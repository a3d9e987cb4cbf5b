"""The weekly meeting agenda: what changed since a date (SPEC.md page 9).

Compares the latest score snapshot on or before ``as_of`` with the latest one on or
before ``since``, and reads the events dated in ``[since, as_of)``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import state
from greendoor.analytics.portfolio_health import alerts_at, scores, snapshot_date
from greendoor.config import DEFAULT_SETTINGS as DEFAULTS
from greendoor.metrics import sql as msql
from greendoor.metrics.core import nps_category
from greendoor.periods import Filters, default_as_of
from greendoor.store import schema

SECTIONS = ("New reds", "Health drops", "Renewals entering a window", "New detractors",
            "New promoters", "New expansion signals", "Overdue actions")
COLUMNS = ["section", "account_id", "name", "arr", "detail"]


def agenda(conn: Connection, f: Filters, since: dt.date,
           drop_points: float = DEFAULTS["this_week_health_drop_points"],
           windows: tuple[int, ...] = tuple(DEFAULTS["this_week_renewal_windows_days"]),
           today: dt.date | None = None, expansion_min: float | None = None) -> pd.DataFrame:
    """One row per agenda item: ``section`` (in :data:`SECTIONS` order),
    ``account_id, name, arr, detail``; largest ARR first within a section. ``drop_points``
    and ``windows`` are the settings ``this_week_health_drop_points`` and
    ``this_week_renewal_windows_days`` (a renewal enters a window only when its contract
    is at least twice the window's length: a month-to-month contract is always inside
    its 30-day window); ``expansion_min`` the setting ``this_week_expansion_probability``."""
    today = today or dt.date.today()
    now = scores(conn, f)
    snap_before = snapshot_date(conn, since)
    rows = []
    if len(now) and snap_before is not None and snap_before < now["as_of"].iloc[0]:
        before = scores(conn, f, snapshot=snap_before)
        m = now.merge(before[["account_id", "health_score", "band", "expansion_probability"]],
                      on="account_id", suffixes=("", "_before")).set_index("account_id")
        for aid, r in m[(m["band"] == "red") & (m["band_before"] != "red")].iterrows():
            rows.append(("New reds", aid, r["name"], r["arr"],
                         f"health {r['health_score_before']:.0f} → {r['health_score']:.0f}"))
        drop = m["health_score"] - m["health_score_before"]
        for aid, r in m[drop <= -drop_points].iterrows():
            rows.append(("Health drops", aid, r["name"], r["arr"],
                         f"{drop[aid]:+.0f} points ({r['health_score_before']:.0f} → "
                         f"{r['health_score']:.0f})"))
        likely = DEFAULTS["this_week_expansion_probability"] if expansion_min is None \
            else expansion_min
        exp = (m["expansion_probability"] >= likely) & (m["expansion_probability_before"] < likely)
        for aid, r in m[exp].iterrows():
            rows.append(("New expansion signals", aid, r["name"], r["arr"],
                         f"P(expansion) {r['expansion_probability_before']:.0%} → "
                         f"{r['expansion_probability']:.0%}"))
        # the expansion-signal rule (seats, usage growth), with or without a model
        raised = alerts_at(conn, now["as_of"].iloc[0], rule="expansion_signal")
        earlier = set(alerts_at(conn, snap_before, rule="expansion_signal")["account_id"])
        for r in raised[~raised["account_id"].isin(earlier | set(m.index[exp]))].itertuples():
            if r.account_id in m.index:
                rows.append(("New expansion signals", r.account_id, m.at[r.account_id, "name"],
                             m.at[r.account_id, "arr"], r.title))
    a = schema.accounts
    ren = state.next_renewals(conn, f.as_of).dropna(subset=["next_renewal"])
    scope = pd.read_sql(sa.select(a.c.account_id, a.c.name).where(*_scope(a, f)), conn)
    ren = (ren.merge(scope, on="account_id")
           .merge(pd.read_sql(msql.arr_as_of_query(f.as_of), conn), on="account_id"))
    for r in ren.itertuples():
        renews = r.next_renewal.date()
        left_now = (renews - f.as_of).days
        left_then = (renews - since).days
        # a window counts for contracts at least twice its length: a month-to-month
        # contract is always inside its 30-day window, and would enter it every month
        term_days = r.term_months * 365.25 / 12 if pd.notna(r.term_months) else np.inf
        entered = [w for w in sorted(windows)
                   if left_now <= w < left_then and term_days >= 2 * w]
        if entered:
            rows.append(("Renewals entering a window", r.account_id, r.name, float(r.arr),
                         f"{entered[0]}-day window: renews {renews:%d %b %Y} "
                         f"({left_now} days)"))
    sr = schema.survey_responses
    nps = pd.read_sql(
        sa.select(sr.c.account_id, a.c.name, sr.c.score, sr.c.comment)
        .select_from(sr.join(a, a.c.account_id == sr.c.account_id))
        .where(sr.c.survey == "nps", sr.c.responded_at >= dt.datetime.combine(since, dt.time()),
               sr.c.responded_at < dt.datetime.combine(f.as_of, dt.time()), *_scope(a, f)), conn)
    arr = now.set_index("account_id")["arr"] if len(now) else pd.Series(dtype=float)
    for r in nps.itertuples():
        section = {"detractor": "New detractors", "promoter": "New promoters"}.get(
            nps_category(r.score))
        if section:
            rows.append((section, r.account_id, r.name, float(arr.get(r.account_id, float("nan"))),
                         f"NPS {r.score:.0f}" + (f": “{r.comment}”" if r.comment else "")))
    t = schema.actions
    # overdue at the as-of date: created before it, due before it and not done by then
    # (at the data's latest date or later: the actions open today)
    latest = default_as_of(conn)
    present = latest is None or f.as_of >= latest
    ref = today if present else f.as_of
    ref_ts = dt.datetime.combine(ref, dt.time())
    open_then = (t.c.status == "open") if present else sa.and_(
        t.c.created_at < ref_ts, t.c.status != "cancelled",
        sa.or_(t.c.completed_at.is_(None), t.c.completed_at >= ref_ts))
    late = pd.read_sql(
        sa.select(t.c.account_id, a.c.name, t.c.title, t.c.owner, t.c.due_date)
        .select_from(t.join(a, a.c.account_id == t.c.account_id))
        .where(open_then, t.c.due_date < ref, t.c.type != "playbook_run",
               *_scope(a, f)), conn)
    for r in late.itertuples():
        rows.append(("Overdue actions", r.account_id, r.name, float(arr.get(r.account_id, float("nan"))),
                     f"{r.title} ({r.owner}, due {r.due_date:%d %b})"))
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["order"] = out["section"].map({s: i for i, s in enumerate(SECTIONS)})
    return out.sort_values(["order", "arr"], ascending=[True, False]).drop(columns="order") \
        .reset_index(drop=True)


def _scope(a, f: Filters) -> list:
    """Conditions on ``accounts`` keeping those within the filters (the segment as known
    at the as-of date)."""
    flt = msql.account_filter(a.c.account_id, f.segment, f.owner, f.as_of)
    return [] if flt is None else [flt]
