"""Cached loaders: the only place the app reads the store.

Cache keys are small and hashable: the store URL, a data token that changes
whenever the store's data is replaced (the latest import-log row), and the
global filters. Never DataFrames as arguments (DESIGN.md "Cache at the app layer").
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from greendoor import access, config, portfolio
from greendoor.access import Principal
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
def account360(token: str, account_id: str, as_of, principal: Principal):
    """Raises :class:`~greendoor.access.AccessDenied` outside the principal's scope."""
    from greendoor import account360 as a360

    with engine().connect() as conn:
        return a360.load(conn, account_id, as_of, principal)


@st.cache_data(show_spinner=False, ttl=3600)
def account_names(token: str) -> dict[str, str]:
    """Every account's name (for the pseudonyms of presentation mode; pages list
    accounts through :func:`visible_accounts`)."""
    a = schema.accounts
    with engine().connect() as conn:
        return dict(conn.execute(sa.select(a.c.account_id, a.c.name).order_by(a.c.name)).all())


@st.cache_data(show_spinner=False, ttl=3600)
def visible_accounts(token: str, principal: Principal) -> dict[str, str]:
    with engine().connect() as conn:
        return access.visible_accounts(conn, principal)


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
def actions_list(token: str, owner: str | None, status: str | None,
                 principal: Principal) -> pd.DataFrame:
    from greendoor import actions as A

    with engine().connect() as conn:
        return A.list_actions(conn, owner=owner, status=status, principal=principal)


@st.cache_data(show_spinner=False, ttl=600)
def playbook_runs(token: str, principal: Principal) -> pd.DataFrame:
    from greendoor import actions as A

    with engine().connect() as conn:
        return A.playbook_runs(conn, principal=principal)


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
def gates(token: str):
    """What the latest backtest lets drive the numbers (:class:`skill.Gates`)."""
    from greendoor.scoring import skill
    from greendoor.scoring.run import latest_evaluation

    with engine().connect() as conn:
        return skill.Gates(latest_evaluation(conn))


@st.cache_data(show_spinner=False, ttl=600)
def model_quality(token: str) -> dict:
    from greendoor import quality as Q

    with engine().connect() as conn:
        ev = Q.latest(conn)
        renewal = Q.renewal_accuracy(conn)
        return {"evaluation": ev, "forecast": Q.forecast_backtests(conn), "renewal": renewal,
                "success": Q.success_metrics(ev, renewal)}


# --------------------------------------------------------------------------- #
# analytics pages
# --------------------------------------------------------------------------- #
@st.cache_data(show_spinner=False, ttl=3600)
def settings(token: str) -> tuple[int, dict]:
    from greendoor import settings as S

    with engine().connect() as conn:
        return S.current(conn)


@st.cache_data(show_spinner=False, ttl=3600)
def provenance(token: str, as_of) -> dict:
    from greendoor import settings as S
    from greendoor.analytics.renewals import forecast_as_of

    with engine().connect() as conn:
        return {"scored": S.scored_version(conn, as_of), "current": S.current(conn)[0],
                "forecast_as_of": forecast_as_of(conn)}


@st.cache_data(show_spinner=False, ttl=3600)
def settings_history(token: str) -> pd.DataFrame:
    from greendoor import settings as S

    with engine().connect() as conn:
        return S.history(conn)


@st.cache_data(show_spinner=False, ttl=600)
def expansion(token: str, f: Filters) -> dict:
    from greendoor.analytics import expansion as X
    from greendoor.settings import current

    with engine().connect() as conn:
        pipe = X.open_pipeline(conn, f)
        return {"pipeline": pipe, "stages": X.by_stage(pipe),
                "signals": X.signals(conn, f, current(conn)[1]),
                "propensity": X.propensity_ranking(conn, f)}


@st.cache_data(show_spinner=False, ttl=600)
def renewals(token: str, f: Filters) -> dict:
    from greendoor.analytics import renewals as R
    from greendoor.settings import current

    with engine().connect() as conn:
        windows = current(conn)[1]["renewal_windows_days"]
        due = R.due(conn, f, windows)
        return {"due": due, "windows": R.window_summary(due, windows), "window_days": windows,
                "quarters": R.periods(due, "quarter"), "months": R.periods(due, "month")}


@st.cache_data(show_spinner=False, ttl=3600)
def top_down(token: str, series: str, segment: str) -> dict:
    from greendoor.analytics import renewals as R

    with engine().connect() as conn:
        cmp = R.model_comparison(conn, series, segment)
        return {"series": R.top_down(conn, series, segment), "comparison": cmp,
                "verdict": R.verdict(cmp) if len(cmp) else None}


@st.cache_data(show_spinner=False, ttl=600)
def advocacy(token: str, f: Filters) -> dict:
    from greendoor.analytics import advocacy as V

    with engine().connect() as conn:
        acts = V.activities(conn, f)
        return {"trend": V.nps_trend(conn, f), "latest": V.latest_nps_by_account(conn, f),
                "candidates": V.candidates(conn, f), "activities": acts,
                "pipeline": V.pipeline(acts), "referrals": V.referrals(acts, conn, f),
                "advocates": V.advocates_vs_others(conn, f)}


@st.cache_data(show_spinner=False, ttl=3600)
def clusters(token: str, f: Filters) -> dict:
    """Accounts (features, health, lifecycle), their behavioral clustering and the
    persona benchmarks; shared by the segmentation views and the persona migration."""
    import datetime as dt

    from greendoor.analytics import segments as G
    from greendoor.scoring.features import features_as_of

    with engine().connect() as conn:
        acc = G.account_frame(conn, f)
        cl = G.cluster(acc)
        out = {"accounts": acc, "clustering": cl}
        if cl.model is not None:
            then = cl.assign(features_as_of(conn, f.as_of - dt.timedelta(days=365)))
            out["persona_benchmarks"] = G.benchmarks(conn, acc, cl.labels, then, f.as_of)
        return out


@st.cache_data(show_spinner=False, ttl=3600)
def segmentation(token: str, f: Filters, dims: tuple[str, ...]) -> dict:
    """:func:`clusters` plus the rule segments over ``dims`` and their benchmarks."""
    import datetime as dt

    from greendoor.analytics import segments as G

    out = dict(clusters(token, f))
    acc = out["accounts"]
    with engine().connect() as conn:
        rule_now = G.rule_groups(conn, f.as_of, list(dims), list(acc.index))
        rule_then = G.rule_groups(conn, f.as_of - dt.timedelta(days=365), list(dims))
        out["rule_benchmarks"] = G.benchmarks(conn, acc, rule_now, rule_then, f.as_of)
    out["accounts"] = acc.assign(rule_segment=rule_now, persona=out["clustering"].labels)
    return out


@st.cache_data(show_spinner=False, ttl=3600)
def migration(token: str, f: Filters, before, kind: str) -> pd.DataFrame:
    from greendoor.analytics import segments as G

    with engine().connect() as conn:
        if kind == "band":
            return G.band_migration(conn, f, before)
        c = clusters(token, f)
        return G.persona_migration(conn, c["clustering"], c["accounts"], before)


@st.cache_data(show_spinner=False, ttl=3600)
def behavior(token: str, f: Filters) -> dict:
    from greendoor.analytics import behavior as B
    from greendoor.store.rollups import usage_rollups_fresh

    with engine().connect() as conn:
        fresh = usage_rollups_fresh(conn)  # checked once for the three readers
        return {"active": B.active_users(conn, f, rollup=fresh),
                "features": B.feature_adoption(conn, f),
                "cohorts": B.cohort_retention(conn, f, rollup=fresh),
                "anomalies": B.anomalies(conn, f, rollup=fresh),
                "power_users": B.power_users(conn, f)}


@st.cache_data(show_spinner=False, ttl=3600)
def feature_accounts(token: str, f: Filters, feature: str) -> pd.DataFrame:
    from greendoor.analytics import behavior as B

    with engine().connect() as conn:
        return B.feature_accounts(conn, f, feature)


@st.cache_data(show_spinner=False, ttl=3600)
def cohort_accounts(token: str, f: Filters, cohort) -> pd.DataFrame:
    from greendoor.analytics import behavior as B

    with engine().connect() as conn:
        return B.cohort_accounts(conn, f, cohort)


@st.cache_data(show_spinner=False, ttl=60)
def audit(token: str, start, end, actors: tuple, actions: tuple, entity_id: str | None,
          principal: Principal) -> pd.DataFrame:
    from greendoor import audit as AU

    with engine().connect() as conn:
        return AU.entries(conn, start, end, list(actors), list(actions), entity_id,
                          principal=principal)


@st.cache_data(show_spinner=False, ttl=60)
def users(token: str, principal: Principal) -> pd.DataFrame:
    from greendoor import users as U

    with engine().connect() as conn:
        return U.list_users(conn, principal)


@st.cache_data(show_spinner=False, ttl=60)
def audit_facets(token: str, principal: Principal) -> dict:
    from greendoor import audit as AU

    with engine().connect() as conn:
        return AU.facets(conn, principal)
