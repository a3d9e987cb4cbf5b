"""Cached loaders: the only place the app reads the store.

Cache keys are small and hashable: the store URL, a data token that changes
whenever the store's data is replaced (the latest import-log row), and the
global filters. Never DataFrames as arguments (DESIGN.md "Cache at the app layer").
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from greendoor import config, portfolio
from greendoor.portfolio import Filters
from greendoor.store import meta, schema
from greendoor.store.engine import current_revision, init_store, make_engine


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    engine = make_engine(url)
    if current_revision(engine) is None:
        init_store(engine)
    return engine


def engine():
    """The store's engine (one per URL per server process)."""
    return _engine(config.db_url())


def data_token() -> str:
    """Changes whenever data is loaded, rescored or the settings change: keys every
    cached loader below (actions clear the caches themselves)."""
    with engine().connect() as conn:
        last = conn.execute(sa.select(
            sa.select(sa.func.max(schema.import_log.c.finished_at)).scalar_subquery(),
            sa.select(sa.func.max(schema.score_snapshots.c.scored_at)).scalar_subquery(),
            sa.select(sa.func.max(schema.settings_versions.c.version)).scalar_subquery(),
        )).one()
    return f"{config.db_url()}|{last[0]}|{last[1]}|v{last[2]}"


@st.cache_data(show_spinner=False, ttl=3600)
def store_status(token: str) -> dict:
    with engine().connect() as conn:
        return {
            "accounts": portfolio.account_count(conn),
            "dataset": meta.get(conn, "dataset"),
            "demo_params": meta.get(conn, "demo_params"),
            "default_as_of": portfolio.default_as_of(conn),
            "options": portfolio.filter_options(conn),
            "counts": portfolio.table_counts(conn),
        }


@st.cache_data(show_spinner=False, ttl=3600)
def kpis(token: str, f: Filters) -> dict:
    with engine().connect() as conn:
        return portfolio.kpis(conn, f)


@st.cache_data(show_spinner=False, ttl=3600)
def arr_trend(token: str, f: Filters) -> pd.DataFrame:
    with engine().connect() as conn:
        return portfolio.arr_trend(conn, f)


@st.cache_data(show_spinner=False, ttl=3600)
def by_segment(token: str, f: Filters) -> pd.DataFrame:
    with engine().connect() as conn:
        return portfolio.by_segment(conn, f)


@st.cache_data(show_spinner=False, ttl=3600)
def account_table(token: str, f: Filters) -> pd.DataFrame:
    with engine().connect() as conn:
        return portfolio.account_table(conn, f)


@st.cache_data(show_spinner=False, ttl=3600)
def freshness(token: str) -> pd.DataFrame:
    from greendoor.ingest import freshness as _freshness

    return _freshness(engine())


@st.cache_data(show_spinner=False, ttl=3600)
def import_history(token: str) -> pd.DataFrame:
    il = schema.import_log
    with engine().connect() as conn:
        return pd.read_sql(
            sa.select(il.c.finished_at, il.c.actor, il.c.source, il.c.format, il.c.status,
                      il.c.rows_inserted, il.c.rows_updated, il.c.duration_seconds)
            .order_by(il.c.finished_at.desc()).limit(50), conn)


@st.cache_data(show_spinner=False, ttl=3600)
def data_quality(token: str, as_of) -> list[dict]:
    with engine().connect() as conn:
        return portfolio.data_quality(conn, as_of)


@st.cache_data(show_spinner=False, ttl=3600)
def account360(token: str, account_id: str, as_of):
    from greendoor import account360 as a360

    with engine().connect() as conn:
        return a360.load(conn, account_id, as_of)


@st.cache_data(show_spinner=False, ttl=3600)
def account_names(token: str) -> dict[str, str]:
    a = schema.accounts
    with engine().connect() as conn:
        return dict(conn.execute(sa.select(a.c.account_id, a.c.name).order_by(a.c.name)).all())


@st.cache_data(show_spinner=False, ttl=3600)
def scores(token: str, f: Filters) -> pd.DataFrame:
    with engine().connect() as conn:
        return portfolio.scores(conn, f)


@st.cache_data(show_spinner=False, ttl=3600)
def health_kpis(token: str, f: Filters) -> dict:
    with engine().connect() as conn:
        return portfolio.health_kpis(conn, f)


@st.cache_data(show_spinner=False, ttl=3600)
def movers(token: str, f: Filters) -> pd.DataFrame:
    with engine().connect() as conn:
        return portfolio.movers(conn, f)


@st.cache_data(show_spinner=False, ttl=600)
def actions_list(token: str, owner: str | None, status: str | None) -> pd.DataFrame:
    from greendoor import actions as A

    with engine().connect() as conn:
        return A.list_actions(conn, owner=owner, status=status)


@st.cache_data(show_spinner=False, ttl=600)
def playbook_runs(token: str) -> pd.DataFrame:
    from greendoor import actions as A

    with engine().connect() as conn:
        return A.playbook_runs(conn)


@st.cache_data(show_spinner=False, ttl=600)
def playbook_effectiveness(token: str) -> pd.DataFrame:
    from greendoor import actions as A

    with engine().connect() as conn:
        return A.playbook_effectiveness(conn)


@st.cache_data(show_spinner=False, ttl=600)
def agenda(token: str, f: Filters, since) -> pd.DataFrame:
    from greendoor import agenda as ag

    with engine().connect() as conn:
        return ag.agenda(conn, f, since)


@st.cache_data(show_spinner=False, ttl=600)
def at_risk_queue(token: str, f: Filters) -> pd.DataFrame:
    with engine().connect() as conn:
        return portfolio.at_risk_queue(conn, f)


@st.cache_data(show_spinner=False, ttl=600)
def model_quality(token: str) -> dict:
    from greendoor import quality as Q

    with engine().connect() as conn:
        ev = Q.latest(conn)
        renewal = Q.renewal_accuracy(conn)
        return {"evaluation": ev, "forecast": Q.forecast_backtests(conn), "renewal": renewal,
                "success": Q.success_metrics(ev, renewal)}
