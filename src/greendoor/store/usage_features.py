"""Usage kept in the warehouse (issue 24, a source synced with ``usage_mode: features``).

The usage rows stay where they live; ``greendoor sync`` computes the per-account usage
aggregates of :func:`greendoor.scoring.features.usage_selects` on the source for each
as-of date scoring needs and stores them in ``usage_features`` (one row per as-of date
and account, columns :data:`greendoor.store.schema.USAGE_AGGREGATES`). The store then
holds no usage rows; :func:`pushed` says so, with the source's first and last usage
day and the as-of dates computed, and the readers
(:func:`greendoor.scoring.features.features_as_of`, :mod:`greendoor.periods`) use it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.store import meta, schema
from greendoor.store.bulk import bulk_insert

META_KEY = "usage_pushed_down"


@dataclass(frozen=True)
class PushedUsage:
    """What the store knows of usage kept in the warehouse: ``source`` (the id of
    :func:`greendoor.warehouse.sync.source_id`), the source's ``first_day`` and
    ``last_day`` of usage, and the as-of ``dates`` whose aggregates are stored."""

    source: str
    first_day: dt.date
    last_day: dt.date
    dates: frozenset[dt.date]
    #: the book's most used feature in the source's last 90 days of usage
    #: (:func:`greendoor.success_plans.core_feature`), ``None`` without features
    core_feature: str | None = None


def pushed(conn: Connection) -> PushedUsage | None:
    """The store's pushed-down usage, or ``None`` when its usage (if any) is in its own
    ``usage`` table."""
    raw = meta.get(conn, META_KEY)
    if not raw:
        return None
    d = json.loads(raw)
    return PushedUsage(d["source"], dt.date.fromisoformat(d["first_day"]),
                       dt.date.fromisoformat(d["last_day"]),
                       frozenset(dt.date.fromisoformat(x) for x in d["dates"]),
                       d.get("core_feature"))


def forget(conn: Connection) -> None:
    """Drop the pushed-down usage (a replacing import or a demo load: the store's own
    usage rows decide again)."""
    conn.execute(schema.usage_features.delete())
    conn.execute(schema.usage_first_uses.delete())
    conn.execute(schema.store_meta.delete().where(schema.store_meta.c.key == META_KEY))


def read(conn: Connection, as_of: dt.date) -> pd.DataFrame:
    """``account_id`` and the usage aggregates stored for ``as_of`` (no rows for a date
    not computed)."""
    t = schema.usage_features
    return pd.read_sql(sa.select(t.c.account_id, *(t.c[c] for c in schema.USAGE_AGGREGATES))
                       .where(t.c.as_of == as_of), conn)


def first_uses(conn: Connection, plan_ids, d: dt.date) -> pd.DataFrame:
    """``plan_id, user_id, feature, first`` of ``plan_ids`` with ``first <= d``: the first
    use on or after each plan's start known by ``d`` (as
    :func:`greendoor.success_plans._first_users` computes from usage rows)."""
    t = schema.usage_first_uses
    return pd.read_sql(sa.select(t.c.plan_id, t.c.user_id, t.c.feature, t.c.first)
                       .where(t.c.plan_id.in_(list(plan_ids)), t.c.first <= d), conn)


def write_first_uses(conn: Connection, rows: pd.DataFrame) -> int:
    """Replace every stored first use with ``rows`` (``plan_id, user_id, feature,
    first``) in the caller's transaction; returns the rows written."""
    conn.execute(schema.usage_first_uses.delete())
    return bulk_insert(conn, schema.usage_first_uses, rows)


def write(conn: Connection, source: str, first_day: dt.date, last_day: dt.date,
          frames: dict[dt.date, pd.DataFrame], core_feature: str | None = None,
          keep: set[dt.date] | None = None) -> int:
    """Store each as-of date's aggregates (``frames``: date -> ``account_id`` and the
    aggregate columns) in the caller's transaction, replacing that date's rows; with
    ``keep``, the held dates not in it are dropped first (an empty set drops them all);
    and record the source, its usage days, the dates held and the book's core feature.
    Returns the rows written."""
    t = schema.usage_features
    before = pushed(conn)
    held = set() if before is None else set(before.dates)
    drop = (held - set(keep) if keep is not None else set()) | set(frames)
    if drop:
        conn.execute(t.delete().where(t.c.as_of.in_(list(drop))))
    held -= drop
    n = 0
    for d, f in sorted(frames.items()):
        rows = f.reindex(columns=["account_id", *schema.USAGE_AGGREGATES]).assign(as_of=d)
        for c in schema.USAGE_AGGREGATES:
            rows[c] = pd.to_numeric(rows[c], errors="coerce").astype(float)
        bulk_insert(conn, t, rows)
        n += len(rows)
        held.add(d)
    meta.set_many(conn, {META_KEY: json.dumps({
        "source": source, "first_day": first_day.isoformat(), "last_day": last_day.isoformat(),
        "dates": sorted(x.isoformat() for x in held), "core_feature": core_feature})})
    return n
