"""Filters and dates shared by every read model and by scoring.

:class:`Filters` is the app's global filter (as-of date, segment, CSM owner);
:func:`default_as_of` is the date a new session (or a command without ``--as-of``)
starts at; :func:`filter_options` lists the segments and owners the filters offer. This module sits below the read models (``portfolio``, ``analytics``) and
scoring, so each of them can use it without importing the others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.config import SEGMENT_ARR_THRESHOLDS
from greendoor.store import meta, schema, usage_features


@dataclasses.dataclass(frozen=True)
class Filters:
    """Global filters of the app (hashable, so it can key caches)."""

    as_of: dt.date
    segment: str | None = None
    owner: str | None = None


def default_as_of(conn: Connection) -> dt.date | None:
    """The as-of date a new session starts at (the data's export date).

    The demo's own as-of date when the store holds the demo; otherwise the day
    after the latest usage, ticket or subscription start in the store (so an
    import of last year's data is not shown as if everyone had churned since),
    capped at today. ``None`` for an empty store.
    """
    stored = meta.get(conn, "as_of")
    if stored and meta.get(conn, "dataset") == "demo":
        return dt.date.fromisoformat(stored)
    push = usage_features.pushed(conn)
    latest = [push.last_day] if push else []  # usage kept in the warehouse
    for col in (schema.usage.c.date, schema.subscriptions.c.start_date,
                schema.tickets.c.opened_at):
        v = conn.execute(sa.select(sa.func.max(col))).scalar()
        if v is not None:
            latest.append(v.date() if isinstance(v, dt.datetime) else v)
    if not latest:
        return None
    return min(max(latest) + dt.timedelta(days=1), dt.date.today())


def is_present(conn: Connection, as_of: dt.date) -> bool:
    """Whether ``as_of`` is the data's latest date or later (the present, where actions
    taken in the app after the export count), not a replay of the past."""
    latest = default_as_of(conn)
    return latest is None or as_of >= latest


def filter_options(conn: Connection) -> dict[str, list[str]]:
    """Distinct segments and CSM owners for the sidebar filters: the segments the source
    gave, and every ARR segment when any account's segment is derived from its ARR
    (it may have held any of them at a past date)."""
    a = schema.accounts
    derived = sa.or_(a.c.segment.is_(None),
                     sa.func.coalesce(a.c.segment_source, "") == "derived")
    segs = {r[0] for r in conn.execute(
        sa.select(a.c.segment).where(a.c.segment.is_not(None), ~derived).distinct())}
    if conn.execute(sa.select(sa.literal(1)).where(derived).limit(1)).first():
        segs |= {"smb", *SEGMENT_ARR_THRESHOLDS}
    owners = [r[0] for r in conn.execute(
        sa.select(a.c.csm_owner).where(a.c.csm_owner.is_not(None)).distinct()
        .order_by(a.c.csm_owner))]
    return {"segments": sorted(segs), "owners": owners}


def data_start(conn: Connection) -> dt.date | None:
    """Where observation windows can begin: the first usage day when the store has
    usage (earlier dates would look inactive; also usage kept in the warehouse), else
    the first subscription start."""
    push = usage_features.pushed(conn)
    if push is not None:
        return push.first_day
    for col in (schema.usage.c.date, schema.subscriptions.c.start_date):
        v = conn.execute(sa.select(sa.func.min(col))).scalar()
        if v is not None:
            return v.date() if isinstance(v, dt.datetime) else v
    return None
