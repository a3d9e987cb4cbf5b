"""Same behaviour before and after a refactor: the figures, scores and read models of
two checkouts on the same demo store, compared frame by frame.

    .venv/bin/python tools/same_behaviour.py --before /tmp/gd_before [--after .]

``--before`` is another checkout of Greendoor (``git worktree add /tmp/gd_before
<commit>``). Each checkout, in its own process with its own ``src`` first on the path,
loads the same demo portfolio (300 accounts, 14 months, seed 7, as of 2026-06-30),
scores it (4 weeks of history, with the backtest) and dumps: the demo tables, the score
snapshots, the alerts and every page's read models at the as-of date and 12 weeks
earlier. Then each dump is compared: equal, or what differs (rows, columns, the first
differing values). Prints one line per frame and exits 1 when any differs.

The read models are called by name through :data:`CALLS`; a module that moved between
the checkouts is found under either name (``greendoor.portfolio`` became
``greendoor.analytics.portfolio_health`` and ``churn_risk`` in issue 22).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (label, candidate modules, function, argument kinds): ``f`` is the Filters,
#: ``conn`` the connection, ``s`` the settings dict, ``d`` the as-of date.
CALLS = [
    ("kpis", ["greendoor.analytics.portfolio_health", "greendoor.portfolio"], "kpis", "conn f"),
    ("arr_trend", ["greendoor.analytics.portfolio_health", "greendoor.portfolio"], "arr_trend", "conn f"),
    ("by_segment", ["greendoor.analytics.portfolio_health", "greendoor.portfolio"], "by_segment", "conn f"),
    ("account_table", ["greendoor.analytics.portfolio_health", "greendoor.portfolio"], "account_table", "conn f"),
    ("scores", ["greendoor.analytics.portfolio_health", "greendoor.portfolio"], "scores", "conn f"),
    ("health_kpis", ["greendoor.analytics.portfolio_health", "greendoor.portfolio"], "health_kpis", "conn f"),
    ("movers", ["greendoor.analytics.portfolio_health", "greendoor.portfolio"], "movers", "conn f"),
    ("at_risk_queue", ["greendoor.analytics.churn_risk", "greendoor.portfolio"], "at_risk_queue", "conn f s"),
    ("renewals_due", ["greendoor.analytics.renewals"], "due", "conn f windows"),
    ("nps_trend", ["greendoor.analytics.advocacy"], "nps_trend", "conn f"),
    ("advocacy_candidates", ["greendoor.analytics.advocacy"], "candidates", "conn f"),
    ("advocacy_activities", ["greendoor.analytics.advocacy"], "activities", "conn f"),
    ("advocates_vs_others", ["greendoor.analytics.advocacy"], "advocates_vs_others", "conn f"),
    ("segment_accounts", ["greendoor.analytics.segments"], "account_frame", "conn f"),
    ("active_users", ["greendoor.analytics.behavior"], "active_users", "conn f"),
    ("feature_adoption", ["greendoor.analytics.behavior"], "feature_adoption", "conn f"),
    ("cohort_retention", ["greendoor.analytics.behavior"], "cohort_retention", "conn f"),
    ("anomalies", ["greendoor.analytics.behavior"], "anomalies", "conn f"),
    ("power_users", ["greendoor.analytics.behavior"], "power_users", "conn f"),
    ("expansion_pipeline", ["greendoor.analytics.expansion"], "open_pipeline", "conn f"),
    ("expansion_signals", ["greendoor.analytics.expansion"], "signals", "conn f s"),
    ("propensity", ["greendoor.analytics.expansion"], "propensity_ranking", "conn f"),
]

#: Columns that differ run to run by design (ids, clocks).
VOLATILE = {"scored_at", "created_at", "alert_id", "run_id", "action_id"}


def dump(out: Path) -> None:
    """Runs inside the checkout's process: build the store, score it, write each frame
    as a pickled pandas frame under ``out``."""
    import datetime as dt
    import importlib

    import pandas as pd
    import sqlalchemy as sa

    from greendoor.config import default_settings
    from greendoor.demo import DemoParams, load_demo
    from greendoor.scoring.run import score
    from greendoor.store import schema
    from greendoor.store.engine import init_store, make_engine

    try:
        from greendoor.periods import Filters
    except ImportError:
        from greendoor.portfolio import Filters

    as_of = dt.date(2026, 6, 30)
    eng = make_engine(f"duckdb:///{out / 'store.duckdb'}")
    init_store(eng)
    load_demo(eng, DemoParams(n_accounts=300, months=14, seed=7, as_of=as_of))
    score(eng, backfill_weeks=12, evaluate_models=True)
    settings = default_settings()

    def save(name, frame):
        if isinstance(frame, dict):
            frame = pd.DataFrame([frame])
        if isinstance(frame, pd.Series):
            frame = frame.to_frame()
        frame.to_pickle(out / f"{name}.pkl")

    with eng.connect() as conn:
        for t in (schema.accounts, schema.subscriptions, schema.opportunities, schema.contacts):
            save(f"table_{t.name}", pd.read_sql(sa.select(t), conn))
        save("score_snapshots", pd.read_sql(sa.select(schema.score_snapshots), conn))
        save("alerts", pd.read_sql(sa.select(schema.alerts), conn))
        for when, d in (("now", as_of), ("12w", as_of - dt.timedelta(weeks=12))):
            f = Filters(d)
            for label, modules, fn, kinds in CALLS:
                mod = None
                for m in modules:
                    try:
                        mod = importlib.import_module(m)
                        if hasattr(mod, fn):
                            break
                    except ImportError:
                        continue
                args = {"conn": conn, "f": f, "s": settings,
                        "windows": settings["renewal_windows_days"]}
                try:
                    try:
                        res = getattr(mod, fn)(*[args[k] for k in kinds.split()])
                    except TypeError:  # an older signature without the settings
                        res = getattr(mod, fn)(*[args[k] for k in kinds.split() if k != "s"])
                except Exception as exc:  # noqa: BLE001 - reported as a difference
                    res = pd.DataFrame({"error": [f"{type(exc).__name__}: {exc}"]})
                save(f"{label}@{when}", res)
    eng.dispose()


def _normal(df):
    import json as _json

    import pandas as pd

    df = df.drop(columns=[c for c in df.columns if c in VOLATILE], errors="ignore").copy()
    for c in df.columns:
        if c.endswith("_json"):  # compare the content, ids and clocks inside left out
            df[c] = df[c].map(lambda s: _json.dumps(
                {k: v for k, v in _json.loads(s).items() if k not in VOLATILE}, sort_keys=True)
                if isinstance(s, str) and s.startswith("{") else s)
    df = df.astype(object).where(df.notna(), None)
    keys = [c for c in df.columns if not isinstance(df[c].iloc[0] if len(df) else None, list)]
    try:
        df = df.sort_values(keys, kind="stable", ignore_index=True) if keys else df
    except TypeError:
        df = df.reset_index(drop=True)
    return pd.DataFrame(df)


def compare(before: Path, after: Path) -> int:
    import pandas as pd

    bad = 0
    for b in sorted(before.glob("*.pkl")):
        a = after / b.name
        if not a.exists():
            print(f"DIFF  {b.stem}: missing after")
            bad += 1
            continue
        x, y = pd.read_pickle(b), pd.read_pickle(a)
        note = ""
        if list(x.columns) != list(y.columns):  # compare the columns both have
            common = [c for c in x.columns if c in set(y.columns)]
            added = [c for c in y.columns if c not in set(x.columns)]
            gone = [c for c in x.columns if c not in set(y.columns)]
            note = f" [columns added {added}, removed {gone}; compared on the others]"
            x, y = x[common], y[common]
        x, y = _normal(x), _normal(y)
        try:
            pd.testing.assert_frame_equal(x, y, check_dtype=False, check_exact=False, rtol=1e-9,
                                          atol=1e-9)
            print(f"same  {b.stem} ({len(x)} rows){note}")
        except AssertionError as exc:
            bad += 1
            first = str(exc).strip().splitlines()
            print(f"DIFF  {b.stem}: {' | '.join(first[:4])[:300]}{note}")
    return bad


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="another Greendoor checkout")
    p.add_argument("--after", default=str(ROOT), help="this checkout (default)")
    p.add_argument("--dump", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.dump:
        dump(Path(args.dump))
        return 0
    work = Path(tempfile.mkdtemp(prefix="same_behaviour_"))
    dirs = {}
    for label in ("before", "after"):
        root = Path(getattr(args, label)).resolve()
        out = work / label
        out.mkdir()
        env = {**os.environ, "PYTHONPATH": str(root / "src")}
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--before", "-",
                        "--dump", str(out)], check=True, env=env, cwd=root)
        dirs[label] = out
    bad = compare(dirs["before"], dirs["after"])
    print(json.dumps({"frames_differing": bad, "work": str(work)}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
