"""Cached loaders: the only place the app reads the store.

Cache keys are small and hashable: the store URL, a data token that changes
whenever the store's data is replaced (the latest import-log row), and the
global filters. Never DataFrames as arguments (DESIGN.md "Cache at the app layer").
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import inspect
import os
import threading
import time
from collections.abc import Callable, Iterator

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Connection, make_url
from threadpoolctl import ThreadpoolController

from greendoor import access, config, ingest, periods, reports
from greendoor import account360 as A360
from greendoor import actions as A
from greendoor import audit as AU
from greendoor import automation as AUT
from greendoor import experiments as EXP
from greendoor import settings as S
from greendoor import users as U
from greendoor.access import Principal
from greendoor.analytics import advocacy as AD
from greendoor.analytics import alerts as IB
from greendoor.analytics import behavior as BH
from greendoor.analytics import benchmarks as BM
from greendoor.analytics import churn_risk, portfolio_health, this_week
from greendoor.analytics import expansion as EX
from greendoor.analytics import mentions as MN
from greendoor.analytics import model_quality as Q
from greendoor.analytics import onboarding as OBA
from greendoor.analytics import renewals as RN
from greendoor.analytics import segments as SG
from greendoor.analytics import team as TM
from greendoor.forecast import calls as FC
from greendoor.masking import Masker
from greendoor.masking import masker as build_masker
from greendoor.periods import Filters
from greendoor.reports import render
from greendoor.scoring import skill
from greendoor.store import meta, usage_features
from greendoor.store.engine import current_revision, init_store, make_engine
from greendoor.store.rollups import usage_rollups_fresh


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    engine = make_engine(url)
    if current_revision(engine) is None:
        init_store(engine)
    return engine


def engine():
    """The store's engine (one per URL per server process)."""
    return _engine(config.db_url())


#: Per thread: the connection of the script run (:func:`script_run`), if any, and how
#: many loaders are computing (:func:`loader`).
_RUN = threading.local()


@contextlib.contextmanager
def script_run() -> Iterator[None]:
    """Share one store connection among the loaders of a page's script run: opened by the
    first loader that misses its cache (a run served from the caches opens none) and
    closed when the run ends, however it ends (``st.stop``, ``st.rerun``, an error).

    On the embedded store the app otherwise opens the database file once per loader
    (no pool, so that ``greendoor score`` and ``import`` can write between queries;
    :func:`greendoor.store.engine.make_engine`): 17-20 ms to open it at 1,500 accounts,
    and a query on a fresh connection took 47 ms against 20 ms on an open one. A page
    at a new as-of date runs about a dozen loaders. The file is now held for the
    script run instead of for each loader: the CLI's writes wait for the end of the run
    (they retry while the file is locked), as they waited for each query before."""
    _RUN.conn, _RUN.active = None, True
    try:
        yield
    finally:
        conn, _RUN.conn, _RUN.active = _RUN.conn, None, False
        if conn is not None:
            conn.close()


@contextlib.contextmanager
def reading() -> Iterator[Connection]:
    """A connection for a loader's reads: inside :func:`script_run` the run's connection,
    its transaction ended on exit (a write committed meanwhile, by an action of this run
    or another process, is seen by the next loader; what the loader left uncommitted is
    rolled back, as closing its own connection did); elsewhere (the warm-up, a fragment's
    rerun, tests opening a page alone) a connection of its own, closed on exit."""
    if not getattr(_RUN, "active", False):
        with engine().connect() as conn:
            yield conn
        return
    if _RUN.conn is None:
        _RUN.conn = engine().connect()
    conn = _RUN.conn
    try:
        yield conn
    except Exception:  # a broken connection is not handed to the run's next loader
        _RUN.conn = None
        conn.close()
        raise
    if conn.in_transaction():
        conn.rollback()


#: Session-state key of the presentation toggle (app.shell.presentation_toggle).
PRESENT_KEY = "present_toggle"
#: Session-state key of the signed-in principal (app.auth).
PRINCIPAL_KEY = "principal"


def masking() -> bool:
    """Whether the loaders mask customer names: presentation mode is on, or the
    signed-in role masks them (viewer)."""
    p = st.session_state.get(PRINCIPAL_KEY)
    return bool(st.session_state.get(PRESENT_KEY)) or (isinstance(p, Principal) and p.masks_pii)


@st.cache_resource(show_spinner=False, max_entries=4)
def masker(token: str) -> Masker:
    """The :class:`~greendoor.masking.Masker` of the store's names at this data version."""
    with reading() as conn:
        return build_masker(conn)


#: Cached results kept per loader (the least recently used go first): each as-of date,
#: filter or data version visited is one entry, so the server's memory stays bounded
#: however many dates a meeting walks through (it grew about 13 MiB per date, issue 23).
MAX_ENTRIES = 32


#: Every loader's cached function (unmasked), by name, in definition order: what
#: :func:`warm` fills at server start (app/serve.py).
LOADERS: dict[str, Callable] = {}


@functools.cache
def _pools() -> ThreadpoolController:
    """The native thread pools loaded in this process (OpenMP, BLAS): made once, as
    inspecting the loaded libraries costs about 5 ms and limiting through the controller
    0.03 ms."""
    return ThreadpoolController()


@contextlib.contextmanager
def capped_threads() -> Iterator[None]:
    """Native thread pools (scikit-learn's OpenMP, BLAS) capped at
    :func:`greendoor.config.threads` while a loader computes, as ``greendoor score``
    caps them: k-means on the Segmentation page took 3.1 s with two OpenMP threads
    while one other process used a core, against 0.2-0.4 s with one (issue 23)."""
    with _pools().limit(limits=config.threads()):
        yield


def loader(ttl: int = 3600, spinner: str | bool = False):
    """``st.cache_data`` for a loader whose first argument is the data token (at most
    :data:`MAX_ENTRIES` results each), and the one place names are masked: when
    :func:`masking`, the cached result is returned through :meth:`Masker.apply` (account
    and contact names, e-mails, and free text containing them), so no page can forget
    it. A loader called by another while that one computes returns its result unmasked
    (the caller's result is cached for every viewer and masked when returned; before,
    a presenter's visit cached masked names for the next viewer). ``spinner``: words
    shown while a cold call runs."""
    def wrap(fn):
        cached = st.cache_data(show_spinner=spinner, ttl=ttl, max_entries=MAX_ENTRIES)(fn)
        LOADERS[fn.__name__] = cached

        @functools.wraps(fn)
        def call(token, *args, **kwargs):
            outer = getattr(_RUN, "loading", 0)  # > 0: called while a loader computes
            _RUN.loading = outer + 1
            try:
                if outer:
                    out = cached(token, *args, **kwargs)
                else:
                    with capped_threads():
                        out = cached(token, *args, **kwargs)
            finally:
                _RUN.loading = outer
            # a loader reading another (segmentation -> clusters) gets it unmasked: what
            # it computes is cached for every viewer, and is masked once on the way out
            return masker(token).apply(out) if masking() and not outer else out

        call.clear = cached.clear
        return call
    return wrap


def warm(token: str, as_of: dt.date, before: Callable[[], None] = lambda: None
         ) -> list[tuple[str, float]]:
    """Fill the cache of every loader whose only arguments are the data token and the
    whole portfolio's filters (``f``) or as-of date (``as_of``) at ``as_of``: what a
    first visit to any page at the default date would compute (a loader taking anything
    else, a default argument included, is left for its page: the cache keys on the
    arguments as passed). Unmasked results, as every loader caches them. ``before`` is
    called before each loader (the warm-up waits there while visitors run). Returns
    (loader, seconds) in order; a loader that fails is skipped (its page shows the error
    when visited)."""
    args = {"f": Filters(as_of=as_of), "as_of": as_of}
    done = []
    for name, cached in LOADERS.items():
        params = list(inspect.signature(cached).parameters)[1:]
        if len(params) > 1 or not set(params) <= args.keys():
            continue
        before()
        start = time.perf_counter()
        try:
            with capped_threads():
                cached(token, *(args[p] for p in params))
        except Exception:  # noqa: BLE001 - a warm-up never stops the server
            continue
        done.append((name, time.perf_counter() - start))
    return done


def data_token() -> str:
    """Changes whenever data is loaded, rescored or the settings change: keys every
    cached loader below (actions clear the caches themselves).

    On the embedded store the token is read again only when the database file or its
    write-ahead log changed (:func:`store_files_signature`; DuckDB writes one of them at
    every commit, this process's or another's): opening the file took 30-50 ms per call,
    a fifth of a warm rerun of Portfolio health (issue 23)."""
    url = config.db_url()
    signature = store_files_signature(url)  # taken before reading: a later write re-reads
    memo = _TOKEN_MEMO.get(url)
    if signature is not None and memo is not None and memo[0] == signature:
        return memo[1]
    with reading() as conn:
        last = meta.data_version(conn)
    token = f"{url}|{last[0]}|{last[1]}|v{last[2]}"
    _TOKEN_MEMO[url] = (signature, token)
    return token


#: url -> (signature of the store's files, data token read under it)
_TOKEN_MEMO: dict[str, tuple[tuple, str]] = {}


def store_files_signature(url: str) -> tuple | None:
    """(modification time in ns, size) of an embedded DuckDB store's file and of its
    write-ahead log (``None`` for a file that does not exist), or ``None`` for any other
    store (a server database: its token is read every time, over a pooled connection)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "duckdb" or parsed.database in (None, "", ":memory:"):
        return None
    out = []
    for path in (parsed.database, f"{parsed.database}.wal"):
        try:
            stat = os.stat(path)
            out.append((stat.st_mtime_ns, stat.st_size))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


@loader(ttl=3600)
def store_status(token: str) -> dict:
    with reading() as conn:
        return {
            "accounts": portfolio_health.account_count(conn),
            "dataset": meta.get(conn, "dataset"),
            "demo_params": meta.get(conn, "demo_params"),
            "default_as_of": periods.default_as_of(conn),
            "options": periods.filter_options(conn),
            "counts": portfolio_health.table_counts(conn),
            "usage_in_warehouse": _pushed_last_day(conn),
        }


def _pushed_last_day(conn) -> str | None:
    """The last usage day synced when the usage stays in the warehouse, else None."""
    push = usage_features.pushed(conn)
    return None if push is None else f"{push.last_day:%d %b %Y}"


@loader(ttl=3600)
def kpis(token: str, f: Filters) -> dict:
    with reading() as conn:
        return portfolio_health.kpis(conn, f)


@loader(ttl=3600, spinner="Reading the alerts…")
def alert_inbox(token: str, f: Filters, today: dt.date) -> pd.DataFrame:
    with reading() as conn:
        return IB.inbox(conn, f, today)


@loader(ttl=3600, spinner="Measuring each rule against what happened next…")
def rule_quality(token: str, f: Filters) -> pd.DataFrame:
    """:func:`greendoor.analytics.alerts.rule_quality` at ``f``, each measured date's
    outcomes from :func:`rule_outcomes` (so a new as-of date computes only the dates no
    earlier one measured)."""
    horizon = settings(token)[1]["churn_horizon_days"]
    with reading() as conn:
        return IB.rule_quality(conn, f, horizon_days=horizon, outcomes=lambda d: rule_outcomes(
            token, d, f.segment, f.owner, horizon))


@loader(ttl=3600)
def rule_outcomes(token: str, on: dt.date, segment: str | None, owner: str | None,
                  horizon_days: int) -> dict:
    """:func:`greendoor.analytics.alerts.rule_outcomes` of the scoring of ``on`` within
    the filters: the same at every as-of date whose rule record measures ``on``
    (0.1 s a date at 1,500 accounts, 10-12 dates a record)."""
    with reading() as conn:
        return IB.rule_outcomes(conn, on, horizon_days,
                                IB.alert_scope(conn, on, segment, owner))


@loader(ttl=3600, spinner="Reading why customers left…")
def churn_reasons(token: str, f: Filters) -> dict:
    lead = settings(token)[1]["churn_reason_lead_days"]
    with reading() as conn:
        out = churn_risk.churn_reasons(conn, f)
        out["precursors"] = churn_risk.reason_precursors(conn, out["events"], lead)
        out["lead_days"] = lead
        return out


@loader(ttl=3600, spinner="Computing the retention bridge…")
def retention_bridge(token: str, f: Filters, days: int = 365) -> dict:
    with reading() as conn:
        return portfolio_health.retention_bridge(conn, f, days)


@loader(ttl=3600)
def benchmark_table(token: str) -> pd.DataFrame:
    """The published benchmarks (:func:`greendoor.analytics.benchmarks.table`)."""
    with reading() as conn:
        return BM.table(conn)


@loader(ttl=3600, spinner="Computing the ARR trend…")
def arr_trend(token: str, f: Filters) -> pd.DataFrame:
    with reading() as conn:
        return portfolio_health.arr_trend(conn, f)


@loader(ttl=3600)
def by_segment(token: str, f: Filters) -> pd.DataFrame:
    with reading() as conn:
        return portfolio_health.by_segment(conn, f)


@loader(ttl=3600, spinner="Loading the accounts…")
def account_table(token: str, f: Filters) -> pd.DataFrame:
    with reading() as conn:
        return portfolio_health.account_table(conn, f)


@loader(ttl=3600)
def freshness(token: str) -> pd.DataFrame:
    return ingest.freshness(engine())


@loader(ttl=3600)
def import_history(token: str) -> pd.DataFrame:
    with reading() as conn:
        return ingest.import_history(conn)


@loader(ttl=3600)
def data_quality(token: str, as_of) -> list[dict]:
    with reading() as conn:
        return portfolio_health.data_quality(conn, as_of)


@loader(ttl=3600, spinner="Loading the account…")
def account360(token: str, account_id: str, as_of, principal: Principal):
    """Raises :class:`~greendoor.access.AccessDenied` outside the principal's scope."""
    with reading() as conn:
        return A360.load(conn, account_id, as_of, principal)


@loader(ttl=3600)
def account_names(token: str) -> dict[str, str]:
    """Every account's name (for the pseudonyms of presentation mode; pages list
    accounts through :func:`visible_accounts`)."""
    with reading() as conn:
        return portfolio_health.account_names(conn)


@loader(ttl=3600)
def visible_accounts(token: str, principal: Principal) -> dict[str, str]:
    with reading() as conn:
        return access.visible_accounts(conn, principal)


@loader(ttl=3600)
def scores(token: str, f: Filters) -> pd.DataFrame:
    with reading() as conn:
        return portfolio_health.scores(conn, f)


@loader(ttl=3600)
def health_kpis(token: str, f: Filters) -> dict:
    with reading() as conn:
        return portfolio_health.health_kpis(conn, f)


@loader(ttl=3600, spinner="Finding this week's movers…")
def movers(token: str, f: Filters) -> pd.DataFrame:
    with reading() as conn:
        return portfolio_health.movers(conn, f)


@loader(ttl=600)
def actions_list(token: str, owner: str | None, status: str | None,
                 principal: Principal) -> pd.DataFrame:
    with reading() as conn:
        return A.list_actions(conn, owner=owner, status=status, principal=principal)


@loader(ttl=600)
def playbook_runs(token: str, principal: Principal) -> pd.DataFrame:
    with reading() as conn:
        return A.playbook_runs(conn, principal=principal)


@loader(ttl=600)
def playbook_effectiveness(token: str) -> pd.DataFrame:
    with reading() as conn:
        return A.playbook_effectiveness(conn)


@loader(ttl=600, spinner="Comparing this week with last…")
def agenda(token: str, f: Filters, since) -> pd.DataFrame:
    s = settings(token)[1]
    with reading() as conn:
        return this_week.agenda(conn, f, since, drop_points=s["this_week_health_drop_points"],
                         windows=tuple(s["this_week_renewal_windows_days"]),
                         expansion_min=s["this_week_expansion_probability"])


@loader(ttl=600, spinner="Ranking the accounts at risk…")
def at_risk_queue(token: str, f: Filters) -> pd.DataFrame:
    s = settings(token)[1]
    with reading() as conn:
        return churn_risk.at_risk_queue(conn, f, s)


@loader(ttl=600)
def gates(token: str):
    """What the latest backtest lets drive the numbers (:class:`skill.Gates`)."""
    with reading() as conn:
        return skill.Gates(Q.latest(conn))


@loader(ttl=600, spinner="Reading the backtests…")
def model_quality(token: str) -> dict:
    with reading() as conn:
        ev = Q.latest(conn)
        renewal = Q.renewal_accuracy(conn)
        return {"evaluation": ev, "forecast": Q.forecast_backtests(conn), "renewal": renewal,
                "success": Q.success_metrics(ev, renewal)}


# --------------------------------------------------------------------------- #
# analytics pages
# --------------------------------------------------------------------------- #
@loader(ttl=3600)
def settings(token: str) -> tuple[int, dict]:
    with reading() as conn:
        return S.current(conn)


@loader(ttl=3600)
def provenance(token: str, as_of) -> dict:
    with reading() as conn:
        return {"scored": S.scored_version(conn, as_of), "current": S.current(conn)[0],
                "forecast_as_of": RN.forecast_as_of(conn)}


@loader(ttl=3600)
def settings_history(token: str) -> pd.DataFrame:
    with reading() as conn:
        return S.history(conn)


@loader(ttl=600, spinner="Reading the pipeline and signals…")
def expansion(token: str, f: Filters) -> dict:
    with reading() as conn:
        pipe = EX.open_pipeline(conn, f)
        return {"pipeline": pipe, "stages": EX.by_stage(pipe),
                "signals": EX.signals(conn, f, S.current(conn)[1]),
                "propensity": EX.propensity_ranking(conn, f)}


@loader(ttl=600, spinner="Finding the renewals due…")
def renewals(token: str, f: Filters) -> dict:
    with reading() as conn:
        settings = S.current(conn)[1]
        windows = settings["renewal_windows_days"]
        due = RN.due(conn, f, windows)
        # each account's realized value and ROI from its success plan (issue 20)
        value = OBA.value_book(conn, f, settings, interval=False)["accounts"]
        if len(value):
            due = due.merge(value.drop_duplicates("account_id")[["account_id", "benefit", "roi"]]
                            .rename(columns={"benefit": "value_realized", "roi": "realized_roi"}),
                            on="account_id", how="left")
        return {"due": due, "windows": RN.window_summary(due, windows), "window_days": windows,
                "quarters": RN.periods(due, "quarter"), "months": RN.periods(due, "month")}


@loader(ttl=600, spinner="Reading the forecast calls…")
def forecast_calls(token: str, f: Filters) -> dict:
    """The call sheet and this quarter's rollup (:func:`greendoor.analytics.renewals.
    forecast_calls`)."""
    with reading() as conn:
        return RN.forecast_calls(conn, f, skill.Gates(Q.latest(conn)).uses("renewal"))


@loader(ttl=3600)
def call_accuracy(token: str, as_of) -> dict:
    """:func:`greendoor.analytics.renewals.call_accuracy` at ``as_of``: read from the
    result of its quarter (:func:`greendoor.forecast.calls.accuracy_date`), so a new
    as-of date in the same quarter computes nothing."""
    return quarter_call_accuracy(token, FC.accuracy_date(as_of))


@loader(ttl=3600, spinner="Measuring past forecasts week by week…")
def quarter_call_accuracy(token: str, quarter_from: dt.date) -> dict:
    """:func:`call_accuracy` computed at the first date of its quarter (the warm-up
    fills it through :func:`call_accuracy`)."""
    with reading() as conn:
        return RN.call_accuracy(conn, quarter_from)


@loader(ttl=600, spinner="Weighing each CSM's book…")
def team(token: str, f: Filters) -> dict:
    """The team view (:mod:`greendoor.analytics.team`): ``accounts`` (load per account),
    ``summary`` (per CSM) and ``suggestions`` (reassignments)."""
    cap = settings(token)[1]["capacity"]
    with reading() as conn:
        load = TM.account_load(conn, f, cap)
        summary = TM.team(load, TM.open_work(conn, f), cap)
    return {"accounts": load, "summary": summary,
            "suggestions": TM.suggestions(load, summary, cap)}


@loader(ttl=600)
def automation_rules(token: str) -> pd.DataFrame:
    """The automation rules as a table: ``rule_id, name, conditions, action, period_days,
    enabled, version`` (conditions and action in words)."""
    with reading() as conn:
        rows = AUT.rules(conn)
    return pd.DataFrame([{
        "rule_id": r.rule_id, "name": r.name,
        "conditions": " and ".join(f"{c['field']} {c['op']} {c['value']}" for c in r.conditions),
        "action": _action_words(r.action),
        "period_days": r.period_days, "enabled": r.enabled, "version": r.version}
        for r in rows], columns=["rule_id", "name", "conditions", "action", "period_days",
                                 "enabled", "version"])


@loader(ttl=600)
def experiments(token: str) -> pd.DataFrame:
    """:func:`greendoor.experiments.listing`."""
    with reading() as conn:
        return EXP.listing(conn)


@loader(ttl=600, spinner="Measuring the experiment…")
def experiment_results(token: str, experiment_id: str, as_of) -> dict:
    """:func:`greendoor.experiments.results` as known at ``as_of``."""
    with reading() as conn:
        return EXP.results(conn, experiment_id, as_of,
                           S.current(conn)[1]["experiments"]["bootstrap_resamples"])


def experiment_plan(spec: dict, start) -> dict:
    """:func:`greendoor.experiments.plan` (not cached: on request)."""
    with reading() as conn:
        return EXP.plan(conn, spec, S.current(conn)[1]["experiments"], start)


def threshold_preview(current: dict, proposed: dict, segment: str, as_of) -> pd.DataFrame:
    """:func:`greendoor.analytics.alerts.threshold_preview` (not cached: run on request)."""
    with reading() as conn:
        return IB.threshold_preview(conn, current, proposed, segment, as_of)


def _action_words(action: dict) -> str:
    if action["type"] == "task":
        return f"task: {action.get('title')} (due in {action.get('due_days')} days)"
    if action["type"] == "alert":
        return f"{action.get('severity')} alert: {action.get('title')}"
    return f"playbook: {action.get('playbook')}"


def automation_rule(rule_id: str) -> dict:
    """One stored rule as the dict :func:`greendoor.automation.save` takes."""
    with reading() as conn:
        r = next(x for x in AUT.rules(conn) if x.rule_id == rule_id)
    return {"rule_id": r.rule_id, "name": r.name, "conditions": list(r.conditions),
            "action": dict(r.action), "period_days": r.period_days, "enabled": r.enabled}


def automation_preview(rule: dict, as_of) -> dict:
    """:func:`greendoor.automation.preview` (not cached: the rule is being edited)."""
    with reading() as conn:
        return AUT.preview(conn, rule, as_of)


@loader(ttl=3600, spinner="Reading the forecast…")
def top_down(token: str, series: str, segment: str) -> dict:
    with reading() as conn:
        cmp = RN.model_comparison(conn, series, segment)
        return {"series": RN.top_down(conn, series, segment), "comparison": cmp,
                "verdict": RN.verdict(cmp) if len(cmp) else None}


@loader(ttl=600, spinner="Reading surveys and advocacy…")
def advocacy(token: str, f: Filters) -> dict:
    with reading() as conn:
        acts = AD.activities(conn, f)
        adv = S.current(conn)[1]["advocacy"]
        return {"trend": AD.nps_trend(conn, f), "latest": AD.latest_nps_by_account(conn, f),
                "candidates": AD.candidates(conn, f), "activities": acts,
                "pipeline": AD.pipeline(acts), "referrals": AD.referrals(acts, conn, f),
                "advocates": AD.advocates_vs_others(conn, f),
                "ladder": (lad := AD.ladder(conn, f, adv["max_asks_per_quarter"])),
                "evangelism": AD.evangelism(lad, conn, f),
                "assets": AD.assets(conn, f),
                "roi": AD.roi(conn, f, adv["reference_influence_days"]),
                "max_asks": adv["max_asks_per_quarter"]}


@loader(ttl=3600, spinner="Reading the mentions…")
def mentions(token: str, f: Filters) -> dict:
    """Community and social mentions of the year before the as-of date
    (:mod:`greendoor.analytics.mentions`): the frame, its months, influencers and the
    share of voice over the last 90 days."""
    with reading() as conn:
        settings = S.current(conn)[1]
        df = MN.mentions(conn, f, settings)
    recent = df[pd.to_datetime(df["occurred_at"]) >= pd.Timestamp(f.as_of - dt.timedelta(days=90))]
    cfg = settings["mentions"]
    return {"mentions": df, "recent": recent, "monthly": MN.monthly(df),
            "influencers": MN.influencers(df), "share": MN.share_of_voice(
                recent["text"], cfg["brand_keywords"], cfg["competitors"])}


@loader(ttl=3600, spinner="Clustering accounts by behavior…")
def clusters(token: str, f: Filters) -> dict:
    """Accounts (features, health, lifecycle), their behavioral clustering and the
    persona benchmarks; shared by the segmentation views and the persona migration. The
    clustering comes from :func:`clustering`, once per score snapshot shown."""
    def cluster(accounts: pd.DataFrame) -> SG.Clustering:
        on = pd.Timestamp(accounts["as_of"].iloc[0]).date() if len(accounts) else None
        return clustering(token, on, f.segment, f.owner, accounts)

    with reading() as conn:
        return SG.personas(conn, f, cluster=cluster)


@loader(ttl=3600)
def clustering(token: str, on: dt.date | None, segment: str | None, owner: str | None,
               _accounts: pd.DataFrame) -> SG.Clustering:
    """:func:`greendoor.analytics.segments.cluster` of ``_accounts``: the features as of
    the score snapshot ``on`` of the accounts within ``segment`` and ``owner``
    (:func:`greendoor.analytics.segments.account_frame`), which every as-of date showing
    that snapshot shares, so they key the cache and the frame is not hashed (k-means with
    five silhouettes: 0.15-0.27 s at 1,500 accounts, once per week visited on a store
    scored weekly)."""
    return SG.cluster(_accounts)


@loader(ttl=3600, spinner="Comparing segments…")
def segmentation(token: str, f: Filters, dims: tuple[str, ...]) -> dict:
    """:func:`clusters` plus the rule segments over ``dims`` and their benchmarks."""
    out = dict(clusters(token, f))
    acc = out["accounts"]
    with reading() as conn:
        rule_now, out["rule_benchmarks"] = SG.rule_segments(conn, f, list(dims), acc)
    out["accounts"] = acc.assign(rule_segment=rule_now, persona=out["clustering"].labels)
    return out


@loader(ttl=3600)
def revenue_cohorts(token: str, f: Filters) -> pd.DataFrame:
    """:func:`greendoor.analytics.segments.revenue_cohorts` at ``f``: read from the
    result of its month (:func:`month_revenue_cohorts`), so a new as-of date in a month
    already shown computes nothing."""
    return month_revenue_cohorts(token, dataclasses.replace(f, as_of=f.as_of.replace(day=1)))


@loader(ttl=3600, spinner="Following each signup cohort's ARR…")
def month_revenue_cohorts(token: str, month: Filters) -> pd.DataFrame:
    """:func:`greendoor.analytics.segments.revenue_cohorts` at ``month`` (filters at the
    first day of a month): it reads the ARR at month starts only, so it is the same at
    every as-of date of the month (0.1-0.3 s at 1,500 accounts). The warm-up fills it
    through :func:`revenue_cohorts`."""
    with reading() as conn:
        return SG.revenue_cohorts(conn, month)


@loader(ttl=3600, spinner="Computing how long customers stay…")
def survival(token: str, f: Filters) -> pd.DataFrame:
    with reading() as conn:
        return SG.survival_curves(SG.account_lifetimes(conn, f))


@loader(ttl=3600, spinner="Following accounts between groups…")
def migration(token: str, f: Filters, before, kind: str) -> pd.DataFrame:
    with reading() as conn:
        if kind == "band":
            return SG.band_migration(conn, f, before)
        c = clusters(token, f)
        return SG.persona_migration(conn, c["clustering"], c["accounts"], before)


@loader(ttl=3600)
def behavior_from_aggregates(token: str, f: Filters) -> pd.DataFrame:
    """Weekly active users from the usage aggregates (usage kept in the warehouse)."""
    with reading() as conn:
        return BH.active_users_from_aggregates(conn, f)


@loader(ttl=3600, spinner="Reading product usage…")
def behavior(token: str, f: Filters) -> dict:
    b = settings(token)[1]["behavior"]
    with reading() as conn:
        fresh = usage_rollups_fresh(conn)  # checked once for the three readers
        return {"active": BH.active_users(conn, f, rollup=fresh),
                "features": BH.feature_adoption(conn, f, gap=b["adoption_gap"]),
                "cohorts": BH.cohort_retention(conn, f, rollup=fresh),
                "anomalies": BH.anomalies(conn, f, rollup=fresh, drop=b["anomaly_drop"]),
                "power_users": BH.power_users(conn, f)}


@loader(ttl=3600)
def feature_accounts(token: str, f: Filters, feature: str) -> pd.DataFrame:
    with reading() as conn:
        return BH.feature_accounts(conn, f, feature)


@loader(ttl=3600)
def cohort_accounts(token: str, f: Filters, cohort) -> pd.DataFrame:
    with reading() as conn:
        return BH.cohort_accounts(conn, f, cohort)


@loader(ttl=60, spinner="Reading the audit log…")
def audit(token: str, start, end, actors: tuple, actions: tuple, entity_id: str | None,
          principal: Principal) -> pd.DataFrame:
    with reading() as conn:
        return AU.entries(conn, start, end, list(actors), list(actions), entity_id,
                          principal=principal)


@loader(ttl=60)
def users(token: str, principal: Principal) -> pd.DataFrame:
    with reading() as conn:
        return U.list_users(conn, principal)


@loader(ttl=60)
def audit_facets(token: str, principal: Principal) -> dict:
    with reading() as conn:
        return AU.facets(conn, principal)


def report_file(kind: str, **args):
    """A callable for ``st.download_button(data=...)``: the report is made only when the
    user clicks (Streamlit runs it on its own thread, so nothing here touches the
    session). ``kind`` ``"weekly"`` (``f``, ``fmt``, ``since``, ``mask``) or ``"qbr"``
    (``account_id``, ``as_of``, ``mask``, ``principal``): :func:`greendoor.reports.
    weekly_report` and :func:`greendoor.reports.qbr_report`."""
    make = {"weekly": reports.weekly_report, "qbr": reports.qbr_report}[kind]

    def build() -> bytes:
        with reading() as conn:
            return make(conn, **args)
    return build


def reports_available() -> str | None:
    """``None`` when the reports' charts and PDF can be made here, else why not."""
    try:
        render.browser()
    except render.ReportError as exc:
        return str(exc)
    return None


@loader(ttl=3600, spinner="Reading the success plans…")
def onboarding(token: str, f: Filters) -> dict:
    """The Onboarding page (:func:`greendoor.analytics.onboarding.onboarding_book`)."""
    with reading() as conn:
        return OBA.onboarding_book(conn, f, S.current(conn)[1])


@loader(ttl=3600)
def plan_detail(token: str, plan_id: str, as_of: dt.date) -> dict:
    """One success plan at a date, and its value trajectory
    (:func:`greendoor.analytics.onboarding.plan_detail`, ``trajectory``)."""
    with reading() as conn:
        detail = OBA.plan_detail(conn, plan_id, as_of)
    if detail:
        detail["trajectory"] = OBA.trajectory(detail, as_of)
    return detail


@loader(ttl=3600, spinner="Measuring realized value…")
def value(token: str, f: Filters) -> dict:
    """The Value realization page (:func:`greendoor.analytics.onboarding.value_book`)."""
    with reading() as conn:
        return OBA.value_book(conn, f, S.current(conn)[1])


@loader(ttl=3600)
def account_value(token: str, account_id: str, as_of: dt.date) -> dict | None:
    """Account 360's success plan and value line
    (:func:`greendoor.analytics.onboarding.account_value`)."""
    with reading() as conn:
        return OBA.account_value(conn, account_id, as_of, S.current(conn)[1])


@loader(ttl=3600)
def open_deals(token: str, f: Filters) -> pd.DataFrame:
    """Open new-business and expansion deals of the filtered book (to close as won)."""
    with reading() as conn:
        return OBA.open_deals(conn, f)


def plan_file(plan_id: str, as_of: dt.date, fmt: str) -> bytes:
    """A success plan as HTML or PDF bytes, masked like the page
    (:func:`greendoor.reports.plan_report`)."""
    with reading() as conn:
        return reports.plan_report(conn, plan_id, as_of, fmt, mask=masking())
