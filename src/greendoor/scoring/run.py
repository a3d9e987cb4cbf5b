"""Batch scoring: features -> health, churn, expansion, renewal, advocacy -> snapshots.

``score(engine)`` is ``greendoor score``; ``evaluate(engine)`` is ``greendoor evaluate``.

* **Dates.** Scores are computed on a weekly grid ending at the as-of date. A
  store without snapshots gets 52 weeks of backfill, so trends, "this week" and
  history work at once. The 30-day trend window is rounded to whole weeks (4
  weeks) so it compares two snapshots of the grid.
* **Models** are trained on observations every 4 weeks whose 90-day outcome is
  known (as-of dates at least 91 days before the scoring date), time-ordered.
  A model is reused while it is fresh: trained through a date no more than 35
  days older than the latest date that could now be labelled.
* **Two risk outputs**: ``churn_probability`` is the calibrated chance of churn
  within 90 days (timing-aware: an account renewing in 8 months rarely churns
  this quarter); ``risk_index`` (0-100) is the percentile of the risk at the
  account's next renewal, timing aside, so a slipping account ranks high early.
  The latter comes from a **renewal model**: the same estimator trained only on
  observations whose renewal fell inside the horizon, so asking it about a
  renewal 45 days out stays within what it has seen.
* **Measured quality** comes from a purged time-ordered backtest. Train on the
  earlier dates; test on the last ~30 % of dates, with a 90-day gap so that no
  training label looks into the test period. Backfilled snapshots are scored with
  the current model and are not used to measure it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import gc
import io
import json
import math
import time
from collections.abc import Callable

import joblib
import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from threadpoolctl import threadpool_limits

from greendoor import audit, config, state
from greendoor.access import Actor, actor_name
from greendoor.config import DEFAULT_SETTINGS
from greendoor.periods import data_start, default_as_of
from greendoor.rules import AUTOMATION_ALERT, LIVE_ALERT, QUIET_ALERT
from greendoor.scoring import alerts as AL
from greendoor.scoring import backtest as BT
from greendoor.scoring import feature_snapshots, fresh, skill
from greendoor.scoring.churn import ChurnModel, NotEnoughData, risk_index
from greendoor.scoring.features import (
    FEATURES,
    OPTIONAL_TABLES,
    describe,
    features_as_of,
    tables_with_rows,
)
from greendoor.scoring.health import (
    WhyPanel,
    at_risk_rows,
    classify_trend,
    health_panel,
)
from greendoor.scoring.health import trend_days as health_trend_days
from greendoor.scoring.labels import churn_labels, expansion_labels
from greendoor.settings import current as current_settings
from greendoor.store import meta, schema, usage_features
from greendoor.store.bulk import staged, upsert
from greendoor.store.engine import new_id
from greendoor.store.rollups import usage_rollups_fresh

#: Default churn horizon (days); the setting ``churn_horizon_days`` decides.
HORIZON = 90
TRAIN_STEP_DAYS = 28
FEATURE_WARMUP_DAYS = 120  # windows reach 120 days back
MODEL_FRESH_DAYS = 35
# ARR enters through its change and its log size. "open_opportunities" is left out:
# renewal opportunities are opened on a calendar (e.g. 120 days before a renewal), so
# the count tracks the renewal process rather than the customer, and it would make
# "a renewal 45 days away without an open opportunity" read as a different contract.
MODEL_FEATURES = [c for c in FEATURES if c not in ("arr", "open_opportunities")]
MODEL_FEATURES.append("log_arr")

#: The models: name -> (label function, train on near-renewal observations only).
#: "renewal" learns who churns when a renewal falls inside the horizon; it answers
#: "the risk at the next renewal" (risk index, renewal probability).
KINDS = {"churn": (churn_labels, False), "expansion": (expansion_labels, False),
         "renewal": (churn_labels, True)}



def now_utc() -> dt.datetime:
    """The current UTC time without a time zone, as the store keeps timestamps."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def model_frame(f: pd.DataFrame) -> pd.DataFrame:
    """The models' input from a feature frame (:func:`features_as_of`): the columns of
    :data:`MODEL_FEATURES`, ``log_arr = log(1 + ARR)`` among them."""
    X = f.drop(columns=["as_of"]).copy()
    X["log_arr"] = np.log1p(X["arr"].clip(lower=0))
    return X[MODEL_FEATURES]


@dataclasses.dataclass
class ScoreReport:
    """What one scoring run did: the as-of date and snapshot dates, accounts and alerts
    written, each model's evaluation and gate, and tables with no rows."""
    as_of: dt.date
    dates: list[dt.date]
    accounts: int = 0
    alerts: int = 0
    models: dict = dataclasses.field(default_factory=dict)
    evaluation: dict | None = None
    seconds: dict = dataclasses.field(default_factory=dict)
    missing_tables: list = dataclasses.field(default_factory=list)
    #: when the stored backtest was reused (nothing changed since): its creation time
    evaluation_reused: str | None = None
    #: actions the automation rules created after the scoring: rule name -> count
    automation: dict = dataclasses.field(default_factory=dict)
    #: the as-of dates whose features this run computed (sorted)
    feature_dates: list = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        """The run as text for the command line: counts, each model beside its baselines with
        its skill verdict, and the tables that had no rows."""
        lines = [f"scored {self.accounts:,} accounts as of {self.as_of} "
                 f"({len(self.dates)} snapshot date(s): {self.dates[-1]} .. {self.dates[0]})"]
        if self.missing_tables:
            lines.append("  no rows in " + ", ".join(self.missing_tables) + ": their features "
                         "are unknown (not zero), and no model or health measure uses them")
        for kind, m in self.models.items():
            gate = m.get("skill", "not measured")
            use = ("drives its numbers" if gate == "skill" else
                   f"{gate}: the rules drive its numbers")
            if m.get("status") == "ok":
                lines.append(f"  {kind} model: {m['estimator']} ({m['source']}), trained through "
                             f"{m['trained_through']}; backtest: {use}")
            else:
                lines.append(f"  {kind} model: not available: {m.get('reason')}")
        if self.evaluation_reused:
            lines.append(f"  backtest: reused the one of {self.evaluation_reused[:16]} (same "
                         "training dates, data known through their outcomes, settings and "
                         "models; `greendoor score --evaluate` runs it again)")
        if self.feature_dates:
            lines.append(f"  features computed as of {len(self.feature_dates)} date(s)")
        lines.append(f"  alerts: {self.alerts:,}")
        for name, n in self.automation.items():
            lines.append(f"  automation {name!r}: fired on {n} new account(s) this period")
        lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()))
        return "\n".join(lines)


# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def connect(source: Connection | Engine):
    """A connection from ``source``: the connection itself, or a short-lived one
    opened (and closed) on an engine."""
    if isinstance(source, Engine):
        with source.connect() as conn:
            yield conn
    else:
        yield source


class FeatureCache:
    """Features, health and labels per as-of date, computed once per run."""

    def __init__(self, source: Connection | Engine, settings: dict, progress=None):
        """``source``: a connection, or an engine to open one short connection per
        query batch (so an embedded store is held only in short slices while a long
        run computes, see :func:`greendoor.store.engine.make_engine`)."""
        self.source, self.settings = source, settings
        self.horizon = int(settings.get("churn_horizon_days", HORIZON))
        self.features: dict[dt.date, pd.DataFrame] = {}
        self.health: dict[dt.date, pd.DataFrame] = {}
        self.why: dict[dt.date, WhyPanel] = {}
        self.labels: dict[tuple, pd.Series] = {}
        with self.connect() as conn:
            self.has_rows = tables_with_rows(conn)
            self.rollup = usage_rollups_fresh(conn)
            self.pushed = usage_features.pushed(conn)
        self.progress = progress or (lambda f, m: None)

    def connect(self):
        """A new connection to the store the features are read from."""
        return connect(self.source)

    def ensure(self, dates, lo: float = 0.0, hi: float = 1.0) -> None:
        """Compute and keep the features as of each of ``dates`` not yet held, reporting
        progress between ``lo`` and ``hi`` (0-1)."""
        todo = [d for d in sorted(set(dates)) if d not in self.features]
        missing = [d for d in todo if self.pushed and d not in self.pushed.dates]
        if missing:
            raise ValueError(
                f"the usage stays in the warehouse (usage_mode: features) and its features "
                f"as of {', '.join(map(str, missing[:3]))}{' ...' if len(missing) > 3 else ''} "
                f"({len(missing)} dates) are not in the store: run `greendoor sync MAPPING` "
                f"first, with --as-of for a past date (it computes every date a scoring "
                f"at that date needs)")
        for i, d in enumerate(todo):
            self.progress(lo + (hi - lo) * i / max(len(todo), 1), f"Features as of {d}")
            with self.connect() as conn:
                f = features_as_of(conn, d, self.has_rows, self.rollup, self.pushed)
            self.features[d] = f
            self.health[d], self.why[d] = health_panel(f, self.settings)

    def labeled(self, dates, label_fn, renewal_only: bool = False
                ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.Series]:
        """Model frame, labels, dates and health of ``dates``; ``renewal_only`` keeps
        the accounts whose renewal falls inside the horizon (the renewal model)."""
        Xs, ys, ds, hs = [], [], [], []
        for d in dates:
            f = self.features[d]
            if renewal_only:
                f = f[f["days_to_renewal"].between(0, self.horizon - 1)]
            key = (label_fn.__name__, d)
            if key not in self.labels:
                with self.connect() as conn:
                    self.labels[key] = label_fn(conn, d, self.horizon)
            y = self.labels[key].reindex(f.index).fillna(0).astype(int)
            Xs.append(model_frame(f))
            ys.append(y.to_numpy())
            ds.append(np.full(len(f), np.datetime64(d)))
            hs.append(self.health[d]["health_score"].reindex(f.index))
        return (pd.concat(Xs), np.concatenate(ys), np.concatenate(ds), pd.concat(hs))


def training_dates(as_of: dt.date, start: dt.date | None,
                   anchor: dt.date | None = None, horizon: int = HORIZON) -> list[dt.date]:
    """As-of dates of labelled observations: every 4 weeks, the latest at least
    ``horizon + 1`` days before ``as_of`` (its outcome is known), the earliest 120 days
    after the data starts. ``anchor`` puts the 4-week grid on ``anchor - horizon - 1 +
    4k days`` (k any whole number, so ``anchor`` may be before or after ``as_of``), so
    that several training sets share their dates (and their features): the past
    quarters' renewal forecasts, and a daily ``greendoor score`` that continues the grid
    of the stored evaluation (:func:`_training_anchor`)."""
    if start is None:
        return []
    first = start + dt.timedelta(days=FEATURE_WARMUP_DAYS)
    last = as_of - dt.timedelta(days=horizon + 1)
    phase = (anchor or as_of) - dt.timedelta(days=horizon + 1)
    d = phase + dt.timedelta(days=TRAIN_STEP_DAYS * ((last - phase).days // TRAIN_STEP_DAYS))
    out = []
    while d >= first:
        out.append(d)
        d -= dt.timedelta(days=TRAIN_STEP_DAYS)
    return sorted(out)


def backtest(cache: FeatureCache, dates: list[dt.date], test_share: float = 0.3) -> dict:
    """Purged time-ordered backtest of every model and of the health score, each
    beside its baselines (:func:`greendoor.scoring.backtest.backtest`)."""
    return BT.backtest(cache, dates, KINDS, test_share, ask={"renewal": at_renewal})


def _train(cache: FeatureCache, dates: list[dt.date], label_fn,
           renewal_only: bool = False) -> tuple[ChurnModel | None, dict]:
    if len(dates) < 2:
        return None, {"status": "skipped",
                      "reason": f"{len(dates)} labelled as-of date(s); the data must span at "
                                "least 7 months (120 days of history + 90 days of outcome)"}
    X, y, d, _ = cache.labeled(dates, label_fn, renewal_only)
    if renewal_only and not len(y):
        return None, {"status": "skipped", "reason": "no renewal date in the data"}
    try:
        model = ChurnModel().fit(X, y, as_of=d)
    except NotEnoughData as exc:
        return None, {"status": "skipped", "reason": str(exc), "n": int(len(y)),
                      "positives": int(y.sum())}
    return model, {"status": "ok", "estimator": model.estimator_,
                   "selection": {k: round(v, 3) for k, v in model.selection_.items()},
                   "n": int(len(y)), "positives": int(y.sum()),
                   "trained_through": str(max(dates)), "source": "trained"}


def _load_model(conn: Connection, kind: str, as_of: dt.date) -> tuple[ChurnModel | None, dict]:
    mr = schema.model_runs
    row = conn.execute(sa.select(mr).where(mr.c.kind == kind, mr.c.status == "ok",
                                           mr.c.artifact.is_not(None))
                       .order_by(mr.c.created_at.desc()).limit(1)).mappings().first()
    fresh_from = as_of - dt.timedelta(days=HORIZON + 1 + MODEL_FRESH_DAYS)
    if row is None or row["trained_through"] is None or row["trained_through"] < fresh_from \
            or row["as_of"] > as_of:
        return None, {}
    try:
        model = joblib.load(io.BytesIO(row["artifact"]))
        if not hasattr(model, "predict_proba"):
            raise TypeError(f"not a model: {type(model).__name__}")
    except Exception as exc:  # unreadable or incompatible artifact: retrain instead
        import logging

        logging.getLogger(__name__).warning("the stored %s model cannot be used (%s); "
                                            "it will be retrained", kind, exc)
        return None, {}
    info = json.loads(row["metrics_json"] or "{}")
    info.update(source="reused", trained_through=str(row["trained_through"]))
    return model, info


def _dumps(model) -> bytes:
    buf = io.BytesIO()
    joblib.dump(model, buf)
    return buf.getvalue()


@functools.lru_cache(maxsize=1 << 16)
def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "unknown"
    if isinstance(v, (int, float, np.floating)):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def _evidence(feature: str, value, reference, effect: str = "raises risk") -> str:
    """``"<feature in words>: <value>, typical <reference>: <effect>"``."""
    return f"{describe(feature)}: {_fmt(value)}, typical {_fmt(reference)}: {effect}"


def at_renewal(X: pd.DataFrame) -> pd.DataFrame:
    """The same observations as if each renewal fell inside the 90-day horizon
    (days_to_renewal capped at 45): the model then answers "the risk at the
    renewal itself", whatever its date."""
    Xr = X.copy()
    Xr["days_to_renewal"] = Xr["days_to_renewal"].clip(upper=45)
    return Xr


def renewal_probability(conn: Connection, churn_at_renewal: np.ndarray | None, f: pd.DataFrame,
                         as_of: dt.date, horizon_days: int = 365,
                         min_history: int = DEFAULT_SETTINGS["models"]["category_min_history"]
                         ) -> tuple[pd.Series, pd.Series]:
    """P(renew) for accounts renewing within ``horizon_days``, and the forecast
    category used (as known at ``as_of``: :func:`greendoor.state.opportunities_as_of`).

    ``churn_at_renewal``: the renewal model's calibrated churn probability per row of
    ``f``, asked as if the renewal were 45 days away at most (:func:`at_renewal`), so
    the answer is the risk at the renewal itself; ``None`` without a renewal model.
    P(renew) is one minus it. An open renewal opportunity's forecast category known at
    ``as_of``, when the store has ``min_history`` renewals of that category (the setting
    ``models.category_min_history``) closed before ``as_of``, is blended in at equal weight with that category's historic renewal rate.
    """
    due = f["days_to_renewal"].between(0, horizon_days)
    p = pd.Series(np.nan, index=f.index)
    if churn_at_renewal is None or not due.any():
        return p, pd.Series(None, index=f.index, dtype=object)
    p.loc[due] = 1 - np.asarray(churn_at_renewal)[due.to_numpy()]
    opps = state.opportunities_as_of(conn, as_of, types=("renewal",))
    closed = opps[opps["status"].isin(["won", "lost"]) & opps["forecast_category"].notna()]
    rates = closed.groupby("forecast_category")["status"].agg(
        n="size", rate=lambda s: (s == "won").mean())
    rates = rates[rates["n"] >= min_history]["rate"]
    open_ren = opps[(opps["status"] == "open") & (pd.to_datetime(opps["close_date"])
                                                  >= pd.Timestamp(as_of))]
    cat = (open_ren.drop_duplicates("account_id").set_index("account_id")["forecast_category"]
           .reindex(f.index).astype(object))
    cat = cat.where(cat.notna(), None)  # unknown: no open renewal, or its category not known
    blend = cat.map(rates)
    has = blend.notna() & p.notna()
    p.loc[has] = (p[has] + blend[has]) / 2
    return p, cat


def _advocacy(f: pd.DataFrame, band: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """Readiness 0-100: 25 points each for promoter, green health, active champion,
    and no advocacy ask in the last 90 days (SPEC.md "Advocacy"). An unknown
    condition (no surveys, no contacts) earns nothing."""
    cond = pd.DataFrame({
        "promoter": f["nps_promoter"] == 1,
        "green": band == "green",
        "champion_active": f["champion_active"] == 1,
        "no_recent_ask": f["advocacy_asks_90d"].fillna(0) == 0 if f["advocacy_asks_90d"].notna().any()
        else pd.Series(True, index=f.index),
    })
    return cond.sum(axis=1) * 25.0, cond


# --------------------------------------------------------------------------- #
@dataclasses.dataclass
class _Plan:
    """What one scoring run does: dates, settings, and the models it can reuse."""

    as_of: dt.date
    version: int
    settings: dict
    start: dt.date | None
    dates: list[dt.date]
    bases: dict[dt.date, dt.date]
    train: list[dt.date]
    models: dict
    infos: dict
    stored_base: dict
    stored_evaluation: dict | None
    fingerprint: dict


def inputs_fingerprint(conn: Connection, as_of: dt.date, version: int) -> dict:
    """What a backtest's result depends on: the as-of date, the settings version, the
    latest import's end, the demo's parameters and a digest of the canonical data
    (:func:`greendoor.store.backup.content_digest`: a deal closed or a close-out
    recorded in the app changes it too). ``greendoor forecast`` keeps its past quarters
    while it is unchanged (:mod:`greendoor.forecast.run`)."""
    from greendoor.store.backup import content_digest

    last = conn.execute(sa.select(sa.func.max(schema.import_log.c.finished_at))).scalar()
    out = {"as_of": str(as_of), "settings_version": int(version),
           "last_import": str(last) if last else None,
           "demo_params": meta.get(conn, "demo_params"), "data": content_digest(conn)}
    if usage_features.pushed(conn) is not None:  # the usage kept in the warehouse
        out["usage_features"] = content_digest(conn, (schema.usage_features,))
    return out


def evaluation_fingerprint(conn: Connection, dates: list[dt.date], horizon: int,
                           version: int) -> dict:
    """What a backtest on the training ``dates`` depends on, and nothing else: the dates,
    the outcome horizon (days), the settings version, the demo's parameters and a digest
    of the data known through the last outcome window (the latest date + ``horizon``
    days): the event tables up to that day, every other canonical table and the
    opportunities' history whole (:func:`greendoor.store.backup.content_digest`). A
    later day's usage, replies or interactions leave it unchanged, so the daily score
    reuses the stored evaluation; a late-recorded churn, an edited contract or new
    settings change it. Features as of a training date and its labels read nothing
    dated after that window (``tests/unit/test_leakage.py``)."""
    from greendoor.store.backup import content_digest

    through = max(dates) + dt.timedelta(days=horizon) if dates else None
    out = {"training_dates": [str(d) for d in dates], "horizon_days": int(horizon),
           "settings_version": int(version), "demo_params": meta.get(conn, "demo_params"),
           "data": content_digest(conn, (*schema.CANONICAL_TABLES, schema.opportunity_history),
                                  through=through)}
    if usage_features.pushed(conn) is not None:  # the usage kept in the warehouse
        out["usage_features"] = content_digest(conn, (schema.usage_features,), through=through)
    return out


def _training_anchor(stored: dict | None, horizon: int) -> dt.date | None:
    """The anchor that continues the 4-week training grid of the ``stored`` evaluation
    (its latest date + ``horizon`` + 1 days), or ``None`` (a grid ending at the as-of
    date) when there is none or it used another horizon. A daily score then trains and
    evaluates on the same dates as yesterday's, and a new date joins every 4 weeks."""
    if not stored or not stored.get("dates") or stored.get("horizon_days") != horizon:
        return None
    return max(dt.date.fromisoformat(d) for d in stored["dates"]) + \
        dt.timedelta(days=horizon + 1)


def feature_dates(engine: Engine, as_of: dt.date | None = None,
                  backfill_weeks: int | None = None) -> tuple[dt.date, list[dt.date]]:
    """The as-of date (``as_of`` or the store's default) and, sorted, every date whose
    features :func:`score` with these arguments may read: the scored dates, their
    trend bases on or after the data's start and the training dates (read only when a
    model is trained or the backtest runs; included). ``greendoor sync`` computes the
    usage aggregates of these dates on a warehouse that keeps its usage."""
    plan = _plan(engine, as_of, backfill_weeks, retrain=True)
    bases = {b for b in plan.bases.values() if plan.start is None or b >= plan.start}
    return plan.as_of, sorted(set(plan.dates) | bases | set(plan.train))


def _plan(engine: Engine, as_of: dt.date | None, backfill_weeks: int | None,
          retrain: bool) -> _Plan:
    """Read what the run needs from the store (short connection)."""
    with engine.connect() as conn:
        as_of = as_of or default_as_of(conn)
        if as_of is None:
            raise ValueError("the store has no data to score: load the demo or import data")
        version, settings = current_settings(conn)
        start = data_start(conn)
        ss = schema.score_snapshots
        has_snapshots = conn.execute(sa.select(sa.func.count()).select_from(ss)).scalar() > 0
        if backfill_weeks is None:
            backfill_weeks = 0 if has_snapshots else 52
        earliest = (start + dt.timedelta(days=30)) if start else as_of
        dates = [d for d in (as_of - dt.timedelta(weeks=k) for k in range(backfill_weeks + 1))
                 if d >= earliest] or [as_of]
        trend_days = health_trend_days(settings)
        bases = {d: d - dt.timedelta(days=trend_days) for d in dates}
        models, infos = {}, {}
        for kind in KINDS:
            if not retrain:
                models[kind], infos[kind] = _load_model(conn, kind, as_of)
        # trend bases already scored with these settings are read, not recomputed
        stored_base = {}
        for b in set(bases.values()) - set(dates):
            prev = pd.read_sql(sa.select(ss.c.account_id, ss.c.health_score).where(
                ss.c.as_of == b, ss.c.settings_version == version), conn)
            if len(prev):
                stored_base[b] = prev.set_index("account_id")
        stored = latest_evaluation(conn)
        horizon = int(settings.get("churn_horizon_days", HORIZON))
        train = training_dates(as_of, start, anchor=_training_anchor(stored, horizon),
                               horizon=horizon)
        fingerprint = evaluation_fingerprint(conn, train, horizon, version)
    return _Plan(as_of, version, settings, start, dates, bases, train, models, infos,
                 stored_base, stored, fingerprint)


def _score_date(cache: FeatureCache, d: dt.date, base_h, models: dict, gates: skill.Gates,
                engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.DataFrame]:
    """One date's snapshot rows (index: account) and, for the details, the model frame,
    the forecast categories used and the advocacy conditions.

    The model outputs a page shows come from a model with measured skill only
    (:class:`greendoor.scoring.skill.Gates`); otherwise they are NaN and the risk the
    app acts on (``loss_probability``, ``risk_basis``) comes from the rules."""
    settings = cache.settings
    f, h = cache.features[d], cache.health[d]
    X = model_frame(f)
    change = h["health_score"] - (base_h["health_score"].reindex(h.index)
                                  if base_h is not None else np.nan)
    out = pd.DataFrame(index=f.index)
    for c in ("health_score", "band", "confidence", "engagement", "sentiment", "growth"):
        out[c] = h[c]
    out["health_change"] = change
    out["trend"] = [classify_trend(x, settings["health"]["trend_threshold"]) for x in change]
    cm, em, rm = (models.get(k) if gates.uses(k) else None
                  for k in ("churn", "expansion", "renewal"))
    out["churn_probability"] = cm.predict_proba(X)[:, 1] if cm is not None else np.nan
    # timing aside: the risk at the next renewal, from the renewal model (its decision
    # ranks the risk index; its probability gives P(renew))
    renewal_decision, churn_at_renewal = (rm.decision_and_proba(at_renewal(X))
                                          if rm is not None else (np.nan, None))
    out["risk_index"] = risk_index(renewal_decision) if rm is not None else np.nan
    out["expansion_probability"] = em.predict_proba(X)[:, 1] if em is not None else np.nan
    with engine.connect() as conn:
        out["renewal_probability"], renewal_cat = renewal_probability(
            conn, churn_at_renewal, f, d,
            min_history=settings["models"]["category_min_history"])
    due = f["days_to_renewal"].between(0, 365)
    rule_loss = gates.rule_renewal_loss(h["band"])
    out["rule_churn_probability"] = gates.rule_churn(h["band"])
    if rm is None:  # the rule's P(renew): 1 - the measured loss rate of the band
        out["renewal_probability"] = (1 - rule_loss).where(due)
    churn_90 = out["churn_probability"] if cm is not None else out["rule_churn_probability"]
    out["loss_probability"] = (1 - out["renewal_probability"]).where(due, churn_90)
    model_basis = np.where(due, rm is not None, cm is not None)
    out["risk_basis"] = np.where(model_basis, "model", gates.rule)
    out["days_to_renewal"] = f["days_to_renewal"]
    out["advocacy_readiness"], adv_cond = _advocacy(f, h["band"])
    out["arr"] = f["arr"]
    out["as_of"] = d
    out["details_json"] = None
    return out, X, renewal_cat, adv_cond


def _details(out: pd.DataFrame, why: WhyPanel, f: pd.DataFrame, X: pd.DataFrame,
             renewal_cat: pd.Series, adv_cond: pd.DataFrame, models: dict,
             gates: skill.Gates, settings: dict) -> tuple[list[str], dict]:
    """The latest date's ``details_json`` per account, and the churn drivers.

    Churn drivers are computed, when the churn model has skill, for the riskier half
    of the book and every account the at-risk queue lists (at risk: red, or yellow and
    declining, SPEC.md; or a risk index of 90+): the queue, the alerts and Account 360.
    "Riskier" ranks by the mean of the two risk percentiles (churn probability this
    quarter, risk at the renewal), so timing alone does not decide. The rest is marked,
    so the page can say why it has none."""
    cp, ri = out["churn_probability"], out["risk_index"]
    at_risk = at_risk_rows(out["band"], out["trend"])
    risk_rank = pd.concat([cp.rank(pct=True), ri / 100], axis=1).mean(axis=1)
    riskier = (at_risk | (ri >= settings["models"]["queue_min_risk_index"])
               | (risk_rank >= risk_rank.median()) | risk_rank.isna())
    drivers = _drivers(models.get("churn") if gates.uses("churn") else None,
                       X[riskier.to_numpy()], gates, "churn")
    # expansion drivers are read for the propensity ranking: the likeliest 10 % (>= 50)
    ep = out["expansion_probability"]
    likely = ep.rank(ascending=False, method="first") <= max(50, len(ep) // 10) \
        if ep.notna().any() else ep.notna()
    exp_drivers = _drivers(models.get("expansion") if gates.uses("expansion") else None,
                           X[likely.to_numpy()], gates, "expansion")
    best = why.best_improvement().tolist()
    panels = why_panels(why, out.index)
    days = f["days_to_renewal"].tolist()
    adv = dict(zip(adv_cond.columns, (adv_cond[c].astype(bool).tolist() for c in adv_cond),
                   strict=True))
    cats = renewal_cat.tolist()
    computed = (riskier & gates.uses("churn")).tolist()
    details = [dumps({
        "why": panels[i],
        "best_improvement": best[i],
        "churn_drivers": drivers.get(a, []),
        "drivers_computed": bool(computed[i]),
        "expansion_drivers": exp_drivers.get(a, []),
        "renewal": {"days_to_renewal": days[i], "forecast_category": cats[i]},
        "advocacy": {k: v[i] for k, v in adv.items()},
    }) for i, a in enumerate(out.index)]
    return details, drivers


def _past_details(out: pd.DataFrame, f: pd.DataFrame, why: WhyPanel, X: pd.DataFrame,
                  renewal_cat: pd.Series, adv_cond: pd.DataFrame, models: dict,
                  gates: skill.Gates, settings: dict, d: dt.date) -> list[str]:
    """An earlier week's ``details_json`` per account, compact: what replaying that date
    shows (the churn drivers of the accounts the at-risk queue lists then, when the churn
    model has skill; the alerts the rules raised that day, as ``alerts``: the alerts table
    keeps the latest date's only, with their status; the renewal, advocacy conditions and
    best improvement), without the full why panel, which only the latest date keeps (its
    components are columns of every snapshot)."""
    listed = (at_risk_rows(out["band"], out["trend"])
              | (out["risk_index"] >= settings["models"]["queue_min_risk_index"]))
    drivers = _drivers(models.get("churn") if gates.uses("churn") else None,
                       X[listed.to_numpy()], gates, "churn")
    best = why.best_improvement().tolist()
    days = out["days_to_renewal"].tolist()
    cats = renewal_cat.tolist()
    adv = {c: adv_cond[c].astype(bool).tolist() for c in adv_cond}
    computed = (listed & gates.uses("churn")).tolist()
    raised: dict[str, list[dict]] = {}
    for r in AL.account_alerts(f, out, settings, d, drivers).itertuples(index=False):
        raised.setdefault(r.account_id, []).append(
            {"rule": r.rule, "severity": r.severity, "title": r.title, "evidence": r.evidence})
    return [dumps({
        "best_improvement": best[i],
        "churn_drivers": drivers.get(a, []),
        "drivers_computed": bool(computed[i]),
        "alerts": raised.get(a, []),
        "renewal": {"days_to_renewal": days[i], "forecast_category": cats[i]},
        "advocacy": {k: v[i] for k, v in adv.items()},
    }) for i, a in enumerate(out.index)]


def _model_runs(conn: Connection, infos: dict, models: dict, scored_at: dt.datetime,
                as_of: dt.date, version: int) -> None:
    for kind in KINDS:
        info = infos.get(kind, {})
        if info.get("source") == "reused":
            continue
        conn.execute(schema.model_runs.insert().values(
            run_id=new_id(), kind=kind, created_at=scored_at, as_of=as_of,
            trained_through=(dt.date.fromisoformat(info["trained_through"])
                             if info.get("trained_through") else None),
            settings_version=version, status=info.get("status", "skipped"),
            estimator=info.get("estimator"), metrics_json=json.dumps(info, default=_clean),
            artifact=_dumps(models[kind]) if models.get(kind) is not None else None))


def score(engine: Engine, as_of: dt.date | None = None, backfill_weeks: int | None = None,
          retrain: bool = False, progress: Callable[[float, str], None] | None = None,
          evaluate_models: bool | None = None, actor: Actor = "system",
          before: dict[str, list] | None = None) -> ScoreReport:
    """Score every account as of ``as_of`` (and ``backfill_weeks`` earlier weeks) and
    write snapshots, alerts, model runs and an audit row (``score.run``) in one
    transaction. With ``evaluate_models`` the backtest runs again; with ``False`` the
    stored one decides which models have skill (:class:`greendoor.scoring.skill.Gates`);
    with ``None`` (the default) the backtest runs only when a model is retrained or the
    inputs changed since the stored one (:func:`evaluation_fingerprint`: the training
    dates continue the stored one's 4-week grid, and a later day's events leave it
    unchanged), and ``report.evaluation_reused`` says so. Only the dates not yet held are
    computed: the scored dates, and their trend bases unless scored before with these
    settings; the training dates only when a model is trained or the backtest runs
    (``report.feature_dates`` lists them).

    Raises ``ValueError`` for an empty store, and
    :class:`~greendoor.access.AccessDenied` when ``actor`` is a principal who is not an
    admin (rescoring applies the settings).

    scikit-learn's OpenMP threads are capped at :func:`greendoor.config.threads` for the
    run, so that scoring on a busy machine (the app serving beside it) slows in
    proportion to the load instead of collapsing.

    ``before``: the fingerprints of :data:`greendoor.scoring.fresh.BEFORE_RUN` taken by
    the caller just before (:func:`greendoor.scoring.fresh.check`), recorded as what
    this run read; without it the run takes them as it starts.
    """
    with threadpool_limits(limits=config.threads(), user_api="openmp"):
        return _score(engine, as_of, backfill_weeks, retrain, progress, evaluate_models, actor,
                      before)


def _score(engine: Engine, as_of: dt.date | None, backfill_weeks: int | None, retrain: bool,
           progress: Callable[[float, str], None] | None, evaluate_models: bool | None,
           actor: Actor, before: dict[str, list] | None = None) -> ScoreReport:
    """:func:`score`'s run, inside its thread limits."""
    actor = actor_name(actor, "admin")
    step = progress or (lambda f, m: None)
    t0 = time.perf_counter()
    secs: dict[str, float] = {}
    if before is None:  # what this run reads, for `greendoor score`'s check
        with engine.connect() as conn:
            before = fresh.input_prints(conn)
    plan = _plan(engine, as_of, backfill_weeks, retrain)
    as_of, dates, models, infos = plan.as_of, plan.dates, plan.models, plan.infos
    # the long phase: reads in short slices (FeatureCache), compute without a connection
    cache = FeatureCache(engine, plan.settings, progress)
    train = plan.train
    need_train = retrain or any(models.get(k) is None for k in KINDS)
    stored = plan.stored_evaluation or {}
    reused = evaluate_models is None and not need_train and \
        stored.get("fingerprint") == plan.fingerprint
    evaluate_models = not reused if evaluate_models is None else evaluate_models
    wanted = set(dates) | {b for b in plan.bases.values()
                           if (plan.start is None or b >= plan.start) and b not in plan.stored_base}
    if need_train or evaluate_models:
        wanted |= set(train)
    cache.ensure(wanted, 0.0, 0.7)
    secs["features"] = time.perf_counter() - t0
    evaluation = _train_and_backtest(cache, train, models, infos, evaluate_models, step, secs)
    if evaluation is not None:
        evaluation["fingerprint"] = plan.fingerprint
    gates = skill.Gates(evaluation if evaluation is not None else plan.stored_evaluation)
    # the batch below builds about a million small acyclic dicts and lists (details,
    # drivers, alerts); the cyclic garbage collector would walk them all again and
    # again, about 40 % of these phases at bench tier L. Reference counting frees them
    # as usual; the collector is back on after the write.
    with _cyclic_gc_paused():
        step(0.88, "Scoring")
        t3 = time.perf_counter()
        rows = []
        for d in sorted(dates):
            base_h = cache.health.get(plan.bases[d], plan.stored_base.get(plan.bases[d]))
            out, X, renewal_cat, adv_cond = _score_date(cache, d, base_h, models, gates, engine)
            if d != as_of:  # an earlier week: what replaying that date needs
                out["details_json"] = _past_details(out, cache.features[d], cache.why[d], X,
                                                    renewal_cat, adv_cond, models, gates,
                                                    plan.settings, d)
            rows.append(out)
        secs["predict"] = time.perf_counter() - t3
        t5 = time.perf_counter()
        f, why = cache.features[as_of], cache.why[as_of]
        out["details_json"], drivers = _details(out, why, f, X, renewal_cat, adv_cond, models,
                                                gates, plan.settings)
        secs["details"] = time.perf_counter() - t5
        t5 = time.perf_counter()
        al = AL.account_alerts(f, out, plan.settings, as_of, drivers)
        with engine.connect() as conn:
            gaps = AL.gap_alerts(conn, as_of, plan.settings, f["arr"])
            said = AL.mention_alerts(conn, as_of, plan.settings, f.index)
            onb = AL.onboarding_alerts(conn, as_of, plan.settings, f.index)
        al = pd.concat([x for x in (al, gaps, said, onb) if len(x)] or [al], ignore_index=True)
        secs["alerts"] = time.perf_counter() - t5
        secs["scoring"] = time.perf_counter() - t3
        step(0.95, "Writing snapshots")
        t4 = time.perf_counter()
        _write_run(engine, plan, pd.concat(rows), len(out), al, models, evaluation, gates, actor,
                   {d: cache.features[d] for d in dates})
        secs["write"] = time.perf_counter() - t4
    secs["total"] = time.perf_counter() - t0
    step(1.0, "Scored")
    for kind in KINDS:
        infos.setdefault(kind, {})["skill"] = gates.status[kind]
    missing = [t.name for t in OPTIONAL_TABLES if t.name not in cache.has_rows]
    from greendoor import automation  # (it reads the scores this run wrote)

    fired = automation.run(engine, as_of)
    with engine.begin() as conn:  # what `greendoor score` compares before running again
        fresh.record(conn, as_of, plan.version, now_utc(), before)
    return ScoreReport(as_of=as_of, dates=sorted(dates, reverse=True), accounts=len(out),
                       alerts=len(al), models=infos, evaluation=evaluation, seconds=secs,
                       missing_tables=missing,
                       evaluation_reused=stored.get("created_at") if reused else None,
                       automation=fired, feature_dates=sorted(cache.features))


def _train_and_backtest(cache: FeatureCache, train: list[dt.date], models: dict, infos: dict,
                        evaluate_models: bool, step, secs: dict) -> dict | None:
    """Train each model the plan did not reuse (in place in ``models`` and ``infos``);
    with ``evaluate_models``, run the backtest on the training dates and return it."""
    t1 = time.perf_counter()
    for kind in KINDS:
        if models.get(kind) is None:
            step(0.72, f"Training the {kind} model")
            models[kind], infos[kind] = _train(cache, train, *KINDS[kind])
    secs["training"] = time.perf_counter() - t1
    if not (evaluate_models and train):
        return None
    step(0.8, "Backtesting")
    t2 = time.perf_counter()
    evaluation = backtest(cache, train)
    secs["backtest"] = time.perf_counter() - t2
    return evaluation


def _write_run(engine: Engine, plan, snaps: pd.DataFrame, accounts: int, al: pd.DataFrame,
               models: dict, evaluation: dict | None, gates: skill.Gates, actor: str,
               features: dict[dt.date, pd.DataFrame]) -> None:
    """Write one run in one transaction: the snapshots of every date (accounts x dates,
    indexed by account; ``accounts`` scored at the as-of date) and the ``features`` they
    were scored on (:mod:`greendoor.scoring.feature_snapshots`), the as-of date's
    alerts, the model runs, the evaluation when it ran, and the ``score.run`` audit
    row."""
    as_of, dates = plan.as_of, sorted(plan.dates)
    scored_at = now_utc()
    snaps = snaps.reset_index().rename(columns={"index": "account_id"})
    snaps["settings_version"] = plan.version
    snaps["scored_at"] = scored_at
    snaps = snaps[[c for c in snaps.columns if c in schema.score_snapshots.c]]
    with engine.begin() as conn:
        ss = schema.score_snapshots
        # rescoring a date updates its rows in place (a delete costs DuckDB about 1 s
        # per 100,000 rows at commit, see greendoor.store.bulk); the run's scored_at then
        # marks the accounts no longer scored on these dates, which are removed
        upsert(conn, ss, snaps, ["account_id", "as_of"])
        conn.execute(ss.delete().where(ss.c.as_of.in_(dates), ss.c.scored_at != scored_at))
        feature_snapshots.write(conn, features, scored_at)
        write_alerts(conn, al, as_of)
        _model_runs(conn, plan.infos, models, scored_at, as_of, plan.version)
        if evaluation is not None:
            _store_evaluation(conn, evaluation, as_of, plan.version)
        audit.record(conn, actor, "score.run", "score_snapshots", str(as_of),
                     after={"as_of": str(as_of), "dates": len(dates),
                            "accounts": accounts,
                            "alerts": len(al), "settings_version": plan.version,
                            "models_with_skill": [k for k in KINDS if gates.uses(k)]},
                     at=scored_at)


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Python's cyclic garbage collector off inside the block (as it was after)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _clean(v):
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (dt.date, pd.Timestamp)):
        return str(v)
    return v if isinstance(v, (str, int, bool, type(None))) else str(v)


#: At most this many drivers per account.
MAX_DRIVERS = 3


def _drivers(model: ChurnModel | None, X: pd.DataFrame, gates: skill.Gates,
             kind: str) -> dict[str, list[dict]]:
    """Each account's drivers: features with measured importance in the backtest
    (``gates.important``) whose value moves this account's risk the way the model
    moves it across the portfolio (``gates.direction``: a higher value than typical
    where higher values go with more risk, or a lower one where lower values do), at
    most :data:`MAX_DRIVERS`, each with its ``share`` of the risk those drivers add and
    its evidence in words. Categorical features have no direction and appear only with
    measured importance."""
    if model is None:
        return {}
    important = set(gates.important.get(kind, []))
    direction = gates.direction.get(kind, {})
    d = model.drivers(X, top=len(getattr(model, "driver_features_", [])) or MAX_DRIVERS)
    if d.empty:
        return {}
    d = d[d["feature"].isin(important)]
    num = pd.to_numeric(d["value"], errors="coerce") - pd.to_numeric(d["reference"],
                                                                     errors="coerce")
    sign = d["feature"].map(direction)
    agrees = sign.isna() | ((np.sign(num) == sign) & (sign != 0))
    d = d[agrees.to_numpy()].copy()
    d["rank"] = d.groupby("row").cumcount() + 1
    d = d[d["rank"] <= MAX_DRIVERS]
    d["contribution"] = d["contribution"].astype(float).round(4)
    total = d.groupby("row")["contribution"].transform("sum")
    d["share"] = (d["contribution"] / total).round(3)
    d["evidence"] = [_evidence(f, v, r, "raises risk" if kind == "churn" else "raises the chance")
                     for f, v, r in zip(d["feature"], d["value"], d["reference"], strict=True)]
    return records_by(d[["row", "feature", "value", "reference", "contribution", "share",
                         "evidence"]], "row")


def records_by(df: pd.DataFrame, key: str) -> dict[str, list[dict]]:
    """The rows of ``df`` as dicts without ``key``, grouped by ``key`` in row order:
    ``{key value: [{column: value, ...}, ...]}`` (the drivers per account). Built from
    column lists, several times faster than ``to_dict("records")``."""
    cols = [c for c in df.columns if c != key]
    recs = [dict(zip(cols, v, strict=True))
            for v in zip(*(df[c].tolist() for c in cols), strict=True)]
    out: dict[str, list[dict]] = {}
    for k, r in zip(df[key].tolist(), recs, strict=True):
        out.setdefault(k, []).append(r)
    return out


def why_panels(why: WhyPanel, accounts: pd.Index) -> list[dict]:
    """Each account's why panel as stored in ``details_json``, column-wise
    (``pd.DataFrame`` of it gives the panel's rows; :func:`greendoor.account360.why_frame`
    adds ``contribution`` and ``gain``): ``component``, ``measure``, and ``value``,
    ``scaled``, ``weight`` rounded to 4 decimals, in the order of ``accounts``. The
    numbers stay numpy rows that :func:`dumps` writes without a Python object per value.
    Raises ``ValueError`` when the panel is not over ``accounts``."""
    if not why.accounts.equals(accounts):
        raise ValueError("the why panel is not over the scored accounts")
    value, scaled, weight = (np.round(m, 4) for m in (why.value, why.scaled, why.weight))
    return [{"component": why.components, "measure": why.measures, "value": value[i],
             "scaled": scaled[i], "weight": weight[i]} for i in range(len(accounts))]


def dumps(obj) -> str:
    """JSON text of ``obj`` (orjson): NaN and infinities become null, numpy scalars and
    dates are written natively, anything else through :func:`_clean`."""
    return orjson.dumps(obj, default=_clean, option=orjson.OPT_SERIALIZE_NUMPY
                        | orjson.OPT_NON_STR_KEYS).decode()


def write_alerts(conn: Connection, al: pd.DataFrame, as_of: dt.date,
                  scope: tuple[str, ...] | None = None) -> None:
    """Make ``al`` the live alerts of ``as_of``: one per account and rule
    (:data:`greendoor.rules.LIVE_ALERT`). A live alert raised again is updated in place
    (its severity, title and evidence; same id, creation time, status and assignee); live
    alerts not raised again are removed; new ones are added, acknowledged (and with the
    same assignee) when the account's alert of that rule was acknowledged on an earlier
    date, and with the creation time of the same account and rule's live alert at the
    scoring before (its age counts from when it was first raised in a row). Alerts a user snoozed, dismissed, resolved or marked false positive
    (:data:`greendoor.rules.QUIET_ALERT`) are not raised again for the same account
    and rule until their ``snoozed_until`` (never, when it is empty).

    ``scope``: the rules this call owns. ``None`` (the scoring): every rule except the
    automation rules' alerts (:data:`greendoor.rules.AUTOMATION_ALERT` prefix), which
    :func:`greendoor.automation.run` writes with their own scope."""
    t = schema.alerts
    mine = (t.c.rule.in_(scope) if scope is not None
            else ~t.c.rule.startswith(AUTOMATION_ALERT))
    kept = {(r[0], r[1]) for r in conn.execute(
        sa.select(t.c.account_id, t.c.rule).where(mine, t.c.status.in_(QUIET_ALERT),
                                                  sa.or_(t.c.snoozed_until.is_(None),
                                                         t.c.snoozed_until > as_of)))}
    if kept:
        al = al[np.array([(a, r) not in kept for a, r in zip(al["account_id"], al["rule"],
                                                              strict=True)], dtype=bool)]
    acked = {(r[0], r[1]): r[2] for r in conn.execute(
        sa.select(t.c.account_id, t.c.rule, t.c.assignee).where(
            mine, t.c.status == "acknowledged", t.c.as_of < as_of).order_by(t.c.as_of))}
    raised = pd.DataFrame({c: al[c].to_numpy(dtype=object)
                           for c in ("account_id", "rule", "severity", "title")})
    raised["evidence_json"] = [dumps(e) for e in al["evidence"]]
    same = list(raised.columns)
    keys = list(zip(raised["account_id"], raised["rule"], strict=True))
    raised["status"] = ["acknowledged" if k in acked else "open" for k in keys]
    raised["assignee"] = pd.Series([acked.get(k) for k in keys], dtype=object)
    # raised at the scoring before too: the same alert, so it keeps its age
    prev = conn.execute(sa.select(sa.func.max(t.c.as_of)).where(mine, t.c.as_of < as_of)).scalar()
    since = {(r[0], r[1]): r[2] for r in conn.execute(
        sa.select(t.c.account_id, t.c.rule, t.c.created_at).where(
            mine, t.c.as_of == prev, t.c.status.in_(LIVE_ALERT)))} if prev else {}
    now = now_utc()
    raised["created_at"] = pd.Series([since.get(k, now) for k in keys], dtype="datetime64[us]")
    with staged(conn, t, raised) as stage:
        # the same alert: account and rule (a portfolio alert: and its title, one per gap)
        match = sa.and_(t.c.account_id == stage.c.account_id, t.c.rule == stage.c.rule,
                        sa.or_(t.c.account_id != AL.PORTFOLIO, t.c.title == stage.c.title))
        live_now = (t.c.as_of == as_of) & t.c.status.in_(LIVE_ALERT) & mine
        conn.execute(t.delete().where(live_now, ~sa.select(sa.literal(1)).select_from(stage)
                                      .where(match).exists()))
        # raised again: updated in place, keeping its id, creation time and status
        conn.execute(t.update().where(live_now, sa.select(sa.literal(1)).select_from(stage)
                                      .where(match).exists())
                     .values(**{c: sa.select(stage.c[c]).where(match).limit(1)
                                .scalar_subquery() for c in ("severity", "title",
                                                             "evidence_json")}))
        conn.execute(t.insert().from_select(
            ["alert_id", *same, "as_of", "status", "assignee", "snoozed_until", "created_at"],
            sa.select(_random_ids(), *[stage.c[c] for c in same],
                      sa.literal(as_of, sa.Date), stage.c.status, stage.c.assignee, sa.null(),
                      stage.c.created_at)
            .where(~sa.select(sa.literal(1)).select_from(t).where(match, live_now).exists())))


def _random_ids() -> sa.ColumnElement:
    """A new random id per row in SQL (DuckDB and PostgreSQL 13+), in the format of
    :func:`~greendoor.store.engine.new_id`: 32 hex characters."""
    return sa.func.replace(sa.cast(sa.func.gen_random_uuid(), sa.String), "-", "")


def _store_evaluation(conn: Connection, evaluation: dict, as_of: dt.date, version: int) -> None:
    conn.execute(schema.model_runs.insert().values(
        run_id=new_id(), kind="evaluation", created_at=now_utc(), as_of=as_of,
        trained_through=None, settings_version=version,
        status=evaluation.get("status", "skipped"), estimator=None,
        metrics_json=json.dumps(evaluation, default=_clean), artifact=None))


def evaluate(engine: Engine, as_of: dt.date | None = None,
             progress: Callable[[float, str], None] | None = None) -> dict:
    """Run the purged time-ordered backtest and store it (``model_runs``, kind
    "evaluation"). Returns the metrics (see :func:`backtest`)."""
    with engine.connect() as conn:
        if (as_of or default_as_of(conn)) is None:
            raise ValueError("the store has no data to evaluate")
    plan = _plan(engine, as_of, 0, retrain=True)
    cache = FeatureCache(engine, plan.settings, progress)
    cache.ensure(plan.train, 0.0, 0.8)
    result = backtest(cache, plan.train)
    result["as_of"] = str(plan.as_of)
    result["fingerprint"] = plan.fingerprint
    with engine.begin() as conn:
        _store_evaluation(conn, result, plan.as_of, plan.version)
    return result


def latest_evaluation(conn: Connection) -> dict | None:
    """The latest stored backtest (from ``score`` or ``evaluate``), or ``None``."""
    mr = schema.model_runs
    row = conn.execute(sa.select(mr.c.metrics_json, mr.c.created_at).where(
        mr.c.kind == "evaluation").order_by(mr.c.created_at.desc()).limit(1)).first()
    if row is None:
        return None
    out = json.loads(row[0])
    out["created_at"] = str(row[1])
    return out
