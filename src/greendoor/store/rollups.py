"""Derived tables kept next to the raw facts, so reads scan less.

``usage_user_days`` holds usage summed per account, user and day (rows with
``events > 0``): the first step of every usage feature (:mod:`greendoor.scoring.features`).
At bench tier M it has about a third of the raw rows.

A rollup is only used when it is **fresh**: its stored fingerprint (row count, sum of
events, first and last day of ``usage``) equals the raw table's. Anything that writes
``usage`` without refreshing it (a test inserting rows, an SQL session) makes the
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


def refresh_usage_user_days(conn: Connection) -> int:
    """Rebuild ``usage_user_days`` from ``usage`` inside the caller's transaction and
    record the fingerprint. Returns its row count."""
    u, r = schema.usage, schema.usage_user_days
    conn.execute(r.delete())
    conn.execute(r.insert().from_select(
        ["account_id", "user_id", "date", "events", "errors", "seconds"],
        sa.select(u.c.account_id, u.c.user_id, u.c.date, sa.func.sum(u.c.events),
                  sa.func.sum(u.c.errors), sa.func.sum(u.c.duration_seconds))
        .where(u.c.events > 0).group_by(u.c.account_id, u.c.user_id, u.c.date)))
    meta.set_many(conn, {TOKEN_KEY: usage_fingerprint(conn)})
    return int(conn.execute(sa.select(sa.func.count()).select_from(r)).scalar())


def usage_user_days_fresh(conn: Connection) -> bool:
    """Whether ``usage_user_days`` matches the raw usage table right now."""
    stored = meta.get(conn, TOKEN_KEY)
    return stored is not None and stored == usage_fingerprint(conn)
