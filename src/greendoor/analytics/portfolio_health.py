"""Portfolio Health read model: headline KPIs, ARR trend, segments, the account table,
data quality, the score snapshot in force at a date and the week's movers.

All aggregation runs in the store (see :mod:`greendoor.metrics.sql`); each
function returns small frames or dicts ready to display. Filters are the
sidebar's: ``segment`` and ``owner`` (CSM), both optional.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import state
from greendoor.metrics import core
from greendoor.metrics import sql as msql
from greendoor.metrics.core import MOVEMENTS
from greendoor.periods import Filters
from greendoor.store import schema


def account_count(conn: Connection) -> int:
    """Number of accounts in the store (any status)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(schema.accounts)).scalar())


def account_names(conn: Connection) -> dict[str, str]:
    """Every account's name by id, in name order (for pseudonyms and pickers; what a
    user may see is :func:`greendoor.access.visible_accounts`)."""
    a = schema.accounts
    return dict(conn.execute(sa.select(a.c.account_id, a.c.name).order_by(a.c.name)).all())


def kpis(conn: Connection, f: Filters) -> dict[str, float]:
    """Headline KPIs as of ``f.as_of``.

    ``arr`` (sum of ARR as of the date), ``accounts`` (with ARR > 0),
    trailing-12-month ``grr``, ``nrr`` and ``logo_churn`` (SPEC.md definitions over
    ``[as_of - 365 d, as_of)``), ``nps`` over the trailing 12 months (points) and
    ``nps_responses``.
    """
    start = f.as_of - dt.timedelta(days=365)
    arr = msql.arr_as_of(conn, f.as_of, f.segment, f.owner)
    ret = msql.retention(conn, start, f.as_of, f.segment, f.owner)
    n = msql.nps(conn, start, f.as_of, f.segment, f.owner)
    return {
        "arr": float(arr["arr"].sum()),
        "accounts": int(len(arr)),
        "grr": ret["grr"],
        "nrr": ret["nrr"],
        "logo_churn": ret["logo_churn"],
        "nps": n["nps"],
        "nps_responses": n["responses"],
    }


def retention_bridge(conn: Connection, f: Filters, days: int = 365) -> dict:
    """The retention bridge over ``[as_of - days, as_of)`` within the filters, the period of
    the GRR and NRR KPIs (:func:`kpis`): ``bridge`` (:func:`greendoor.metrics.core.
    retention_bridge`: start, new, expansion, contraction, churn, end in USD; grr, nrr),
    ``start`` and ``end`` dates, and ``accounts``: one row per account that moved
    (``account_id, name, segment, csm_owner, start_arr, end_arr, change, movement``),
    largest change first. ``bridge`` is ``None`` when no account had ARR at the start.
    With a segment filter an account counts in the segment it had at the start (a new
    one: at the end; :func:`greendoor.metrics.sql.arr_movements`), so where segments
    are derived from ARR the bridge's end differs from the segment's ARR at the end by
    the accounts that moved segment."""
    start = f.as_of - dt.timedelta(days=days)
    mv = msql.arr_movements(conn, start, f.as_of, f.segment, f.owner)
    a = schema.accounts
    names = pd.read_sql(sa.select(a.c.account_id, a.c.name, a.c.csm_owner), conn)
    moved = mv[mv["movement"].isin(MOVEMENTS)].merge(names, on="account_id", how="left")
    # the segment the account is counted in (msql.arr_movements): at the start, new
    # accounts at the end
    moved["segment"] = moved["account_id"].map(state.segments_at(conn, start)).where(
        moved["start_arr"] > 0, moved["account_id"].map(state.segments_at(conn, f.as_of)))
    moved["change"] = moved["end_arr"] - moved["start_arr"]
    moved = moved.sort_values("change", key=abs, ascending=False, ignore_index=True)
    bridge = core.retention_bridge(mv["start_arr"], mv["end_arr"]) \
        if (mv["start_arr"] > 0).any() else None
    return {"bridge": bridge, "start": start, "end": f.as_of, "accounts": moved}


def arr_trend(conn: Connection, f: Filters, months: int = 24) -> pd.DataFrame:
    """Monthly ARR and account count: columns ``month`` (date), ``arr``, ``accounts``.

    One point per month start from ``months`` months back to ``f.as_of`` (the
    last point is the as-of date itself), each computed as of that date in one
    query. With a segment filter, each month counts the accounts in that segment then
    (a derived segment follows the ARR of that month).
    """
    ends = [f.as_of]
    first = f.as_of.replace(day=1)
    for k in range(months):
        m = (first.month - 1 - k) % 12 + 1
        y = first.year + (first.month - 1 - k) // 12
        d = dt.date(y, m, 1)
        if d != f.as_of:
            ends.append(d)
    per_account = msql.arr_at_dates_query(ends, f.segment, f.owner).subquery("pa")
    q = (
        sa.select(per_account.c.d.label("month"), sa.func.sum(per_account.c.arr).label("arr"),
                  sa.func.count().label("accounts"))
        .group_by(per_account.c.d)
        .order_by(per_account.c.d)
    )
    df = pd.read_sql(q, conn)
    df["month"] = pd.to_datetime(df["month"])
    return df


def by_segment(conn: Connection, f: Filters) -> pd.DataFrame:
    """ARR and accounts per segment as of ``f.as_of``: ``segment, arr, accounts,
    arr_share`` (0-1). Accounts without a segment appear as "unknown"."""
    arr = msql.arr_as_of_query(f.as_of, f.segment, f.owner).subquery("arr")
    a = schema.accounts
    seg = sa.func.coalesce(state.segment_as_of(a, arr.c.arr), "unknown").label("segment")
    q = (
        sa.select(seg, sa.func.sum(arr.c.arr).label("arr"), sa.func.count().label("accounts"))
        .select_from(arr.join(a, a.c.account_id == arr.c.account_id))
        .group_by(seg)
        .order_by(sa.func.sum(arr.c.arr).desc())
    )
    df = pd.read_sql(q, conn)
    total = df["arr"].sum()
    df["arr_share"] = df["arr"] / total if total else 0.0
    return df


def account_table(conn: Connection, f: Filters) -> pd.DataFrame:
    """One row per account with ARR as of ``f.as_of``, largest ARR first.

    Columns: ``account_id, name, segment, industry, csm_owner, arr`` (USD),
    ``seats, active_users_30d, seat_utilization`` (0-1), ``renewal_date``,
    ``days_to_renewal``, ``latest_nps`` (0-10, before the as-of date),
    ``open_tickets`` (opened before and not closed by the as-of date).
    """
    a = schema.accounts
    util = msql.seat_utilization(conn, f.as_of, f.segment, f.owner)
    if util.empty:
        return pd.DataFrame(columns=[
            "account_id", "name", "segment", "industry", "csm_owner", "arr", "seats",
            "active_users_30d", "seat_utilization", "renewal_date", "days_to_renewal",
            "latest_nps", "open_tickets"])
    arr = msql.arr_as_of(conn, f.as_of, f.segment, f.owner)[["account_id", "arr"]]
    info = state.with_segment_at(conn, pd.read_sql(
        sa.select(a.c.account_id, a.c.name, a.c.industry, a.c.csm_owner), conn), f.as_of)
    nxt = state.next_renewals(conn, f.as_of)[["account_id", "next_renewal"]].rename(
        columns={"next_renewal": "renewal_date"})
    r = schema.survey_responses
    ts = dt.datetime.combine(f.as_of, dt.time())
    ranked = (
        sa.select(r.c.account_id, r.c.score, sa.func.row_number().over(
            partition_by=r.c.account_id, order_by=r.c.responded_at.desc()).label("rn"))
        .where(r.c.survey == "nps", r.c.responded_at < ts)
        .subquery("ranked")
    )
    nps = pd.read_sql(sa.select(ranked.c.account_id, ranked.c.score.label("latest_nps"))
                      .where(ranked.c.rn == 1), conn)
    t = schema.tickets
    open_t = pd.read_sql(
        sa.select(t.c.account_id, sa.func.count().label("open_tickets"))
        .where(t.c.opened_at < ts, sa.or_(t.c.closed_at.is_(None), t.c.closed_at >= ts))
        .group_by(t.c.account_id),
        conn,
    )
    df = (arr.merge(info, on="account_id", how="left")
          .merge(util[["account_id", "seats", "active_users_30d", "seat_utilization"]],
                 on="account_id", how="left")
          .merge(nxt, on="account_id", how="left")
          .merge(nps, on="account_id", how="left")
          .merge(open_t, on="account_id", how="left"))
    df["open_tickets"] = df["open_tickets"].fillna(0).astype(int)
    df["renewal_date"] = pd.to_datetime(df["renewal_date"])
    df["days_to_renewal"] = (df["renewal_date"] - pd.Timestamp(f.as_of)).dt.days
    cols = ["account_id", "name", "segment", "industry", "csm_owner", "arr", "seats",
            "active_users_30d", "seat_utilization", "renewal_date", "days_to_renewal",
            "latest_nps", "open_tickets"]
    return df[cols].sort_values("arr", ascending=False, ignore_index=True)


def table_counts(conn: Connection) -> dict[str, int]:
    """Row count of every canonical table."""
    return {
        t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar())
        for t in schema.CANONICAL_TABLES
    }


def data_quality(conn: Connection, as_of: dt.date) -> list[dict[str, str]]:
    """Contradictions in the data that distort the figures, as of ``as_of``.

    Returns a list of ``{"severity": "warning" | "info", "finding": text}``:
    accounts recorded as churned (a churn event, not a reactivation, before
    ``as_of``) that still hold subscriptions in force, so ARR-based retention and
    logo churn cannot see their churn; and stores where the typical account holds
    several subscriptions at once, which ARR sums.
    """
    out = []
    ce, s = schema.churn_events, schema.subscriptions
    in_force = sa.and_(s.c.start_date < as_of,
                       sa.or_(s.c.end_date.is_(None), s.c.end_date >= as_of))
    churned = (sa.select(ce.c.account_id).where(
        ce.c.churn_date < as_of, sa.func.coalesce(ce.c.is_reactivation, False).is_(False))
        .distinct().subquery("churned"))
    n_churned = conn.execute(sa.select(sa.func.count()).select_from(churned)).scalar()
    still = conn.execute(
        sa.select(sa.func.count()).select_from(churned).where(
            sa.select(sa.literal(1)).select_from(s)
            .where(s.c.account_id == churned.c.account_id, in_force).exists())
    ).scalar()
    if still:
        out.append({"severity": "warning", "finding": (
            f"{still:,} of the {n_churned:,} accounts with a churn event still hold "
            "subscriptions in force (no end date). GRR, NRR and logo churn are computed "
            "from ARR, so they do not see these churns: end the subscriptions in the "
            "export to make them count.")})
    per_acct = pd.read_sql(
        sa.select(s.c.account_id, sa.func.count().label("n")).where(in_force)
        .group_by(s.c.account_id), conn)
    if len(per_acct) and per_acct["n"].median() > 1:
        out.append({"severity": "info", "finding": (
            f"The typical account holds {per_acct['n'].median():.0f} subscriptions at once; "
            "ARR is their sum. If these are successive contracts without end dates, ARR "
            "is overstated.")})
    return out


def snapshot_date(conn: Connection, as_of: dt.date) -> dt.date | None:
    """The latest score snapshot date on or before ``as_of`` (``None`` if unscored)."""
    ss = schema.score_snapshots
    return conn.execute(sa.select(sa.func.max(ss.c.as_of)).where(ss.c.as_of <= as_of)).scalar()


def alerts_at(conn: Connection, snapshot: dt.date, rule: str | None = None,
              account_id: str | None = None) -> pd.DataFrame:
    """The alerts the scoring of ``snapshot`` raised: ``alert_id, account_id, as_of, rule,
    severity, title, evidence_json, status, snoozed_until``. The latest scoring's come
    from the alerts table, with what users did with them (``status``); an earlier week's
    from its snapshots' details (``status`` ``raised``, ``alert_id`` None), as they stood
    that day. ``rule`` and ``account_id`` narrow the rows."""
    al, ss = schema.alerts, schema.score_snapshots
    cols = ["alert_id", "account_id", "as_of", "rule", "severity", "title", "evidence_json",
            "status", "snoozed_until"]
    q = sa.select(*[al.c[c] for c in cols]).where(al.c.as_of == snapshot)
    if rule:
        q = q.where(al.c.rule == rule)
    if account_id:
        q = q.where(al.c.account_id == account_id)
    latest = conn.execute(sa.select(sa.func.max(al.c.as_of))).scalar()
    if latest is not None and snapshot >= latest:
        return pd.read_sql(q, conn)
    dq = sa.select(ss.c.account_id, ss.c.details_json).where(ss.c.as_of == snapshot)
    if account_id:
        dq = dq.where(ss.c.account_id == account_id)
    rows = []
    for a, text in conn.execute(dq).all():
        for x in (json.loads(text).get("alerts", []) if text else []):
            if rule is None or x["rule"] == rule:
                rows.append({"alert_id": None, "account_id": a, "as_of": snapshot,
                             "rule": x["rule"], "severity": x["severity"], "title": x["title"],
                             "evidence_json": json.dumps(x.get("evidence") or {}),
                             "status": "raised", "snoozed_until": None})
    return pd.DataFrame(rows, columns=cols)


def scores(conn: Connection, f: Filters, snapshot: dt.date | None = None) -> pd.DataFrame:
    """Latest score snapshot per account (on or before ``f.as_of``), with the account's
    name, segment and owner, filtered like every other figure. Adds
    ``expected_loss`` (USD): ARR x ``loss_probability``, the probability of losing the
    account at its next renewal (within a year) or else within 90 days, from a model with
    measured skill or, without one, from the rules (``risk_basis``:
    :mod:`greendoor.scoring.skill`); the attention list is ranked by it."""
    snap = snapshot or snapshot_date(conn, f.as_of)
    ss, a = schema.score_snapshots, schema.accounts
    if snap is None:
        return pd.DataFrame()
    seg = state.segment_at_query(snap).subquery("seg")  # as the snapshot's features had it
    q = (sa.select(ss.c.account_id, a.c.name, seg.c.segment, a.c.csm_owner, ss.c.as_of, ss.c.arr,
                   ss.c.health_score, ss.c.band, ss.c.trend, ss.c.confidence,
                   ss.c.churn_probability, ss.c.risk_index, ss.c.renewal_probability,
                   ss.c.expansion_probability, ss.c.advocacy_readiness, ss.c.days_to_renewal,
                   ss.c.rule_churn_probability, ss.c.loss_probability, ss.c.risk_basis)
         .select_from(ss.join(a, a.c.account_id == ss.c.account_id)
                      .outerjoin(seg, seg.c.account_id == ss.c.account_id))
         .where(ss.c.as_of == snap))
    if f.segment:
        q = q.where(seg.c.segment == f.segment)
    if f.owner:
        q = q.where(a.c.csm_owner == f.owner)
    df = pd.read_sql(q, conn)
    df["expected_loss"] = df["arr"] * df["loss_probability"]
    return df


def churn_90(df: pd.DataFrame) -> pd.Series:
    """Each account's probability of churning within 90 days behind ARR at risk: the churn
    model's when any score carries one (the model has measured skill), else the rule's
    (``rule_churn_probability``). ``df``: :func:`scores` rows."""
    model = df["churn_probability"].notna().any()
    return df["churn_probability"] if model else df["rule_churn_probability"]


def health_kpis(conn: Connection, f: Filters) -> dict:
    """Average health, share of ARR per band (0-1), and ARR at risk = Σ ARR x P(churn
    within 90 days) (SPEC.md) from the latest snapshot on or before ``f.as_of``: the
    churn model's probability when it has measured skill, else the rule's (the measured
    churn rate of the account's health band, or the base rate), named in
    ``arr_at_risk_basis``."""
    df = scores(conn, f)
    if df.empty:
        return {"snapshot": None}
    arr = df["arr"].sum()
    share = df.groupby("band")["arr"].sum() / arr if arr else pd.Series(dtype=float)
    model = df["churn_probability"].notna().any()
    p90 = churn_90(df)
    return {"snapshot": df["as_of"].iloc[0], "avg_health": float(df["health_score"].mean()),
            "share_green": float(share.get("green", 0.0)),
            "share_yellow": float(share.get("yellow", 0.0)),
            "share_red": float(share.get("red", 0.0)),
            "arr_at_risk": float((df["arr"] * p90).sum()) if p90.notna().any() else float("nan"),
            "arr_at_risk_basis": "model" if model else (
                df["risk_basis"].mode().iloc[0] if df["risk_basis"].notna().any() else None),
            "accounts": int(len(df))}


def movers(conn: Connection, f: Filters, days: int = 7) -> pd.DataFrame:
    """Health change of each account between the latest snapshot and the one
    ``days`` earlier: ``account_id, name, health_score, before, change, band``."""
    now = scores(conn, f)
    if now.empty:
        return now
    before = scores(conn, f, snapshot=snapshot_date(conn, now["as_of"].iloc[0]
                                                    - dt.timedelta(days=days)))
    if before.empty:
        return pd.DataFrame()
    m = now.merge(before[["account_id", "health_score", "band"]].rename(
        columns={"health_score": "before", "band": "band_before"}), on="account_id")
    m["change"] = m["health_score"] - m["before"]
    return m.sort_values("change")[["account_id", "name", "segment", "csm_owner", "arr",
                                    "health_score", "before", "change", "band", "band_before"]]
