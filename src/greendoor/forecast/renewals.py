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

from greendoor.metrics.sql import arr_as_of_query
from greendoor.store import schema

CATEGORIES = ("commit", "best_case", "pipeline", "omitted")
N_SIMULATIONS = 10_000


def quarter_start(d: dt.date) -> dt.date:
    return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def add_quarters(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + 3 * n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def upcoming(conn: Connection, as_of: dt.date, days: int = 365) -> pd.DataFrame:
    """Renewals due in ``[as_of, as_of + days)``: one row per account with
    ``account_id, name, segment, csm_owner, renewal_date, arr, renewal_probability,
    forecast_category`` (NaN probability when the account has no score)."""
    s, a, o, ss = schema.subscriptions, schema.accounts, schema.opportunities, schema.score_snapshots
    end = as_of + dt.timedelta(days=days)
    nxt = (sa.select(s.c.account_id, sa.func.min(s.c.renewal_date).label("renewal_date"))
           .where(s.c.start_date < as_of, sa.or_(s.c.end_date.is_(None), s.c.end_date >= as_of),
                  s.c.renewal_date >= as_of, s.c.renewal_date < end)
           .group_by(s.c.account_id).subquery("nxt"))
    arr = arr_as_of_query(as_of).subquery("arr")
    latest = sa.select(sa.func.max(ss.c.as_of)).where(ss.c.as_of <= as_of).scalar_subquery()
    q = (sa.select(nxt.c.account_id, a.c.name, a.c.segment, a.c.csm_owner, nxt.c.renewal_date,
                   arr.c.arr, ss.c.renewal_probability)
         .select_from(nxt.join(arr, arr.c.account_id == nxt.c.account_id)
                      .join(a, a.c.account_id == nxt.c.account_id)
                      .outerjoin(ss, sa.and_(ss.c.account_id == nxt.c.account_id,
                                             ss.c.as_of == latest))))
    df = pd.read_sql(q, conn)
    cats = pd.read_sql(sa.select(o.c.account_id, o.c.forecast_category)
                       .where(o.c.type == "renewal", o.c.status == "open",
                              sa.or_(o.c.created_at.is_(None), o.c.created_at < as_of)), conn)
    df = df.merge(cats.drop_duplicates("account_id"), on="account_id", how="left")
    df["renewal_date"] = pd.to_datetime(df["renewal_date"])
    return df.sort_values("renewal_date", ignore_index=True)


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


def past_quarters(source: Connection | Engine, as_of: dt.date, n_quarters: int = 4
                  ) -> pd.DataFrame:
    """Forecast vs actual renewed ARR for the last complete quarters (see the module
    docstring). ``source``: a connection, or an engine (short connections per query
    batch; model training runs without one). Columns ``quarter_start, renewals,
    arr_due, forecast, p10, p90, actual, accuracy`` (1 - |forecast - actual| / actual),
    ``inside`` (actual within P10-P90), ``model`` and ``reason`` when a quarter could
    not be forecast."""
    from greendoor.scoring.churn import ChurnModel, NotEnoughData
    from greendoor.scoring.labels import churn_labels
    from greendoor.scoring.run import (
        FeatureCache,
        _model_frame,
        _renewal_probability,
        at_renewal,
        connect,
        data_start,
        training_dates,
    )
    from greendoor.settings import current

    with connect(source) as conn:
        _, settings = current(conn)
        start = data_start(conn)
    cache = FeatureCache(source, settings)
    last_complete = add_quarters(quarter_start(as_of - dt.timedelta(days=14)), -1)
    rows = []
    ce = schema.churn_events
    for k in range(n_quarters - 1, -1, -1):
        qs = add_quarters(last_complete, -k)
        qe = add_quarters(qs, 1)
        row = {"quarter_start": pd.Timestamp(qs), "renewals": 0, "arr_due": 0.0,
               "forecast": np.nan, "p10": np.nan, "p90": np.nan, "actual": np.nan,
               "accuracy": np.nan, "inside": None, "model": None, "reason": None}
        if start is None or qs < start:
            row["reason"] = "before the data starts"
            rows.append(row)
            continue
        train = training_dates(qs, start, anchor=as_of)  # one grid: shared features
        cache.ensure([*train, qs])
        try:
            X, y, d, _ = cache.labeled(train, churn_labels, renewal_only=True)
            model = ChurnModel().fit(X, y, as_of=d)
        except (NotEnoughData, ValueError) as exc:
            row["reason"] = f"no model could be trained on data before {qs}: {exc}"
            rows.append(row)
            continue
        f = cache.features[qs]
        due = f[(f["days_to_renewal"] >= 0) & (f["days_to_renewal"] < (qe - qs).days)]
        if due.empty:
            row["reason"] = "no renewal due in the quarter"
            rows.append(row)
            continue
        check = qe + dt.timedelta(days=14)
        with connect(source) as conn:
            churn = model.predict_proba(at_renewal(_model_frame(due)))[:, 1]
            p, _ = _renewal_probability(conn, churn, due, qs)
            later = pd.read_sql(arr_as_of_query(check), conn).set_index("account_id")["arr"]
            churned = {r[0] for r in conn.execute(sa.select(ce.c.account_id).where(
                ce.c.churn_date >= qs, ce.c.churn_date < check,
                sa.func.coalesce(ce.c.is_reactivation, False).is_(False)))}
        renewed = (later.reindex(due.index).fillna(0) > 0) & ~due.index.isin(churned)
        sim = simulate(pd.DataFrame({"renewal_date": pd.Timestamp(qs), "arr": due["arr"],
                                     "renewal_probability": p}), "quarter")
        actual = float(due["arr"][renewed].sum())
        forecast = float((due["arr"] * p).sum())
        row.update(renewals=len(due), arr_due=float(due["arr"].sum()), forecast=forecast,
                   p10=float(sim["p10"].iloc[0]), p90=float(sim["p90"].iloc[0]), actual=actual,
                   accuracy=1 - abs(forecast - actual) / actual if actual else np.nan,
                   inside=bool(sim["p10"].iloc[0] <= actual <= sim["p90"].iloc[0]),
                   model=model.estimator_)
        rows.append(row)
    return pd.DataFrame(rows)
