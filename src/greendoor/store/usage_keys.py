"""The natural key of an imported usage row, computed by the store's own engine.

Usage rows have no primary key in the source systems Greendoor reads: many exports
repeat the same account, day, user and feature on several rows, and most leave some
of those columns empty. An import must still match each row of a later export to the
row it loaded before, or re-importing an overlapping export would duplicate or lose
rows. The key is therefore defined on the canonical columns, in SQL, so that no
library's handling of missing values can change it (pandas 3 keeps missing values
through ``astype(str)`` and drops them from ``groupby``, which silently merged rows
before this module existed):

* **identity** = the row's ``usage_id`` when the source gives one, else its daily
  grain: ``account_id``, ``subscription_id``, ``date``, ``user_id``, ``feature``.
  Each value is written as ``<length>:<text>`` and a missing value as ``~``, so two
  different rows never share an identity by accident (``"a", ""`` vs ``"", "a"``);
  the date is written as days since 1970-01-01 (an integer on every engine, whatever
  the server's date style).
* **occurrence** = how many earlier rows of the same file share the identity
  (``row_number() - 1`` in file order), so repeated identities stay distinct rows;
* **source_key** = ``md5(identity || '#' || occurrence)``: 32 hexadecimal characters,
  identical on DuckDB and PostgreSQL (``tests/unit/test_usage_keys.py`` pins the
  values, so an engine upgrade that changed them fails a test).

A staging table holds the validated rows and their position in the file (:data:`ORD`);
:func:`keyed_select` reads it back with the key, and :func:`load` writes it to
``usage``: a plain insert when the store holds no usage, else an upsert on the key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Iterator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.store import schema
from greendoor.store.bulk import bulk_insert, merge_stage

#: Column of a staging table with each row's position in its file (0-based).
ORD = "_ord"
#: The columns of ``usage`` an import writes (everything but the key).
COLUMNS = [c.name for c in schema.usage.c if c.name != "source_key"]
#: Grain columns of the identity of a row without ``usage_id``, in key order.
GRAIN = ("account_id", "subscription_id", "date", "user_id", "feature")
_EPOCH = dt.date(1970, 1, 1)
_counter = itertools.count()


def _enc(value: sa.ColumnElement) -> sa.ColumnElement:
    """``<length>:<text>`` for a value, ``~`` for a missing one (injective)."""
    text = sa.cast(value, sa.String)
    return sa.case((value.is_(None), sa.literal("~")),
                   else_=sa.cast(sa.func.length(text), sa.String) + sa.literal(":") + text)


def identity(t: sa.Table | sa.sql.FromClause) -> sa.ColumnElement:
    """SQL text identifying a usage row of ``t`` (see the module docstring)."""
    days = t.c.date - sa.cast(sa.literal(_EPOCH.isoformat()), sa.Date)
    grain = sa.literal("g")
    for col in GRAIN:
        grain = grain + (_enc(sa.cast(days, sa.String)) if col == "date" else _enc(t.c[col]))
    return sa.case((t.c.usage_id.is_not(None), sa.literal("i") + _enc(t.c.usage_id)),
                   else_=grain)


def keyed_select(stage: sa.Table) -> sa.Select:
    """The staged rows with their ``source_key`` (columns :data:`COLUMNS` + key)."""
    ident = identity(stage).label("_identity")
    inner = sa.select(*[stage.c[c] for c in COLUMNS], stage.c[ORD], ident).subquery()
    occurrence = sa.func.row_number().over(partition_by=inner.c._identity,
                                           order_by=inner.c[ORD]) - 1
    key = sa.func.md5(inner.c._identity + sa.literal("#") + sa.cast(occurrence, sa.String))
    return sa.select(*[inner.c[c] for c in COLUMNS], key.label("source_key"))


def stage_table(name: str | None = None, temporary: bool = True) -> sa.Table:
    """A staging table for usage rows: :data:`COLUMNS` plus :data:`ORD`."""
    name = name or f"greendoor_stage_usage_keys_{next(_counter)}"
    return sa.Table(name, sa.MetaData(),
                    *[sa.Column(c, schema.usage.c[c].type) for c in COLUMNS],
                    sa.Column(ORD, sa.BigInteger, nullable=False),
                    prefixes=["TEMPORARY"] if temporary else [])


def stage_rows(conn: Connection, stage: sa.Table, frame: pd.DataFrame, first: int) -> int:
    """Append ``frame`` (usage columns) to ``stage`` with positions ``first, first+1, …``.
    Returns the number of rows."""
    cols = [c for c in COLUMNS if c in frame.columns]
    out = frame[cols].assign(**{ORD: range(first, first + len(frame))})
    return bulk_insert(conn, stage, out)


def load(conn: Connection, stage: sa.Table, replace: bool = False) -> dict:
    """Write the staged rows to ``usage`` in the caller's transaction: a plain insert
    when the store holds no usage (a first import, or ``replace``), else an upsert on
    ``source_key`` (changed rows updated, new ones inserted, identical ones untouched).
    Returns ``{"inserted", "updated", "unchanged"}`` counts."""
    n = conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one()
    if not n:
        return {"inserted": 0, "updated": 0, "unchanged": 0}
    usage, cols = schema.usage, [*COLUMNS, "source_key"]
    empty = replace or conn.execute(
        sa.select(sa.func.count()).select_from(sa.select(usage.c.date).limit(1).subquery())
    ).scalar_one() == 0
    if empty:  # no stored key to match; keys within one file are distinct
        conn.execute(usage.insert().from_select(cols, keyed_select(stage)))
        return {"inserted": int(n), "updated": 0, "unchanged": 0}
    with keyed(conn, stage) as table:
        return merge_stage(conn, usage, table, cols, ["source_key"], int(n))


@contextlib.contextmanager
def keyed(conn: Connection, stage: sa.Table) -> Iterator[sa.Table]:
    """A temporary table of the staged rows with their key (dropped after the block)."""
    table = sa.Table(f"greendoor_stage_usage_keyed_{next(_counter)}", sa.MetaData(),
                     *[sa.Column(c, schema.usage.c[c].type) for c in COLUMNS],
                     sa.Column("source_key", sa.String), prefixes=["TEMPORARY"])
    table.create(conn)
    conn.execute(table.insert().from_select([*COLUMNS, "source_key"], keyed_select(stage)))
    try:
        yield table
    finally:
        table.drop(conn)


def load_frame(conn: Connection, frame: pd.DataFrame, replace: bool = False) -> dict:
    """:func:`load` for rows held in memory (a whole-file import), in file order."""
    stage = stage_table()
    stage.create(conn)
    try:
        stage_rows(conn, stage, frame, 0)
        return load(conn, stage, replace)
    finally:
        stage.drop(conn)
