"""Model quality read model: stored backtests, and the seeds' success metrics as
target vs actual (SPEC.md page 11; seeds 000 and 001).

Everything comes from what ``greendoor score`` / ``evaluate`` / ``forecast`` stored;
nothing is recomputed here.
"""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.forecast import renewals as FR
from greendoor.scoring.run import latest_evaluation
from greendoor.store import schema


def forecast_backtests(conn: Connection, segment: str = "all") -> pd.DataFrame:
    """The latest forecast backtests of ``segment``: one row per series and model."""
    fb = schema.forecast_backtests
    return pd.read_sql(sa.select(fb).where(fb.c.segment == segment)
                       .order_by(fb.c.series, fb.c.freq, fb.c.model), conn)


def renewal_accuracy(conn: Connection) -> pd.DataFrame:
    """Past quarters' renewal forecast vs actual (from the latest forecast run)."""
    rf = schema.renewal_forecasts
    df = pd.read_sql(sa.select(rf.c.period_start, rf.c.renewals, rf.c.arr_due, rf.c.expected,
                               rf.c.p10, rf.c.p90, rf.c.actual, rf.c.accuracy, rf.c.detail_json)
                     .where(rf.c.kind == "past").order_by(rf.c.period_start), conn)
    detail = df["detail_json"].map(lambda d: json.loads(d or "{}"))
    for key in ("inside", "reason", *[f"{b}_{c}" for b in FR.BASELINES
                                      for c in ("forecast", "accuracy")]):
        df[key] = detail.map(lambda d, k=key: d.get(k))
    for b in FR.BASELINES:
        df[f"{b}_accuracy"] = pd.to_numeric(df[f"{b}_accuracy"], errors="coerce")
    return df.drop(columns="detail_json")


def success_metrics(evaluation: dict | None, renewal: pd.DataFrame) -> pd.DataFrame:
    """The seeds' success metrics as ``metric, target, actual, met, source``.

    A metric the data cannot measure yet says so in ``actual`` (``met`` is None).
    """
    ev = evaluation or {}
    churn = (ev.get("churn") or {}).get("test") or {}
    rows = []
    acc = renewal["accuracy"].dropna()
    cmp = FR.beats_baselines(renewal.rename(columns={"expected": "forecast"}))
    if len(acc):
        best = cmp["best"]
        actual = (f"{acc.mean():.1%} over {len(acc)} quarters vs {cmp['baselines'][best]:.1%} "
                  f"for {FR.BASELINES[best][0]}; more accurate in {cmp['wins']} of "
                  f"{cmp['quarters']} quarters")
    else:
        actual = "not measurable yet: run `greendoor forecast` with a year of renewals"
    rows.append(("Renewal forecast accuracy (past quarters, mean), beating its best baseline",
                 "85 %+", actual, bool(acc.mean() >= 0.85 and cmp["beats"]) if len(acc) else None,
                 "product success metrics"))
    m = ev.get("churn") or {}
    st = m.get("status", "not measured")
    auc = churn.get("auc")
    beyond = (m.get("beyond_timing") or {}).get("auc")
    skilled = st == "skill"
    rows.append(("Churn model validated against outcomes (backtest ROC AUC), beating its best "
                 "baseline", "0.80+",
                 (f"{auc:.3f}; {st} over its best baseline; beyond timing {beyond:.3f}"
                  if beyond is not None and beyond == beyond else f"{auc:.3f}; {st}")
                 if auc is not None else "not available: " + str(m.get("reason", "no backtest")),
                 bool(auc >= 0.80 and skilled) if auc is not None else None,
                 "product success metrics (above 80 %)"))
    lift = churn.get("top_decile_lift")
    rows.append(("Churn model top-decile lift (with measured skill)", "3+",
                 f"{lift:.2f}" if lift is not None else "—",
                 bool(lift >= 3 and skilled) if lift is not None else None,
                 "model standard: 3× the base rate in the top tenth"))
    h = ev.get("health") or {}
    h_auc = h.get("auc_low_health")
    rows.append(("Health score vs outcomes (ROC AUC of low health for churn)", "0.90",
                 f"{h_auc:.3f}" if h_auc is not None else "—",
                 bool(h_auc >= 0.90) if h_auc is not None else None,
                 "product success metrics (90 % agreement), measured as AUC"))
    rates = {r["group"]: r["rate"] for r in h.get("churn_rate_by_band", [])}
    ordered = all(b in rates for b in ("red", "yellow", "green")) and \
        rates["red"] > rates["yellow"] > rates["green"]
    rows.append(("Churn rate falls from red to yellow to green", "strictly falling",
                 " > ".join(f"{b} {rates[b]:.1%}" for b in ("red", "yellow", "green") if b in rates)
                 or "—", ordered if rates else None,
                 "model standard: bands must order the risk"))
    rows.append(("Churn reduction through intervention", "40 %",
                 "not measurable yet: needs a year of playbook runs and their outcomes", None,
                 "product success metrics"))
    return pd.DataFrame(rows, columns=["metric", "target", "actual", "met", "source"])


def latest(conn: Connection) -> dict | None:
    """The latest stored model evaluation (:func:`greendoor.scoring.evaluate.latest_evaluation`):
    metrics and baselines per model, or ``None`` before the first scoring run."""
    return latest_evaluation(conn)
