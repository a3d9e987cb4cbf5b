"""Transactional upsert of validated frames into the store.

Each table goes through a temporary staging table, then two portable statements
(DuckDB and PostgreSQL): ``UPDATE ... FROM stage`` for rows whose key exists
with different content (``IS DISTINCT FROM``, so NULLs compare correctly), and
``INSERT ... SELECT ... WHERE NOT EXISTS`` for new keys. Identical rows are left
alone, so importing the same data twice changes nothing. Columns absent from the
import keep their stored values.
"""

from __future__ import annotations

import itertools

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.store.bulk import bulk_insert

_stage_ids = itertools.count()


def upsert(conn: Connection, table: sa.Table, frame: pd.DataFrame, key: list[str]) -> dict:
    """Insert new and update changed rows of ``frame`` (keyed by ``key``).

    Returns ``{"inserted": n, "updated": n, "unchanged": n}``. Runs in the
    caller's transaction; raises on database errors (the caller rolls back).
    """
    if frame.empty:
        return {"inserted": 0, "updated": 0, "unchanged": 0}
    cols = list(frame.columns)
    stage = sa.Table(
        f"greendoor_stage_{table.name}_{next(_stage_ids)}",
        sa.MetaData(),
        *[sa.Column(c, table.c[c].type) for c in cols],
        prefixes=["TEMPORARY"],
    )
    stage.create(conn)  # transactional: a failed import rolls it back too
    bulk_insert(conn, stage, frame)
    res = merge_stage(conn, table, stage, cols, key, len(frame))
    stage.drop(conn)
    return res


def merge_stage(conn: Connection, table: sa.Table, stage: sa.Table, cols: list[str],
                key: list[str], n_rows: int) -> dict:
    """Update changed and insert new rows of ``table`` from the ``n_rows`` rows of
    ``stage`` (same column names, ``cols``), matched on ``key``. Returns the counts
    like :func:`upsert`."""
    match = sa.and_(*[table.c[k] == stage.c[k] for k in key])
    non_key = [c for c in cols if c not in key]
    differs = (sa.or_(*[table.c[c].is_distinct_from(stage.c[c]) for c in non_key])
               if non_key else sa.false())
    exists = sa.select(sa.literal(1)).select_from(table).where(match).exists()
    n_update = conn.execute(
        sa.select(sa.func.count()).select_from(stage.join(table, match)).where(differs)
    ).scalar_one()
    n_insert = conn.execute(
        sa.select(sa.func.count()).select_from(stage).where(~exists)
    ).scalar_one()
    if n_update:
        conn.execute(table.update().values({c: stage.c[c] for c in non_key})
                     .where(match).where(differs))
    if n_insert:
        conn.execute(table.insert().from_select(
            cols, sa.select(*[stage.c[c] for c in cols]).where(~exists)))
    return {"inserted": int(n_insert), "updated": int(n_update),
            "unchanged": int(n_rows - n_insert - n_update)}
