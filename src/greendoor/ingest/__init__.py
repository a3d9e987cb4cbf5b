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
from sqlalchemy.engine import Connection, Engine

from greendoor import access, audit, state
from greendoor.access import Actor
from greendoor.config import segment_from_arr
from greendoor.ingest import chunked, tables
from greendoor.ingest import validate as V
from greendoor.ingest.adapters import ADAPTERS, COUNTRY_REGION, DERIVATIONS, Adapter
from greendoor.ingest.contract import CONTRACT, PARENTS, TABLES
from greendoor.ingest.read import (
    SUFFIXES,
    RawTable,
    ReadError,
    delimiter_name,
    read_file,
    table_stem,
)
from greendoor.store import meta, schema, usage_features, usage_keys
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
    """Per-table outcome of an import: rows read from ``file``, and rows inserted, updated and
    left unchanged in ``table``."""
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
        """The issues that stop the import (nothing is written when there is one)."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[V.Issue]:
        """The issues reported but not blocking (rows kept as read, or dropped with a count)."""
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    @property
    def rows_read(self) -> int:
        """Rows read over all files."""
        return sum(t.rows_read for t in self.tables.values())

    def issues_frame(self) -> pd.DataFrame:
        """All issues as a table: severity, file, line, column, value, rule."""
        cols = ["severity", "file", "line", "column", "value", "rule"]
        return pd.DataFrame([{c: getattr(i, c) for c in cols} for i in self.issues], columns=cols)

    def tables_frame(self) -> pd.DataFrame:
        """One row per table: ``table, file, rows_read, inserted, updated, unchanged``."""
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


@dataclasses.dataclass
class _Prepared:
    """The files of one import, read: raw text, typed frames and source column names."""

    raws: dict[str, RawTable] = dataclasses.field(default_factory=dict)
    typed: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    srcs: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)


def _read_tables(files: dict[str, Path], adapter: Adapter, date_format: str | None,
                 issues: V.Collector, report: ImportReport) -> _Prepared:
    """Read, map onto the contract, parse and derive each file (table by table)."""
    out = _Prepared()
    for table, f in files.items():
        try:
            raw = read_file(f)
        except ReadError as exc:
            issues.note(f.name, str(exc), line=exc.line, column=exc.column)
            continue
        if raw.delimiter != ",":
            issues.note(f.name, f"read as {delimiter_name(raw.delimiter)}-separated (from its "
                        "header line)", severity="warning")
        tmap = next(t for t in adapter.tables if t.table == table)
        text, cols = tables.text_frame(raw, tmap, issues)
        report.tables[table] = TableResult(table=table, file=f.name, rows_read=len(raw.frame))
        df = V.parse_table(raw, text, CONTRACT[table], cols, issues, date_format)
        for name in tmap.derive:
            df = DERIVATIONS[name](df)
        out.raws[table], out.typed[table], out.srcs[table] = raw, df, cols
    return out


def _derive_arr(p: _Prepared, issues: V.Collector) -> None:
    subs = p.typed.get("subscriptions")
    if subs is None:
        return
    if "arr" not in subs and "mrr" in subs:
        subs["arr"] = subs["mrr"] * 12.0
    elif "arr" in subs and "mrr" in subs:
        subs["arr"] = subs["arr"].fillna(subs["mrr"] * 12.0)
    elif "arr" not in subs:
        issues.note(p.raws["subscriptions"].name, "required column arr (or mrr) is missing",
                    column="arr")


def _derive_churn_ids(churn: pd.DataFrame | None) -> None:
    """``account_id|churn_date`` (a counter for repeats) where the export has no id."""
    if churn is None or "account_id" not in churn or "churn_date" not in churn:
        return
    gen = churn["account_id"].astype(str) + "|" + churn["churn_date"].dt.strftime("%Y-%m-%d")
    occ = gen.groupby(gen).cumcount()
    gen = gen.where(occ == 0, gen + "|" + occ.astype(str))
    churn["churn_event_id"] = (churn["churn_event_id"].fillna(gen)
                               if "churn_event_id" in churn else gen)


def _derive(p: _Prepared, store_subs: dict[str, str], issues: V.Collector) -> dict[str, str]:
    """Values derived across tables (ARR from MRR, regions, segments, usage accounts,
    churn event ids). Returns subscription -> account (this import's and the store's)."""
    _derive_arr(p, issues)
    subs, accounts = p.typed.get("subscriptions"), p.typed.get("accounts")
    if accounts is not None:
        if "region" not in accounts and "country" in accounts:
            accounts["region"] = accounts["country"].map(COUNTRY_REGION)
        _derive_segments(accounts, subs, p.raws["accounts"].name, issues)
    sub_to_acct = dict(store_subs)
    if subs is not None and "subscription_id" in subs:
        sub_to_acct.update(dict(zip(subs["subscription_id"], subs["account_id"], strict=True)))
    if "usage" in p.typed:
        tables.map_usage_accounts(p.typed["usage"], sub_to_acct, p.raws["usage"],
                                  p.srcs["usage"], issues)
    _derive_churn_ids(p.typed.get("churn_events"))
    return sub_to_acct


def _check(p: _Prepared, known_accounts: set, issues: V.Collector) -> None:
    """Every table's constraint, reference and key checks, and cross-table warnings."""
    for table, df in list(p.typed.items()):
        p.typed[table] = tables.check_table(table, p.raws[table], df, p.srcs[table],
                                            known_accounts, issues)
    subs = p.typed.get("subscriptions")
    if subs is not None and "end_date" in subs:
        multi = subs[subs["end_date"].isna()].groupby("account_id").size()
        n_multi = int((multi > 1).sum())
        if n_multi:
            issues.note(p.raws["subscriptions"].name, f"{n_multi} accounts have more than one "
                        "subscription without an end date; their ARR is the sum of them",
                        severity="warning")


def _check_parents(engine: Engine, p: _Prepared, issues: V.Collector) -> None:
    """Rows that belong to a parent row (a milestone to its plan, a measurement to its
    value metric: :data:`~greendoor.ingest.contract.PARENTS`) must name one in this import
    or in the store; a milestone's dependencies must be milestones of the same plan, and
    form no cycle (the cycle is named)."""
    from greendoor import onboarding

    for table, (col, parent, key) in PARENTS.items():
        if table not in p.typed or col not in p.typed[table]:
            continue
        with engine.connect() as conn:
            known = {r[0] for r in conn.execute(sa.select(TABLES[parent].c[key]))}
        if parent in p.typed and key in p.typed[parent]:
            known |= set(p.typed[parent][key].dropna())
        V.check_references(p.raws[table], p.typed[table], col, known, human_table(parent),
                           p.srcs[table], issues)
    ms = p.typed.get("milestones")
    if ms is not None and "completion_rule" in ms:
        def unreadable(rule) -> bool:
            try:
                onboarding.parse_rule(rule)
            except ValueError:
                return True
            return False
        bad = ms["completion_rule"].map(unreadable).astype(bool)
        if bad.any():
            issues.add(p.raws["milestones"], V.positions(bad),
                       p.srcs["milestones"].get("completion_rule", "completion_rule"),
                       ms["completion_rule"][bad], "not a completion rule: use "
                       "'active_users>=N' or 'feature_users:FEATURE>=N' (empty: by hand)")
    if ms is None or "depends_on" not in ms or "plan_id" not in ms:
        return
    m = schema.milestones
    with engine.connect() as conn:
        stored = pd.read_sql(sa.select(m.c.milestone_id, m.c.plan_id, m.c.depends_on), conn)
    raw, src = p.raws["milestones"], p.srcs["milestones"]
    allm = pd.concat([stored[~stored["milestone_id"].isin(ms["milestone_id"])],
                      ms[["milestone_id", "plan_id", "depends_on"]]], ignore_index=True)
    plan_of = dict(zip(allm["milestone_id"], allm["plan_id"], strict=True))
    deps = ms["depends_on"].map(onboarding.dependencies)
    bad = pd.Series([any(plan_of.get(x) != pl for x in d) for d, pl in
                     zip(deps, ms["plan_id"], strict=True)], index=ms.index)
    if bad.any():
        issues.add(raw, V.positions(bad), src.get("depends_on", "depends_on"),
                   ms["depends_on"][bad], "depends on a milestone that is not in the same plan "
                   "(in this import or in the store)")
    for plan, grp in allm.groupby("plan_id"):
        cyc = onboarding.dependency_cycle(grp)
        if cyc:
            hit = ms.index[ms["milestone_id"].isin(cyc) & (ms["plan_id"] == plan)]
            at = hit[:1] if len(hit) else ms.index[:0]
            issues.add(raw, at.to_numpy(), src.get("depends_on", "depends_on"),
                       ms.loc[at, "depends_on"], "dependency cycle: " + " -> ".join(cyc))


def human_table(name: str) -> str:
    """A table's rows in words: ``success_plans`` -> ``success plan``."""
    return {"success_plans": "success plan", "value_metrics": "value metric"}.get(
        name, name.rstrip("s").replace("_", " "))


def _large_usage(files: dict[str, Path], issues: V.Collector) -> Path | None:
    """The usage file when it is to be read in slices (removed from ``files``)."""
    if "usage" not in files:
        return None
    try:
        return files.pop("usage") if chunked.is_large(files["usage"]) else None
    except ReadError as exc:
        issues.note(files.pop("usage").name, str(exc), line=exc.line, column=exc.column)
        return None


def _prepare_sliced(path: Path, adapter: Adapter, sub_to_acct: dict, known_accounts: set,
                    date_format: str | None, issues: V.Collector,
                    report: ImportReport) -> chunked.SpilledUsage | None:
    tmap = next(t for t in adapter.tables if t.table == "usage")
    try:
        spilled = chunked.prepare_usage(path, tmap, sub_to_acct, known_accounts, date_format,
                                        issues)
    except ReadError as exc:
        issues.note(path.name, str(exc), line=exc.line)
        return None
    report.tables["usage"] = TableResult(table="usage", file=path.name, rows_read=spilled.rows)
    if issues.errors:
        spilled.cleanup()
        return None
    return spilled


def prepare(engine: Engine, path: Path, adapter: Adapter, date_format: str | None,
            issues: V.Collector, report: ImportReport) -> dict[str, pd.DataFrame]:
    """Read, map, parse, derive and validate every file. No writes. Returns the typed
    frames by table (a large usage file as :class:`chunked.SpilledUsage`)."""
    files = discover(path, adapter, issues)
    large = _large_usage(files, issues)
    p = _read_tables(files, adapter, date_format, issues, report)
    store_accounts, store_subs, _, _ = _store_keys(engine)
    sub_to_acct = _derive(p, store_subs, issues)
    known_accounts = set(store_accounts)
    if "accounts" in p.typed and "account_id" in p.typed["accounts"]:
        known_accounts |= set(p.typed["accounts"]["account_id"].dropna())
    _check(p, known_accounts, issues)
    _check_parents(engine, p, issues)
    if large is not None:
        spilled = _prepare_sliced(large, adapter, sub_to_acct, known_accounts, date_format,
                                  issues, report)
        if spilled is not None:
            p.typed["usage"] = spilled
    return p.typed


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
    (needed to import into a store holding the demo portfolio; a dry run over the demo
    counts what replacing it would do). Raises :class:`ImportRefused` for an import
    (not a dry run) into a demo store without ``replace``, ``KeyError`` for
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
        if dry_run:  # validating is harmless: count what replacing the demo would do
            replace = True
        else:
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
    stage = _stage(engine, typed, step)
    conn = engine.connect()
    tx = conn.begin()
    try:
        if replace:
            delete_all(conn, schema.CANONICAL_TABLES + DERIVED_TABLES)
            usage_features.forget(conn)
        _load(conn, typed, stage, replace, report, step)
        report.seconds = time.perf_counter() - t0
        if dry_run:
            tx.rollback()
            report.status = "dry_run"
            return report
        _log(conn, report, actor, started, replace)
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


def _stage(engine: Engine, typed: dict, step) -> sa.Table | None:
    """A large usage file's slices into a committed staging table, before the import's
    transaction (:mod:`greendoor.ingest.chunked`); ``None`` for any other import."""
    if not isinstance(typed.get("usage"), chunked.SpilledUsage):
        return None
    chunked.drop_stages(engine)  # a crashed import's leftover
    step(0.25, "Staging usage")
    try:
        return chunked.stage_usage(engine, typed["usage"])
    except Exception:
        chunked.drop_stages(engine)
        raise
    finally:
        typed["usage"].cleanup()  # staged: the spilled slices are no longer needed


def _load(conn, typed: dict, stage: sa.Table | None, replace: bool, report: ImportReport,
          step) -> None:
    """Every table into the store in the caller's transaction, checking each table's
    gained rows against the report (:class:`ImportCountMismatch`), then the history of
    the opportunities it brought."""
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
        state.record_history(conn, typed["opportunities"],
                             state.export_date(conn) or dt.date.today(), "import")
        if "success_plans" not in typed:  # an export with its own plans keeps them as is
            _plans_for_won_deals(conn, report)


def _plans_for_won_deals(conn, report: ImportReport) -> None:
    """A success plan for each new-business or expansion deal the data shows won in the
    settings' ``onboarding.plan_window_days`` before its date, for an account without a
    plan (issue 20), as the importer; not when the import brings its own plans."""
    from greendoor import settings as S
    from greendoor import success_plans

    d = state.export_date(conn) or dt.date.today()
    days = S.current(conn)[1]["onboarding"]["plan_window_days"]
    made = success_plans.plans_for_won_deals(conn, d, days, "import")
    if made:
        report.tables.setdefault("success_plans", TableResult("success_plans", "(from deals)"))
        report.tables["success_plans"].inserted += len(made)


def _log(conn, report: ImportReport, actor: str, started: dt.datetime, replace: bool) -> None:
    """The import's ``import_log`` and audit rows, and the store's dataset."""
    report.import_id = new_id()
    detail = {"tables": {t: dataclasses.asdict(r) for t, r in report.tables.items()},
              "warnings": [str(w) for w in report.warnings], "replace": replace}
    conn.execute(schema.import_log.insert().values(
        import_id=report.import_id, started_at=started,
        finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), actor=actor,
        source=report.source, format=report.format, status="ok",
        rows_inserted=sum(r.inserted for r in report.tables.values()),
        rows_updated=sum(r.updated for r in report.tables.values()),
        duration_seconds=report.seconds, detail_json=json.dumps(detail)))
    audit.record(conn, actor, "import", "import_log", report.import_id, after=detail,
                 at=started)
    meta.set_many(conn, {"dataset": report.format})


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers)
        return "cli"


def import_history(conn: Connection, limit: int = 50) -> pd.DataFrame:
    """The latest ``limit`` imports, newest first: ``finished_at, actor, source, format,
    status, rows_inserted, rows_updated, duration_seconds``."""
    il = schema.import_log
    return pd.read_sql(
        sa.select(il.c.finished_at, il.c.actor, il.c.source, il.c.format, il.c.status,
                  il.c.rows_inserted, il.c.rows_updated, il.c.duration_seconds)
        .order_by(il.c.finished_at.desc()).limit(limit), conn)


def freshness(engine: Engine) -> pd.DataFrame:
    """Per canonical table: rows, earliest and latest date, and when a load last
    brought rows for it (import or demo, from ``import_log``).

    Columns: ``table, rows, first, last, last_load`` (dates; NaT when unknown).
    """
    date_col = {"accounts": "signup_date", "subscriptions": "start_date", "usage": "date",
                "tickets": "opened_at", "survey_responses": "responded_at",
                "contacts": "last_engaged_at", "interactions": "occurred_at",
                "opportunities": "close_date", "churn_events": "churn_date",
                "advocacy_activities": "occurred_at", "invoices": "issued_at",
                "mentions": "occurred_at", "success_plans": "start_date",
                "milestones": "due_date", "stakeholders": None, "value_metrics": "target_date",
                "value_measurements": "measured_at"}
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
            c = t.c[date_col[t.name]] if date_col[t.name] else sa.null()
            n, lo, hi = conn.execute(sa.select(sa.func.count(), sa.func.min(c),
                                               sa.func.max(c)).select_from(t)).one()
            rows.append({"table": t.name, "rows": int(n), "first": lo, "last": hi,
                         "last_load": last_load.get(t.name)})
    df = pd.DataFrame(rows)
    for c in ("first", "last", "last_load"):
        df[c] = pd.to_datetime(df[c])
    return df
