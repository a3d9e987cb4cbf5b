"""Account 360 read model: everything the page shows about one account, as of a date.

Every part reads rows dated before the as-of date (the timeline, tickets, surveys,
interactions, actions), the latest score snapshot on or before it, and the contracts,
opportunities and contacts as they stood then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import access, periods, state
from greendoor.access import Principal
from greendoor.analytics.portfolio_health import alerts_at
from greendoor.metrics.sql import arr_as_of_query
from greendoor.store import schema


@dataclasses.dataclass
class Account360:
    """Everything Account 360 shows for one account at an as-of date: the account row, its ARR,
    the latest score snapshot (``None`` before the first), the snapshot's details (drivers,
    why-panel), the health history, weekly usage and the timeline of events up to the date."""
    account: dict
    arr: float
    snapshot: dict | None
    details: dict
    history: pd.DataFrame
    usage_weekly: pd.DataFrame
    timeline: pd.DataFrame
    contacts: pd.DataFrame
    subscriptions: pd.DataFrame
    opportunities: pd.DataFrame
    alerts: pd.DataFrame


def why_frame(details: dict) -> pd.DataFrame:
    """The health score's why panel from a snapshot's details: one row per measure,
    ``component, measure, value, scaled`` (0-100), ``weight`` (share of the score),
    ``contribution = weight x scaled`` (points; they sum to the health score) and
    ``gain = weight x (100 - scaled)`` (SPEC.md "Health score"). Snapshots store the
    panel column-wise without the two derived columns (older ones have them). Empty
    when the details have no panel."""
    why = pd.DataFrame(details.get("why") or [])
    if len(why) and "contribution" not in why:
        w, s = why["weight"].astype(float), why["scaled"].astype(float)
        why["contribution"] = w * s
        why["gain"] = w * (100 - s)
    return why


def load(conn: Connection, account_id: str, as_of: dt.date,
         principal: Principal | None = None) -> Account360 | None:
    """The account's data as of ``as_of``, or ``None`` for an unknown account id.

    Nothing after the date shows: scores and alerts from the latest scoring on or before
    it, events and actions dated before it, contracts as they stood (one ending later is
    still active), opportunities with the stage known then
    (:func:`greendoor.state.opportunities_as_of`), contacts in their role then, the
    segment as known then (:func:`greendoor.state.segment_at_query`).

    With a ``principal`` (the signed-in user): raises
    :class:`~greendoor.access.AccessDenied` when the account is outside their scope
    (a csm asking for another owner's account), and masks the account name and the
    contacts' names and e-mails for a role that masks PII (viewer).
    """
    if principal is not None:
        access.check_account(conn, principal, account_id)
    a = schema.accounts
    acc = conn.execute(sa.select(a).where(a.c.account_id == str(account_id))).mappings().first()
    if acc is None:
        return None
    aid = acc["account_id"]
    arr = pd.read_sql(arr_as_of_query(as_of).where(schema.subscriptions.c.account_id == aid), conn)
    ss = schema.score_snapshots
    hist = pd.read_sql(sa.select(ss.c.as_of, ss.c.health_score, ss.c.band, ss.c.churn_probability,
                                 ss.c.risk_index, ss.c.engagement, ss.c.sentiment, ss.c.growth)
                       .where(ss.c.account_id == aid, ss.c.as_of <= as_of).order_by(ss.c.as_of), conn)
    snap = conn.execute(sa.select(ss).where(ss.c.account_id == aid, ss.c.as_of <= as_of)
                        .order_by(ss.c.as_of.desc()).limit(1)).mappings().first()
    details = json.loads(snap["details_json"]) if snap and snap["details_json"] else {}
    contacts = contacts_as_of(conn, aid, as_of)
    acc = dict(acc)
    acc["segment"] = conn.execute(state.segment_at_query(as_of)
                                  .where(schema.accounts.c.account_id == aid)).scalar()
    if principal is not None and principal.masks_pii:
        acc["name"] = access.pseudonym(conn, aid)
        contacts = access.mask_contacts(contacts)
    return Account360(account=acc, arr=float(arr["arr"].sum()) if len(arr) else 0.0,
                      snapshot=dict(snap) if snap else None, details=details, history=hist,
                      usage_weekly=usage_weekly(conn, aid, as_of),
                      timeline=timeline(conn, aid, as_of), contacts=contacts,
                      subscriptions=subscriptions_as_of(conn, aid, as_of),
                      opportunities=opportunities_as_of(conn, aid, as_of),
                      alerts=alerts_as_of(conn, aid, snap["as_of"] if snap else None, as_of))


def usage_weekly(conn: Connection, account_id: str, as_of: dt.date) -> pd.DataFrame:
    """Weekly usage in the year before ``as_of``: ``week`` (Monday), ``events`` (sum) and
    ``active_users`` (distinct users in the week)."""
    u = schema.usage
    week = sa.func.date_trunc("week", u.c.date) if conn.dialect.name in ("duckdb", "postgresql") \
        else u.c.date
    return pd.read_sql(
        sa.select(week.label("week"), sa.func.sum(u.c.events).label("events"),
                  sa.func.count(sa.distinct(u.c.user_id)).label("active_users"))
        .where(u.c.account_id == account_id, u.c.date < as_of,
               u.c.date >= as_of - dt.timedelta(days=365))
        .group_by(week).order_by(week), conn)


def timeline(conn: Connection, account_id: str, as_of: dt.date) -> pd.DataFrame:
    """Tickets, surveys, interactions, community and social mentions by the account's
    people and actions dated before ``as_of``, newest first: ``when`` (timestamp),
    ``kind`` (ticket | survey | interaction | mention | action), ``what`` (one line:
    a mention's source, author and text) and ``flag`` (an escalated ticket). At the
    data's latest date
    (:func:`greendoor.periods.default_as_of`) or later, actions taken since then (in
    the app, after the export) show too: that is the present."""
    ts = dt.datetime.combine(as_of, dt.time())
    present = periods.is_present(conn, as_of)
    t, r, i, act = schema.tickets, schema.survey_responses, schema.interactions, schema.actions
    m = schema.mentions
    queries = [
        sa.select(t.c.opened_at.label("when"), sa.literal("ticket").label("kind"),
                  (sa.func.coalesce(t.c.priority, "") + sa.literal(" · ")
                   + sa.func.coalesce(t.c.subject, t.c.category, "ticket")).label("what"),
                  t.c.escalated.label("flag"))
        .where(t.c.account_id == account_id, t.c.opened_at < ts),
        sa.select(r.c.responded_at.label("when"), sa.literal("survey").label("kind"),
                  (sa.func.upper(r.c.survey) + sa.literal(" ")
                   + sa.cast(r.c.score, sa.String)).label("what"),
                  sa.literal(False).label("flag"))
        .where(r.c.account_id == account_id, r.c.responded_at < ts),
        sa.select(i.c.occurred_at.label("when"), sa.literal("interaction").label("kind"),
                  (i.c.type + sa.case((i.c.attended.is_(False), " (missed)"),
                                      else_="")).label("what"),
                  sa.literal(False).label("flag"))
        .where(i.c.account_id == account_id, i.c.occurred_at < ts),
        sa.select(sa.cast(m.c.occurred_at, sa.DateTime).label("when"),
                  sa.literal("mention").label("kind"),
                  (m.c.source + sa.literal(" · ") + sa.func.coalesce(m.c.author, "anonymous")
                   + sa.literal(": ") + sa.func.substr(m.c.text, 1, 200)).label("what"),
                  sa.literal(False).label("flag"))
        .where(m.c.account_id == account_id, m.c.occurred_at < as_of),
        sa.select(act.c.created_at.label("when"), sa.literal("action").label("kind"),
                  act.c.title.label("what"), sa.literal(False).label("flag"))
        .where(act.c.account_id == account_id, act.c.type != "playbook_step",
               sa.true() if present else act.c.created_at < ts),
    ]
    parts = [p for p in (pd.read_sql(q, conn) for q in queries) if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else \
        pd.DataFrame(columns=["when", "kind", "what", "flag"])
    out["when"] = pd.to_datetime(out["when"])
    return out.sort_values("when", ascending=False, ignore_index=True)


def contacts_as_of(conn: Connection, account_id: str, as_of: dt.date) -> pd.DataFrame:
    """The account's contacts in their role at ``as_of`` (started on or before it, or with
    no start date; not ended before it): ``contact_id, name, title, role, email, active,
    last_engaged_at, ended_at``; ``active`` is as at the date when the contact ended
    later, ``last_engaged_at`` is blank when it is after the date."""
    c = schema.contacts
    df = pd.read_sql(sa.select(c.c.contact_id, c.c.name, c.c.title, c.c.role, c.c.email,
                               c.c.active, c.c.last_engaged_at, c.c.ended_at)
                     .where(c.c.account_id == account_id,
                            sa.or_(c.c.started_at.is_(None), c.c.started_at <= as_of),
                            sa.or_(c.c.ended_at.is_(None), c.c.ended_at >= as_of))
                     .order_by(c.c.role), conn)
    ended_later = pd.to_datetime(df["ended_at"]) >= pd.Timestamp(as_of)
    df["active"] = df["active"].astype(object).where(~ended_later, True)
    df["ended_at"] = df["ended_at"].astype(object).where(~ended_later, None)
    engaged = pd.to_datetime(df["last_engaged_at"])
    df["last_engaged_at"] = engaged.where(engaged < pd.Timestamp(as_of))
    return df


def subscriptions_as_of(conn: Connection, account_id: str, as_of: dt.date) -> pd.DataFrame:
    """The account's subscriptions that had started by ``as_of``, newest first, as they
    stood then: one that ended later shows no end and the status ``active``.
    ``subscription_id, start_date, end_date, renewal_date, plan, seats, arr, status``;
    ``renewal_date`` is left blank (a later export may have moved it; the renewal in force
    comes from the contract term, :func:`greendoor.state.next_renewals`)."""
    s = schema.subscriptions
    df = pd.read_sql(sa.select(s.c.subscription_id, s.c.start_date, s.c.end_date,
                               s.c.renewal_date, s.c.plan, s.c.seats, s.c.arr, s.c.status)
                     .where(s.c.account_id == account_id, s.c.start_date <= as_of)
                     .order_by(s.c.start_date.desc()), conn)
    later = pd.to_datetime(df["end_date"]) >= pd.Timestamp(as_of)
    df["end_date"] = df["end_date"].astype(object).where(~later, None)
    df["status"] = df["status"].where(~later, "active")
    df["renewal_date"] = None
    return df


def opportunities_as_of(conn: Connection, account_id: str, as_of: dt.date) -> pd.DataFrame:
    """The account's opportunities created before ``as_of``, with the stage, forecast
    category and status known then (:func:`greendoor.state.opportunities_as_of`; stage
    ``None`` when the store does not know it): ``opportunity_id, name, type, stage,
    amount, forecast_category, close_date, status``, latest close date first."""
    o = schema.opportunities
    df = state.opportunities_as_of(conn, as_of)
    df = df[df["account_id"] == account_id]
    names = pd.read_sql(sa.select(o.c.opportunity_id, o.c.name).where(
        o.c.account_id == account_id), conn).set_index("opportunity_id")["name"]
    df = df.assign(name=df["opportunity_id"].map(names))
    cols = ["opportunity_id", "name", "type", "stage", "amount", "forecast_category",
            "close_date", "status"]
    return df.sort_values("close_date", ascending=False, ignore_index=True)[cols]


def alerts_as_of(conn: Connection, account_id: str, snapshot: dt.date | None,
                 as_of: dt.date) -> pd.DataFrame:
    """The account's alerts at ``as_of``: ``alert_id, as_of, rule, severity, title, status,
    snoozed_until``, newest first. When ``snapshot`` (the latest scoring on or before
    ``as_of``) is the store's latest scoring, the alerts open now; at an earlier one, the
    alerts that week's scoring raised (:func:`~greendoor.analytics.portfolio_health.alerts_at`,
    ``status`` ``raised``: what was done with them afterwards is not shown at a past date)."""
    al = schema.alerts
    cols = ["alert_id", "as_of", "rule", "severity", "title", "status", "snoozed_until"]
    if snapshot is None:
        return pd.DataFrame(columns=cols)
    latest = conn.execute(sa.select(sa.func.max(al.c.as_of))).scalar()
    if latest is None or snapshot >= latest:
        q = sa.select(*[al.c[c] for c in cols]).where(
            al.c.account_id == account_id, al.c.status == "open", al.c.as_of <= as_of)
        return pd.read_sql(q.order_by(al.c.as_of.desc()), conn)
    return alerts_at(conn, snapshot, account_id=account_id)[cols]
