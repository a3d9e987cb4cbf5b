"""``greendoor sync``: bring a warehouse source's data into Greendoor's store (issue 24).

1. :func:`~greendoor.warehouse.check.run_checks` on the source; any problem stops the
   sync before anything is read or written.
2. Each mapped table is read by one pushed-down query selecting its mapped columns
   under their canonical names; the usage table only for the days past the source's
   **watermark** (the last usage day already synced) up to the source's latest day,
   so a daily sync reads one day. ``full=True`` reads everything again.
3. The rows go through the file import (:func:`greendoor.ingest.import_path` on the
   canonical Parquet files): the same validation, all-or-nothing transaction, upserts
   by key (usage by its source key, so a day read twice is not counted twice), state
   history, rollups and audit as an import of the same export.
4. The new watermark is stored (``store_meta``) after the import committed; if that
   write were lost, the next sync reads those days again and the upserts leave the
   store unchanged.

With ``usage_mode: features`` in the mapping the usage rows never leave the warehouse:
step 2 skips them, and after the import the sync asks scoring which as-of dates a
``greendoor score`` at the as-of date would read (:func:`greendoor.scoring.run.feature_dates`:
the scored weeks, their trend bases, the training dates), computes the per-account usage
aggregates of each date not yet held on the source (the store's own statements,
:func:`greendoor.warehouse.features.usage_aggregates`) and stores only those rows
(:mod:`greendoor.store.usage_features`), with the source's usage days, in one
transaction. A date is computed once (its aggregates read days before it, all already
synced), except dates past the previous sync's last day + 1, which are computed again.

Late rows for a day already synced are read by a ``full`` sync. A SQL source's rows are
copied in chunks (:meth:`greendoor.warehouse.check.SqlRunner.to_parquet`). In
``features`` mode the pages that show usage rows themselves (Account 360's weekly usage,
Behavior's adoption and cohorts, Expansion's usage signals) have no rows to show and
say so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from greendoor.access import Actor
from greendoor.ingest import ImportReport, import_path
from greendoor.ingest.contract import CONTRACT
from greendoor.store import meta, schema, usage_features
from greendoor.warehouse.check import (
    SourceCheck,
    is_temporal,
    is_timestamp,
    open_source,
    run_checks,
)
from greendoor.warehouse.mapping import SourceMapping

WATERMARK_KEY = "sync_watermark:"


@dataclasses.dataclass
class SyncReport:
    """A sync: the source check, rows read per table, the usage watermark before and
    after (ISO dates; ``None`` before the first sync), and the import of what was read
    (``None`` when the check failed)."""

    source: str
    check: SourceCheck
    full: bool
    rows_read: dict[str, int] = dataclasses.field(default_factory=dict)
    watermark_before: str | None = None
    watermark_after: str | None = None
    imported: ImportReport | None = None
    seconds: float = 0.0
    #: ``usage_mode: features``: the as-of dates whose usage aggregates were computed on
    #: the source by this sync, and the per-account rows stored.
    feature_dates: list[str] = dataclasses.field(default_factory=list)
    feature_rows: int = 0
    #: ... and the success plans' first uses (plan, user, feature) stored
    first_use_rows: int = 0
    usage_mode: str = "rows"

    @property
    def ok(self) -> bool:
        """The check passed and the import was written."""
        return self.check.ok and self.imported is not None and self.imported.ok

    def summary(self, max_errors: int = 20) -> str:
        """The sync as text for the command line."""
        if not self.check.ok:
            return self.check.summary(max_errors) + "\nsync stopped: fix the source first"
        kind = "full" if self.full or self.watermark_before is None else (
            f"incremental: usage after {self.watermark_before}")
        lines = [f"sync of {self.source} ({kind}) in {self.seconds:.1f} s"]
        lines += [f"  {t:<22}{n:>14,} rows read" for t, n in self.rows_read.items()]
        lines.append(self.imported.summary(max_errors))
        if self.ok and self.usage_mode == "features":
            dates = (f" ({self.feature_dates[0]} to {self.feature_dates[-1]})"
                     if self.feature_dates else "")
            lines.append(f"usage kept in the warehouse: aggregates as of {len(self.feature_dates)} "
                         f"new dates{dates} computed there, {self.feature_rows:,} per-account "
                         f"rows and {self.first_use_rows:,} success-plan first uses stored")
        if self.ok:
            lines.append(f"usage synced up to {self.watermark_after}")
        return "\n".join(lines)


def source_id(mapping: SourceMapping) -> str:
    """A stable id of the source's usage table (where the watermark belongs): the URL
    without its password, or the Spark views, and the usage table's name."""
    where = (sa.engine.make_url(mapping.url).render_as_string(hide_password=True)
             if mapping.url else sorted(mapping.spark.views.items()))
    key = json.dumps([where, mapping.tables["usage"].from_], default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _watermark(engine: Engine, mapping: SourceMapping) -> str | None:
    with engine.connect() as conn:
        return meta.get(conn, WATERMARK_KEY + source_id(mapping))


class SyncRefused(ValueError):
    """The sync would mix usage kept in the store with usage kept in the warehouse."""


def sync_source(engine: Engine, mapping: SourceMapping, *, full: bool = False,
                source_engine: Engine | None = None, spark=None,
                actor: Actor | None = None, as_of: dt.date | None = None,
                backfill_weeks: int | None = None) -> SyncReport:
    """Sync ``mapping``'s source into the store ``engine`` (module docstring). The source
    is ``source_engine`` / ``spark`` or opened from the mapping
    (:func:`~greendoor.warehouse.check.open_source`). With ``usage_mode: features``,
    ``as_of`` and ``backfill_weeks`` are those of the ``greendoor score`` to prepare
    (default: the store's as-of date and score's default backfill). Returns a
    :class:`SyncReport`; a failed check or import writes nothing. Raises what
    :func:`~greendoor.ingest.import_path` raises (e.g. ``ImportRefused`` for a store
    holding the demo) and :class:`SyncRefused` for a store whose usage is kept the
    other way."""
    t0 = time.perf_counter()
    features = mapping.usage_mode == "features"
    _refuse_mixed(engine, features)
    before = None if full else _watermark(engine, mapping)
    with open_source(mapping, source_engine, spark) as (run, label):
        report = SyncReport(source=label, check=run_checks(run, mapping, SourceCheck(label)),
                            full=full, watermark_before=before, usage_mode=mapping.usage_mode)
        if not report.check.ok:
            report.seconds = time.perf_counter() - t0
            return report
        with tempfile.TemporaryDirectory(prefix="greendoor-sync-") as tmp:
            first, after = _extract(run, mapping, Path(tmp), before, report, features)
            report.imported = import_path(engine, tmp, "canonical", actor=actor)
        if features and report.imported.ok and after:
            _push_features(engine, run, mapping, first, after, report, as_of, backfill_weeks)
    report.watermark_after = after or before
    if report.imported.ok and report.watermark_after:
        with engine.begin() as conn:
            meta.set_many(conn, {WATERMARK_KEY + source_id(mapping): report.watermark_after})
    report.seconds = time.perf_counter() - t0
    return report


def _refuse_mixed(engine: Engine, features: bool) -> None:
    """Raise :class:`SyncRefused` when the store keeps its usage the other way."""
    with engine.connect() as conn:
        pushed = usage_features.pushed(conn) is not None
        has_rows = conn.execute(sa.select(sa.literal(1)).select_from(schema.usage)
                                .limit(1)).first() is not None
    if features and has_rows:
        raise SyncRefused("the store holds usage rows (imported, or synced with usage_mode: "
                          "rows); a source with usage_mode: features keeps the usage in the "
                          "warehouse: use a new store, or import with --replace first")
    if not features and pushed:
        raise SyncRefused("the store keeps its usage in the warehouse (synced with "
                          "usage_mode: features); sync with that mapping, or import with "
                          "--replace first")


def _push_features(engine: Engine, run, mapping: SourceMapping, first: str, last: str,
                   report: SyncReport, as_of: dt.date | None,
                   backfill_weeks: int | None) -> None:
    """``usage_mode: features``: record the source's usage days, ask scoring which dates
    it needs, compute those not held on the source and store them (module docstring)."""
    from greendoor.scoring.run import feature_dates
    from greendoor.warehouse.features import core_feature, first_uses, usage_aggregates

    sid = source_id(mapping)
    first_day, last_day = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    with engine.begin() as conn:  # the usage days first: they decide the as-of and start
        before = None if report.full else usage_features.pushed(conn)
        # final dates only: one past the previous last usage day + 1 was computed without
        # some of its days and is dropped now, so a sync that stops after this
        # transaction leaves nothing stale behind
        held = set() if before is None else {d for d in before.dates
                                             if d <= before.last_day + dt.timedelta(days=1)}
        usage_features.write(conn, sid, first_day, last_day, {}, keep=held)
    _, dates = feature_dates(engine, as_of, backfill_weeks)
    frames = {d: usage_aggregates(run, mapping, d) for d in dates if d not in held}
    sp = schema.success_plans
    with engine.connect() as conn:
        plans = pd.read_sql(sa.select(sp.c.plan_id, sp.c.account_id, sp.c.start_date), conn)
    uses = first_uses(run, mapping, plans)  # every plan's: a new day can add a first use
    feature = core_feature(run, mapping)
    with engine.begin() as conn:
        report.feature_rows = usage_features.write(conn, sid, first_day, last_day, frames,
                                                   core_feature=feature)
        report.first_use_rows = usage_features.write_first_uses(conn, uses)
    report.feature_dates = [d.isoformat() for d in sorted(frames)]


def _extract(run, mapping: SourceMapping, folder: Path, watermark: str | None,
             report: SyncReport, skip_usage: bool = False) -> tuple[str | None, str | None]:
    """Each mapped table's rows as canonical Parquet in ``folder``; usage past
    ``watermark`` up to the source's latest day (none with ``skip_usage``). Returns the
    source's first and latest usage day (ISO)."""
    lower = upper = None
    for name in CONTRACT:
        if name not in mapping.tables:
            continue
        ts = mapping.tables[name]
        cols = run.columns(ts.schema_name, ts.table_name) or {}
        mapped = mapping.canonical_columns(name, list(cols))
        table = sa.table(ts.table_name, *(sa.column(c) for c in cols), schema=ts.schema_name)
        stmt = sa.select(*(table.c[src].label(canon) for canon, src in mapped.items()))
        if name == "usage":
            day, kind = table.c[mapped["date"]], cols[mapped["date"]]
            if is_timestamp(kind):  # a timestamp: its day
                day = sa.cast(day, sa.Date)
            elif not isinstance(kind, sa.Date):  # ISO text (the check made sure)
                day = sa.func.substr(day, 1, 10)
            typed = is_temporal(kind)

            def value(iso: str, typed=typed) -> sa.ColumnElement:
                return sa.cast(sa.literal(iso), sa.Date) if typed else sa.literal(iso)

            [(earliest, latest)] = run.rows(sa.select(sa.func.min(day), sa.func.max(day)))
            lower = None if earliest is None else str(earliest)[:10]
            upper = None if latest is None else str(latest)[:10]
            if skip_usage:
                report.rows_read[name] = 0
                continue
            if upper is not None:
                stmt = stmt.where(day <= value(upper))
            if watermark is not None:
                stmt = stmt.where(day > value(watermark))
        n = run.to_parquet(stmt, folder / f"{name}.parquet",
                           types={canon: cols[src] for canon, src in mapped.items()})
        report.rows_read[name] = n
        if n == 0:  # nothing new (or an empty optional table): no file to import
            (folder / f"{name}.parquet").unlink()
    return lower, upper
