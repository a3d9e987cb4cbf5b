"""The commands as users run them: whole `greendoor` processes on a tier's store.

    python bench/commands.py STORE.duckdb [--as-of 2026-11-22] [--repeat 3] [--out F.json]

Times, each a whole process started as the README starts it (wall seconds and the
child's peak RSS, medians of ``--repeat`` runs), on a private copy of the store:

* ``greendoor score``, repeated with nothing changed (it stops after comparing the
  digest of its inputs), and ``greendoor score --force`` (features, prediction, alerts
  and write of the as-of date, reusing the stored backtest);
* ``greendoor score --as-of D+1`` after one new day of data (:func:`add_day`, each run
  on a fresh copy of the prepared store);
* ``greendoor score --force`` while a concurrent load of two busy threads runs, and its
  ratio to the quiet runs (the issue's target: at most 2.5x);
* ``greendoor forecast``, repeated with nothing changed.

The JSON printed (and written to ``--out``) lists every run, so noise is visible.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "greendoor"


def add_day(path: Path | str, day: dt.date) -> dict[str, int]:
    """The store file at ``path`` gains a day of events, as a daily export would add
    them: the usage and interactions of the same weekday a week earlier, dated ``day``
    (interaction ids suffixed with the day); the usage rollups are rebuilt as an import
    does. Returns the rows added per table."""
    import duckdb

    week = day - dt.timedelta(days=7)
    added = {}
    con = duckdb.connect(str(path))
    try:
        for table, col, key in (("usage", "date", None),
                                ("interactions", "occurred_at", "interaction_id")):
            cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            moved = ", ".join(f"{c} + INTERVAL 7 DAY" if c == col else
                              f"{c} || '-{day}'" if c == key else c for c in cols)
            con.execute(f"INSERT INTO {table} SELECT {moved} FROM {table} "
                        f"WHERE CAST({col} AS DATE) = DATE '{week}'")
            added[table] = con.execute(f"SELECT count(*) FROM {table} "
                                       f"WHERE CAST({col} AS DATE) = DATE '{day}'").fetchone()[0]
    finally:
        con.close()
    from greendoor.store.engine import make_engine
    from greendoor.store.rollups import refresh_usage_rollups

    eng = make_engine(f"duckdb:///{path}")
    with eng.begin() as conn:
        refresh_usage_rollups(conn)
    eng.dispose()
    return added


def run(args: list[str], store: Path) -> dict:
    """One whole `greendoor` process on ``store``: wall seconds, peak RSS (MB), and the
    last line it printed."""
    env = {**os.environ, "GREENDOOR_DB_URL": f"duckdb:///{store}"}
    t = time.perf_counter()
    proc = subprocess.Popen([str(BIN), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"greendoor {' '.join(args)} failed:\n{out[-2000:]}")
    lines = out.strip().splitlines()
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "said": next((ln.strip() for ln in lines if "seconds:" in ln or
                          "nothing changed" in ln), lines[-1] if lines else "")}


def summary(runs: list[dict]) -> dict:
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "runs": runs}


def _busy(stop) -> None:
    x = 0
    while not stop.is_set():
        x = (x * 1103515245 + 12345) % 2**31


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store", type=Path)
    p.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 22))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-forecast", action="store_true")
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="greendoor-commands-"))
    try:
        base = work / "base.duckdb"
        shutil.copy(a.store, base)
        day = str(a.as_of)
        res: dict = {"store": str(a.store), "as_of": day, "load_before": os.getloadavg()[0]}
        print("preparing: one `greendoor score` (records its inputs' digest) ...", flush=True)
        res["prepare"] = run(["score", "--as-of", day], base)
        print("repeated score, nothing changed ...", flush=True)
        res["score_repeated"] = summary([run(["score", "--as-of", day], base)
                                         for _ in range(a.repeat)])
        res["score_force"] = summary([run(["score", "--as-of", day, "--force"], base)
                                      for _ in range(a.repeat)])
        print("one new day of data ...", flush=True)
        new_day = []
        for _ in range(a.repeat):
            copy = work / "day.duckdb"
            shutil.copy(base, copy)
            # in its own process: this one stays small, so the children's peak RSS
            # (which counts what a forked child starts with) is theirs
            out = subprocess.run([sys.executable, __file__, "--add-day", str(copy), day],
                                 check=True, capture_output=True, text=True).stdout
            res["day_rows"] = json.loads(out)
            new_day.append(run(["score", "--as-of", str(a.as_of + dt.timedelta(days=1))], copy))
        res["score_new_day"] = summary(new_day)
        print("forced score under a 2-thread CPU load ...", flush=True)
        stop = mp.Event()
        load = [mp.Process(target=_busy, args=(stop,)) for _ in range(2)]
        for proc in load:
            proc.start()
        try:
            time.sleep(1)
            res["score_force_loaded"] = summary([run(["score", "--as-of", day, "--force"], base)
                                                 for _ in range(a.repeat)])
            res["load_during"] = os.getloadavg()[0]
        finally:
            stop.set()
            for proc in load:
                proc.join()
        res["load_ratio"] = round(res["score_force_loaded"]["seconds"]
                                  / res["score_force"]["seconds"], 2)
        if not a.no_forecast:
            print("forecast, first then repeated ...", flush=True)
            res["forecast_first"] = run(["forecast", "--as-of", day], base)
            res["forecast_repeated"] = summary([run(["forecast", "--as-of", day], base)
                                                for _ in range(a.repeat)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(res, indent=2, default=str)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    for k in ("score_repeated", "score_force", "score_new_day", "score_force_loaded",
              "forecast_repeated"):
        if k in res:
            print(f"{k:22} {res[k]['seconds']:7.2f} s  peak {res[k]['peak_rss_mb']:7.0f} MB")
    print(f"{'load ratio':22} {res['load_ratio']:7.2f} x (target <= 2.5)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:2] == ["--add-day"]:
        print(json.dumps(add_day(Path(sys.argv[2]), dt.date.fromisoformat(sys.argv[3]))))
        raise SystemExit(0)
    raise SystemExit(main())
