"""One benchmark step, run in its own process so its peak RSS is its own.

    python bench/steps.py STEP STORE_URL [options]  -> prints one JSON line:
    {"step": ..., "seconds": ..., "peak_rss_mb": ..., ...}

Steps: demo, score_backfill, score_one, forecast, import_ravenstack, pages,
naive_features, indb_features. See bench/run.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
AS_OF = dt.date(2026, 11, 22)
PAGES = ["portfolio_health", "this_week", "churn_risk", "account_360", "actions", "expansion",
         "renewals", "advocacy", "segmentation", "behavior", "model_quality", "data"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def window(as_of: dt.date = AS_OF) -> tuple[dt.date, dt.date]:
    return as_of - dt.timedelta(days=30), as_of


def naive_features(url: str, as_of: dt.date = AS_OF) -> dict:
    """The usual dashboard way: load the usage table into pandas, then group."""
    import pandas as pd
    import sqlalchemy as sa

    from greendoor.store.engine import make_engine

    eng = make_engine(url)
    with eng.connect() as conn:
        usage = pd.read_sql(sa.text("SELECT account_id, user_id, date, feature, events, "
                                    "duration_seconds, errors FROM usage"), conn)
    usage["date"] = pd.to_datetime(usage["date"])
    start, end = window(as_of)
    u = usage[(usage["date"] >= pd.Timestamp(start)) & (usage["date"] < pd.Timestamp(end))]
    out = u.groupby("account_id").agg(events=("events", "sum"), errors=("errors", "sum"),
                                      active_days=("date", "nunique"),
                                      active_users=("user_id", "nunique"),
                                      features=("feature", "nunique"),
                                      seconds=("duration_seconds", "sum"))
    return {"rows_loaded": int(len(usage)), "accounts": int(len(out)),
            "checksum": float(out["events"].sum()), "frame": out}


def indb_features(url: str, as_of: dt.date = AS_OF) -> dict:
    """Greendoor's way: the same aggregation pushed down to the store."""
    import pandas as pd
    import sqlalchemy as sa

    from greendoor.store import schema
    from greendoor.store.engine import make_engine

    u = schema.usage
    start, end = window(as_of)
    q = (sa.select(u.c.account_id, sa.func.sum(u.c.events).label("events"),
                   sa.func.sum(u.c.errors).label("errors"),
                   sa.func.count(sa.distinct(u.c.date)).label("active_days"),
                   sa.func.count(sa.distinct(u.c.user_id)).label("active_users"),
                   sa.func.count(sa.distinct(u.c.feature)).label("features"),
                   sa.func.sum(u.c.duration_seconds).label("seconds"))
         .where(u.c.date >= start, u.c.date < end).group_by(u.c.account_id))
    eng = make_engine(url)
    with eng.connect() as conn:
        out = pd.read_sql(q, conn)
    return {"accounts": int(len(out)), "checksum": float(out["events"].sum()),
            "frame": out.set_index("account_id")}


def pages(url: str) -> dict:
    """Server-side render time of every page (AppTest), cold cache then warm."""
    os.environ["GREENDOOR_DB_URL"] = url
    from streamlit.testing.v1 import AppTest

    out = {}
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=600)
        if page == "account_360":
            at.query_params["account"] = "ACC-00002"
        t = time.perf_counter()
        at.run()
        cold = time.perf_counter() - t
        t = time.perf_counter()
        at.run()
        warm = time.perf_counter() - t
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
        out[page] = {"cold": round(cold, 3), "warm": round(warm, 3)}
    return {"pages": out}


def cap_memory() -> int:
    """Cap this process's address space (``GREENDOOR_BENCH_MEM_LIMIT_GB``, default 12)
    so a step too big for the machine fails with MemoryError instead of swapping.
    Returns the cap in bytes."""
    cap = int(float(os.environ.get("GREENDOOR_BENCH_MEM_LIMIT_GB", "12")) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return cap


def main() -> None:
    step, url = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    from greendoor.store.engine import init_store, make_engine

    t0 = time.perf_counter()
    extra: dict = {}
    if step == "demo":
        from greendoor.demo import DemoParams, load_demo

        eng = make_engine(url)
        init_store(eng)
        n, months, mix = (arg.split(":") + ["24", ""])[:3]  # "accounts[:months[:e,m,s]]"
        load_demo(eng, DemoParams(n_accounts=int(n), months=int(months), seed=42, as_of=AS_OF,
                                  segment_mix=tuple(map(float, mix.split(","))) if mix else None))
    elif step in ("score_backfill", "score_one"):
        from greendoor.scoring.run import score

        rep = score(make_engine(url), as_of=AS_OF, backfill_weeks=52 if step == "score_backfill" else 0,
                    evaluate_models=step == "score_backfill")
        extra = {"accounts": rep.accounts, "dates": len(rep.dates),
                 "phases": {k: round(v, 2) for k, v in rep.seconds.items()}}
    elif step == "forecast":
        from greendoor.forecast.run import run_forecasts

        rep = run_forecasts(make_engine(url), as_of=AS_OF)
        extra = {"series": rep.series}
    elif step == "import":
        from greendoor.ingest import import_path

        # capped like the naive step; DuckDB's buffers kept to a third of the cap
        cap = cap_memory()
        os.environ.setdefault("GREENDOOR_DUCKDB_MEMORY_LIMIT", f"{cap // 3 // 2**20}MB")
        eng = make_engine(url)
        init_store(eng)
        fmt, path = arg.split(":", 1)
        try:
            rep = import_path(eng, path, fmt)
            extra = {"rows": rep.rows_read, "ok": rep.ok}
        except MemoryError:
            extra = {"error": f"MemoryError: the import does not fit in {cap / 2**30:g} GB"}
    elif step == "export":
        from greendoor.store import schema

        eng = make_engine(url)
        Path(arg).mkdir(parents=True, exist_ok=True)
        with eng.connect() as conn:
            raw = conn.connection.driver_connection
            for t in schema.CANONICAL_TABLES:
                raw.execute(f"COPY {t.name} TO '{Path(arg) / (t.name + '.csv')}' (HEADER)")
        extra = {"dir": arg}
    elif step == "pages":
        extra = pages(url)
    elif step == "naive_features":
        cap = cap_memory()
        try:
            extra = naive_features(url)
        except MemoryError:
            extra = {"error": f"MemoryError: the usage table does not fit in {cap / 2**30:g} GB"}
    elif step == "indb_features":
        extra = indb_features(url)
    else:
        raise SystemExit(f"unknown step {step}")
    extra.pop("frame", None)
    print(json.dumps({"step": step, "seconds": round(time.perf_counter() - t0, 3),
                      "peak_rss_mb": round(peak_rss_mb(), 1), **extra}))


if __name__ == "__main__":
    main()
