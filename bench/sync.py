"""``greendoor sync`` as users run it (issue 24): the demo's export in a DuckDB warehouse
and as Parquet files for Spark, synced into a new store with ``usage_mode: rows`` (every
usage row copied) and ``usage_mode: features`` (only per-account aggregates come back),
then ``greendoor score`` on each store, every step a whole ``greendoor`` process.

    python bench/sync.py                          # tier S: 1,500 accounts, 24 months
    python bench/sync.py --accounts 300 --months 12 --no-spark
    python bench/sync.py --out bench/results-sync.json

Reported per run: seconds of the sync and of the first score (52 weekly dates, the
models trained), rows stored by the sync (usage rows, or aggregate rows and first uses),
the store's file size, and the largest difference of the health scores and churn
probabilities from the rows-mode store's (0 means the same numbers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "greendoor.cli"]


def build_export(work: Path, accounts: int, months: int, as_of: dt.date) -> list[str]:
    """The demo's canonical tables as Parquet files in ``work/export`` and as tables of
    the DuckDB warehouse ``work/wh.duckdb``; returns the table names."""
    import duckdb

    from greendoor.demo import DemoParams, generate
    from greendoor.ingest.contract import CONTRACT

    frames = generate(DemoParams(n_accounts=accounts, months=months, as_of=as_of))
    folder = work / "export"
    folder.mkdir(parents=True, exist_ok=True)
    (work / "wh.duckdb").unlink(missing_ok=True)
    con = duckdb.connect(str(work / "wh.duckdb"))
    names = []
    for name, df in frames.items():
        if name in CONTRACT and len(df):
            for c in df.select_dtypes("datetime").columns:
                df[c] = df[c].dt.floor("s")
            df.to_parquet(folder / f"{name}.parquet", index=False, coerce_timestamps="us")
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet("
                        f"'{folder / f'{name}.parquet'}')")
            names.append(name)
    con.close()
    return names


def mapping(work: Path, tables: list[str], mode: str, spark: bool) -> Path:
    import yaml

    source = ({"spark": {"master": "local[2]", "views": {
        t: str(work / "export" / f"{t}.parquet") for t in tables}}} if spark
        else {"url": f"duckdb:///{work / 'wh.duckdb'}"})
    path = work / f"mapping-{mode}-{'spark' if spark else 'duckdb'}.yaml"
    path.write_text(yaml.safe_dump({"version": 1, **source, "usage_mode": mode,
                                    "tables": {t: {"from": t} for t in tables}}))
    return path


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(CLI + args, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return time.perf_counter() - t0


def store_figures(url: str) -> dict:
    import sqlalchemy as sa

    from greendoor.store import schema

    eng = sa.create_engine(url)
    with eng.connect() as conn:
        n = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
             for t in (schema.usage, schema.usage_features, schema.usage_first_uses)}
        ss = schema.score_snapshots
        latest = conn.execute(sa.select(sa.func.max(ss.c.as_of))).scalar()
        import pandas as pd

        scores = pd.read_sql(sa.select(ss.c.account_id, ss.c.health_score,
                                       ss.c.churn_probability).where(ss.c.as_of == latest),
                             conn).set_index("account_id").sort_index()
    eng.dispose()
    return {"rows": n, "scores": scores}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--accounts", type=int, default=1500)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--work", type=Path, default=Path("/tmp/greendoor-bench-sync"))
    p.add_argument("--no-spark", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    as_of = dt.date(2026, 12, 1)
    t0 = time.perf_counter()
    tables = build_export(a.work, a.accounts, a.months, as_of)
    print(f"export: {a.accounts:,} accounts, {a.months} months in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    runs = [("rows", False), ("features", False)] + ([] if a.no_spark else [("features", True)])
    results, reference = [], None
    for mode, spark in runs:
        name = f"{mode} / {'spark local[2]' if spark else 'duckdb'}"
        store = a.work / f"store-{mode}-{'spark' if spark else 'duckdb'}.duckdb"
        store.unlink(missing_ok=True)
        url = f"duckdb:///{store}"
        sync_s = timed(["--db-url", url, "sync", str(mapping(a.work, tables, mode, spark))])
        score_s = timed(["--db-url", url, "score"])
        fig = store_figures(url)
        r = {"run": name, "sync_s": round(sync_s, 1), "score_s": round(score_s, 1),
             "usage_rows": fig["rows"]["usage"], "aggregate_rows": fig["rows"]["usage_features"],
             "first_use_rows": fig["rows"]["usage_first_uses"],
             "store_mb": round(store.stat().st_size / 2**20, 1)}
        if reference is None:
            reference = fig["scores"]
        else:
            s = fig["scores"].reindex(reference.index)
            for col, key in (("health_score", "max_health_diff"),
                             ("churn_probability", "max_churn_diff")):
                # a value on one store and none on the other counts as a difference
                if (s[col].isna() != reference[col].isna()).any():
                    r[key] = float("inf")
                else:
                    r[key] = float(np.nan_to_num((s[col] - reference[col]).abs().max()))
        results.append(r)
        print(json.dumps(r), flush=True)
    print(f"\n{'run':<26}{'sync s':>8}{'score s':>9}{'usage rows':>12}{'aggregates':>12}"
          f"{'first uses':>12}{'store MB':>10}{'max |Δ health|':>16}{'max |Δ P(churn)|':>18}")
    for r in results:
        print(f"{r['run']:<26}{r['sync_s']:>8}{r['score_s']:>9}{r['usage_rows']:>12,}"
              f"{r['aggregate_rows']:>12,}{r['first_use_rows']:>12,}{r['store_mb']:>10}"
              f"{r.get('max_health_diff', 0):>16.2g}{r.get('max_churn_diff', 0):>18.2g}")
    if a.out:
        a.out.write_text(json.dumps({"accounts": a.accounts, "months": a.months,
                                     "date": dt.date.today().isoformat(), "runs": results},
                                    indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
