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

Late rows for a day already synced are read by a ``full`` sync. Limits (issue 24,
open): the rows come back to the store as they are (the usage rollups and point-in-time
features are not yet computed on the source), and a SQL source's table is read into
memory whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from greendoor.access import Actor
from greendoor.ingest import ImportReport, import_path
from greendoor.ingest.contract import CONTRACT
from greendoor.store import meta
from greendoor.warehouse.check import SourceCheck, open_source, run_checks
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


def sync_source(engine: Engine, mapping: SourceMapping, *, full: bool = False,
                source_engine: Engine | None = None, spark=None,
                actor: Actor | None = None) -> SyncReport:
    """Sync ``mapping``'s source into the store ``engine`` (module docstring). The source
    is ``source_engine`` / ``spark`` or opened from the mapping
    (:func:`~greendoor.warehouse.check.open_source`). Returns a :class:`SyncReport`;
    a failed check or import writes nothing. Raises what
    :func:`~greendoor.ingest.import_path` raises (e.g. ``ImportRefused`` for a store
    holding the demo)."""
    t0 = time.perf_counter()
    before = None if full else _watermark(engine, mapping)
    with open_source(mapping, source_engine, spark) as (run, label):
        report = SyncReport(source=label, check=run_checks(run, mapping, SourceCheck(label)),
                            full=full, watermark_before=before)
        if not report.check.ok:
            report.seconds = time.perf_counter() - t0
            return report
        with tempfile.TemporaryDirectory(prefix="greendoor-sync-") as tmp:
            after = _extract(run, mapping, Path(tmp), before, report)
            report.imported = import_path(engine, tmp, "canonical", actor=actor)
    report.watermark_after = after or before
    if report.imported.ok and report.watermark_after:
        with engine.begin() as conn:
            meta.set_many(conn, {WATERMARK_KEY + source_id(mapping): report.watermark_after})
    report.seconds = time.perf_counter() - t0
    return report


def _extract(run, mapping: SourceMapping, folder: Path, watermark: str | None,
             report: SyncReport) -> str | None:
    """Each mapped table's rows as canonical Parquet in ``folder``; usage past
    ``watermark`` up to the source's latest day, which is returned (ISO)."""
    upper = None
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
            if isinstance(kind, sa.DateTime):  # a timestamp: its day
                day = sa.cast(day, sa.Date)
            elif not isinstance(kind, sa.Date):  # ISO text (the check made sure)
                day = sa.func.substr(day, 1, 10)
            typed = isinstance(kind, (sa.Date, sa.DateTime))

            def value(iso: str, typed=typed) -> sa.ColumnElement:
                return sa.cast(sa.literal(iso), sa.Date) if typed else sa.literal(iso)

            [(latest,)] = run.rows(sa.select(sa.func.max(day)))
            upper = None if latest is None else str(latest)[:10]
            if upper is not None:
                stmt = stmt.where(day <= value(upper))
            if watermark is not None:
                stmt = stmt.where(day > value(watermark))
        n = run.to_parquet(stmt, folder / f"{name}.parquet")
        report.rows_read[name] = n
        if n == 0:  # nothing new (or an empty optional table): no file to import
            (folder / f"{name}.parquet").unlink()
    return upper
