"""Key/value facts about the store (table ``store_meta``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.store import schema
from greendoor.store.schema import store_meta


def get(conn: Connection, key: str) -> str | None:
    """Value stored under ``key``, or ``None``."""
    return conn.execute(sa.select(store_meta.c.value).where(store_meta.c.key == key)).scalar()


def set_many(conn: Connection, values: dict[str, str]) -> None:
    """Insert or replace each ``key: value`` (portable delete-then-insert)."""
    if not values:
        return
    conn.execute(store_meta.delete().where(store_meta.c.key.in_(list(values))))
    conn.execute(store_meta.insert(), [{"key": k, "value": v} for k, v in values.items()])


def data_version(conn: Connection) -> tuple:
    """What changes whenever the data is loaded, rescored or the settings change: the
    latest import's end, the latest scoring time and the settings version. The app keys
    its caches on it."""
    return tuple(conn.execute(sa.select(
        sa.select(sa.func.max(schema.import_log.c.finished_at)).scalar_subquery(),
        sa.select(sa.func.max(schema.score_snapshots.c.scored_at)).scalar_subquery(),
        sa.select(sa.func.max(schema.settings_versions.c.version)).scalar_subquery(),
    )).one())
