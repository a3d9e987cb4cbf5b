"""Derived tables kept next to the raw facts, so reads scan less.

* ``usage_user_days``: usage summed per account, user and day (rows with
  ``events > 0``), with the user's previous active day. Serves the active-user
  counts as filtered sums per account (no per-user grouping).
* ``usage_account_days``: the same summed per account and day, with ``users`` = the
  number of user-days. Serves the per-account sums (events, user-days, seconds,
  errors) and the active days.

Both are written in date order, so a read of one window (the last 120 days) skips the
other dates' row groups. At bench tier L (100 M usage rows) a one-date usage read went
from 9.9 s on the user-day rollup alone to about 2 s (docs/benchmarks.md).

The rollups are only used when **fresh**: the stored fingerprint (row count, sum of
events, first and last day of ``usage``) equals the raw table's. Anything that writes
``usage`` without refreshing them (a test inserting rows, an SQL session) makes the
readers fall back to the raw rows, never to a stale answer.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.store import meta, schema

TOKEN_KEY = "usage_user_days_token"


def usage_fingerprint(conn: Connection) -> str:
    """``count|sum(events)|min(date)|max(date)`` of the raw usage table."""
    u = schema.usage
    row = conn.execute(sa.select(sa.func.count(), sa.func.sum(u.c.events), sa.func.min(u.c.date),
                                 sa.func.max(u.c.date))).one()
    return "|".join(str(v) for v in row)


def user_days_select() -> sa.Select:
    """``account_id, user_id, date, events, errors, seconds, prev_date`` summed from
    ``usage`` (rows with events > 0), in date order; ``prev_date`` is the user's
    previous active day."""
    u = schema.usage
    g = (sa.select(u.c.account_id, u.c.user_id, u.c.date,
                   sa.func.sum(u.c.events).label("events"), sa.func.sum(u.c.errors).label("errors"),
                   sa.func.sum(u.c.duration_seconds).label("seconds"))
         .where(u.c.events > 0).group_by(u.c.account_id, u.c.user_id, u.c.date).subquery("g"))
    prev = sa.func.lag(g.c.date).over(partition_by=[g.c.account_id, g.c.user_id],
                                      order_by=g.c.date)
    return (sa.select(g.c.account_id, g.c.user_id, g.c.date, g.c.events, g.c.errors, g.c.seconds,
                      prev.label("prev_date"))
            .order_by(g.c.date))


def first_active_day(prev_date: sa.ColumnElement, start) -> sa.ColumnElement:
    """Whether a ``usage_user_days`` row is its user's first active day on or after
    ``start``: no earlier active day, or one before ``start``. Among rows dated in a
    window ``[start, end)``, exactly one per active user passes, so counting them counts
    the window's active users without grouping by user."""
    return prev_date.is_(None) | (prev_date < start)


def refresh_usage_rollups(conn: Connection) -> int:
    """Rebuild ``usage_user_days`` and ``usage_account_days`` from ``usage`` inside the
    caller's transaction and record the fingerprint. Returns the user-day row count."""
    r, a = schema.usage_user_days, schema.usage_account_days
    conn.execute(r.delete())
    conn.execute(a.delete())
    conn.execute(r.insert().from_select(
        ["account_id", "user_id", "date", "events", "errors", "seconds", "prev_date"],
        user_days_select()))
    conn.execute(a.insert().from_select(
        ["account_id", "date", "users", "events", "errors", "seconds"],
        sa.select(r.c.account_id, r.c.date, sa.func.count(), sa.func.sum(r.c.events),
                  sa.func.sum(r.c.errors), sa.func.sum(r.c.seconds))
        .group_by(r.c.account_id, r.c.date).order_by(r.c.date)))
    meta.set_many(conn, {TOKEN_KEY: usage_fingerprint(conn)})
    return int(conn.execute(sa.select(sa.func.count()).select_from(r)).scalar())


def usage_rollups_fresh(conn: Connection) -> bool:
    """Whether the usage rollups match the raw usage table right now."""
    stored = meta.get(conn, TOKEN_KEY)
    return stored is not None and stored == usage_fingerprint(conn)


def use_rollups(conn: Connection, rollup: bool | None) -> bool:
    """A reader's ``rollup`` argument: as given, or (``None``) whether the rollups are
    fresh now."""
    return usage_rollups_fresh(conn) if rollup is None else rollup
