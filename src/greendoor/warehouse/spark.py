"""Apache Spark as a warehouse source (issue 24).

The checks and queries are SQLAlchemy Core statements; here they are compiled for
PostgreSQL with their values inlined and transpiled to Spark SQL by SQLGlot, then run by
``SparkSession.sql``. Only the results (counts, a few keys, per-account rows) come back
to the driver. The same code runs in local mode (tests, CI) and on a cluster: only
``master`` (or an existing session) differs.

Needs the ``spark`` extra (``pip install -e .[spark]``: pyspark, sqlglot) and a Java
runtime (17 or later) for local mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from greendoor.warehouse.mapping import SparkSource

#: Spark SQL type name (``DataType.typeName()``) -> the SQLAlchemy type the checks expect.
SPARK_TYPES = {
    "string": sa.String(), "varchar": sa.String(), "char": sa.String(),
    "date": sa.Date(), "timestamp": sa.DateTime(), "timestamp_ntz": sa.DateTime(),
    "byte": sa.SmallInteger(), "short": sa.SmallInteger(), "integer": sa.Integer(),
    "long": sa.BigInteger(), "float": sa.Float(), "double": sa.Double(),
    "decimal": sa.Numeric(), "boolean": sa.Boolean(),
}
_PG = postgresql.dialect()


def spark_sql(stmt: sa.ClauseElement) -> str:
    """``stmt`` as Spark SQL: compiled for PostgreSQL with literal values, transpiled by
    SQLGlot. Raises ``sqlglot.errors.ParseError`` for SQL it cannot read."""
    import sqlglot
    from sqlglot import exp

    pg = str(stmt.compile(dialect=_PG, compile_kwargs={"literal_binds": True}))
    tree = sqlglot.parse_one(pg, read="postgres")
    for cte in tree.find_all(exp.CTE):  # Spark has no MATERIALIZED hint (it plans CTEs)
        cte.set("materialized", None)
    return tree.sql(dialect="spark")


@contextlib.contextmanager
def spark_session(source: SparkSource, session=None) -> Iterator:
    """``session`` (left running), or a new one from ``source`` (stopped afterwards), with
    ``source.views`` registered as temporary views."""
    own = session is None
    if own:
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.master(source.master).appName(source.app_name)
        defaults = {"spark.ui.enabled": "false", "spark.sql.session.timeZone": "UTC"}
        if source.master.startswith("local"):  # no network beyond the loopback
            defaults |= {"spark.driver.host": "127.0.0.1",
                         "spark.driver.bindAddress": "127.0.0.1"}
        for k, v in {**defaults, **source.config}.items():
            builder = builder.config(k, str(v))
        session = builder.getOrCreate()
    try:
        for name, path in source.views.items():
            session.read.format(source.format).load(path).createOrReplaceTempView(name)
        yield session
    finally:
        if own:
            session.stop()


class SparkRunner:
    """Runs the checks' statements on a ``SparkSession`` (see
    :class:`greendoor.warehouse.check.SqlRunner`)."""

    def __init__(self, session, source: SparkSource) -> None:
        self.spark = session
        self.source = source

    def _name(self, schema: str | None, table: str) -> str:
        return f"{schema}.{table}" if schema else table

    def columns(self, schema: str | None, table: str) -> dict[str, sa.types.TypeEngine] | None:
        """Column name -> SQLAlchemy type of a table or view; ``None`` if there is none."""
        name = self._name(schema, table)
        if not self.spark.catalog.tableExists(name):
            return None
        return {f.name: SPARK_TYPES.get(f.dataType.typeName(), sa.types.NullType())
                for f in self.spark.table(name).schema.fields}

    def tables(self, schema: str | None) -> list[str]:
        """Tables and views of ``schema`` (the temporary views with the default)."""
        return [t.name for t in self.spark.catalog.listTables(schema)]

    def rows(self, stmt: sa.Select) -> list[tuple]:
        """The rows of ``stmt``, run as Spark SQL (:func:`spark_sql`)."""
        return [tuple(r) for r in self.spark.sql(spark_sql(stmt)).collect()]

    def frame(self, stmt: sa.Select):
        """The result of ``stmt`` (run on Spark) as a pandas frame, through Arrow."""
        return self.spark.sql(spark_sql(stmt)).toArrow().to_pandas()

    def to_parquet(self, stmt: sa.Select, path, types: dict | None = None) -> int:
        """Write the result of ``stmt`` (run on Spark) to the local Parquet file ``path``
        through Arrow (``DataFrame.toArrow``, Spark 4); returns its rows. ``types`` is
        not needed (Spark's result carries its schema)."""
        import pyarrow.parquet as pq

        table = self.spark.sql(spark_sql(stmt)).toArrow()
        pq.write_table(table, path)
        return table.num_rows
