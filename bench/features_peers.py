"""Per-account usage features against the peers an analyst would pick, side by side
(issue 23, item 6).

    python bench/features_peers.py STORE.duckdb [--as-of D] [--repeat 5] [--out F.json]

Every contender computes the same frame: the usage aggregates scoring reads per account
as of ``D`` (:func:`greendoor.scoring.features.usage_selects`: events, user-days,
seconds and errors in the 30/60/90/120-day windows, active days and active users in
the last 7/30/90 days, feature breadth; 19 columns). Before any time is reported, the
script checks that each contender's frame equals Greendoor's (same accounts, every
column to 1e-9), so no peer wins by computing less.

Contenders, each in its own process (``seconds``: the step alone, median of
``--repeat`` calls after one untimed call that opens files and fills the OS cache;
``first_seconds``: that first call; ``peak_rss_mb``: the process's peak):

* ``greendoor rollups``: ``_usage(conn, D, rollup=True)`` on the store, as
  ``greendoor score`` runs it (the day rollups an import keeps, :mod:`greendoor.store.rollups`);
* ``greendoor raw rows``: the same statements over the store's usage table;
* ``duckdb on parquet``: the same statements over ``read_parquet`` of the usage table
  exported to Parquet (:func:`greendoor.warehouse.features.source_usage_features`);
* ``polars``: lazy ``scan_parquet`` of the same file, the windows as ``group_by``s;
* ``pandas with pushdown``: ``pd.read_parquet`` of the 7 columns with the 120-day filter
  pushed into the reader, then ``groupby``.

The rollups are not free: an import rebuilds them (``rollup refresh``, timed once
last, on the same copy), so that cost is printed beside the per-date figures.

The Parquet file is written once by DuckDB, sorted by date (as a lake partitioned or
sorted by day holds it), so the readers can skip the row groups outside the window.
polars is the ``bench`` extra (``pip install -e .[bench]``); without it that row says
so. The machine's 1-minute load is printed before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLS = ["account_id", "user_id", "date", "feature", "events", "errors", "duration_seconds"]
CONTENDERS = ["greendoor rollups", "greendoor raw rows", "duckdb on parquet", "polars",
              "pandas with pushdown"]


def export_parquet(store: Path, path: Path) -> int:
    """The store's usage table as one Parquet file sorted by date; returns its rows."""
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        con.execute(f"COPY (SELECT {', '.join(COLS)} FROM usage ORDER BY date, account_id) "
                    f"TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 500000)")
        return con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
    finally:
        con.close()


def _windows(d: dt.date) -> dict[str, dt.date]:
    return {f"c{n}": d - dt.timedelta(days=n) for n in (7, 30, 60, 90, 120)}


def polars_features(parquet: Path, d: dt.date):
    """The usage aggregates with polars (lazy scan, filter pushed to the reader)."""
    import polars as pl

    w = _windows(d)
    u = pl.scan_parquet(parquet).filter((pl.col("date") >= w["c120"]) & (pl.col("date") < d))
    ud = (u.filter(pl.col("events") > 0)
          .group_by("account_id", "user_id", "date")
          .agg(pl.col("events").sum(), pl.col("errors").sum(),
               pl.col("duration_seconds").sum().alias("seconds")))
    ad = ud.group_by("account_id", "date").agg(pl.len().alias("users"), pl.col("events").sum(),
                                               pl.col("errors").sum(), pl.col("seconds").sum())
    date = pl.col("date")
    in30, prior30 = date >= w["c30"], (date < w["c30"]) & (date >= w["c60"])
    prior60, ago = (date < w["c30"]) & (date >= w["c90"]), date < w["c90"]

    def s(cond, col):
        return pl.when(cond).then(pl.col(col)).otherwise(0).sum()

    sums = ad.group_by("account_id").agg(
        s(in30, "events").alias("events_30d"), s(prior60, "events").alias("events_prior_60d"),
        s(prior30, "events").alias("events_prior_30d"), s(ago, "events").alias("events_30d_90ago"),
        s(in30, "users").alias("user_days_30d"), s(prior30, "users").alias("user_days_prior_30d"),
        s(prior60, "users").alias("user_days_prior_60d"), s(in30, "seconds").alias("seconds_30d"),
        s(prior60, "seconds").alias("seconds_prior_60d"), s(in30, "errors").alias("errors_30d"),
        (date >= w["c7"]).sum().alias("active_days_7d"), in30.sum().alias("active_days_30d"),
        (date >= w["c90"]).sum().alias("active_days_90d"))
    per_user = ud.group_by("account_id", "user_id").agg(date.max().alias("last_day"),
                                                         date.min().alias("first_day"))
    users = per_user.group_by("account_id").agg(
        (pl.col("last_day") >= w["c7"]).sum().alias("active_users_7d"),
        (pl.col("last_day") >= w["c30"]).sum().alias("active_users_30d"),
        (pl.col("last_day") >= w["c90"]).sum().alias("active_users_90d"),
        (pl.col("first_day") < w["c90"]).sum().alias("active_users_30d_90ago"))
    breadth = (u.filter((date >= w["c30"]) & (pl.col("events") > 0))
               .group_by("account_id").agg(pl.col("feature").n_unique()
                                           .alias("feature_breadth_30d")))
    out = sums.join(users, on="account_id").join(breadth, on="account_id", how="left")
    return out.collect().to_pandas()


def pandas_features(parquet: Path, d: dt.date):
    """The usage aggregates with pandas, the 120-day filter pushed into the reader."""
    import numpy as np
    import pandas as pd

    w = _windows(d)
    u = pd.read_parquet(parquet, columns=COLS,
                        filters=[("date", ">=", w["c120"]), ("date", "<", d)])
    u = u[u["events"] > 0]
    u["date"] = pd.to_datetime(u["date"])
    ud = (u.groupby(["account_id", "user_id", "date"], dropna=False, sort=False)
          .agg(events=("events", "sum"), errors=("errors", "sum"),
               seconds=("duration_seconds", "sum")).reset_index())
    ad = (ud.groupby(["account_id", "date"], sort=False)
          .agg(users=("events", "size"), events=("events", "sum"), errors=("errors", "sum"),
               seconds=("seconds", "sum")).reset_index())
    c = {k: np.datetime64(v) for k, v in w.items()}
    date = ad["date"].to_numpy().astype("datetime64[D]")
    in30, prior30 = date >= c["c30"], (date < c["c30"]) & (date >= c["c60"])
    prior60, ago = (date < c["c30"]) & (date >= c["c90"]), date < c["c90"]
    parts = {"events_30d": ad["events"] * in30, "events_prior_60d": ad["events"] * prior60,
             "events_prior_30d": ad["events"] * prior30, "events_30d_90ago": ad["events"] * ago,
             "user_days_30d": ad["users"] * in30, "user_days_prior_30d": ad["users"] * prior30,
             "user_days_prior_60d": ad["users"] * prior60,
             "seconds_30d": ad["seconds"] * in30, "seconds_prior_60d": ad["seconds"] * prior60,
             "errors_30d": ad["errors"] * in30, "active_days_7d": date >= c["c7"],
             "active_days_30d": in30, "active_days_90d": date >= c["c90"]}
    sums = pd.DataFrame(parts).groupby(ad["account_id"].to_numpy()).sum()
    per_user = ud.groupby(["account_id", "user_id"], dropna=False, sort=False)["date"] \
        .agg(["max", "min"])
    last = per_user["max"].to_numpy().astype("datetime64[D]")
    first = per_user["min"].to_numpy().astype("datetime64[D]")
    users = pd.DataFrame({"active_users_7d": last >= c["c7"], "active_users_30d": last >= c["c30"],
                          "active_users_90d": last >= c["c90"],
                          "active_users_30d_90ago": first < c["c90"]}) \
        .groupby(per_user.index.get_level_values(0)).sum()
    recent = u[u["date"] >= pd.Timestamp(w["c30"])]
    breadth = recent.groupby("account_id")["feature"].nunique().rename("feature_breadth_30d")
    out = sums.join(users, how="inner").join(breadth, how="left")
    return out.rename_axis("account_id").reset_index()


def greendoor_features(store: Path, d: dt.date, rollup: bool):
    """Greendoor's own step on the store: :func:`greendoor.scoring.features._usage`."""
    from greendoor.scoring.features import _usage
    from greendoor.store.engine import make_engine

    eng = make_engine(f"duckdb:///{store}")

    def call():
        with eng.connect() as conn:
            return _usage(conn, d, rollup=rollup)
    return call


def duckdb_parquet_features(parquet: Path, work: Path, d: dt.date):
    """The same statements on DuckDB over the Parquet file (a read-only warehouse with a
    ``usage`` view on ``read_parquet``)."""
    import duckdb
    import sqlalchemy as sa

    from greendoor.warehouse.features import source_usage_features
    from greendoor.warehouse.mapping import SourceMapping

    db = work / "warehouse.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(f"CREATE VIEW usage AS SELECT * FROM read_parquet('{parquet}')")
    con.close()
    mapping = SourceMapping.model_validate({
        "version": 1, "url": f"duckdb:///{db}",
        "tables": {t: {"from": t} for t in ("accounts", "subscriptions", "usage")}})
    eng = sa.create_engine(mapping.url, connect_args={"read_only": True})
    return lambda: source_usage_features(mapping, d, engine=eng)


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``: unlike ``ru_maxrss``, it does
    not carry the parent's peak over the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rollup_refresh(store: Path) -> dict:
    """What Greendoor pays for its rollups, once per import (not per scoring): the
    rebuild of ``usage_user_days`` and ``usage_account_days`` from the usage table
    (:func:`greendoor.store.rollups.refresh_usage_rollups`), on this copy of the store."""
    from greendoor.store.engine import make_engine
    from greendoor.store.rollups import refresh_usage_rollups

    eng = make_engine(f"duckdb:///{store}")
    t = time.perf_counter()
    with eng.begin() as conn:
        rows = refresh_usage_rollups(conn)
    return {"contender": "rollup refresh (per import)", "refresh_seconds":
            round(time.perf_counter() - t, 2), "user_day_rows": int(rows),
            "peak_rss_mb": peak_rss_mb()}


def contender(name: str, store: Path, parquet: Path, work: Path, d: dt.date, repeat: int,
              reference: Path | None) -> dict:
    """Run one contender in this process; with ``reference`` (a pickled frame), check
    its frame against it."""
    import pandas as pd

    if name == "polars":
        try:
            import polars  # noqa: F401
        except ImportError:
            return {"contender": name, "skipped": "polars is not installed "
                                                  "(pip install -e .[bench])"}
    call = {"greendoor rollups": lambda: greendoor_features(store, d, True),
            "greendoor raw rows": lambda: greendoor_features(store, d, False),
            "duckdb on parquet": lambda: duckdb_parquet_features(parquet, work, d),
            "polars": lambda: (lambda: polars_features(parquet, d)),
            "pandas with pushdown": lambda: (lambda: pandas_features(parquet, d))}[name]()
    t = time.perf_counter()
    frame = call()
    first = time.perf_counter() - t
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    frame = frame.set_index("account_id").sort_index()
    out = {"contender": name, "seconds": round(statistics.median(times), 3),
           "first_seconds": round(first, 3), "runs": [round(x, 3) for x in times],
           "accounts": len(frame),
           "peak_rss_mb": peak_rss_mb()}
    if reference is None:
        frame.to_pickle(work / "reference.pkl")
    else:
        ref = pd.read_pickle(reference)
        out["same_as_greendoor"] = same_frame(ref, frame)
    return out


def same_frame(ref, got) -> str:
    """``"yes"``, or what differs: the accounts, a column's presence or its values (to
    1e-9 relative; a missing breadth counts as 0)."""
    import numpy as np

    if not ref.index.equals(got.index):
        return f"no: accounts differ ({len(ref)} vs {len(got)})"
    for col in ref.columns:
        if col not in got.columns:
            return f"no: column {col} missing"
        a = ref[col].astype(float).fillna(0).to_numpy()
        b = got[col].astype(float).fillna(0).to_numpy()
        if not np.allclose(a, b, rtol=1e-9, atol=1e-6):
            bad = int(np.argmax(~np.isclose(a, b, rtol=1e-9, atol=1e-6)))
            return f"no: {col} differs at {ref.index[bad]} ({a[bad]} vs {b[bad]})"
    return "yes"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store", type=Path)
    p.add_argument("--as-of", type=dt.date.fromisoformat, default=None,
                   help="default: the day after the last usage day")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    import duckdb

    work = Path(tempfile.mkdtemp(prefix="greendoor-features-"))
    store = work / "store.duckdb"
    shutil.copy(a.store, store)
    con = duckdb.connect(str(store), read_only=True)
    last, rows, accounts = con.execute(
        "SELECT max(date), count(*), count(DISTINCT account_id) FROM usage").fetchone()
    con.close()
    d = a.as_of or last + dt.timedelta(days=1)
    parquet = work / "usage.parquet"
    t = time.perf_counter()
    export_parquet(store, parquet)
    res: dict = {"store": str(a.store), "as_of": str(d), "usage_rows": rows,
                 "accounts": accounts, "parquet_mb": round(parquet.stat().st_size / 2**20, 1),
                 "parquet_export_seconds": round(time.perf_counter() - t, 2),
                 "cores": os.cpu_count(), "load_before": os.getloadavg()[0], "contenders": []}
    print(f"{rows:,} usage rows, {accounts:,} accounts, as of {d}; Parquet "
          f"{res['parquet_mb']} MiB", flush=True)
    for i, name in enumerate(CONTENDERS):
        args = [sys.executable, __file__, "--one", name, str(store), str(parquet), str(work),
                str(d), str(a.repeat)] + ([] if i == 0 else [str(work / "reference.pkl")])
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            r = {"contender": name, "error": proc.stderr.strip().splitlines()[-1:]}
        else:
            r = json.loads(proc.stdout.strip().splitlines()[-1])
        res["contenders"].append(r)
        print(json.dumps(r), flush=True)
    proc = subprocess.run([sys.executable, __file__, "--refresh", str(store)],
                          capture_output=True, text=True, check=True)
    res["rollup_refresh"] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(res["rollup_refresh"]), flush=True)
    res["load_after"] = os.getloadavg()[0]
    timed = [r for r in res["contenders"] if "seconds" in r]
    peers = [r for r in timed if not r["contender"].startswith("greendoor")
             and r.get("same_as_greendoor") == "yes"]
    fastest = min(peers, key=lambda r: r["seconds"]) if peers else None
    if fastest:
        for r in timed:
            r["ratio_to_fastest_peer"] = round(r["seconds"] / fastest["seconds"], 2)
        res["fastest_peer"] = fastest["contender"]
    shutil.rmtree(work, ignore_errors=True)
    print("\n| contender | seconds (median) | first call | peak RSS MB | same frame | "
          "x fastest peer |\n| --- | ---: | ---: | ---: | --- | ---: |")
    for r in res["contenders"]:
        if "seconds" not in r:
            print(f"| {r['contender']} | {r.get('skipped') or r.get('error')} |||||")
            continue
        print(f"| {r['contender']} | {r['seconds']:.3f} | {r['first_seconds']:.3f} | "
              f"{r['peak_rss_mb']:.0f} | {r.get('same_as_greendoor', 'reference')} | "
              f"{r.get('ratio_to_fastest_peer', '-')} |")
    print(f"rollup refresh, paid once per import: "
          f"{res['rollup_refresh']['refresh_seconds']:.2f} s")
    print(f"load {res['load_before']:.2f} before, {res['load_after']:.2f} after; target: "
          f"Greendoor's step <= 1.5x the fastest peer")
    if a.out:
        a.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:2] == ["--refresh"]:
        print(json.dumps(rollup_refresh(Path(sys.argv[2]))))
        raise SystemExit(0)
    if sys.argv[1:2] == ["--one"]:
        name, store, parquet, work, d, repeat, *ref = sys.argv[2:]
        print(json.dumps(contender(name, Path(store), Path(parquet), Path(work),
                                   dt.date.fromisoformat(d), int(repeat),
                                   Path(ref[0]) if ref else None)))
        raise SystemExit(0)
    raise SystemExit(main())
