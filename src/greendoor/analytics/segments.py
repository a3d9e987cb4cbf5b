"""Segmentation (SPEC.md "Pages" 6 and "Predictive models": Segments).

* **Rule segments**: tier (segment) x industry x lifecycle stage, where lifecycle
  comes from tenure: onboarding (< 90 days), adopting (90-364 days), established
  (1 year or more).
* **Behavioral clusters**: :data:`CLUSTER_FEATURES` (point-in-time features,
  median-imputed, standardized) clustered with KMeans for k = 2..6; k is the one
  with the highest silhouette score (stated on the page). Personas are named from
  each centroid's two most distinctive features (largest |z|).
* **Benchmarks** per segment: accounts, ARR, mean health, trailing-12-month logo
  churn, GRR and NRR (SPEC.md definitions), NPS of the last 12 months, and adoption
  (mean seat utilization and feature breadth).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy.engine import Connection
from statsmodels.duration.survfunc import SurvfuncRight

from greendoor import state
from greendoor.analytics.portfolio_health import scores, snapshot_date
from greendoor.metrics import core
from greendoor.metrics import sql as msql
from greendoor.periods import Filters
from greendoor.scoring import feature_snapshots as FS
from greendoor.scoring.features import behavior_features_as_of
from greendoor.store import schema

LIFECYCLE = ((90, "onboarding"), (365, "adopting"), (10**9, "established"))

#: Behavioral inputs of the clusters, and the words a persona uses for a high or
#: low value of each.
CLUSTER_FEATURES: dict[str, tuple[str, str]] = {
    "active_days_30d": ("daily users", "occasional users"),
    "seat_utilization": ("seats well used", "idle seats"),
    "feature_breadth_30d": ("broad feature use", "narrow feature use"),
    "usage_trend": ("growing usage", "fading usage"),
    "session_minutes_30d": ("long sessions", "short sessions"),
    "tickets_90d": ("support-heavy", "low-touch support"),
    "error_rate_30d": ("error-prone", "few errors"),
}
K_RANGE = range(2, 7)
MIN_ACCOUNTS = 30


def lifecycle(tenure_days: float) -> str:
    """Lifecycle stage from days since signup (see the module docstring)."""
    if tenure_days is None or np.isnan(tenure_days):
        return "unknown"
    return next(name for limit, name in LIFECYCLE if tenure_days < limit)


@dataclasses.dataclass
class Clustering:
    """Result of :func:`cluster`: ``labels`` (account_id -> cluster), ``personas``
    (cluster -> name), ``centroids`` (z-scores, cluster x feature), ``silhouette``
    (k -> score), ``k``, the fitted ``model`` (imputer + scaler + KMeans) and
    ``reason`` when the data cannot support clusters (then ``labels`` is empty)."""

    labels: pd.Series
    personas: dict[int, str]
    centroids: pd.DataFrame
    silhouette: dict[int, float]
    k: int
    model: object = None
    reason: str | None = None

    def assign(self, features: pd.DataFrame) -> pd.Series:
        """Persona of each account in ``features`` under this clustering."""
        X = features[list(CLUSTER_FEATURES)].astype(float)
        lab = self.model.predict(X)
        return pd.Series([self.personas[i] for i in lab], index=features.index)


def cluster(features: pd.DataFrame, seed: int = 0) -> Clustering:
    """Cluster accounts on :data:`CLUSTER_FEATURES` (rows: accounts, index
    account_id). k maximizes the silhouette score (on up to 3,000 accounts)."""
    empty = Clustering(pd.Series(dtype=object), {}, pd.DataFrame(), {}, 0)
    X = features[list(CLUSTER_FEATURES)].astype(float)
    usable = [c for c in X.columns if X[c].notna().mean() >= 0.5 and X[c].nunique() > 1]
    if len(X) < MIN_ACCOUNTS:
        empty.reason = f"{len(X)} accounts; clusters need at least {MIN_ACCOUNTS}"
        return empty
    if len(usable) < 2:
        empty.reason = ("fewer than 2 behavioral measures have data (usage, seats, tickets): "
                        "import product usage to cluster accounts")
        return empty
    X = X[usable]
    prep = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    Z = prep.fit_transform(X)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(Z), size=min(3000, len(Z)), replace=False)
    sil, fits = {}, {}
    for k in K_RANGE:
        if k >= len(Z):
            break
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(Z)
        fits[k] = km
        sil[k] = float(silhouette_score(Z[sample], km.labels_[sample]))
    k = max(sil, key=sil.get)
    km = fits[k]
    cent = pd.DataFrame(km.cluster_centers_, columns=usable)
    personas = {i: _persona(cent.loc[i]) for i in cent.index}
    # keep names unique
    seen: dict[str, int] = {}
    for i, name in personas.items():
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            personas[i] = f"{name} ({seen[name]})"
    model = _Model(prep, km, usable)
    labels = pd.Series([personas[i] for i in km.labels_], index=features.index)
    return Clustering(labels, personas, cent, sil, k, model)


class _Model:
    def __init__(self, prep, km, cols):
        self.prep, self.km, self.cols = prep, km, cols

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.km.predict(self.prep.transform(X[self.cols]))


def _persona(centroid: pd.Series) -> str:
    top = centroid.abs().sort_values(ascending=False).index[:2]
    words = [CLUSTER_FEATURES[c][0 if centroid[c] > 0 else 1] for c in top]
    return (words[0][0].upper() + words[0][1:]) + ", " + words[1]


def account_frame(conn: Connection, f: Filters) -> pd.DataFrame:
    """Point-in-time features (:func:`features_as_of` at the latest score snapshot
    on or before the as-of date, as its scoring run stored them
    (:mod:`greendoor.scoring.feature_snapshots`), else the as-of date) of the filtered accounts,
    joined with their name, segment, industry, owner, health and band, plus
    ``lifecycle``. Index: account_id."""
    sc = scores(conn, f)
    d = pd.Timestamp(sc["as_of"].iloc[0]).date() if not sc.empty else f.as_of
    feats = FS.features_known(conn, d)[1]
    a = schema.accounts
    acc = pd.read_sql(sa.select(a.c.account_id, a.c.name, a.c.segment, a.c.industry,
                                a.c.csm_owner), conn).set_index("account_id")
    df = feats.join(acc[[c for c in acc.columns if c not in feats.columns]], how="left")
    if f.segment:
        df = df[df["segment"] == f.segment]
    if f.owner:
        df = df[df["csm_owner"] == f.owner]
    if not sc.empty:
        df = df.join(sc.set_index("account_id")[["health_score", "band"]], how="left")
    else:
        df["health_score"], df["band"] = np.nan, None
    df["lifecycle"] = df["tenure_days"].map(lifecycle)
    df["segment"] = df["segment"].fillna("unknown")
    df["industry"] = df["industry"].fillna("unknown")
    return df


def rule_groups(conn: Connection, on: dt.date, dims: list[str],
                ids: list[str] | None = None, segments: pd.Series | None = None) -> pd.Series:
    """Rule-segment label of every account as it stood on ``on``: the values of
    ``dims`` (any of ``segment``, ``industry``, ``lifecycle``; lifecycle from the
    tenure on that date, segment as known then, or from ``segments`` (account_id ->
    segment) when given) joined with " · ". Index account_id."""
    a = schema.accounts
    q = sa.select(a.c.account_id, a.c.industry, a.c.signup_date)
    if ids is not None:
        q = q.where(a.c.account_id.in_(ids))
    df = pd.read_sql(q, conn).set_index("account_id")
    seg = segments if segments is not None else state.segments_at(conn, on)
    df["segment"] = df.index.map(seg).fillna("unknown")
    df["industry"] = df["industry"].fillna("unknown")
    tenure = (pd.Timestamp(on) - pd.to_datetime(df["signup_date"])).dt.days.astype(float)
    df["lifecycle"] = tenure.map(lifecycle)
    out = df[dims[0]].astype(str)
    for dim in dims[1:]:  # (column-wise: a row-wise join took 0.1 s per 1,500 accounts)
        out = out + " · " + df[dim].astype(str)
    return out


def benchmarks(conn: Connection, accounts: pd.DataFrame, group_now: pd.Series,
               group_then: pd.Series, as_of: dt.date) -> pd.DataFrame:
    """Benchmarks per group, one row per ``group``.

    ``accounts`` (from :func:`account_frame`) with ``group_now`` (account_id ->
    group today) give ``accounts, arr, health`` (mean), ``nps`` (points, answers of
    the last 12 months), ``seat_utilization`` and ``feature_breadth`` (means).
    Retention looks back, so it groups the accounts that had ARR a year earlier by
    what they were then (``group_then``, account_id -> group a year ago) and gives
    ``accounts_then, logo_churn, grr, nrr`` (SPEC.md definitions) - grouping
    today's survivors would show no churn at all.
    """
    start = as_of - dt.timedelta(days=365)
    st = msql.arr_as_of(conn, start).set_index("account_id")["arr"]
    en = msql.arr_as_of(conn, as_of).set_index("account_id")["arr"]
    r = schema.survey_responses
    nps = pd.read_sql(sa.select(r.c.account_id, r.c.score).where(
        r.c.survey == "nps", r.c.responded_at >= dt.datetime.combine(start, dt.time()),
        r.c.responded_at < dt.datetime.combine(as_of, dt.time())), conn)
    then = group_then[group_then.index.isin(st.index)]
    # each account's group by look-up (Series.isin on Arrow strings costs per call)
    now = group_now.reindex(accounts.index)
    nps_group = nps["account_id"].map(now)
    rows = []
    for key in sorted(set(group_now.dropna()) | set(then.dropna())):
        g = accounts[(now == key).to_numpy()]
        ids = list(then[then == key].index)
        answers = nps.loc[(nps_group == key).to_numpy(), "score"]
        rows.append({"group": key, "accounts": len(g), "arr": float(g["arr"].sum()),
                     "health": float(g["health_score"].mean()) if len(g) else np.nan,
                     "accounts_then": len(ids), **core.cohort_retention(st, en, ids),
                     "nps": core.nps(answers) if len(answers) else np.nan,
                     "seat_utilization": float(g["seat_utilization"].mean()) if len(g) else np.nan,
                     "feature_breadth": float(g["feature_breadth_30d"].mean()) if len(g)
                     else np.nan})
    return pd.DataFrame(rows).sort_values("arr", ascending=False, ignore_index=True)


def vs_segment(accounts: pd.DataFrame, account_id: str, by: str = "segment") -> pd.DataFrame:
    """One account's measures against its group's median: ``measure, account,
    segment_median, percentile`` (share of the group at or below the account)."""
    measures = ["health_score", "active_days_30d", "seat_utilization", "feature_breadth_30d",
                "usage_trend", "tickets_90d", "latest_nps", "arr"]
    row = accounts.loc[account_id]
    g = accounts[accounts[by] == row[by]]
    out = []
    for m in measures:
        col = g[m].astype(float).dropna()
        v = float(row[m]) if pd.notna(row[m]) else np.nan
        out.append({"measure": m, "account": v,
                    "segment_median": float(col.median()) if len(col) else np.nan,
                    "percentile": float((col <= v).mean()) if len(col) and not np.isnan(v)
                    else np.nan})
    return pd.DataFrame(out)


def band_migration(conn: Connection, f: Filters, before: dt.date) -> pd.DataFrame:
    """Health band of each account at the snapshot on or before ``before`` and at
    the latest snapshot: one row per account, ``account_id, source, target, arr``
    (``"new"`` / ``"gone"`` for accounts scored at only one of the two dates).
    Aggregate with :func:`flows`."""
    now = scores(conn, f)
    snap = snapshot_date(conn, before)
    then = scores(conn, f, snapshot=snap) if snap else pd.DataFrame()
    if now.empty or then.empty:
        return pd.DataFrame(columns=["account_id", "source", "target", "arr"])
    m = then[["account_id", "band", "arr"]].merge(now[["account_id", "band", "arr"]],
                                                 on="account_id", how="outer",
                                                 suffixes=("_then", "_now"))
    m["source"] = m["band_then"].fillna("new")
    m["target"] = m["band_now"].fillna("gone")
    m["arr"] = m["arr_now"].fillna(m["arr_then"])
    return m[["account_id", "source", "target", "arr"]]


def flows(migration: pd.DataFrame) -> pd.DataFrame:
    """Accounts and ARR per (source, target) pair of a per-account migration."""
    return migration.groupby(["source", "target"]).agg(
        accounts=("account_id", "count"), arr=("arr", "sum")).reset_index()


def persona_migration(conn: Connection, clustering: Clustering, accounts: pd.DataFrame,
                      before: dt.date) -> pd.DataFrame:
    """Persona of each account at ``before`` (features then, today's clustering) and
    now: one row per account, ``account_id, source, target, arr``."""
    then = FS.features_known(conn, before)[1]
    then = then[then.index.isin(accounts.index)]
    if then.empty or clustering.model is None:
        return pd.DataFrame(columns=["account_id", "source", "target", "arr"])
    src = clustering.assign(then)
    m = pd.DataFrame({"source": src}).join(clustering.labels.rename("target"), how="outer")
    m["source"] = m["source"].fillna("new")
    m["target"] = m["target"].fillna("gone")
    m["arr"] = accounts["arr"].reindex(m.index).fillna(then["arr"].reindex(m.index))
    return m.reset_index(names="account_id")[["account_id", "source", "target", "arr"]]


#: Benchmarks compare each group with the accounts in it a year earlier (GRR, NRR and
#: logo churn over 12 months, SPEC.md definitions).
YEAR = dt.timedelta(days=365)
#: how far from a year before a weekly score snapshot's stored features may stand in
NEAR = dt.timedelta(days=3)


def _filtered_then(conn: Connection, f: Filters, groups: pd.Series,
                   then: dt.date | None = None) -> pd.Series:
    """``groups`` (account_id -> group at ``then``, default a year before ``f.as_of``) of
    the accounts within the filters then (their segment at that date,
    :func:`greendoor.metrics.sql.account_filter`): the retention of an SMB view follows
    the accounts that were SMB."""
    a = schema.accounts
    then = f.as_of - YEAR if then is None else then
    flt = msql.account_filter(a.c.account_id, f.segment, f.owner, then)
    if flt is None:
        return groups
    ids = {r[0] for r in conn.execute(sa.select(a.c.account_id).where(flt))}
    return groups[groups.index.isin(ids)]


def personas(conn: Connection, f: Filters,
             cluster: Callable[[pd.DataFrame], Clustering] = cluster) -> dict:
    """The filtered accounts (:func:`account_frame`), their behavioral clustering
    (``cluster`` of them: :func:`cluster`, or a cache of it) and, when clusters formed,
    the persona benchmarks against the
    personas the accounts' behavior matched a year earlier (:func:`benchmarks`; the
    features of the score snapshot at most 3 days either side of a year before the
    as-of date, as its run stored them, else the behavior features computed a year
    before, :func:`greendoor.scoring.features.behavior_features_as_of`):
    ``{"accounts", "clustering", "persona_benchmarks"?}``."""
    acc = account_frame(conn, f)
    cl = cluster(acc)
    out = {"accounts": acc, "clustering": cl}
    if cl.model is not None:
        year_ago = f.as_of - YEAR
        on, feats = FS.latest(conn, year_ago + NEAR, within_days=2 * NEAR.days + 1) or \
            (year_ago, behavior_features_as_of(conn, year_ago))
        then = _filtered_then(conn, f, cl.assign(feats), on)
        out["persona_benchmarks"] = benchmarks(conn, acc, cl.labels, then, f.as_of)
    return out


def rule_segments(conn: Connection, f: Filters, dims: list[str],
                  accounts: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The rule segment over ``dims`` of each of ``accounts`` (indexed by account id) at
    ``f.as_of`` (the segment of ``accounts``: :func:`account_frame`'s, as the features of
    the snapshot the page shows had it, so the filter and the groups agree), and the
    segments' benchmarks against their members a year earlier."""
    now = rule_groups(conn, f.as_of, list(dims), list(accounts.index),
                      segments=accounts["segment"] if "segment" in accounts else None)
    then = _filtered_then(conn, f, rule_groups(conn, f.as_of - YEAR, list(dims)))
    return now, benchmarks(conn, accounts, now, then, f.as_of)


#: Days in a month, for survival times in months.
DAYS_PER_MONTH = 365.25 / 12


def account_lifetimes(conn: Connection, f: Filters) -> pd.DataFrame:
    """Each account that held ARR before ``f.as_of`` (within the filters): ``account_id,
    segment, months`` (from its first subscription's start to its churn, or to the as-of
    date) and ``churned`` (1 when it holds no ARR at the as-of date: its last
    subscription ended before it; 0 = still a customer, censored). Only what was known
    at the as-of date: later starts and ends are ignored; the segment is the one known
    then (:func:`greendoor.state.segment_at_query`: a churned account's last contract's)."""
    s = schema.subscriptions
    end = sa.func.max(sa.case((s.c.end_date.is_(None) | (s.c.end_date >= f.as_of), f.as_of),
                              else_=s.c.end_date))
    q = (sa.select(s.c.account_id, sa.func.min(s.c.start_date).label("first"),
                   end.label("last"))
         .where(s.c.start_date < f.as_of, s.c.arr > 0)
         .group_by(s.c.account_id))
    flt = msql.account_filter(s.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        q = q.where(flt)
    df = state.with_segment_at(conn, pd.read_sql(q, conn), f.as_of)
    df = df[["account_id", "segment", "first", "last"]]
    last = pd.to_datetime(df["last"])
    df["churned"] = (last < pd.Timestamp(f.as_of)).astype(int)
    df["months"] = (last - pd.to_datetime(df["first"])).dt.days.clip(lower=0) / DAYS_PER_MONTH
    return df.drop(columns=["first", "last"])


def survival_curves(lifetimes: pd.DataFrame, min_accounts: int = 20) -> pd.DataFrame:
    """Kaplan-Meier survival of customers by segment (statsmodels' ``SurvfuncRight``,
    Greenwood standard errors) with its pointwise 95 % confidence interval on the
    log(-log) scale (Kalbfleisch & Prentice 2002, 1.3): S^exp(±1.96 se / (S |log S|)),
    which stays inside 0-1. ``lifetimes``: ``segment, months, churned``
    (:func:`account_lifetimes`). Returns one row per segment and churn time, starting at
    month 0: ``segment, months, survival, lower, upper, at_risk`` (the interval is NaN
    where S is 0 or 1). Segments with fewer than ``min_accounts`` accounts or no churn are
    left out (their curve would be noise)."""
    rows = []
    for seg, g in lifetimes.dropna(subset=["segment"]).groupby("segment", sort=True):
        if len(g) < min_accounts or g["churned"].sum() == 0:
            continue
        sf = SurvfuncRight(g["months"].to_numpy(float), g["churned"].to_numpy(int))
        lower, upper = loglog_interval(sf.surv_prob, sf.surv_prob_se)
        rows.append(pd.DataFrame({"segment": seg, "months": 0.0, "survival": 1.0,
                                  "lower": 1.0, "upper": 1.0, "at_risk": len(g)}, index=[0]))
        rows.append(pd.DataFrame({"segment": seg, "months": sf.surv_times,
                                  "survival": sf.surv_prob, "lower": lower, "upper": upper,
                                  "at_risk": sf.n_risk}))
    cols = ["segment", "months", "survival", "lower", "upper", "at_risk"]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


def loglog_interval(survival: np.ndarray, se: np.ndarray, z: float = 1.959964
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise confidence limits of a survival estimate on the log(-log) scale:
    ``survival ** exp(±z se / (survival |log survival|))`` (lower with +, upper with -);
    NaN where the survival is 0 or 1 (no interval there)."""
    s = np.asarray(survival, dtype=float)
    inside = (s > 0) & (s < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(inside, z * np.asarray(se, float) / (s * np.abs(np.log(s))), np.nan)
        return np.where(inside, s ** np.exp(w), np.nan), np.where(inside, s ** np.exp(-w), np.nan)


def survival_at(curves: pd.DataFrame, months: float) -> pd.DataFrame:
    """Each segment's survival (and band) at ``months``: the curve's last step at or
    before it. ``segment, survival, lower, upper, at_risk``."""
    upto = curves[curves["months"] <= months]
    return (upto.sort_values("months").groupby("segment").tail(1)
            .drop(columns=["months"]).reset_index(drop=True))



def revenue_cohorts(conn: Connection, f: Filters, months: int = 24,
                    min_accounts: int = 10) -> pd.DataFrame:
    """Logo and revenue retention by signup cohort (issue 21), from each account's ARR on
    the first day of every month in the ``months`` months before ``f.as_of`` (nothing
    after it). An account enters at ``age`` 0 on the first month start where it holds
    ARR; its cohort is the calendar quarter of its signup. Per cohort and age (months):
    ``accounts`` (the cohort's size), ``logo_retention`` = accounts still holding ARR /
    accounts, ``revenue_retention`` = their ARR / the cohort's ARR at age 0 (expansion
    counts, so it can pass 100 %: a cohort NRR curve). Cohorts with fewer than
    ``min_accounts`` accounts are left out. Columns ``cohort`` (quarter start), ``age``,
    ``accounts``, ``logo_retention``, ``revenue_retention``."""
    cols = ["cohort", "age", "accounts", "logo_retention", "revenue_retention"]
    first = f.as_of.replace(day=1)
    starts = [(pd.Timestamp(first) - pd.DateOffset(months=k)).date() for k in range(months, -1, -1)]
    arr = pd.read_sql(msql.arr_at_dates_query([d for d in starts if d <= f.as_of], f.segment,
                                              f.owner), conn).rename(columns={"d": "month"})
    if arr.empty:
        return pd.DataFrame(columns=cols)
    arr["month"] = pd.to_datetime(arr["month"]).dt.date
    a = schema.accounts
    signup = pd.read_sql(sa.select(a.c.account_id, a.c.signup_date), conn).set_index(
        "account_id")["signup_date"]
    wide = arr.pivot_table(index="account_id", columns="month", values="arr", aggfunc="sum")
    wide = wide.reindex(columns=[d for d in starts if d <= f.as_of])  # every month, in order
    entered = wide.notna().idxmax(axis=1)
    # accounts already holding ARR at the window's first month started before it: no age 0
    entered = entered[entered > wide.columns[0]]
    pos = {m: i for i, m in enumerate(wide.columns)}
    long = (wide.loc[entered.index].reset_index()
            .melt(id_vars="account_id", var_name="month", value_name="arr"))
    long["age"] = long["month"].map(pos) - long["account_id"].map(entered.map(pos))
    long = long[long["age"] >= 0].copy()
    long["arr"] = long["arr"].fillna(0.0)
    long["alive"] = (long["arr"] > 0).astype(int)
    long["base"] = long["account_id"].map(long[long["age"] == 0].set_index("account_id")["arr"])
    long["cohort"] = pd.to_datetime(long["account_id"].map(signup)).dt.to_period("Q").dt.start_time
    size = long[long["age"] == 0].groupby("cohort")["account_id"].nunique()
    base = long[long["age"] == 0].groupby("cohort")["base"].sum()
    g = long.groupby(["cohort", "age"]).agg(alive=("alive", "sum"), arr=("arr", "sum"),
                                            seen=("account_id", "nunique"))
    g = g.reset_index()
    g["accounts"] = g["cohort"].map(size)
    # an age is shown only once every account of the cohort has reached it
    g = g[(g["seen"] == g["accounts"]) & (g["accounts"] >= min_accounts)]
    g["logo_retention"] = g["alive"] / g["accounts"]
    g["revenue_retention"] = g["arr"] / g["cohort"].map(base)
    return g[cols].reset_index(drop=True)
