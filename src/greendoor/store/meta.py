"""Key/value facts about the store (table ``store_meta``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

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
