"""Bulk loading of DataFrames into store tables, inside the caller's transaction.

DuckDB reads the frame directly (Arrow scan); PostgreSQL gets ``COPY ... FROM
STDIN``; any other dialect falls back to an ``executemany`` insert. All three run
on the connection passed in, so a failure rolls back with the caller's
transaction (``engine.begin()``) and nothing is half-loaded.

:func:`upsert` goes through a temporary staging table, then two portable statements
(DuckDB and PostgreSQL): ``UPDATE ... FROM stage`` for rows whose key exists with
different content (``IS DISTINCT FROM``, so NULLs compare correctly), and
``INSERT ... SELECT ... WHERE NOT EXISTS`` for new keys. Identical rows are left
alone, so writing the same data twice changes nothing; columns absent from the frame
keep their stored values. It also avoids deleting rows: in DuckDB, deleting rows of
a table with a primary key costs about 1 s per 100,000 rows at commit (the index),
where updating them in place costs almost nothing.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Iterator

import duckdb
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

_counter = itertools.count()


class BulkInsertError(RuntimeError):
    """A bulk insert failed (constraint, type); the caller's transaction is aborted."""

    def __init__(self, table: str, cause: BaseException):
        super().__init__(f"bulk insert into {table} failed: {cause}")
        self.table = table
        self.__cause__ = cause


def bulk_insert(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Append ``frame`` to ``table``; return the number of rows written.

    ``frame`` columns must be a subset of the table's columns (missing ones are
    NULL). Raises ``KeyError`` naming unknown columns and :class:`BulkInsertError`
    when the database refuses the rows. Table and column names come
    from the schema, never from user input, and are quoted by the dialect.
    """
    if frame.empty:
        return 0
    unknown = [c for c in frame.columns if c not in table.c]
    if unknown:
        raise KeyError(f"{table.name}: unknown columns {unknown}")
    dialect = conn.dialect.name
    try:
        if dialect == "duckdb":
            _insert_duckdb(conn, table, frame)
        elif dialect == "postgresql":
            _insert_postgres(conn, table, frame)
        else:
            records = frame.astype(object).where(frame.notna(), None).to_dict("records")
            conn.execute(table.insert(), records)
    except (sa.exc.SQLAlchemyError, conn.dialect.loaded_dbapi.Error) as exc:
        raise BulkInsertError(table.name, exc) from exc
    return len(frame)


def _quoted(conn: Connection, names) -> list[str]:
    prep = conn.dialect.identifier_preparer
    return [prep.quote(n) for n in names]


def _insert_duckdb(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    raw = conn.connection.driver_connection
    view = f"_greendoor_bulk_{next(_counter)}"
    cols = ", ".join(_quoted(conn, frame.columns))
    raw.register(view, frame)
    try:
        raw.execute(
            f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} "
            f"({cols}) SELECT {cols} FROM {view}"
        )
    finally:
        try:
            raw.unregister(view)
        except duckdb.Error:  # the transaction is aborted; the view dies with it
            pass


def _insert_postgres(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    raw = conn.connection.driver_connection
    cols = ", ".join(_quoted(conn, frame.columns))
    buf = io.StringIO()
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_bool_dtype(out[name]) or out[name].dtype == object:
            # COPY's CSV reader wants true/false, not Python's True/False.
            out[name] = out[name].map(lambda v: v if not isinstance(v, bool) else str(v).lower())
    out.to_csv(buf, index=False, header=False, na_rep="")
    buf.seek(0)
    target = conn.dialect.identifier_preparer.format_table(table)
    with raw.cursor() as cur:
        with cur.copy(f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buf.getvalue())


def delete_all(conn: Connection, tables) -> None:
    """Delete every row of ``tables`` (in reverse order), in the caller's transaction."""
    for table in reversed(list(tables)):
        conn.execute(table.delete())


def read_frame(stmt: sa.sql.Select, conn: Connection) -> pd.DataFrame:
    """``pd.read_sql(stmt, conn)``, with DuckDB's result read as a whole (its own
    DataFrame conversion) instead of row by row through the DB-API: the feature queries
    return 100,000 rows per table at bench tier L, where row fetching took about 3 s of
    a one-date score. Same connection, so the same transaction. Other dialects use
    ``pd.read_sql``."""
    if conn.dialect.name != "duckdb":
        return pd.read_sql(stmt, conn)
    res = conn.execute(stmt)  # SQLAlchemy compiles and binds; no row is fetched yet
    try:
        # duckdb-engine's cursor forwards to the DuckDB connection holding the result
        return res.cursor.df()
    finally:
        res.close()


def upsert(conn: Connection, table: sa.Table, frame: pd.DataFrame, key: list[str]) -> dict:
    """Insert new and update changed rows of ``frame`` (keyed by ``key``).

    Returns ``{"inserted": n, "updated": n, "unchanged": n}``. Runs in the
    caller's transaction; raises on database errors (the caller rolls back).
    """
    if frame.empty:
        return {"inserted": 0, "updated": 0, "unchanged": 0}
    with staged(conn, table, frame) as stage:
        return merge_stage(conn, table, stage, list(frame.columns), key, len(frame))


@contextlib.contextmanager
def staged(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> Iterator[sa.Table]:
    """``frame`` in a temporary table with the columns (and types) of ``table`` that it
    has, for set-wise SQL against ``table``; dropped after the block. Created in the
    caller's transaction, so a failure rolls it back too."""
    stage = sa.Table(f"greendoor_stage_{table.name}_{next(_counter)}", sa.MetaData(),
                     *[sa.Column(c, table.c[c].type) for c in frame.columns],
                     prefixes=["TEMPORARY"])
    stage.create(conn)
    bulk_insert(conn, stage, frame)
    yield stage
    stage.drop(conn)


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
