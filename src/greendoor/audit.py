"""The append-only audit log (who did what, when, before and after): writing it
(:func:`record`, the one writer) and reading it (:func:`entries`).

Every write goes through a library function that adds its audit row with
:func:`record` in the same transaction (actions, settings, imports, demo loads,
scoring runs, restores, erasures, users and sign-ins); nothing in Greendoor updates or
deletes audit rows.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.access import Principal, require
from greendoor.store import schema
from greendoor.store.ids import new_id

MAX_ROWS = 50_000


def record(conn: Connection, actor: str, action: str, entity: str | None = None,
           entity_id: str | None = None, before=None, after=None,
           at: dt.datetime | None = None, raw: bool = False) -> str:
    """Append one audit row in the caller's transaction and return its id. ``before`` and
    ``after`` are JSON-serialised (dates and other objects as text) unless ``raw``, when
    they are already JSON text; ``at`` defaults to now (UTC, naive)."""
    def text(v):
        if v is None:
            return None
        return v if raw else json.dumps(v, default=str)

    audit_id = new_id()
    conn.execute(schema.audit_log.insert().values(
        audit_id=audit_id, occurred_at=at or dt.datetime.now(dt.UTC).replace(tzinfo=None),
        actor=str(actor), action=action, entity=entity, entity_id=entity_id,
        before_json=text(before), after_json=text(after)))
    return audit_id


def entries(conn: Connection, start: dt.date | None = None, end: dt.date | None = None,
            actors: list[str] | None = None, actions: list[str] | None = None,
            entity_id: str | None = None, limit: int = MAX_ROWS,
            principal: Principal | None = None) -> pd.DataFrame:
    """Audit rows, newest first, filtered by day range ``[start, end]`` (inclusive),
    actors, action names and an exact entity id. Columns ``occurred_at, actor, action,
    entity, entity_id, before_json, after_json, audit_id``. Admins only: a
    ``principal`` who is not an admin gets :class:`~greendoor.access.AccessDenied`."""
    if principal is not None:
        require(principal, "admin")
    a = schema.audit_log
    q = sa.select(a.c.occurred_at, a.c.actor, a.c.action, a.c.entity, a.c.entity_id,
                  a.c.before_json, a.c.after_json, a.c.audit_id)
    if start:
        q = q.where(a.c.occurred_at >= dt.datetime.combine(start, dt.time()))
    if end:
        q = q.where(a.c.occurred_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    if actors:
        q = q.where(a.c.actor.in_(actors))
    if actions:
        q = q.where(a.c.action.in_(actions))
    if entity_id:
        q = q.where(a.c.entity_id == entity_id)
    return pd.read_sql(q.order_by(a.c.occurred_at.desc()).limit(limit), conn)


def facets(conn: Connection, principal: Principal | None = None) -> dict[str, list[str]]:
    """Distinct actors and action names, for the filters (admins only)."""
    if principal is not None:
        require(principal, "admin")
    a = schema.audit_log
    return {"actors": [r[0] for r in conn.execute(sa.select(a.c.actor).distinct().order_by(a.c.actor))],
            "actions": [r[0] for r in conn.execute(sa.select(a.c.action).distinct()
                                                   .order_by(a.c.action))]}
