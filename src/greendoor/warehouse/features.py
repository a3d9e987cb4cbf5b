"""Point-in-time usage features computed where the data lives (issue 24).

The statements are Greendoor's own (:func:`greendoor.scoring.features.usage_selects`:
user-days, account-days, the 7/30/60/90/120-day sums, active days and users, feature
breadth) applied to the warehouse's usage table as mapped, so DuckDB, PostgreSQL and
Spark (through :mod:`greendoor.warehouse.spark`) compute the same numbers as the
store does, and only one row per account comes back.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from greendoor.scoring.features import usage_selects
from greendoor.warehouse.check import is_timestamp, open_source
from greendoor.warehouse.mapping import SourceMapping

#: The usage columns the feature statements read, with the type of a NULL stand-in
#: when the source lacks an optional one.
USAGE_COLUMNS = {"account_id": sa.String, "user_id": sa.String, "date": sa.Date,
                 "feature": sa.String, "events": sa.BigInteger, "errors": sa.BigInteger,
                 "duration_seconds": sa.Double}


def mapped_usage(run, mapping: SourceMapping) -> sa.Subquery:
    """The source's usage table as a subquery named ``usage`` with the canonical column
    names: a timestamp becomes its day, ISO text a DATE; an optional column the source
    lacks is a typed NULL."""
    ts = mapping.tables["usage"]
    cols = run.columns(ts.schema_name, ts.table_name)
    if cols is None:
        raise ValueError(f"the source has no table or view {ts.from_}")
    mapped = mapping.canonical_columns("usage", list(cols))
    table = sa.table(ts.table_name, *(sa.column(c) for c in cols), schema=ts.schema_name)
    out = []
    for canon, kind in USAGE_COLUMNS.items():
        if canon not in mapped:
            out.append(sa.cast(sa.null(), kind).label(canon))
            continue
        col = table.c[mapped[canon]]
        if canon == "date" and not isinstance(cols[mapped[canon]], sa.Date):
            src = col if is_timestamp(cols[mapped[canon]]) else sa.func.substr(
                col, 1, 10)
            col = sa.cast(src, sa.Date)
        out.append(col.label(canon))
    return sa.select(*out).subquery("usage")


def source_usage_features(mapping: SourceMapping, as_of: dt.date,
                          engine: Engine | None = None, spark=None) -> pd.DataFrame:
    """Per account (``account_id`` and the usage features of
    :func:`greendoor.scoring.features.usage_selects`) as of ``as_of``, computed on the
    mapping's source (``engine``/``spark`` as
    :func:`~greendoor.warehouse.check.open_source` opens them)."""
    with open_source(mapping, engine, spark) as (run, _):
        return usage_aggregates(run, mapping, as_of)


def usage_aggregates(run, mapping: SourceMapping, as_of: dt.date) -> pd.DataFrame:
    """:func:`source_usage_features` through an open runner (``SqlRunner`` or
    ``SparkRunner``): ``account_id`` and the columns of
    :data:`greendoor.store.schema.USAGE_AGGREGATES`, one row per account with usage in
    the 120 days before ``as_of``."""
    q, breadth = usage_selects(as_of, mapped_usage(run, mapping))
    sums, feats = run.frame(q), run.frame(breadth)
    return sums.merge(feats, on="account_id", how="left")


def first_uses(run, mapping: SourceMapping, plans: pd.DataFrame) -> pd.DataFrame:
    """:func:`greendoor.success_plans.first_uses_select` on the source's usage for
    ``plans`` (the store's ``plan_id, account_id, start_date``, sent inline as a VALUES
    list): ``plan_id, user_id, feature, first``, one row per plan, user and feature."""
    from greendoor.success_plans import first_uses_select

    cols = ["plan_id", "user_id", "feature", "first"]
    if plans.empty:
        return pd.DataFrame(columns=cols)
    rows = [(str(p), str(a), pd.Timestamp(s).date().isoformat()) for p, a, s in
            plans[["plan_id", "account_id", "start_date"]].itertuples(index=False)]
    values = sa.values(sa.column("plan_id", sa.String), sa.column("account_id", sa.String),
                       sa.column("start_date", sa.String), name="plan_rows").data(rows)
    # the dates as ISO text cast on the source: a driver may bind a date as text
    typed = sa.select(values.c.plan_id, values.c.account_id,
                      sa.cast(values.c.start_date, sa.Date).label("start_date")
                      ).subquery("plans")
    out = run.frame(first_uses_select(typed, mapped_usage(run, mapping)))
    return out[cols]


def core_feature(run, mapping: SourceMapping) -> str | None:
    """:func:`greendoor.success_plans.core_feature` on the source's usage (its statement,
    :func:`greendoor.success_plans.core_feature_select`)."""
    from greendoor.success_plans import core_feature_select

    u = mapped_usage(run, mapping)
    [(last,)] = run.rows(sa.select(sa.func.max(u.c.date)))
    if last is None:
        return None
    rows = run.rows(core_feature_select(pd.Timestamp(last).date(), u))
    return rows[0][0] if rows else None
