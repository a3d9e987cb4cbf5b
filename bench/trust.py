"""The figures of issue 17 ("trustworthy numbers"), measured as a user would meet them.

    python bench/trust.py --store data/greendoor.duckdb      # a scored default demo store
    python bench/trust.py --store ... --forecast-only

Prints, for the default demo store and for the RavenStack export:

* every model's backtest beside its best baseline: ROC AUC, the lift's 90 % interval,
  the status that gates it, the skill beyond timing, ECE;
* the same demo re-imported without its ``segment`` column (segments derived from ARR):
  each model's AUC and the difference;
* month-to-month accounts whose days to renewal as of a past date differ between the
  full store and the store as known then;
* the renewal forecast's past-quarter accuracy beside its constant baselines;
* the 80 % interval coverage in rolling backtests of forecasts, the models' own and
  calibrated, on the demo's ARR and on public series (statsmodels' datasets), and the
  time a 257-point series takes to backtest with ``auto``;
* on RavenStack: how many queued accounts show a model probability.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from greendoor.analytics import churn_risk  # noqa: E402
from greendoor.forecast import backtest, fit_forecast  # noqa: E402
from greendoor.forecast import series as FS  # noqa: E402
from greendoor.ingest import import_path  # noqa: E402
from greendoor.periods import Filters, default_as_of  # noqa: E402
from greendoor.scoring.run import evaluate, score  # noqa: E402
from greendoor.store.engine import init_store, make_engine  # noqa: E402

RAVENSTACK = ROOT.parent / "shared" / "datasets" / "ravenstack"


def models_table(ev: dict, label: str) -> list[str]:
    out = [f"## {label}", "| model | AUC | best baseline | its AUC | lift [90 %] | status | "
           "beyond timing | ECE |", "| --- | ---: | --- | ---: | --- | --- | ---: | ---: |"]
    for kind in ("churn", "renewal", "expansion"):
        m = ev.get(kind, {})
        if "test" not in m:
            out.append(f"| {kind} | — | | | | not measured: {m.get('reason')} | | |")
            continue
        b = m["baselines"][m["best_baseline"]]
        lift = m["lift"]
        bt = m.get("beyond_timing", {}).get("auc", float("nan"))
        out.append(f"| {kind} | {m['test']['auc']:.3f} | {m['best_baseline']} | {b['auc']:.3f} | "
                   f"{lift['lift']:+.3f} [{lift['lo']:+.3f}, {lift['hi']:+.3f}] | {m['status']} | "
                   f"{bt:.3f} | {m['ece']:.3f} |")
    h = ev.get("health", {})
    if h:
        out.append(f"| health score | {h['auc_low_health']:.3f} | constant | 0.500 | "
                   f"[{h['auc_interval'][0]:.3f}, {h['auc_interval'][1]:.3f}] | {h['status']} | | |")
    return out


def segmentless(store: str, tmp: Path) -> list[str]:
    """The demo's tables exported without ``segment``, imported, evaluated."""
    from greendoor.demo import DemoParams, generate
    from greendoor.store import meta

    eng = make_engine(f"duckdb:///{store}")
    with eng.connect() as conn:
        p = json.loads(meta.get(conn, "demo_params"))
    frames = generate(DemoParams(n_accounts=p["n_accounts"], months=p["months"], seed=p["seed"],
                                 as_of=dt.date.fromisoformat(p["as_of"])))
    folder = tmp / "export"
    folder.mkdir()
    for name, df in frames.items():
        (df.drop(columns=["segment"]) if name == "accounts" else df).to_csv(
            folder / f"{name}.csv", index=False)
    other = make_engine(f"duckdb:///{tmp / 'segmentless.duckdb'}")
    init_store(other)
    assert import_path(other, folder, "canonical").ok
    as_of = dt.date.fromisoformat(p["as_of"])
    a, b = evaluate(eng, as_of=as_of), evaluate(other, as_of=as_of)
    out = ["## the demo re-imported without `segment`",
           "| model | AUC, given segment | AUC, derived segment | difference |",
           "| --- | ---: | ---: | ---: |"]
    for kind in ("churn", "renewal", "expansion"):
        if "test" in a[kind] and "test" in b[kind]:
            x, y = a[kind]["test"]["auc"], b[kind]["test"]["auc"]
            out.append(f"| {kind} | {x:.4f} | {y:.4f} | {y - x:+.4f} |")
    return out


def renewal_quarters(store: str) -> list[str]:
    from greendoor.forecast import renewals as FR

    eng = make_engine(f"duckdb:///{store}")
    with eng.connect() as conn:
        as_of = default_as_of(conn)
    past = FR.past_quarters(eng, as_of)
    out = ["## renewal forecast, past quarters (forecast at each quarter's start)",
           "| quarter | model | constant rate | last quarter's rate |",
           "| --- | ---: | ---: | ---: |"]
    for r in past.itertuples():
        out.append(f"| {r.quarter_start:%Y-%m} | {r.accuracy:.1%} | {r.constant_accuracy:.1%} | "
                   f"{r.last_quarter_accuracy:.1%} |")
    b = FR.beats_baselines(past)
    out.append(f"| mean | {b['model']:.1%} | {b['baselines'].get('constant', np.nan):.1%} | "
               f"{b['baselines'].get('last_quarter', np.nan):.1%} |")
    out.append(f"model beats its best baseline: {b['beats']}")
    return out


def public_series() -> dict[str, tuple[pd.DataFrame, int]]:
    """name -> (series, horizon): statsmodels' bundled datasets (no network)."""
    from statsmodels.datasets import co2, elec_equip, macrodata, nile, sunspots

    out = {}
    c = co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    out["CO2 (Mauna Loa, monthly)"] = (pd.DataFrame({"ds": c.index, "y": c.to_numpy()}), 12)
    e = elec_equip.load().data.iloc[:, 0]
    out["electrical equipment (monthly, 257 points)"] = (
        pd.DataFrame({"ds": pd.to_datetime(e.index), "y": e.to_numpy()}), 12)
    gdp = macrodata.load_pandas().data["realgdp"]
    out["real GDP (US, quarterly)"] = (
        pd.DataFrame({"ds": pd.date_range("1959-01-01", periods=len(gdp), freq="QS"),
                      "y": gdp.to_numpy()}), 8)
    n = nile.load_pandas().data
    out["Nile flow (yearly)"] = (pd.DataFrame({"ds": pd.to_datetime(n["year"].astype(int)
                                                                  .astype(str)),
                                               "y": n["volume"].to_numpy()}), 5)
    spots = sunspots.load_pandas().data
    out["sunspots (yearly)"] = (
        pd.DataFrame({"ds": pd.to_datetime(spots["YEAR"].astype(int).astype(str)),
                      "y": spots["SUNACTIVITY"].to_numpy()}), 5)
    return out


def coverage(store: str | None) -> list[str]:
    series = {}
    if store:
        eng = make_engine(f"duckdb:///{store}")
        with eng.connect() as conn:
            as_of = default_as_of(conn)
            m = FS.monthly(conn, as_of)
            w = FS.weekly_arr(conn, as_of)
        series["demo portfolio ARR (monthly)"] = (m[["ds", "arr"]].rename(columns={"arr": "y"}), 12)
        series["demo portfolio ARR (weekly)"] = (w.rename(columns={"arr": "y"}), 13)
    series.update(public_series())
    out = ["## 80 % forecast intervals in rolling backtests (up to the page's horizon)",
           "| series | points | horizon | model | cutoffs | own interval | calibrated | "
           "auto: seconds |", "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for name, (s, h) in series.items():
        t0 = time.perf_counter()
        f = fit_forecast(s, h)
        secs = time.perf_counter() - t0
        bt = backtest(s, h)
        chosen = f["model"].iloc[0]
        for r in bt.itertuples():
            mark = " (used)" if r.model == chosen else ""
            if r.status != "ok":
                out.append(f"| {name} | {len(s)} | {h} | {r.model}{mark} | — | skipped: "
                           f"{r.reason} | | |")
                continue
            out.append(f"| {name} | {len(s)} | {h} | {r.model}{mark} | {r.cutoffs} | "
                       f"{r.coverage:.0%} | {r.coverage_calibrated:.0%} | "
                       f"{secs:.1f} |")
    return out


def ravenstack(tmp: Path) -> list[str]:
    eng = make_engine(f"duckdb:///{tmp / 'rs.duckdb'}")
    init_store(eng)
    assert import_path(eng, RAVENSTACK, "ravenstack").ok
    report = score(eng, backfill_weeks=4)
    ev = report.evaluation
    out = models_table(ev, "RavenStack")
    m = ev["churn"]
    if "test" in m:
        base = m["test"]["base_rate"]
        out.append(f"churn Brier {m['test']['brier']:.4f} vs {base * (1 - base):.4f} for the base "
                   "rate alone")
    with eng.connect() as conn:
        q = churn_risk.at_risk_queue(conn, Filters(report.as_of))
    out.append(f"at-risk queue: {len(q)} accounts; with a model churn probability: "
               f"{int(q['churn_probability'].notna().sum())}; ranked by: "
               f"{', '.join(sorted(set(q['risk_basis'])))}; with model drivers: "
               f"{int(q['drivers'].ne('').sum())}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="a scored default demo store (DuckDB file)")
    ap.add_argument("--forecast-only", action="store_true")
    args = ap.parse_args(argv)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.forecast_only and args.store:
            copy = tmp / "demo.duckdb"
            shutil.copy(args.store, copy)
            eng = make_engine(f"duckdb:///{copy}")
            with eng.connect() as conn:
                as_of = default_as_of(conn)
            lines += models_table(evaluate(eng, as_of=as_of), "default demo")
            lines += segmentless(str(copy), tmp)
            lines += renewal_quarters(str(copy))
        lines += coverage(args.store)
        if not args.forecast_only and RAVENSTACK.is_dir():
            lines += ravenstack(tmp)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
