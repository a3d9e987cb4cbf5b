"""Shared fixtures: a fresh store per test and one small demo store per session."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from greendoor.demo import DemoParams, load_demo
from greendoor.labels import human
from greendoor.store.engine import init_store, make_engine

DEMO_AS_OF = dt.date(2026, 6, 30)


def code_for(label: str, codes) -> str:
    """The code among ``codes`` that a page shows as ``label`` (greendoor.labels.human)."""
    codes = list(codes)
    return next((c for c in codes if human(c) == label), label)


def shown(value: str) -> str:
    """The text a name column shows: its link's ``name=`` (app.shell.link_names), else
    the value itself."""
    m = re.search(r"[?&]name=([^&]*)$", str(value))
    return unquote(m.group(1)) if m else str(value)


def linked_id(value: str) -> str:
    """The account a name column's link opens: its ``account=`` (app.shell.link_names).
    Tables send only the columns they show (app.lists.shown), so a test reads a row's
    account from the link the user clicks."""
    m = re.search(r"[?&]account=([^&]*)", str(value))
    assert m, f"not an Account 360 link: {value!r}"
    return unquote(m.group(1))


def shown_alert_ids(engine, inbox) -> list[str]:
    """The ``alert_id`` of each row of the Alerts page's inbox as sent: the alert of the
    latest scoring with the row's account (its name's link) and title. The page does not
    send ids (app.lists.shown)."""
    from greendoor.store import schema

    al = schema.alerts
    with engine.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(al.c.as_of))).scalar()
        rows = conn.execute(sa.select(al.c.alert_id, al.c.account_id, al.c.title)
                            .where(al.c.as_of == latest)).all()
    by: dict[tuple, list] = {}
    for aid, acc, title in rows:
        by.setdefault((acc, title), []).append(aid)
    ids = [by.get((linked_id(n), t), []) for n, t in zip(inbox["name"], inbox["title"], strict=True)]
    assert all(len(i) == 1 for i in ids), "an inbox row matches no alert, or several"
    return [i[0] for i in ids]


def risk_queue(engine):
    """The Churn risk page's queue with no filter at the store's default as-of date
    (greendoor.analytics.churn_risk.at_risk_queue), indexed by ``account_id``: the
    columns the page computes but does not send (driver features, risk basis)."""
    from greendoor import settings
    from greendoor.analytics import churn_risk
    from greendoor.periods import Filters, default_as_of

    with engine.connect() as conn:
        q = churn_risk.at_risk_queue(conn, Filters(as_of=default_as_of(conn)),
                                     settings.current(conn)[1])
    return q.set_index("account_id", drop=False)


DEMO_PARAMS = DemoParams(n_accounts=150, months=12, seed=7, as_of=DEMO_AS_OF)


#: Admin URL of a PostgreSQL server for the tests that run on both backends, e.g.
#: postgresql+psycopg://greendoor:greendoor@127.0.0.1:5432/postgres (.ci/run sets it).
PG_ENV = "GREENDOOR_TEST_PG_URL"
#: Set (as CI does) to fail rather than skip when PostgreSQL or Chromium is missing.
REQUIRE_ENV = "GREENDOOR_TEST_REQUIRE_ALL"


def missing(what: str) -> None:
    """Skip for a missing service, or fail when CI requires everything."""
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{what} is required in this run ({REQUIRE_ENV} is set)")
    pytest.skip(what)


@contextlib.contextmanager
def pg_database():
    """A fresh, empty PostgreSQL database on the test server; dropped afterwards.
    Yields its URL."""
    import uuid

    import sqlalchemy as sa

    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        missing(f"no PostgreSQL server: set {PG_ENV}")
    name = f"gd_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()



@pytest.fixture(autouse=True)
def _keep_main_module():
    """Give back the interpreter's ``__main__`` after each test. Streamlit's AppTest
    leaves the script it ran there, and a later test that spawns processes
    (test_concurrency) had each child re-run that script: bench/peer_app.py exits
    without ``GREENDOOR_DB_URL``, so the run order decided whether the test passed."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main

@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request, tmp_path):
    """A fresh store URL on each backend: embedded DuckDB and PostgreSQL (tests
    marked ``duckdb_only`` run on DuckDB alone)."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'store.duckdb'}"
        return
    if request.node.get_closest_marker("duckdb_only"):
        pytest.skip("DuckDB-specific test")
    with pg_database() as url:
        yield url


@pytest.fixture
def engine(store_url):
    eng = make_engine(store_url)
    init_store(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    """(url, engine) of a store holding a small demo portfolio (read-only for tests)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    url = f"duckdb:///{path}"
    eng = make_engine(url)
    init_store(eng)
    load_demo(eng, DEMO_PARAMS)
    yield url, eng
    eng.dispose()


RAVENSTACK_DIR = Path(os.environ.get(
    "GREENDOOR_RAVENSTACK_DIR",
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ravenstack"))


@pytest.fixture(scope="session")
def ravenstack_store(tmp_path_factory):
    """(url, engine) of a store holding the RavenStack dataset, imported as a user would."""
    if not RAVENSTACK_DIR.is_dir():
        pytest.skip(f"RavenStack dataset not found at {RAVENSTACK_DIR}")
    from greendoor.ingest import import_path

    url = f"duckdb:///{tmp_path_factory.mktemp('ravenstack') / 'rs.duckdb'}"
    eng = make_engine(url)
    init_store(eng)
    report = import_path(eng, RAVENSTACK_DIR, "ravenstack")
    assert report.ok, report.summary()
    yield url, eng
    eng.dispose()


@pytest.fixture(scope="session")
def spark():
    """A local Spark session (one core, loopback only) shared by the Spark tests; skipped
    (failed in CI) without pyspark or a Java runtime."""
    import shutil

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        missing("pyspark is not installed (pip install -e .[spark])")
    if shutil.which("java") is None:
        missing("no Java runtime for Spark's local mode")
    session = (SparkSession.builder.master("local[1]").appName("greendoor-tests")
               .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield session
    session.stop()


def assume_skill(eng) -> None:
    """Store a backtest in which every model beat its baselines, as the default demo's
    churn and expansion models do (about 1,500 accounts and two years are needed for
    the intervals to exclude 0; the small test stores are too small). Scoring without
    ``evaluate_models`` then lets the models drive the numbers, so page and read-model
    tests see the model path. The backtest itself (and the rules path when a model has
    no skill) is tested on real backtests: test_scoring_run.py, test_skill_gates.py."""
    import json

    from greendoor.scoring.run import MODEL_FEATURES, _store_evaluation

    figures = {"auc": 0.9, "pr_auc": 0.5, "brier": 0.03, "ece": 0.01, "top_decile_lift": 5.0,
               "n": 1000, "positives": 50, "base_rate": 0.05}
    model = {"status": "skill", "calibrated": True, "important_features": list(MODEL_FEATURES),
             "direction": {}, "lift": {"lift": 0.1, "lo": 0.05, "hi": 0.15},
             "test": figures, "ece": 0.01, "estimator": "gradient_boosting", "n_train": 2000,
             "baselines": {"timing": {**figures, "auc": 0.8, "description": "timing"}},
             "best_baseline": "timing", "calibration": []}
    ev = {"status": "ok", "assumed": True, "horizon_days": 90,
          "train_dates": ["2025-10-01", "2025-10-29"], "test_dates": ["2026-02-18"],
          "churn": model, "renewal": model, "expansion": model,
          "health": {"status": "skill", "base_rate": 0.05, "renewal_base_rate": 0.15,
                     "auc_low_health": 0.8, "auc_interval": [0.75, 0.85], "n": 300,
                     "positives": 15,
                     "churn_rate_by_band": [{"group": g, "rate": r, "n": 100} for g, r in
                                            (("green", 0.01), ("yellow", 0.06), ("red", 0.3))],
                     "renewal_loss_by_band": [{"group": g, "rate": r, "n": 100} for g, r in
                                              (("green", 0.05), ("yellow", 0.2), ("red", 0.6))]}}
    with eng.begin() as conn:
        _store_evaluation(conn, json.loads(json.dumps(ev)), DEMO_AS_OF, 1)


@pytest.fixture(scope="session")
def scored_demo_store(tmp_path_factory):
    """(url, engine) of a small demo store that has been scored. Read-only: tests that
    write use :func:`scored_store_copy`, so no test depends on another's writes or on
    the order they run in. The session fails at the end if any table's row count
    changed."""
    from greendoor.scoring.run import score

    url = f"duckdb:///{tmp_path_factory.mktemp('scored_demo') / 'sd.duckdb'}"
    eng = make_engine(url)
    init_store(eng)
    load_demo(eng, DemoParams(n_accounts=150, months=14, seed=7, as_of=DEMO_AS_OF))
    assume_skill(eng)
    score(eng, backfill_weeks=4, evaluate_models=False)
    before = _row_counts(eng)
    yield url, eng
    after = _row_counts(eng)
    eng.dispose()
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert not changed, f"a test wrote to the read-only scored_demo_store: {changed}"


def _row_counts(eng) -> dict[str, int]:
    import sqlalchemy as sa

    from greendoor.store import schema

    with eng.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                for t in schema.metadata.sorted_tables}


@pytest.fixture
def scored_store_copy(scored_demo_store, tmp_path):
    """(url, engine) of a private copy of the scored demo store, for tests that write
    a lot, restore, or run other processes on it."""
    import shutil

    import sqlalchemy as sa

    path = tmp_path / "copy.duckdb"
    shutil.copy(sa.make_url(scored_demo_store[0]).database, path)
    url = f"duckdb:///{path}"
    eng = make_engine(url)
    yield url, eng
    eng.dispose()


def two_largest_books(eng) -> tuple[dict[str, str], str, str]:
    """(account id -> CSM owner, the owner of the largest book, the owner of the
    second largest): the csm and "someone else" of the access tests."""
    import collections

    import sqlalchemy as sa

    from greendoor.store import schema

    a = schema.accounts
    with eng.connect() as conn:
        owner_of = dict(conn.execute(sa.select(a.c.account_id, a.c.csm_owner)
                                     .order_by(a.c.account_id)).all())
    (mine, _), (other, _) = collections.Counter(owner_of.values()).most_common(2)
    return owner_of, mine, other
