"""``greendoor source check``: validate a warehouse mapping where the data lives.

Every check is a query pushed down to the source (SQLAlchemy Core, so the same code
runs on DuckDB, PostgreSQL and any dialect with regular expressions); only counts and
the first failing rows' keys come back, never the tables. Per mapped table:

1. the table or view exists and has every mapped and required column (reflection);
2. each column's type can feed the contract's kind: a date from a DATE/TIMESTAMP, or
   from text in ISO 8601 (``YYYY-MM-DD``, checked row by row); a number from a numeric
   type or from numeric text; anything for text;
3. one scan counting the rows that break each rule: required value missing, text not
   a date or number, value outside its enumeration or range, text too long;
4. duplicate natural keys (``GROUP BY key HAVING count(*) > 1``);
5. orphans: an ``account_id`` with no account, a child with no parent
   (:data:`greendoor.ingest.contract.PARENTS`), by ``NOT EXISTS``.

The connection is opened read-only where the dialect allows (DuckDB ``read_only``,
PostgreSQL ``SET TRANSACTION READ ONLY``) and its transaction rolled back: a check
writes nothing, to the source or to Greendoor's store. On Apache Spark the same
statements are compiled for PostgreSQL and transpiled to Spark SQL by SQLGlot
(:mod:`greendoor.warehouse.spark`); Spark's own reader registers Parquet as views.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor.ingest.contract import CONTRACT, PARENTS, Field, max_text
from greendoor.warehouse.mapping import SourceMapping, required_columns

#: First failing rows listed per rule.
SAMPLE = 3
#: Rows per chunk when a sync copies a SQL source's table (bounded memory).
CHUNK_ROWS = 200_000
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
ISO_DATETIME = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?"
                r"(Z|[+-][0-9]{2}:?[0-9]{2})?$")
INTEGER = r"^[+-]?[0-9]+$"
NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
TRUE_FALSE = ("true", "false", "t", "f", "yes", "no", "y", "n", "1", "0")


@dataclasses.dataclass(frozen=True)
class SourceIssue:
    """One broken rule: the canonical ``table`` and ``column``, where they come from
    (``source``: ``schema.table.column``), ``count`` rows (or keys) breaking it, the first
    failing rows' ``keys`` (``key=value`` text) and values, and the ``rule``."""

    table: str
    column: str | None
    source: str
    rule: str
    count: int | None = None
    keys: tuple[str, ...] = ()
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        col = f", column {self.column}" if self.column else ""
        out = f"{self.table}{col} (source {self.source}): {self.rule}"
        if self.count is not None:
            out += f"; {self.count:,} row{'s' if self.count != 1 else ''}"
        if self.keys:
            shown = [k + (f" value {v!r}" if v not in (None, "") else "")
                     for k, v in zip(self.keys, self.values or [None] * len(self.keys),
                                     strict=False)]
            out += ", first: " + "; ".join(shown)
        return out


@dataclasses.dataclass
class SourceCheck:
    """The result of :func:`check_source`: ``issues`` (empty when the mapping is usable),
    rows per canonical table, and seconds."""

    url: str
    issues: list[SourceIssue] = dataclasses.field(default_factory=list)
    rows: dict[str, int] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No broken rule."""
        return not self.issues

    def summary(self, max_issues: int = 20) -> str:
        """The check as text for the command line."""
        lines = [f"source {self.url}: {len(self.rows)} table(s) checked in "
                 f"{self.seconds:.1f} s"]
        for t, n in self.rows.items():
            lines.append(f"  {t:<22}{n:>14,} rows")
        if self.ok:
            lines.append("mapping OK: every rule holds (nothing was written)")
        else:
            lines.append(f"{len(self.issues)} problem(s) (nothing was written):")
            lines += [f"  {i}" for i in self.issues[:max_issues]]
            if len(self.issues) > max_issues:
                lines.append(f"  ... and {len(self.issues) - max_issues} more")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class _Mapped:
    """One mapped table as the checks see it: the SQL table construct, canonical ->
    source column names, the key columns shown for failing rows, the reflected types."""

    name: str
    where: str
    table: sa.TableClause
    columns: dict[str, str]
    key: tuple[str, ...]
    types: dict[str, sa.types.TypeEngine]

    def col(self, canonical: str) -> sa.ColumnClause:
        return self.table.c[self.columns[canonical]]

    def source(self, canonical: str | None) -> str:
        return self.where + (f".{self.columns[canonical]}" if canonical else "")


def source_engine(url: str) -> Engine:
    """An engine on ``url`` opened read-only where the dialect allows it."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "duckdb":
        return sa.create_engine(u, connect_args={"read_only": True})
    return sa.create_engine(u)


class SqlRunner:
    """Runs the checks' statements on a SQLAlchemy connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.insp = sa.inspect(conn)

    def columns(self, schema: str | None, table: str) -> dict[str, sa.types.TypeEngine] | None:
        """Column name -> type of ``schema.table`` (a table or view); ``None`` if missing."""
        if not self.insp.has_table(table, schema=schema):
            return None
        return {c["name"]: c["type"] for c in self.insp.get_columns(table, schema=schema)}

    def tables(self, schema: str | None) -> list[str]:
        """Tables and views of ``schema``."""
        return self.insp.get_table_names(schema=schema) + self.insp.get_view_names(schema=schema)

    def rows(self, stmt: sa.Select) -> list[tuple]:
        """The rows of ``stmt``."""
        return [tuple(r) for r in self.conn.execute(stmt).all()]

    def frame(self, stmt: sa.Select) -> pd.DataFrame:
        """The result of ``stmt`` as a frame."""
        return pd.read_sql(stmt, self.conn)

    def to_parquet(self, stmt: sa.Select, path, types: dict | None = None,
                   chunk_rows: int | None = None) -> int:
        """Write the result of ``stmt`` to the Parquet file ``path`` ``chunk_rows`` rows at
        a time (default :data:`CHUNK_ROWS`; a server-side cursor where the driver has one),
        so memory stays bounded
        whatever the table's size; returns its rows. ``types`` (result column -> the
        source's reflected type, :func:`arrow_type`) fixes each column's Parquet type,
        so every chunk has the same schema (a chunk of NULLs or of whole numbers would
        otherwise infer another)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        chunk_rows = chunk_rows or CHUNK_ROWS
        result = self.conn.execution_options(stream_results=True,
                                             max_row_buffer=chunk_rows).execute(stmt)
        names = list(result.keys())
        schema = pa.schema([(c, arrow_type((types or {}).get(c))) for c in names])
        n = 0
        with pq.ParquetWriter(path, schema) as writer:
            while rows := result.fetchmany(chunk_rows):
                frame = pd.DataFrame.from_records(rows, columns=names)
                writer.write_table(_typed(frame, schema))
                n += len(frame)
        return n


@contextlib.contextmanager
def open_source(mapping: SourceMapping, engine: Engine | None = None,
                spark=None) -> Iterator[tuple[SqlRunner, str]]:
    """(a runner, a label for reports) on the mapping's source, read-only: ``engine``
    (default one on ``mapping.url``, disposed afterwards) or for a Spark source ``spark``
    (a ``SparkSession``; default one started from ``mapping.spark`` and stopped
    afterwards). A SQL source's transaction is rolled back at the end."""
    if mapping.spark is not None:
        from greendoor.warehouse.spark import SparkRunner, spark_session

        with spark_session(mapping.spark, spark) as session:
            yield SparkRunner(session, mapping.spark), f"spark {session.sparkContext.master}"
        return
    own = engine is None
    engine = engine or source_engine(mapping.url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                yield SqlRunner(conn), engine.url.render_as_string(hide_password=True)
            finally:
                conn.rollback()
    finally:
        if own:  # DuckDB holds the file open until the engine is disposed
            engine.dispose()


def check_source(mapping: SourceMapping, engine: Engine | None = None,
                 sample: int = SAMPLE, spark=None) -> SourceCheck:
    """Check ``mapping`` against its source with queries pushed down (module docstring),
    on ``engine`` or ``spark`` as :func:`open_source` opens them. Returns a
    :class:`SourceCheck`; a source that cannot be reached raises SQLAlchemy's
    ``OperationalError`` (Spark: its own exception)."""
    with open_source(mapping, engine, spark) as (run, label):
        return run_checks(run, mapping, SourceCheck(url=label), sample)


def run_checks(run, mapping: SourceMapping, report: SourceCheck, sample: int = SAMPLE
               ) -> SourceCheck:
    """Every check of the module docstring through ``run``, recorded in ``report``."""
    t0 = time.perf_counter()
    mapped = {}
    for name in CONTRACT:  # load order: parents before children
        if name in mapping.tables:
            m = _reflect(run, mapping, name, report.issues)
            if m is not None:
                mapped[name] = m
    for name, m in mapped.items():
        report.rows[name] = _scan(run, m, report.issues, sample)
        _duplicates(run, m, report.issues, sample)
        _orphans(run, m, mapped, report.issues, sample)
    report.seconds = time.perf_counter() - t0
    return report


def _reflect(run, mapping: SourceMapping, name: str,
             issues: list[SourceIssue]) -> _Mapped | None:
    """The mapped table with its reflected columns; records missing tables and columns."""
    ts = mapping.tables[name]
    reflected = run.columns(ts.schema_name, ts.table_name)
    if reflected is None:
        known = run.tables(ts.schema_name)
        issues.append(SourceIssue(name, None, ts.from_, "no such table or view in the source"
                                  + (f" (it has {', '.join(sorted(known)[:12])})" if known
                                     else "")))
        return None
    columns = mapping.canonical_columns(name, list(reflected))
    ok = True
    for canon, src in columns.items():
        if src not in reflected:
            ok = False
            issues.append(SourceIssue(name, canon, f"{ts.from_}.{src}",
                                      f"the source has no column {src!r} (it has "
                                      f"{', '.join(reflected)})"))
    for canon in required_columns(name):
        if canon not in columns:
            ok = False
            issues.append(SourceIssue(name, canon, ts.from_,
                                      f"required column not mapped and not in the source; map "
                                      f"it under tables.{name}.columns.{canon}"))
    if not ok:
        return None
    table = sa.table(ts.table_name, *(sa.column(c) for c in reflected), schema=ts.schema_name)
    spec = CONTRACT[name]
    key = (("account_id", "date", "user_id", "feature") if spec.fact else spec.key)
    return _Mapped(name=name, where=ts.from_, table=table, columns=columns,
                   key=tuple(k for k in key if k in columns),
                   types={c: reflected[s] for c, s in columns.items()})


def _is_text(t: sa.types.TypeEngine) -> bool:
    return isinstance(t, (sa.String, sa.Text, sa.Enum)) or t.__class__.__name__ in (
        "NullType",)


def is_timestamp(t: sa.types.TypeEngine) -> bool:
    """A timestamp column: SQLAlchemy's ``DateTime``, or a dialect's own timestamp type
    that is not one (snowflake-sqlalchemy's ``TIMESTAMP_NTZ``, ``_LTZ`` and ``_TZ``)."""
    return isinstance(t, sa.DateTime) or type(t).__name__.upper().startswith("TIMESTAMP")


def is_temporal(t: sa.types.TypeEngine) -> bool:
    """A DATE or timestamp column (:func:`is_timestamp`)."""
    return isinstance(t, sa.Date) or is_timestamp(t)


def arrow_type(t: sa.types.TypeEngine | None):
    """The Parquet (Arrow) type a source column of type ``t`` is copied as: booleans,
    64-bit integers, doubles (any decimal), dates, timestamps in microseconds; text for
    anything else (and for an unknown type), which the import then validates."""
    import pyarrow as pa

    if t is None:
        return pa.string()
    if isinstance(t, sa.Boolean):
        return pa.bool_()
    if isinstance(t, sa.Integer):
        return pa.int64()
    if isinstance(t, (sa.Float, sa.Numeric)):
        return pa.float64()
    if is_timestamp(t):
        return pa.timestamp("us")
    if isinstance(t, sa.Date):
        return pa.date32()
    return pa.string()


def _typed(frame: pd.DataFrame, schema):
    """``frame`` as an Arrow table of ``schema`` (:func:`arrow_type`'s types)."""
    import pyarrow as pa

    out = {}
    for field in schema:
        col = frame[field.name]
        if pa.types.is_string(field.type):
            col = col.map(lambda v: None if v is None or v is pd.NA or (
                isinstance(v, float) and v != v) else str(v), na_action=None).astype(object)
        elif pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            col = pd.to_numeric(col)
        elif pa.types.is_timestamp(field.type):
            col = pd.to_datetime(col)
            if getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        out[field.name] = pa.array(col, type=field.type, from_pandas=True, safe=False)
    return pa.table(out, schema=schema)


def _is_number(t: sa.types.TypeEngine) -> bool:
    return isinstance(t, (sa.Integer, sa.Numeric, sa.Float))


def _type_rule(m: _Mapped, f: Field) -> tuple[str | None, sa.ColumnElement | None]:
    """(a schema-level problem, a per-row condition of a malformed value) for ``f``."""
    t, col = m.types[f.name], m.col(f.name)
    if f.kind in ("date", "datetime"):
        if is_temporal(t):
            return None, None
        if _is_text(t):
            pattern = ISO_DATE if f.kind == "date" else ISO_DATETIME
            return None, sa.and_(col.is_not(None), sa.func.trim(col) != "",
                                 sa.not_(sa.func.trim(col).regexp_match(pattern)))
        return (f"is {t} in the source; a {f.kind} is needed (a DATE/TIMESTAMP column, or "
                "text in ISO 8601 YYYY-MM-DD)"), None
    if f.kind in ("int", "float"):
        if isinstance(t, sa.Integer) or (f.kind == "float" and _is_number(t)):
            return None, None
        if _is_number(t):  # a decimal where a whole number is needed
            return None, sa.and_(col.is_not(None), col != sa.func.floor(col))
        if _is_text(t):
            pattern = INTEGER if f.kind == "int" else NUMBER
            return None, sa.and_(col.is_not(None), sa.func.trim(col) != "",
                                 sa.not_(sa.func.trim(col).regexp_match(pattern)))
        return f"is {t} in the source; a number is needed", None
    if f.kind == "bool" and not isinstance(t, sa.Boolean):
        text = sa.func.lower(sa.func.trim(sa.cast(col, sa.String)))
        return None, sa.and_(col.is_not(None), text.not_in(TRUE_FALSE))
    return None, None


def _rules(m: _Mapped, issues: list[SourceIssue]) -> list[tuple[str, str, sa.ColumnElement]]:
    """(canonical column, rule, condition of a failing row) for every mapped column."""
    out = []
    for f in CONTRACT[m.name].fields:
        if f.name not in m.columns:
            continue
        col, t = m.col(f.name), m.types[f.name]
        problem, malformed = _type_rule(m, f)
        if problem:
            issues.append(SourceIssue(m.name, f.name, m.source(f.name), problem))
            continue
        if f.required:
            missing = col.is_(None)
            if _is_text(t):
                missing = sa.or_(missing, sa.func.trim(col) == "")
            out.append((f.name, "a value is required", missing))
        if malformed is not None:
            what = {"date": "a date (YYYY-MM-DD)", "datetime": "a date and time (ISO 8601)",
                    "int": "a whole number", "float": "a number",
                    "bool": "true or false"}[f.kind]
            out.append((f.name, f"not {what}", malformed))
            continue  # ranges need the typed value
        if f.enum:
            norm = sa.func.lower(sa.func.replace(sa.func.replace(
                sa.func.trim(sa.cast(col, sa.String)), " ", "_"), "-", "_"))
            out.append((f.name, f"not one of {', '.join(f.enum)}",
                        sa.and_(col.is_not(None), norm.not_in(f.enum))))
        if _is_number(t) and f.min is not None and f.max is not None:
            out.append((f.name, f"outside [{f.min:g}, {f.max:g}]",
                        sa.or_(col < f.min, col > f.max)))
        if f.kind == "str" and _is_text(t):
            out.append((f.name, f"longer than {max_text(m.name, f.name):,} characters",
                        sa.func.length(col) > max_text(m.name, f.name)))
    return out


def _key_text(m: _Mapped, row) -> str:
    return ", ".join(f"{k}={row[i]}" for i, k in enumerate(m.key))


def _scan(run, m: _Mapped, issues: list[SourceIssue], sample: int) -> int:
    """One pass over the table counting each rule's failing rows; then the first failing
    rows of each broken rule. Returns the table's row count."""
    rules = _rules(m, issues)
    counts = [sa.func.sum(sa.case((cond, 1), else_=0)) for _, _, cond in rules]
    [row] = run.rows(sa.select(sa.func.count(), *counts).select_from(m.table))
    for (canon, rule, cond), n in zip(rules, row[1:], strict=True):
        if not n:
            continue
        keys = [m.col(k) for k in m.key]
        first = run.rows(sa.select(*keys, m.col(canon)).where(cond)
                         .order_by(*keys).limit(sample))
        issues.append(SourceIssue(m.name, canon, m.source(canon), rule, int(n),
                                  tuple(_key_text(m, r) for r in first),
                                  tuple("" if r[-1] is None else str(r[-1]) for r in first)))
    return int(row[0])


def _duplicates(run, m: _Mapped, issues: list[SourceIssue], sample: int) -> None:
    """Natural keys held by more than one row (not for the usage fact table)."""
    spec = CONTRACT[m.name]
    if spec.fact or not m.key:
        return
    keys = [m.col(k) for k in m.key]
    dup = (sa.select(*keys).where(*(k.is_not(None) for k in keys)).group_by(*keys)
           .having(sa.func.count() > 1))
    [(n,)] = run.rows(sa.select(sa.func.count()).select_from(dup.subquery()))
    if n:
        first = run.rows(dup.order_by(*keys).limit(sample))
        issues.append(SourceIssue(m.name, m.key[0], m.source(m.key[0]),
                                  "the key is not unique (keys held by more than one row)",
                                  int(n), tuple(_key_text(m, r) for r in first)))


def _orphans(run, m: _Mapped, mapped: dict[str, _Mapped],
             issues: list[SourceIssue], sample: int) -> None:
    """Rows whose account (or parent row) the source does not have."""
    links = []
    if m.name != "accounts" and "account_id" in m.columns and "accounts" in mapped:
        links.append(("account_id", "accounts", "account_id"))
    if m.name in PARENTS and PARENTS[m.name][1] in mapped:
        links.append(PARENTS[m.name])
    for column, parent_name, parent_key in links:
        if column not in m.columns:
            continue
        parent = mapped[parent_name]
        child = m.col(column)
        cond = sa.and_(child.is_not(None),
                       ~sa.exists().where(parent.col(parent_key) == child))
        [(n,)] = run.rows(sa.select(sa.func.count()).select_from(m.table).where(cond))
        if not n:
            continue
        keys = [m.col(k) for k in m.key]
        first = run.rows(sa.select(*keys, child).where(cond).order_by(*keys).limit(sample))
        issues.append(SourceIssue(
            m.name, column, m.source(column),
            f"no such {parent_name[:-1] if parent_name.endswith('s') else parent_name} in "
            f"{parent.where}.{parent.columns[parent_key]}", int(n),
            tuple(_key_text(m, r) for r in first), tuple(str(r[-1]) for r in first)))
