"""Shared fixtures: a fresh store per test and one small demo store per session."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from greendoor.demo import DemoParams, load_demo
from greendoor.store.engine import init_store, make_engine

DEMO_AS_OF = dt.date(2026, 6, 30)
DEMO_PARAMS = DemoParams(n_accounts=150, months=12, seed=7, as_of=DEMO_AS_OF)


@pytest.fixture
def store_url(tmp_path):
    return f"duckdb:///{tmp_path / 'store.duckdb'}"


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
def scored_demo_store(tmp_path_factory):
    """(url, engine) of a small demo store that has been scored (writable by tests)."""
    from greendoor.scoring.run import score

    url = f"duckdb:///{tmp_path_factory.mktemp('scored_demo') / 'sd.duckdb'}"
    eng = make_engine(url)
    init_store(eng)
    load_demo(eng, DemoParams(n_accounts=150, months=14, seed=7, as_of=DEMO_AS_OF))
    score(eng, backfill_weeks=4, evaluate_models=False)
    yield url, eng
    eng.dispose()
