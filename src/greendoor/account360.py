"""Account 360 read model: everything the page shows about one account, as of a date.

Every part reads rows dated before the as-of date (the timeline, tickets, surveys,
interactions) or the latest score snapshot on or before it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import access
from greendoor.access import Principal
from greendoor.metrics.sql import arr_as_of_query
from greendoor.store import schema


@dataclasses.dataclass
class Account360:
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
    ts = dt.datetime.combine(as_of, dt.time())
    arr = pd.read_sql(arr_as_of_query(as_of).where(schema.subscriptions.c.account_id == aid), conn)
    ss = schema.score_snapshots
    hist = pd.read_sql(sa.select(ss.c.as_of, ss.c.health_score, ss.c.band, ss.c.churn_probability,
                                 ss.c.risk_index, ss.c.engagement, ss.c.sentiment, ss.c.growth)
                       .where(ss.c.account_id == aid, ss.c.as_of <= as_of).order_by(ss.c.as_of), conn)
    snap = conn.execute(sa.select(ss).where(ss.c.account_id == aid, ss.c.as_of <= as_of)
                        .order_by(ss.c.as_of.desc()).limit(1)).mappings().first()
    details = json.loads(snap["details_json"]) if snap and snap["details_json"] else {}
    u = schema.usage
    week = sa.func.date_trunc("week", u.c.date) if conn.dialect.name in ("duckdb", "postgresql") \
        else u.c.date
    usage = pd.read_sql(
        sa.select(week.label("week"), sa.func.sum(u.c.events).label("events"),
                  sa.func.count(sa.distinct(u.c.user_id)).label("active_users"))
        .where(u.c.account_id == aid, u.c.date < as_of, u.c.date >= as_of - dt.timedelta(days=365))
        .group_by(week).order_by(week), conn)
    t, r, i, act = schema.tickets, schema.survey_responses, schema.interactions, schema.actions
    parts = [
        pd.read_sql(sa.select(t.c.opened_at.label("when"), sa.literal("ticket").label("kind"),
                              (sa.func.coalesce(t.c.priority, "") + sa.literal(" · ")
                               + sa.func.coalesce(t.c.subject, t.c.category, "ticket")).label("what"),
                              t.c.escalated.label("flag"))
                    .where(t.c.account_id == aid, t.c.opened_at < ts), conn),
        pd.read_sql(sa.select(r.c.responded_at.label("when"), sa.literal("survey").label("kind"),
                              (sa.func.upper(r.c.survey) + sa.literal(" ")
                               + sa.cast(r.c.score, sa.String)).label("what"),
                              sa.literal(False).label("flag"))
                    .where(r.c.account_id == aid, r.c.responded_at < ts), conn),
        pd.read_sql(sa.select(i.c.occurred_at.label("when"), sa.literal("interaction").label("kind"),
                              (i.c.type + sa.case((i.c.attended.is_(False), " (missed)"),
                                                  else_="")).label("what"),
                              sa.literal(False).label("flag"))
                    .where(i.c.account_id == aid, i.c.occurred_at < ts), conn),
        pd.read_sql(sa.select(act.c.created_at.label("when"), sa.literal("action").label("kind"),
                              act.c.title.label("what"), sa.literal(False).label("flag"))
                    .where(act.c.account_id == aid, act.c.type != "playbook_step"), conn),
    ]
    timeline = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts) else pd.DataFrame(columns=["when", "kind", "what", "flag"])
    timeline["when"] = pd.to_datetime(timeline["when"])
    timeline = timeline.sort_values("when", ascending=False, ignore_index=True)
    c = schema.contacts
    contacts = pd.read_sql(sa.select(c.c.contact_id, c.c.name, c.c.title, c.c.role, c.c.email,
                                     c.c.active, c.c.last_engaged_at, c.c.ended_at)
                           .where(c.c.account_id == aid).order_by(c.c.role), conn)
    s = schema.subscriptions
    subs = pd.read_sql(sa.select(s.c.subscription_id, s.c.start_date, s.c.end_date,
                                 s.c.renewal_date, s.c.plan, s.c.seats, s.c.arr, s.c.status)
                       .where(s.c.account_id == aid).order_by(s.c.start_date.desc()), conn)
    o = schema.opportunities
    opps = pd.read_sql(sa.select(o.c.opportunity_id, o.c.name, o.c.type, o.c.stage, o.c.amount,
                                 o.c.forecast_category, o.c.close_date, o.c.status)
                       .where(o.c.account_id == aid).order_by(o.c.close_date.desc()), conn)
    al = schema.alerts
    alerts = pd.read_sql(sa.select(al.c.alert_id, al.c.as_of, al.c.rule, al.c.severity, al.c.title,
                                   al.c.status, al.c.snoozed_until)
                         .where(al.c.account_id == aid, al.c.status == "open")
                         .order_by(al.c.as_of.desc()), conn)
    acc = dict(acc)
    if principal is not None and principal.masks_pii:
        acc["name"] = access.pseudonym(conn, aid)
        contacts = access.mask_contacts(contacts)
    return Account360(account=acc, arr=float(arr["arr"].sum()) if len(arr) else 0.0,
                      snapshot=dict(snap) if snap else None, details=details, history=hist,
                      usage_weekly=usage, timeline=timeline, contacts=contacts,
                      subscriptions=subs, opportunities=opps, alerts=alerts)
