"""Import of customer data: canonical CSV/Parquet files or a known export (RavenStack).

    report = import_path(engine, "exports/", fmt="canonical", dry_run=True)

Everything is validated before anything is written (:mod:`.validate`); a valid
import is loaded in one transaction (:mod:`.load`) and logged in ``import_log``
and the audit log. Any error leaves the store exactly as it was. A usage CSV larger
than 512 MB is read, validated and loaded in slices of a million rows
(:mod:`.chunked`), with the same errors and the same keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from greendoor import access, state
from greendoor.access import Actor
from greendoor.config import segment_from_arr
from greendoor.ingest import chunked
from greendoor.ingest import validate as V
from greendoor.ingest.adapters import ADAPTERS, COUNTRY_REGION, DERIVATIONS, Adapter, TableMap
from greendoor.ingest.contract import CONTRACT, DERIVED_WHEN_ABSENT, TABLES
from greendoor.ingest.read import (
    SUFFIXES,
    RawTable,
    ReadError,
    delimiter_name,
    read_file,
    table_stem,
)
from greendoor.store import meta, schema, usage_keys
from greendoor.store.bulk import delete_all, upsert
from greendoor.store.engine import new_id
from greendoor.store.rollups import refresh_usage_rollups

__all__ = ["ImportCountMismatch", "ImportRefused", "ImportReport", "TableResult", "import_path"]

#: Tables Greendoor derives from canonical data; stale after a replace.
DERIVED_TABLES = (schema.score_snapshots, schema.alerts)


class ImportRefused(RuntimeError):
    """The import would destroy data (e.g. mix into the demo portfolio)."""


class ImportCountMismatch(RuntimeError):
    """The rows a table gained differ from the import's count; the import is rolled
    back (a defect of the key or the merge, never of the user's file)."""


def _row_count(conn, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@dataclasses.dataclass
class TableResult:
    table: str
    file: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclasses.dataclass
class ImportReport:
    """Outcome of an import or a dry run. ``status``: ok | dry_run | failed."""

    source: str
    format: str
    status: str = "failed"
    tables: dict[str, TableResult] = dataclasses.field(default_factory=dict)
    issues: list[V.Issue] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    import_id: str | None = None

    @property
    def errors(self) -> list[V.Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[V.Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def rows_read(self) -> int:
        return sum(t.rows_read for t in self.tables.values())

    def issues_frame(self) -> pd.DataFrame:
        """All issues as a table: severity, file, line, column, value, rule."""
        cols = ["severity", "file", "line", "column", "value", "rule"]
        return pd.DataFrame([{c: getattr(i, c) for c in cols} for i in self.issues], columns=cols)

    def tables_frame(self) -> pd.DataFrame:
        return pd.DataFrame([dataclasses.asdict(t) for t in self.tables.values()],
                            columns=["table", "file", "rows_read", "inserted", "updated",
                                     "unchanged"])

    def summary(self, max_errors: int = 20) -> str:
        """Human-readable report: tables, warnings, the first errors and counts per rule."""
        out = [f"{self.format} import of {self.source}: {self.status}"]
        for t in self.tables.values():
            counts = ("" if self.status == "failed" else
                      f"  inserted {t.inserted:>9,}  updated {t.updated:>7,}  "
                      f"unchanged {t.unchanged:>9,}")
            out.append(f"  {t.table:<20} {t.file:<34} read {t.rows_read:>9,}{counts}")
        for w in self.warnings:
            out.append(f"  warning: {w}")
        errs = self.errors
        if errs:
            out.append(f"  {len(errs):,} error(s); nothing was written. The first {min(len(errs), max_errors)}:")
            out += [f"    {e}" for e in errs[:max_errors]]
            counts = pd.Series([e.rule if e.line is None else f"{e.file}: {e.column}: {e.rule}"
                                for e in errs]).value_counts()
            if len(errs) > max_errors:
                out.append("  errors by rule:")
                out += [f"    {n:>7,}  {rule}" for rule, n in counts.items()]
        rate = self.rows_read / self.seconds if self.seconds else 0
        out.append(f"  {self.rows_read:,} rows in {self.seconds:.2f} s ({rate:,.0f} rows/s)")
        return "\n".join(out)


# --------------------------------------------------------------------------- #
def discover(path: Path, adapter: Adapter, issues: V.Collector) -> dict[str, Path]:
    """Map the adapter's tables to files under ``path`` (a file or a folder)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    found: dict[str, Path] = {}
    for f in files:
        tmap = adapter.for_file(table_stem(f))
        if tmap is None:
            issues.note(f.name, f"not a {adapter.name} file name; ignored (expected one of: "
                        + ", ".join(t.file + ".csv" for t in adapter.tables) + ")",
                        severity="warning")
            continue
        if tmap.table in found:
            issues.note(f.name, f"a second file for table {tmap.table} "
                        f"(also {found[tmap.table].name})")
            continue
        found[tmap.table] = f
    if not found:
        issues.note(str(path), f"no {adapter.name} files found; expected: "
                    + ", ".join(t.file + ".csv" for t in adapter.tables))
    return found


def _text_frame(raw: RawTable, tmap: TableMap, issues: V.Collector) -> tuple[pd.DataFrame, dict]:
    """Canonical-named text columns of a raw file, with value maps applied."""
    spec = CONTRACT[tmap.table]
    cols: dict[str, str] = {}
    present = set(raw.frame.columns)
    frame = pd.DataFrame(index=raw.frame.index)
    for canon, src in tmap.columns.items():
        if src in present:
            text = raw.frame[src]
            if canon in tmap.values:
                text = text.replace(tmap.values[canon])
            frame[canon] = text
            cols[canon] = src
    for f in spec.fields:
        if f.required and f.name not in frame and (tmap.table, f.name) not in DERIVED_WHEN_ABSENT:
            src = tmap.columns.get(f.name, f.name)
            issues.note(raw.name, f"required column {src} is missing", column=src)
    ignored = sorted(present - set(cols.values()))
    if ignored:
        issues.note(raw.name, "columns not in the contract, ignored: " + ", ".join(ignored),
                    severity="warning")
    return frame, cols


def _map_usage_accounts(usage: pd.DataFrame, sub_to_acct: dict, raw: RawTable, cols: dict,
                        issues: V.Collector) -> None:
    """Fill usage ``account_id`` from ``subscription_id`` (this import's or the store's
    subscriptions); an unknown subscription is an error naming the line."""
    if "subscription_id" in usage:
        mapped = usage["subscription_id"].map(sub_to_acct)
        usage["account_id"] = usage["account_id"].fillna(mapped) if "account_id" in usage \
            else mapped
        unknown = usage["account_id"].isna() & usage["subscription_id"].notna()
        if unknown.any():
            issues.add(raw, V.positions(unknown), cols.get("subscription_id"),
                       usage["subscription_id"][unknown],
                       "unknown subscription (not in this import nor in the store)")
    elif "account_id" not in usage:
        issues.note(raw.name, "required column account_id (or subscription_id) "
                    "is missing", column="account_id")


def _check_table(table: str, raw: RawTable, df: pd.DataFrame, cols: dict, known_accounts: set,
                 issues: V.Collector) -> pd.DataFrame:
    """The constraint, scale, order, reference and duplicate-key checks of one table."""
    spec = CONTRACT[table]
    original = raw.frame.rename(columns={v: k for k, v in cols.items()})
    original = original.reindex(columns=df.columns, fill_value="")
    V.check_constraints(raw, df, original, spec, cols, issues)
    if table == "survey_responses":
        V.check_survey_scales(raw, df, cols, issues)
    for first, second in (("start_date", "end_date"), ("opened_at", "closed_at"),
                          ("issued_at", "due_at")):
        V.check_order(raw, df, first, second, cols, issues)
    if table != "accounts":
        V.check_references(raw, df, "account_id", known_accounts, "account", cols, issues)
    if not spec.fact:
        df = V.check_duplicate_keys(raw, df, list(spec.key), cols, issues)
    return df


def _derive_segments(accounts: pd.DataFrame, subs: pd.DataFrame | None, file: str,
                     issues: V.Collector) -> None:
    """Segments the file does not give are derived from each account's latest ARR in
    force (its last contract, so a churned account keeps the segment it had), marked
    ``segment_source = 'derived'``: features then take the segment of the ARR in force
    at each as-of date (:func:`greendoor.state.segment_as_of`), never today's."""
    given = accounts["segment"].notna() if "segment" in accounts else \
        pd.Series(False, index=accounts.index)
    accounts["segment_source"] = np.where(given, "source", None)
    if given.all() or subs is None or "arr" not in subs:
        return
    last = subs.sort_values("start_date").drop_duplicates("account_id", keep="last")
    arr = last.set_index("account_id")["arr"]
    seg = accounts["account_id"].map(arr).map(
        lambda v: segment_from_arr(v) if pd.notna(v) and v > 0 else None)
    fill = ~given & seg.notna()
    accounts["segment"] = (accounts["segment"] if "segment" in accounts
                           else pd.Series(None, index=accounts.index, dtype=object))
    accounts.loc[fill, "segment"] = seg[fill]
    accounts.loc[fill, "segment_source"] = "derived"
    if fill.any():
        issues.note(file, f"segment derived from ARR for {int(fill.sum())} accounts (> $50K "
                    "enterprise, $10K-$50K mid_market, < $10K smb); scores use the ARR in "
                    "force at each date", severity="warning")


def _store_keys(engine: Engine) -> tuple[set[str], dict[str, str], str | None, int]:
    with engine.connect() as conn:
        accts = {r[0] for r in conn.execute(sa.select(schema.accounts.c.account_id))}
        subs = dict(conn.execute(sa.select(schema.subscriptions.c.subscription_id,
                                           schema.subscriptions.c.account_id)).all())
        dataset = meta.get(conn, "dataset")
    return accts, subs, dataset, len(accts)


def prepare(engine: Engine, path: Path, adapter: Adapter, date_format: str | None,
            issues: V.Collector, report: ImportReport) -> dict[str, pd.DataFrame]:
    """Read, map, parse, derive and validate every file. No writes."""
    files = discover(path, adapter, issues)
    raws: dict[str, RawTable] = {}
    typed: dict[str, pd.DataFrame] = {}
    srcs: dict[str, dict[str, str]] = {}
    large_usage = None
    if "usage" in files:
        try:
            if chunked.is_large(files["usage"]):
                large_usage = files.pop("usage")
        except ReadError as exc:
            issues.note(files.pop("usage").name, str(exc), line=exc.line)
    for table, f in files.items():
        try:
            raw = read_file(f)
        except ReadError as exc:
            issues.note(f.name, str(exc), line=exc.line)
            continue
        if raw.delimiter != ",":
            issues.note(f.name, f"read as {delimiter_name(raw.delimiter)}-separated (from its "
                        "header line)", severity="warning")
        tmap = next(t for t in adapter.tables if t.table == table)
        text, cols = _text_frame(raw, tmap, issues)
        report.tables[table] = TableResult(table=table, file=f.name, rows_read=len(raw.frame))
        df = V.parse_table(raw, text, CONTRACT[table], cols, issues, date_format)
        for name in tmap.derive:
            df = DERIVATIONS[name](df)
        raws[table], typed[table], srcs[table] = raw, df, cols

    store_accounts, store_subs, _, _ = _store_keys(engine)
    subs = typed.get("subscriptions")
    if subs is not None:
        if "arr" not in subs and "mrr" in subs:
            subs["arr"] = subs["mrr"] * 12.0
        elif "arr" in subs and "mrr" in subs:
            subs["arr"] = subs["arr"].fillna(subs["mrr"] * 12.0)
        elif "arr" not in subs:
            issues.note(raws["subscriptions"].name, "required column arr (or mrr) is missing",
                        column="arr")
    accounts = typed.get("accounts")
    if accounts is not None:
        if "region" not in accounts and "country" in accounts:
            accounts["region"] = accounts["country"].map(COUNTRY_REGION)
        _derive_segments(accounts, subs, raws["accounts"].name, issues)
    sub_to_acct = dict(store_subs)
    if subs is not None and "subscription_id" in subs:
        sub_to_acct.update(dict(zip(subs["subscription_id"], subs["account_id"], strict=True)))
    usage = typed.get("usage")
    if usage is not None:
        _map_usage_accounts(usage, sub_to_acct, raws["usage"], srcs["usage"], issues)
    churn = typed.get("churn_events")
    if churn is not None and "account_id" in churn and "churn_date" in churn:
        gen = churn["account_id"].astype(str) + "|" + churn["churn_date"].dt.strftime("%Y-%m-%d")
        occ = gen.groupby(gen).cumcount()
        gen = gen.where(occ == 0, gen + "|" + occ.astype(str))
        churn["churn_event_id"] = (churn["churn_event_id"].fillna(gen)
                                   if "churn_event_id" in churn else gen)

    known_accounts = set(store_accounts)
    if accounts is not None and "account_id" in accounts:
        known_accounts |= set(accounts["account_id"].dropna())
    for table, df in list(typed.items()):
        typed[table] = _check_table(table, raws[table], df, srcs[table], known_accounts, issues)
    if subs is not None and "end_date" in subs:
        multi = subs[subs["end_date"].isna()].groupby("account_id").size()
        n_multi = int((multi > 1).sum())
        if n_multi:
            issues.note(raws["subscriptions"].name, f"{n_multi} accounts have more than one "
                        "subscription without an end date; their ARR is the sum of them",
                        severity="warning")
    if large_usage is not None:
        tmap = next(t for t in adapter.tables if t.table == "usage")
        try:
            spilled = chunked.prepare_usage(large_usage, tmap, sub_to_acct, known_accounts,
                                            date_format, issues)
        except ReadError as exc:
            issues.note(large_usage.name, str(exc), line=exc.line)
            return typed
        report.tables["usage"] = TableResult(table="usage", file=large_usage.name,
                                             rows_read=spilled.rows)
        if issues.errors:
            spilled.cleanup()
        else:
            typed["usage"] = spilled
    return typed


def import_path(
    engine: Engine,
    path: str | Path,
    fmt: str = "canonical",
    *,
    date_format: str | None = None,
    dry_run: bool = False,
    replace: bool = False,
    actor: Actor | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> ImportReport:
    """Validate and import ``path`` (a file or a folder of one file per table).

    ``fmt`` is an adapter name (``canonical``, ``ravenstack``). With ``dry_run``
    the import runs in a transaction that is rolled back: the report shows what
    would be inserted and updated. ``replace`` empties the canonical tables first
    (needed to import into a store holding the demo portfolio). Raises
    :class:`ImportRefused` for a demo store without ``replace``, ``KeyError`` for
    an unknown format, ``FileNotFoundError`` for a missing path and
    :class:`~greendoor.access.AccessDenied` when ``actor`` is a principal who is not
    an admin (checked before anything is read). Validation
    problems do not raise: they are in ``report.issues`` and nothing is written.
    """
    t0 = time.perf_counter()
    adapter = ADAPTERS[fmt]
    path = Path(path)
    actor = access.actor_name(actor, "admin") if actor else _user()
    report = ImportReport(source=str(path), format=fmt)
    issues = V.Collector()
    step = progress or (lambda f, m: None)
    step(0.05, "Reading and validating files")
    _, _, dataset, n_accounts = _store_keys(engine)
    if dataset == "demo" and n_accounts and not replace:
        raise ImportRefused("The store holds the demo portfolio; importing would mix your data "
                            "with it. Use another store (GREENDOOR_DB_URL) or --replace.")
    typed = prepare(engine, path, adapter, date_format, issues, report)
    report.tables = {t: report.tables[t] for t in CONTRACT if t in report.tables}
    report.issues = sorted(issues.issues, key=lambda i: (i.severity != "error", i.file,
                                                         i.line or 0, i.column or ""))
    if report.errors:
        report.status = "failed"
        report.seconds = time.perf_counter() - t0
        return report
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    stage = None
    if isinstance(typed.get("usage"), chunked.SpilledUsage):
        chunked.drop_stages(engine)  # a crashed import's leftover
        step(0.25, "Staging usage")
        try:
            stage = chunked.stage_usage(engine, typed["usage"])
        except Exception:
            chunked.drop_stages(engine)
            raise
        finally:
            typed["usage"].cleanup()  # staged: the spilled slices are no longer needed
    conn = engine.connect()
    tx = conn.begin()
    try:
        if replace:
            delete_all(conn, schema.CANONICAL_TABLES + DERIVED_TABLES)
        order = [t for t in CONTRACT if t in typed]
        for i, table in enumerate(order):
            step(0.3 + 0.6 * i / max(len(order), 1), f"Loading {table}")
            frame = typed[table]
            rows_before = _row_count(conn, TABLES[table])
            if isinstance(frame, chunked.SpilledUsage):
                res = usage_keys.load(conn, stage, replace) if stage is not None else \
                    {"inserted": 0, "updated": 0, "unchanged": 0}
            elif table == "usage":
                res = usage_keys.load_frame(conn, frame, replace)
            else:
                frame = frame[[c for c in frame.columns if c in TABLES[table].c]]
                res = upsert(conn, TABLES[table], frame, list(CONTRACT[table].key))
            r = report.tables[table]
            r.inserted, r.updated, r.unchanged = res["inserted"], res["updated"], res["unchanged"]
            gained = _row_count(conn, TABLES[table]) - rows_before
            if gained != r.inserted:  # a report must never disagree with what was stored
                raise ImportCountMismatch(
                    f"{table}: the import counted {r.inserted:,} new rows but the store "
                    f"gained {gained:,}; nothing was written")
        if "opportunities" in typed:
            state.record_history(conn, typed["opportunities"], state.export_date(conn)
                                 or dt.date.today(), "import")
        report.seconds = time.perf_counter() - t0
        if dry_run:
            tx.rollback()
            report.status = "dry_run"
            return report
        report.import_id = new_id()
        detail = {"tables": {t: dataclasses.asdict(r) for t, r in report.tables.items()},
                  "warnings": [str(w) for w in report.warnings], "replace": replace}
        conn.execute(schema.import_log.insert().values(
            import_id=report.import_id, started_at=started,
            finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), actor=actor,
            source=str(path), format=fmt, status="ok",
            rows_inserted=sum(r.inserted for r in report.tables.values()),
            rows_updated=sum(r.updated for r in report.tables.values()),
            duration_seconds=report.seconds, detail_json=json.dumps(detail)))
        conn.execute(schema.audit_log.insert().values(
            audit_id=new_id(), occurred_at=started, actor=actor, action="import",
            entity="import_log", entity_id=report.import_id, after_json=json.dumps(detail)))
        meta.set_many(conn, {"dataset": fmt})
        tx.commit()
        report.status = "ok"
    except Exception:
        tx.rollback()
        raise
    finally:
        conn.close()
        if stage is not None:
            chunked.drop_stages(engine)
    if "usage" in report.tables or replace:
        # The rollup in its own transaction, after the import committed: until it
        # commits (or if it fails) features read the raw rows (greendoor.store.rollups).
        step(0.95, "Summing usage per user and day")
        with engine.begin() as conn:
            refresh_usage_rollups(conn)
    step(1.0, "Import finished")
    report.seconds = time.perf_counter() - t0
    return report


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers)
        return "cli"


def freshness(engine: Engine) -> pd.DataFrame:
    """Per canonical table: rows, earliest and latest date, and when a load last
    brought rows for it (import or demo, from ``import_log``).

    Columns: ``table, rows, first, last, last_load`` (dates; NaT when unknown).
    """
    date_col = {"accounts": "signup_date", "subscriptions": "start_date", "usage": "date",
                "tickets": "opened_at", "survey_responses": "responded_at",
                "contacts": "last_engaged_at", "interactions": "occurred_at",
                "opportunities": "close_date", "churn_events": "churn_date",
                "advocacy_activities": "occurred_at", "invoices": "issued_at"}
    il = schema.import_log
    last_load: dict[str, dt.datetime] = {}
    rows = []
    with engine.connect() as conn:
        loads = conn.execute(sa.select(il.c.finished_at, il.c.detail_json)
                             .where(il.c.status == "ok").order_by(il.c.finished_at)).all()
        for finished, detail in loads:
            d = json.loads(detail or "{}")
            counts = d.get("tables") or d.get("rows") or {}
            for table, n in counts.items():
                read = n.get("rows_read", 0) if isinstance(n, dict) else n
                if read:
                    last_load[table] = finished
        for t in schema.CANONICAL_TABLES:
            c = t.c[date_col[t.name]]
            n, lo, hi = conn.execute(sa.select(sa.func.count(), sa.func.min(c),
                                               sa.func.max(c))).one()
            rows.append({"table": t.name, "rows": int(n), "first": lo, "last": hi,
                         "last_load": last_load.get(t.name)})
    df = pd.DataFrame(rows)
    for c in ("first", "last", "last_load"):
        df[c] = pd.to_datetime(df[c])
    return df
