"""The served app's warm-up (app/warmup.py): a first visit at the default as-of date
reads what the warm-up computed at server start."""

import datetime as dt

import pytest
import streamlit as st

from app import data, warmup
from greendoor import config
from greendoor.analytics import portfolio_health
from greendoor.periods import Filters


def test_the_modules_imported_are_the_pages_libraries():
    names = warmup.page_modules()
    # from the pages' own imports (pages/segmentation.py, pages/model_quality.py) and
    # the loaders' module (app/data.py), never the app package itself
    assert {"greendoor.charts.segmentation", "greendoor.analytics.segments",
            "greendoor.scoring.skill", "streamlit"} <= set(names)
    assert not [n for n in names if n == "app" or n.startswith("app.")]


def test_a_first_visit_reads_the_loaders_the_warm_up_filled(demo_store, monkeypatch):
    url, _ = demo_store
    monkeypatch.setenv(config.DB_URL_ENV, url)
    st.cache_data.clear()
    done = warmup.warm_up()
    filled = [name for name, _ in done["loaders"]]
    # every page's shell (data quality, provenance) and the landing page's loaders,
    # segmentation's clusters and behavior's cohorts: the slow ones at first visit
    assert {"store_status", "data_quality", "provenance", "kpis", "health_kpis", "scores",
            "movers", "account_table", "clusters", "behavior"} <= set(filled)
    # loaders taking anything more (today's date, an account, a default argument) are
    # left to their pages: the cache keys on the arguments as passed
    assert not {"alert_inbox", "account360", "retention_bridge"} & set(filled)

    token = data.data_token()
    as_of = data.LOADERS["store_status"](token)["default_as_of"]

    def computed(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(portfolio_health, "kpis", computed)
    # the cached function app/data.kpis calls, with a session's default filters: a hit
    assert data.LOADERS["kpis"](token, Filters(as_of=as_of))["accounts"] > 0
    with pytest.raises(AssertionError, match="computed again"):  # a date not warmed runs
        data.LOADERS["kpis"](token, Filters(as_of=as_of - dt.timedelta(days=1)))


def test_the_loaders_are_left_cold_when_the_warm_up_is_off(demo_store, monkeypatch):
    url, _ = demo_store
    monkeypatch.setenv(config.DB_URL_ENV, url)
    monkeypatch.setenv(warmup.WARM_UP_ENV, "0")
    done = warmup.warm_up()
    assert done["loaders"] == [] and done["imported"] > 50


def test_the_data_token_is_read_again_only_when_the_store_files_change(tmp_path, monkeypatch):
    from greendoor import settings as S
    from greendoor.store.engine import init_store, make_engine

    url = f"duckdb:///{tmp_path / 'token.duckdb'}"
    eng = make_engine(url)
    init_store(eng)
    monkeypatch.setenv(config.DB_URL_ENV, url)
    first = data.data_token()
    reads = []
    version = data.meta.data_version
    monkeypatch.setattr(data.meta, "data_version", lambda conn: reads.append(1) or version(conn))
    assert data.data_token() == first and reads == []  # nothing changed: no connection
    with eng.connect() as conn:
        _, current = S.current(conn)
    current["alert_quiet_days"] = current["alert_quiet_days"] + 1
    S.save(eng, current, "admin")  # another connection's commit (the CLI's, say)
    second = data.data_token()
    assert reads == [1] and second != first and second.endswith("|v2")
    assert data.data_token() == second and reads == [1]
    # a server database has no file to watch: read every time
    assert data.store_files_signature("postgresql+psycopg://u@h/db") is None


def test_the_warm_up_waits_while_a_visitor_runs_and_shortly_after(monkeypatch):
    import threading

    monkeypatch.setattr(warmup, "QUIET_S", 0.3)
    warmup.run_started()
    waiting = threading.Thread(target=warmup._give_way)
    try:
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive()  # a run in progress holds the next loader back
    finally:
        warmup.run_ended()
    waiting.join(5.0)
    assert not waiting.is_alive()  # the quiet period after the run ended has passed
