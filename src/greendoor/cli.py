"""The ``greendoor`` command line.

    greendoor init                      create or upgrade the store schema
    greendoor demo [--accounts N] [--months M] [--seed S] [--as-of DATE] [--force]
    greendoor import PATH [--format canonical|ravenstack] [--date-format FMT] [--dry-run]
    greendoor score [--as-of DATE] [--backfill-weeks N] [--retrain]
    greendoor evaluate [--as-of DATE] [--json]
    greendoor forecast [--as-of DATE] [--horizon MONTHS] [--jobs N] [--refit]
    greendoor info                      what the store holds
    greendoor report weekly --out digest.pdf|.html [--as-of DATE] [--since DATE] [--mask]
    greendoor report qbr ACCOUNT_ID --out qbr.pptx [--as-of DATE] [--mask]
    greendoor report plan PLAN_ID --out plan.pdf [--as-of DATE] [--mask]
    greendoor notify [--as-of DATE] [--since DATE]   daily digests by e-mail and webhook
    greendoor source check MAPPING.yaml [--url URL]   validate a warehouse mapping in place
                                        (DuckDB, PostgreSQL, Apache Spark)
    greendoor sync MAPPING.yaml [--url URL] [--full] [--as-of DATE] [--backfill-weeks N]
                                        check, then bring the source's data in (usage
                                        past the last synced day only; usage_mode:
                                        features brings per-account aggregates only)

The store is ``$GREENDOOR_DB_URL`` or ``data/greendoor.duckdb`` (see README).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

import sqlalchemy as sa
from threadpoolctl import threadpool_limits

from greendoor import config
from greendoor.access import ROLES


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _adapter(name: str) -> str:
    """An import adapter's name, checked against the adapters (loaded only for import)."""
    from greendoor.ingest.adapters import ADAPTERS

    if name not in ADAPTERS:
        raise argparse.ArgumentTypeError(f"unknown format {name!r}; one of "
                                         + ", ".join(ADAPTERS))
    return name


def build_parser() -> argparse.ArgumentParser:
    """The ``greendoor`` argument parser: one sub-command per entry of :data:`COMMANDS` (and ``source``), import
    formats from :data:`greendoor.ingest.adapters.ADAPTERS`, roles from :data:`greendoor.access.ROLES`."""
    p = argparse.ArgumentParser(prog="greendoor", description="Greendoor customer-success analytics")
    p.add_argument("--db-url", help="SQLAlchemy URL of the store (default: $GREENDOOR_DB_URL "
                                    "or data/greendoor.duckdb)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or upgrade the store schema (idempotent)")
    for add in (_demo_args, _import_args, _model_args, _store_args, _users_args, _report_args,
                _notify_args, _source_args):
        add(sub)
    return p


def _demo_args(sub) -> None:
    """``greendoor demo``."""
    d = sub.add_parser("demo", help="load a realistic demo portfolio (deterministic for a seed)")
    d.add_argument("--accounts", type=_positive, default=1500)
    d.add_argument("--months", type=_positive, default=24)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--as-of", type=_date, default=None, help="last day + 1 of history (default today)")
    d.add_argument("--force", action="store_true", help="regenerate even if already loaded")
    d.add_argument("--replace-imported", action="store_true",
                   help="allow replacing a store that holds imported data")
    d.add_argument("--if-empty", action="store_true",
                   help="only load when the store has no accounts (used by `make run`)")


def _import_args(sub) -> None:
    """``greendoor import``."""
    im = sub.add_parser("import", help="validate and import CSV/Parquet files (all or nothing)")
    im.add_argument("path", help="a file, or a folder with one file per table")
    im.add_argument("--format", default="canonical", type=_adapter,
                    help="the export's adapter (greendoor.ingest.adapters): canonical, "
                         "ravenstack, ...")
    im.add_argument("--date-format", default=None,
                    help="strptime format of non-ISO date columns, e.g. %%d/%%m/%%Y")
    im.add_argument("--dry-run", action="store_true",
                    help="validate and count what would change; write nothing")
    im.add_argument("--replace", action="store_true",
                    help="empty the canonical tables first (e.g. to replace the demo)")
    im.add_argument("--max-errors", type=_positive, default=20, help="errors listed (default 20)")


def _model_args(sub) -> None:
    """``greendoor score``, ``evaluate`` and ``forecast``."""
    sc = sub.add_parser("score", help="score every account and write snapshots and alerts")
    sc.add_argument("--as-of", type=_date, default=None, help="default: the store's as-of date")
    sc.add_argument("--backfill-weeks", type=int, default=None,
                    help="also score N earlier weeks (default 52 on a store without snapshots)")
    sc.add_argument("--retrain", action="store_true", help="retrain even if a fresh model exists")
    sc.add_argument("--if-needed", action="store_true",
                    help="only score when the store has no snapshots (used by `make run`)")
    sc.add_argument("--evaluate", action="store_true",
                    help="run the backtest even when nothing changed since the stored one "
                         "(by default it runs only after new data, settings or models)")
    sc.add_argument("--force", action="store_true",
                    help="score even when nothing changed since the last run (by default "
                         "such a run stops after comparing its inputs' digest)")
    ev = sub.add_parser("evaluate", help="time-ordered backtest of the scores and models")
    ev.add_argument("--as-of", type=_date, default=None)
    ev.add_argument("--json", action="store_true", help="print the full result as JSON")
    fc = sub.add_parser("forecast", help="fit ARR, renewal, GRR/NRR forecasts with backtests")
    fc.add_argument("--as-of", type=_date, default=None)
    fc.add_argument("--horizon", type=_positive, default=12, help="months ahead (default 12)")
    fc.add_argument("--jobs", type=_positive, default=2, help="parallel fits (default 2)")
    fc.add_argument("--if-needed", action="store_true",
                    help="only forecast when the store has no forecast (used by `make run`)")
    fc.add_argument("--refit", action="store_true",
                    help="fit every series again (by default a series whose points did not "
                         "change keeps the previous run's fit)")


def _store_args(sub) -> None:
    """``greendoor info``, ``backup``, ``restore``, ``export-subject`` and ``erase-subject``."""
    sub.add_parser("info", help="row counts and dataset of the store")
    bk = sub.add_parser("backup", help="verified snapshot of the embedded store (safe while "
                                       "the app runs)")
    bk.add_argument("path", help="new DuckDB file to write (plus PATH.manifest.json)")
    rs = sub.add_parser("restore", help="replace the store's data with a verified backup")
    rs.add_argument("path", help="a file written by `greendoor backup`")
    rs.add_argument("--verify-only", action="store_true",
                    help="check the backup against its manifest; change nothing")
    ex = sub.add_parser("export-subject", help="everything stored about one contact, as JSON")
    ex.add_argument("contact_id")
    er = sub.add_parser("erase-subject", help="erase one contact's personal data (aggregates "
                                              "and the audit of the erasure are kept)")
    er.add_argument("contact_id")
    er.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _users_args(sub) -> None:
    """``greendoor users`` and its sub-commands."""
    us = sub.add_parser("users", help="manage local users and roles (authentication modes "
                                      "password and oidc)")
    usub = us.add_subparsers(dest="users_command", required=True)
    ua = usub.add_parser("add", help="add a user (asks for the password; --password-stdin "
                                     "for scripts)")
    ua.add_argument("username", help="user name, or the e-mail address for single sign-on")
    ua.add_argument("--role", required=True, choices=list(ROLES))
    ua.add_argument("--book", help="csm only: the CSM owner name of their accounts")
    ua.add_argument("--name", help="display name")
    pw = ua.add_mutually_exclusive_group()
    pw.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of stdin")
    pw.add_argument("--no-password", action="store_true",
                    help="single-sign-on-only user (authentication mode oidc)")
    ur = usub.add_parser("remove", help="remove a user (their audit rows stay)")
    ur.add_argument("username")
    ut = usub.add_parser("set-role", help="change a user's role (and a csm's book)")
    ut.add_argument("username")
    ut.add_argument("role", choices=list(ROLES))
    ut.add_argument("--book", help="csm only: the CSM owner name of their accounts")
    up = usub.add_parser("set-password", help="set a new password (also clears a lockout)")
    up.add_argument("username")
    up.add_argument("--password-stdin", action="store_true")
    usub.add_parser("list", help="list users and roles (never the password hashes)")


def _report_args(sub) -> None:
    """``greendoor report weekly|qbr|plan``."""
    rp = sub.add_parser("report", help="write the weekly digest (HTML/PDF) or an account's "
                                       "QBR deck (PPTX), e.g. from a scheduler")
    rsub = rp.add_subparsers(dest="report", required=True)
    wk = rsub.add_parser("weekly", help="the weekly meeting digest")
    wk.add_argument("--out", required=True, help="file to write: .pdf or .html")
    wk.add_argument("--since", type=_date, default=None,
                    help="changes since this date (default: a week before the as-of date)")
    wk.add_argument("--segment", default=None, help="only this segment")
    wk.add_argument("--owner", default=None, help="only this CSM's book")
    wk.add_argument("--no-charts", action="store_true",
                    help="HTML without chart images (needs no browser)")
    qb = rsub.add_parser("qbr", help="an account's QBR deck")
    qb.add_argument("account_id")
    qb.add_argument("--out", required=True, help="file to write: .pptx")
    pl = rsub.add_parser("plan", help="a success plan (issue 20)")
    pl.add_argument("plan_id")
    pl.add_argument("--out", required=True, help="file to write: .pdf or .html")
    for p in (wk, qb, pl):
        p.add_argument("--as-of", type=_date, default=None,
                       help="default: the store's as-of date")
        p.add_argument("--mask", action="store_true",
                       help="replace account and contact names (as presentation mode does)")


def _notify_args(sub) -> None:
    """``greendoor notify``."""
    nt = sub.add_parser("notify", help="queue today's digests and deliver every undelivered "
                                       "one (e-mail, chat webhook; configured in the settings)")
    nt.add_argument("--as-of", type=_date, default=None, help="default: the store's as-of date")
    nt.add_argument("--since", type=_date, default=None,
                    help="what happened since this date (default: the day before)")


def _source_args(sub) -> None:
    """``greendoor source check``."""
    so = sub.add_parser("source", help="a warehouse source: a connection and a mapping of the "
                                       "canonical tables onto its tables (docs/warehouse.md)")
    ssub = so.add_subparsers(dest="source_command", required=True)
    ck = ssub.add_parser("check", help="validate the mapping where the data lives (queries "
                                       "pushed down; writes nothing)")
    ck.add_argument("mapping", help="the mapping file (YAML)")
    ck.add_argument("--url", default=None, help="SQLAlchemy URL replacing the file's")
    ck.add_argument("--max-errors", type=_positive, default=20, help="problems listed (default 20)")
    sy = sub.add_parser("sync", help="check a warehouse source, then import its data into the "
                                     "store (usage incrementally past the last synced day)")
    sy.add_argument("mapping", help="the mapping file (YAML)")
    sy.add_argument("--url", default=None, help="SQLAlchemy URL replacing the file's")
    sy.add_argument("--full", action="store_true",
                    help="read all usage again (e.g. after late rows for synced days)")
    sy.add_argument("--as-of", type=_date, default=None,
                    help="usage_mode features: the as-of date of the scoring to prepare "
                         "(default: the store's)")
    sy.add_argument("--backfill-weeks", type=int, default=None,
                    help="usage_mode features: the scoring's backfill (default: score's)")
    sy.add_argument("--max-errors", type=_positive, default=20, help="problems listed (default 20)")


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status
    (0 success; 1 or 2 a failed step, said on stderr: bad input, a failed check or
    import; 3 a busy store, another writer holds the DuckDB file, reported in one line
    rather than a traceback). argparse exits with 2 on a usage error."""
    from greendoor.store.engine import StoreBusy

    try:
        return _main(argv)
    except StoreBusy as exc:
        print(f"error: {exc}. Try again when it has finished, raise "
              "GREENDOOR_LOCK_TIMEOUT, or use PostgreSQL for shared use (README).", file=sys.stderr)
        return 3
    except sa.exc.OperationalError as exc:
        if "lock" in str(exc).lower():
            print("error: the store is open in another process (the app, or another "
                  "greendoor command); the embedded DuckDB store allows one writer at a time. "
                  "Stop that process, or use PostgreSQL for shared use (README).",
                  file=sys.stderr)
            return 3
        raise


def _main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "source":  # reads the warehouse only: the store is not opened
        return _source(args)
    from greendoor.store.engine import make_engine

    return COMMANDS[args.command](make_engine(args.db_url), args)


def _init(engine, args) -> int:
    from greendoor.store.engine import init_store

    t0 = time.perf_counter()
    res = init_store(engine)
    state = "created" if res["from"] is None else (
        "already up to date" if res["from"] == res["to"] else "upgraded")
    print(f"store {state}: revision {res['to']} ({engine.url.render_as_string()}) "
          f"in {time.perf_counter() - t0:.2f} s")
    return 0


def _demo(engine, args) -> int:
    from greendoor.demo import DemoParams, DemoRefused, load_demo
    from greendoor.store.engine import init_store

    init_store(engine)
    if args.if_empty and _account_count(engine) > 0:
        print("store already holds accounts; demo not loaded")
        return 0
    params = DemoParams(n_accounts=args.accounts, months=args.months, seed=args.seed,
                        as_of=args.as_of)
    try:
        res = load_demo(engine, params, force=args.force, replace_imported=args.replace_imported,
                        progress=lambda f, msg: print(f"  [{f:4.0%}] {msg}", flush=True))
    except DemoRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if res["skipped"]:
        print(f"demo already loaded with these parameters {res['params']}; nothing to do "
              "(use --force to regenerate)")
        return 0
    print(f"demo portfolio loaded {res['params']}")
    for table, n in res["rows"].items():
        print(f"  {table:<22}{n:>12,}")
    s = res["seconds"]
    print(f"  generated in {s['generate']:.1f} s, loaded in {s['load']:.1f} s, "
          f"total {s['total']:.1f} s")
    return 0


def _import(engine, args) -> int:
    from greendoor.ingest import ImportRefused, import_path
    from greendoor.store.engine import init_store

    init_store(engine)
    try:
        report = import_path(engine, args.path, args.format, date_format=args.date_format,
                             dry_run=args.dry_run, replace=args.replace)
    except (ImportRefused, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary(args.max_errors))
    return 0 if report.ok else 2


def _forecast(engine, args) -> int:
    from greendoor.forecast.run import run_forecasts
    from greendoor.store.engine import init_store

    init_store(engine)
    if _account_count(engine) == 0:
        print("error: the store is empty", file=sys.stderr)
        return 2
    if args.if_needed and _has_rows(engine, "forecasts"):
        print("store already has forecasts; nothing to do")
        return 0
    with threadpool_limits(limits=config.threads(), user_api="openmp"):
        report = run_forecasts(engine, as_of=args.as_of, horizon=args.horizon,
                               n_jobs=args.jobs, refit=args.refit,
                               progress=_progress if sys.stdout.isatty() else None)
    print(report.summary())
    return 0


def _backup(engine, args) -> int:
    from greendoor.store import backup

    try:
        if args.command == "backup":
            m = backup.backup(engine, args.path)
            print(f"backup written to {args.path} and verified: {len(m['tables'])} tables, "
                  f"{sum(v[0] for v in m['tables'].values()):,} rows")
        elif args.verify_only:
            m = backup.verify(args.path)
            print(f"{args.path} matches its manifest ({m['created_at']})")
        else:
            m = backup.restore(engine, args.path)
            print(f"restored the backup of {m['created_at']} and verified every table")
    except backup.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _subject(engine, args) -> int:
    import json

    from greendoor import privacy

    try:
        if args.command == "export-subject":
            print(json.dumps(privacy.export_subject(engine, args.contact_id), indent=2,
                             default=str))
            return 0
        if not args.yes and input(f"Erase contact {args.contact_id}? [y/N] ").lower() != "y":
            print("nothing changed")
            return 1
        counts = privacy.erase_subject(engine, args.contact_id)
        print(f"erased contact {args.contact_id}: " + ", ".join(
            f"{k} {v}" for k, v in counts.items()))
    except privacy.SubjectNotFound as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


def _users_command(engine, args) -> int:
    from greendoor.store.engine import init_store

    init_store(engine)
    return _users(engine, args)


def _read_password(args) -> str:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ValueError("the passwords differ")
    return first


def _users(engine, args) -> int:
    from greendoor import users as U
    from greendoor.ingest import _user

    actor = f"cli:{_user()}"
    try:
        if args.users_command == "add":
            password = None if args.no_password else _read_password(args)
            name = U.add_user(engine, args.username, args.role, password, book=args.book,
                              display_name=args.name, actor=actor)
            print(f"user {name} added as {args.role}" + (f" (book {args.book})"
                                                         if args.role == "csm" else ""))
        elif args.users_command == "remove":
            U.remove_user(engine, args.username, actor=actor)
            print(f"user {U.normalize(args.username)} removed")
        elif args.users_command == "set-role":
            U.set_role(engine, args.username, args.role, book=args.book, actor=actor)
            print(f"user {U.normalize(args.username)} is now {args.role}")
        elif args.users_command == "set-password":
            U.set_password(engine, args.username, _read_password(args), actor=actor)
            print(f"password of {U.normalize(args.username)} changed; lockout cleared")
        else:
            with engine.connect() as conn:
                df = U.list_users(conn)
            if df.empty:
                print("no users (authentication mode none needs none)")
            else:
                print(df.to_string(index=False))
    except (U.UserError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _has_rows(engine, table: str) -> bool:
    from greendoor.store import schema

    t = schema.metadata.tables[table]
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first() is not None


def _progress(f: float, msg: str) -> None:
    print(f"  [{f:4.0%}] {msg}", flush=True)


def _score(engine, args) -> int:
    from greendoor.store import schema
    from greendoor.store.engine import init_store

    init_store(engine)
    if _account_count(engine) == 0:
        print("error: the store is empty: run `greendoor demo` or `greendoor import`",
              file=sys.stderr)
        return 2
    if args.if_needed and _has_rows(engine, schema.score_snapshots.name):
        print("store already scored; nothing to do")
        return 0
    prints = None  # the check's digest of the data, handed to the run
    if not (args.force or args.retrain or args.evaluate or args.backfill_weeks is not None):
        from greendoor import settings
        from greendoor.periods import default_as_of
        from greendoor.scoring import fresh

        with engine.connect() as conn:
            as_of = args.as_of or default_as_of(conn)
            at, prints = fresh.check(conn, as_of, settings.current(conn)[0])
        if at:  # before importing the models: the check is the whole command
            print(f"nothing changed since the run of {at[:19]}: the scores as of {as_of} "
                  "stand (same data, actions, settings and models; `greendoor score "
                  "--force` scores again)")
            return 0
    from greendoor.scoring.run import score

    report = score(engine, as_of=args.as_of, backfill_weeks=args.backfill_weeks,
                   retrain=args.retrain, progress=_progress if sys.stdout.isatty() else None,
                   evaluate_models=True if args.evaluate else None, before=prints)
    print(report.summary())
    if report.evaluation:
        print(_format_evaluation(report.evaluation))
    return 0


def _evaluate(engine, args) -> int:
    import json

    from greendoor.scoring.run import evaluate
    from greendoor.store.engine import init_store

    init_store(engine)
    if _account_count(engine) == 0:
        print("error: the store is empty", file=sys.stderr)
        return 2
    result = evaluate(engine, as_of=args.as_of)
    print(json.dumps(result, indent=2) if args.json else _format_evaluation(result))
    return 0


def _format_evaluation(ev: dict) -> str:
    """Backtest figures as text (see greendoor.scoring.backtest): each model beside its
    best baseline, the lift with its interval, and the status that gates it."""
    if ev.get("status") != "ok":
        return f"backtest: not run: {ev.get('reason')}"
    lines = [f"backtest (time-ordered, {ev['horizon_days']}-day horizon): train on "
             f"{len(ev['train_dates'])} as-of dates to {ev['train_dates'][-1]}, test on "
             f"{len(ev['test_dates'])} dates from {ev['test_dates'][0]}"]
    h = ev["health"]
    rates = ", ".join(f"{r['group']} {r['rate']:.1%} (n={r['n']:,})"
                      for r in sorted(h["churn_rate_by_band"],
                                      key=lambda r: ["red", "yellow", "green"].index(r["group"])
                                      if r["group"] in ("red", "yellow", "green") else 9))
    lo, hi = h.get("auc_interval", [float("nan")] * 2)
    lines.append(f"  health score: AUC of low health for churn {h['auc_low_health']:.3f} "
                 f"[90 % {lo:.3f}-{hi:.3f}], {h.get('status', 'not measured')}; 90-day churn "
                 f"rate by band: {rates}")
    for kind in ("churn", "renewal", "expansion"):
        m = ev.get(kind, {})
        if "test" not in m:
            lines.append(f"  {kind} model: not measured: {m.get('reason')}")
            continue
        t, lift = m["test"], m["lift"]
        b = m["baselines"].get(m.get("best_baseline") or "", {})
        lines.append(
            f"  {kind} model ({m['estimator']}): {m['status'].upper()}. AUC {t['auc']:.3f} vs "
            f"{b.get('auc', float('nan')):.3f} for the best baseline ({b.get('description', '—')});"
            f" lift {lift['lift']:+.3f} [90 % {lift['lo']:+.3f} to {lift['hi']:+.3f}]")
        lines.append(
            f"    PR-AUC {t['pr_auc']:.3f} (baseline {b.get('pr_auc', float('nan')):.3f}), Brier "
            f"{t['brier']:.4f} ({b.get('brier', float('nan')):.4f}), ECE {m['ece']:.3f} "
            f"({'calibrated' if m['calibrated'] else 'not calibrated'}), top-decile lift "
            f"{t['top_decile_lift']:.2f}; test n={t['n']:,} with {t['positives']:,} positives")
        bt = m.get("beyond_timing", {})
        if bt.get("auc") == bt.get("auc"):  # not NaN
            lines.append(f"    skill beyond timing: AUC {bt['auc']:.3f} among the {bt['n']:,} "
                         f"test rows renewing inside the horizon"
                         + (f" (timing alone {bt['timing_auc']:.3f})" if bt.get("timing_auc")
                            is not None else ""))
        lines.append("    drivers may use: " + (", ".join(m.get("important_features", []))
                                                or "no feature with measured importance"))
    return "\n".join(lines)


def _account_count(engine) -> int:
    from greendoor.store import schema

    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.accounts)).scalar())


def _info(engine, args=None) -> int:
    from greendoor.store import meta, schema
    from greendoor.store.engine import current_revision

    rev = current_revision(engine)
    print(f"store: {engine.url.render_as_string()}  revision: {rev or 'none (run greendoor init)'}")
    if rev is None:
        return 1
    with engine.connect() as conn:
        print(f"dataset: {meta.get(conn, 'dataset') or 'empty'}  "
              f"demo: {meta.get(conn, 'demo_params') or '-'}")
        for table in schema.CANONICAL_TABLES + schema.WRITTEN_TABLES:
            n = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            print(f"  {table.name:<22}{n:>12,}")
    return 0


#: Each subcommand's function: (engine, parsed arguments) -> exit status. Modules are
#: imported inside them so that a command starts without loading what it does not use
#: (Prophet, scikit-learn, Alembic), not to avoid an import cycle.
def _report(engine, args) -> int:
    import pathlib

    from greendoor import reports
    from greendoor.periods import Filters, default_as_of

    out = pathlib.Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in reports.FORMATS[args.report]:
        print(f"error: {out}: the {args.report} report is written as "
              + " or ".join(f".{f}" for f in reports.FORMATS[args.report]), file=sys.stderr)
        return 2
    if _account_count(engine) == 0:
        print("error: the store is empty", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        with engine.connect() as conn:
            as_of = args.as_of or default_as_of(conn)
            if args.report == "weekly":
                body = reports.weekly_report(
                    conn, Filters(as_of=as_of, segment=args.segment, owner=args.owner), fmt,
                    since=args.since, mask=args.mask, images=not args.no_charts)
            elif args.report == "plan":
                body = reports.plan_report(conn, args.plan_id, as_of, fmt, mask=args.mask)
            else:
                body = reports.qbr_report(conn, args.account_id, as_of, mask=args.mask)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except (reports.ReportError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(body)
    tmp.replace(out)
    print(f"wrote {out} ({len(body) / 1024:,.0f} KiB, as of {as_of:%d %b %Y}) in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def _notify(engine, args) -> int:
    from greendoor import notify
    from greendoor.periods import default_as_of
    from greendoor.store.engine import init_store

    init_store(engine)
    with engine.connect() as conn:
        as_of = args.as_of or default_as_of(conn) or dt.date.today()
    try:
        queued, delivery = notify.run(engine, as_of, args.since)
    except notify.NotifyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"queued {queued} digest(s) for {as_of:%d %b %Y}; " + delivery.summary())
    return 1 if delivery.failed else 0


def _source(args, engine=None) -> int:
    """``greendoor source check`` (no store) and ``greendoor sync`` (into ``engine``)."""
    from greendoor.ingest import ImportRefused
    from greendoor.store.engine import init_store
    from greendoor.warehouse.check import check_source
    from greendoor.warehouse.mapping import MappingError, load_mapping
    from greendoor.warehouse.sync import SyncRefused, sync_source

    try:
        mapping = load_mapping(args.mapping, url=args.url)
        if engine is None:
            report = check_source(mapping)
        else:
            init_store(engine)
            report = sync_source(engine, mapping, full=args.full, as_of=args.as_of,
                                 backfill_weeks=args.backfill_weeks)
    except (MappingError, FileNotFoundError, ImportRefused, SyncRefused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"error: {exc.name or exc} is not installed; a Spark source needs the spark "
              "extra (pip install -e '.[spark]') and a Java 17+ runtime", file=sys.stderr)
        return 2
    except sa.exc.DBAPIError as exc:
        print(f"error: cannot read the source: {str(exc.orig).strip().splitlines()[0]}",
              file=sys.stderr)
        return 2
    print(report.summary(args.max_errors))
    if engine is not None and not report.ok:
        return 1 if not report.check.ok else 2
    return 0 if report.ok else 1


COMMANDS = {"init": _init, "demo": _demo, "import": _import, "score": _score,
            "evaluate": _evaluate, "forecast": _forecast, "info": _info, "backup": _backup,
            "restore": _backup,
            "export-subject": _subject, "erase-subject": _subject, "users": _users_command,
            "report": _report, "notify": _notify,
            "sync": lambda engine, args: _source(args, engine)}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
