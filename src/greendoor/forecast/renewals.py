"""Bottom-up renewal forecast: every renewal due, its probability, and the sum.

* **Upcoming**: accounts with a subscription in force at the as-of date whose next
  renewal date falls in the next 4 quarters, with ARR, the renewal probability
  from the latest score snapshot, and the open renewal opportunity's forecast
  category. Expected renewed ARR = Σ ARR × P(renew) per month and quarter, with
  P10/P50/P90 from a Monte Carlo simulation of independent renewals.
* **Past quarters**: for each of the last complete quarters, the forecast made at
  the quarter's start by a churn model trained only on outcomes known by then,
  against the ARR that actually renewed. The backfilled snapshots are not used for
  this, because today's model has already seen those outcomes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor import state
from greendoor.metrics.sql import arr_as_of_query
from greendoor.periods import data_start
from greendoor.scoring.churn import ChurnModel, NotEnoughData
from greendoor.scoring.labels import churn_labels
from greendoor.scoring.run import (
    FeatureCache,
    at_renewal,
    connect,
    model_frame,
    renewal_probability,
    training_dates,
)
from greendoor.settings import current
from greendoor.store import schema

CATEGORIES = ("commit", "best_case", "pipeline", "omitted")
N_SIMULATIONS = 10_000


def quarter_start(d: dt.date) -> dt.date:
    """First day of the calendar quarter holding ``d``."""
    return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def add_quarters(d: dt.date, n: int) -> dt.date:
    """First day of the quarter ``n`` quarters after the one starting at ``d`` (``n`` may be
    negative); ``d`` is expected to be a quarter start."""
    m = d.month - 1 + 3 * n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def due_in(conn: Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Accounts whose next renewal in force at ``start`` falls in ``[start, end)``
    (:func:`greendoor.state.next_renewals`: from the contract, never from a renewal date
    a later export overwrote): ``account_id, renewal_date, renewal_basis, arr`` (ARR as
    of ``start``)."""
    nxt = state.next_renewals(conn, start)
    nxt = nxt[(nxt["next_renewal"] >= pd.Timestamp(start)) & (nxt["next_renewal"]
                                                               < pd.Timestamp(end))]
    arr = pd.read_sql(arr_as_of_query(start), conn)[["account_id", "arr"]]
    out = nxt.rename(columns={"next_renewal": "renewal_date", "basis": "renewal_basis"})
    return out[["account_id", "renewal_date", "renewal_basis"]].merge(arr, on="account_id")


def churn_dates(conn: Connection) -> pd.DataFrame:
    """Every churn event that is not a reactivation: ``account_id, churn_date``
    (Timestamp)."""
    ce = schema.churn_events
    df = pd.read_sql(sa.select(ce.c.account_id, ce.c.churn_date).where(
        sa.func.coalesce(ce.c.is_reactivation, False).is_(False)), conn)
    df["churn_date"] = pd.to_datetime(df["churn_date"])
    return df


def renewed(conn: Connection, accounts, start: dt.date, check: dt.date,
            arr_at_check: pd.Series | None = None,
            churns: pd.DataFrame | None = None) -> pd.Series:
    """Whether each of ``accounts`` still has ARR at ``check`` and no churn event (not a
    reactivation) in ``[start, check)``: a Series of bool indexed by account.
    ``arr_at_check``: each account's ARR at ``check`` (``arr_as_of_query``), and
    ``churns``: :func:`churn_dates`, when the caller has read them already."""
    ce = schema.churn_events
    later = arr_at_check if arr_at_check is not None else \
        pd.read_sql(arr_as_of_query(check), conn).set_index("account_id")["arr"]
    if churns is not None:
        within = churns["churn_date"].between(pd.Timestamp(start), pd.Timestamp(check),
                                              inclusive="left")
        churned = set(churns.loc[within, "account_id"])
    else:
        churned = {r[0] for r in conn.execute(sa.select(ce.c.account_id).where(
            ce.c.churn_date >= start, ce.c.churn_date < check,
            sa.func.coalesce(ce.c.is_reactivation, False).is_(False)))}
    idx = pd.Index(accounts)
    return pd.Series((later.reindex(idx).fillna(0) > 0).to_numpy() & ~idx.isin(churned),
                     index=idx)


def renewal_rate(conn: Connection, start: dt.date, end: dt.date, check: dt.date
                 ) -> tuple[float, float]:
    """(ARR due, ARR renewed) of the renewals due in ``[start, end)`` as known at
    ``check``: the same point-in-time rules as the forecast."""
    due = due_in(conn, start, end)
    if due.empty:
        return 0.0, 0.0
    ok = renewed(conn, due["account_id"], start, check)
    return float(due["arr"].sum()), float(due["arr"][ok.to_numpy()].sum())


def upcoming(conn: Connection, as_of: dt.date, days: int = 365) -> pd.DataFrame:
    """Renewals due in ``[as_of, as_of + days)``: one row per account with
    ``account_id, name, segment, csm_owner, renewal_date, renewal_basis, arr,
    renewal_probability, risk_basis, forecast_category`` (the open renewal
    opportunity's category as known at ``as_of``; NaN probability when the account has
    no score)."""
    a, ss = schema.accounts, schema.score_snapshots
    df = due_in(conn, as_of, as_of + dt.timedelta(days=days))
    info = state.with_segment_at(
        conn, pd.read_sql(sa.select(a.c.account_id, a.c.name, a.c.csm_owner), conn), as_of)
    latest = sa.select(sa.func.max(ss.c.as_of)).where(ss.c.as_of <= as_of).scalar_subquery()
    probs = pd.read_sql(sa.select(ss.c.account_id, ss.c.renewal_probability, ss.c.risk_basis)
                        .where(ss.c.as_of == latest), conn)
    opps = state.opportunities_as_of(conn, as_of, types=("renewal",), open_only=True)
    cats = opps.drop_duplicates("account_id")[["account_id", "forecast_category"]]
    df = (df.merge(info, on="account_id", how="left").merge(probs, on="account_id", how="left")
          .merge(cats, on="account_id", how="left"))
    df["renewal_date"] = pd.to_datetime(df["renewal_date"])
    cols = ["account_id", "name", "segment", "csm_owner", "renewal_date", "renewal_basis", "arr",
            "renewal_probability", "risk_basis", "forecast_category"]
    return df.reindex(columns=cols).sort_values("renewal_date", ignore_index=True)


def simulate(renewals: pd.DataFrame, period: str = "quarter", n: int = N_SIMULATIONS,
             seed: int = 0) -> pd.DataFrame:
    """Expected renewed ARR per period with P10/P50/P90.

    ``renewals``: ``renewal_date``, ``arr``, ``renewal_probability`` (rows without a
    probability are left out and counted in ``unscored``). ``period``: "month" or
    "quarter". Each renewal is an independent Bernoulli draw. Returns
    ``period_start, renewals, unscored, arr_due, expected, p10, p50, p90``.
    """
    r = renewals.copy()
    d = pd.to_datetime(r["renewal_date"])
    r["period_start"] = (d.dt.to_period("Q" if period == "quarter" else "M").dt.start_time)
    rng = np.random.default_rng(seed)
    out = []
    for ps, g in r.groupby("period_start"):
        scored = g.dropna(subset=["renewal_probability"])
        arr = scored["arr"].to_numpy(float)
        p = scored["renewal_probability"].to_numpy(float)
        draws = (rng.random((n, len(p))) < p) @ arr if len(p) else np.zeros(n)
        out.append({"period_start": ps, "renewals": len(g), "unscored": len(g) - len(scored),
                    "arr_due": float(g["arr"].sum()), "expected": float((arr * p).sum()),
                    "p10": float(np.percentile(draws, 10)), "p50": float(np.percentile(draws, 50)),
                    "p90": float(np.percentile(draws, 90))})
    return pd.DataFrame(out, columns=["period_start", "renewals", "unscored", "arr_due",
                                      "expected", "p10", "p50", "p90"])


def categories(renewals: pd.DataFrame, period: str = "quarter") -> pd.DataFrame:
    """ARR due per period and forecast category (commit, best_case, pipeline, omitted,
    and ``no_opportunity`` for renewals without an open renewal opportunity)."""
    r = renewals.copy()
    d = pd.to_datetime(r["renewal_date"])
    r["period_start"] = d.dt.to_period("Q" if period == "quarter" else "M").dt.start_time
    r["category"] = r["forecast_category"].where(r["forecast_category"].isin(CATEGORIES),
                                                 "no_opportunity")
    t = r.pivot_table(index="period_start", columns="category", values="arr", aggfunc="sum",
                      fill_value=0.0)
    return t.reindex(columns=[*CATEGORIES, "no_opportunity"], fill_value=0.0).reset_index()


#: The constant baselines of the past-quarter accuracy: name -> (description, quarters).
BASELINES = {"constant": ("the trailing four quarters' renewal rate × ARR due", 4),
             "last_quarter": ("the last quarter's renewal rate × ARR due", 1)}


def _accuracy(forecast: float, actual: float) -> float:
    return 1 - abs(forecast - actual) / actual if actual else float("nan")


def _baselines(conn: Connection, qs: dt.date, arr_due: float, actual: float) -> dict:
    """Each baseline's forecast of a quarter starting ``qs`` and its accuracy: a renewal
    rate measured on earlier quarters with outcomes known by ``qs``, times the ARR due."""
    out = {}
    rates = {}
    for k in range(1, 5):
        ps = add_quarters(qs, -k)
        pe = add_quarters(ps, 1)
        rates[k] = renewal_rate(conn, ps, pe, min(pe + dt.timedelta(days=14), qs))
    for name, (_, n) in BASELINES.items():
        due = sum(rates[k][0] for k in range(1, n + 1))
        rate = sum(rates[k][1] for k in range(1, n + 1)) / due if due else float("nan")
        forecast = rate * arr_due
        out[name] = {"rate": rate, "forecast": forecast, "accuracy": _accuracy(forecast, actual)}
    return out


def past_quarters(source: Connection | Engine, as_of: dt.date, n_quarters: int = 4
                  ) -> pd.DataFrame:
    """Forecast vs actual renewed ARR for the last complete quarters (see the module
    docstring), beside two constant baselines (:data:`BASELINES`), each with its own
    accuracy under the same point-in-time rules. ``source``: a connection, or an engine
    (short connections per query batch; model training runs without one). Columns
    ``quarter_start, renewals, arr_due, forecast, p10, p90, actual, accuracy``
    (1 - |forecast - actual| / actual), ``inside`` (actual within P10-P90),
    ``constant_forecast, constant_accuracy, last_quarter_forecast,
    last_quarter_accuracy``, ``model`` and ``reason`` when a quarter could not be
    forecast."""
    with connect(source) as conn:
        _, settings = current(conn)
        start = data_start(conn)
    cache = FeatureCache(source, settings)
    last_complete = add_quarters(quarter_start(as_of - dt.timedelta(days=14)), -1)
    rows = []
    for k in range(n_quarters - 1, -1, -1):
        qs = add_quarters(last_complete, -k)
        qe = add_quarters(qs, 1)
        row = {"quarter_start": pd.Timestamp(qs), "renewals": 0, "arr_due": 0.0,
               "forecast": np.nan, "p10": np.nan, "p90": np.nan, "actual": np.nan,
               "accuracy": np.nan, "inside": None, "model": None, "reason": None,
               **{f"{b}_{c}": np.nan for b in BASELINES for c in ("forecast", "accuracy")}}
        rows.append(row)
        if start is None or qs < start:
            row["reason"] = "before the data starts"
            continue
        with connect(source) as conn:
            due = due_in(conn, qs, qe).set_index("account_id")
            if due.empty:
                row["reason"] = "no renewal due in the quarter"
                continue
            ok = renewed(conn, due.index, qs, qe + dt.timedelta(days=14))
            actual = float(due["arr"][ok.to_numpy()].sum())
            base = _baselines(conn, qs, float(due["arr"].sum()), actual)
        row.update(renewals=len(due), arr_due=float(due["arr"].sum()), actual=actual,
                   **{f"{b}_{c}": v[c] for b, v in base.items() for c in ("forecast", "accuracy")})
        train = training_dates(qs, start, anchor=as_of, horizon=cache.horizon)
        cache.ensure([*train, qs])
        try:
            X, y, d, _ = cache.labeled(train, churn_labels, renewal_only=True)
            model = ChurnModel().fit(X, y, as_of=d)
        except (NotEnoughData, ValueError) as exc:
            row["reason"] = f"no model could be trained on data before {qs}: {exc}"
            continue
        f = cache.features[qs].reindex(due.index)
        with connect(source) as conn:
            churn = model.predict_proba(at_renewal(model_frame(f)))[:, 1]
            p, _ = renewal_probability(conn, churn, f.assign(days_to_renewal=0), qs)
        sim = simulate(pd.DataFrame({"renewal_date": pd.Timestamp(qs), "arr": due["arr"],
                                     "renewal_probability": p}), "quarter")
        forecast = float((due["arr"] * p).sum())
        row.update(forecast=forecast, p10=float(sim["p10"].iloc[0]), p90=float(sim["p90"].iloc[0]),
                   accuracy=_accuracy(forecast, actual),
                   inside=bool(sim["p10"].iloc[0] <= actual <= sim["p90"].iloc[0]),
                   model=model.estimator_)
    return pd.DataFrame(rows)


def beats_baselines(past: pd.DataFrame) -> dict:
    """Mean accuracy over the forecast quarters of the model and of each baseline, the
    best baseline (highest mean), and whether the model beats it: a higher mean *and*
    more accurate in most quarters (four quarters cannot carry an interval; a tie on
    the mean, won in half the quarters, is not a win). A target counts as met only then.
    ``{"model", "baselines": {name: mean}, "best", "wins", "quarters", "beats"}``."""
    done = past.dropna(subset=["accuracy"])
    means = {b: float(done[f"{b}_accuracy"].mean()) for b in BASELINES} if len(done) else {}
    best = max(means, key=lambda b: means[b] if means[b] == means[b] else -1) if means else None
    model = float(done["accuracy"].mean()) if len(done) else float("nan")
    wins = int((done["accuracy"] > done[f"{best}_accuracy"]).sum()) if best else 0
    return {"model": model, "baselines": means, "best": best, "wins": wins,
            "quarters": int(len(done)),
            "beats": bool(best is not None and model > means[best] and wins > len(done) / 2)}
