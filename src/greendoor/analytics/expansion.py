"""Expansion pipeline (SPEC.md "Pages" 3 and "Rules": expansion signal).

Opportunities are read as they stand in the store (stage, amount, probability);
signals come from the latest scoring run's ``expansion_signal`` alerts plus
features adopted recently, and exclude accounts that already have an open
expansion opportunity (converted signals).
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import rules, state
from greendoor.analytics.portfolio_health import alerts_at, scores
from greendoor.metrics import sql as msql
from greendoor.periods import Filters
from greendoor.store import schema

#: Stage order of an expansion deal; stages not listed sort after these, by name.
STAGE_ORDER = ("discovery", "qualification", "proposal", "negotiation", "contract_sent")
#: Without a seat signal, the estimated value is ARR x the segment's median won uplift;
#: this is the uplift used when the store has fewer than this many won expansions.
MIN_WON_HISTORY = 10
DEFAULT_UPLIFT = 0.15


def stage_rank(stage: str | None) -> int:
    """Position of ``stage`` in :data:`STAGE_ORDER` (earliest first); unknown stages sort last."""
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)


def open_pipeline(conn: Connection, f: Filters) -> pd.DataFrame:
    """Expansion opportunities open at ``f.as_of`` (created before it, not closed by
    then), with their stage, probability and forecast category as known at that date
    (:func:`greendoor.state.opportunities_as_of`; ``unknown`` stage when the store holds
    only values written later).

    Columns ``opportunity_id, account_id, name (account), segment, csm_owner,
    opportunity, stage, amount (USD), probability (0-1), weighted (amount x
    probability, USD), forecast_category, close_date, created_at, age_days`` (days
    since creation at the as-of date; NaN without a creation date), ordered by stage.
    """
    o, a = schema.opportunities, schema.accounts
    df = state.opportunities_as_of(conn, f.as_of, types=("expansion",), open_only=True)
    info = state.with_segment_at(
        conn, pd.read_sql(sa.select(a.c.account_id, a.c.name, a.c.csm_owner), conn), f.as_of)
    names = pd.read_sql(sa.select(o.c.opportunity_id, o.c.name.label("opportunity"))
                        .where(o.c.type == "expansion"), conn)
    df = df.merge(info, on="account_id").merge(names, on="opportunity_id", how="left")
    if f.segment:
        df = df[df["segment"] == f.segment]
    if f.owner:
        df = df[df["csm_owner"] == f.owner]
    df = df.reset_index(drop=True)
    df["probability"] = df["probability"].astype(float)
    df["weighted"] = df["amount"] * df["probability"].fillna(0.0)
    created = pd.to_datetime(df["created_at"])
    df["age_days"] = (pd.Timestamp(f.as_of) - created).dt.days.astype(float)
    df["stage"] = df["stage"].fillna("unknown")  # no stage known at the date
    df["_rank"] = df["stage"].map(stage_rank)
    return df.sort_values(["_rank", "stage", "amount"], ascending=[True, True, False],
                          ignore_index=True).drop(columns="_rank")


def by_stage(pipeline: pd.DataFrame) -> pd.DataFrame:
    """Per stage, in deal order: ``stage, opportunities, amount, weighted,
    median_age_days, oldest_age_days``."""
    cols = ["stage", "opportunities", "amount", "weighted", "median_age_days", "oldest_age_days"]
    if pipeline.empty:
        return pd.DataFrame(columns=cols)
    g = pipeline.groupby("stage").agg(opportunities=("opportunity_id", "count"),
                                      amount=("amount", "sum"), weighted=("weighted", "sum"),
                                      median_age_days=("age_days", "median"),
                                      oldest_age_days=("age_days", "max")).reset_index()
    g["_rank"] = g["stage"].map(stage_rank)
    return g.sort_values(["_rank", "stage"], ignore_index=True)[cols]


def won_uplift(conn: Connection, as_of: dt.date) -> dict[str, float]:
    """Median won expansion amount / the account's ARR at the close date, per segment,
    over the 12 months before ``as_of`` (``"all"`` for the whole portfolio). Segments
    with fewer than :data:`MIN_WON_HISTORY` wins take the portfolio's figure, and the
    portfolio falls back to :data:`DEFAULT_UPLIFT`."""
    o, a = schema.opportunities, schema.accounts
    won = pd.read_sql(sa.select(o.c.account_id, o.c.amount, o.c.close_date)
                      .select_from(o.join(a, a.c.account_id == o.c.account_id))
                      .where(o.c.type == "expansion", o.c.status == "won",
                             o.c.close_date < as_of,
                             o.c.close_date >= as_of - dt.timedelta(days=365)), conn)
    won = state.with_segment_at(conn, won, as_of)
    if won.empty:
        return {"all": DEFAULT_UPLIFT}
    arr = msql.arr_as_of(conn, as_of - dt.timedelta(days=182)).set_index("account_id")["arr"]
    won["uplift"] = won["amount"] / won["account_id"].map(arr)
    won = won.replace([np.inf, -np.inf], np.nan).dropna(subset=["uplift"])
    overall = float(won["uplift"].median()) if len(won) >= MIN_WON_HISTORY else DEFAULT_UPLIFT
    out = {"all": overall}
    for seg, g in won.groupby("segment"):
        out[seg] = float(g["uplift"].median()) if len(g) >= MIN_WON_HISTORY else overall
    return out


def new_features(conn: Connection, as_of: dt.date, days: int = 30,
                 lookback: int = 120) -> pd.DataFrame:
    """Features each account started using in the last ``days`` days (no use in the
    ``lookback`` days before): ``account_id, new_features`` (count), ``feature_list``."""
    u = schema.usage
    first = (sa.select(u.c.account_id, u.c.feature, sa.func.min(u.c.date).label("first_day"))
             .where(u.c.date < as_of, u.c.date >= as_of - dt.timedelta(days=days + lookback),
                    u.c.feature.is_not(None), u.c.events > 0)
             .group_by(u.c.account_id, u.c.feature).subquery("first"))
    df = pd.read_sql(sa.select(first.c.account_id, first.c.feature)
                     .where(first.c.first_day >= as_of - dt.timedelta(days=days)), conn)
    if df.empty:
        return pd.DataFrame(columns=["account_id", "new_features", "feature_list"])
    return (df.groupby("account_id")["feature"]
            .agg(new_features="count", feature_list=lambda s: ", ".join(sorted(s)))
            .reset_index())


def signals(conn: Connection, f: Filters, settings: dict) -> pd.DataFrame:
    """Expansion signals not yet converted, best first.

    An account signals when its latest scoring (on or before ``f.as_of``; an earlier
    week's from its snapshots, :func:`~greendoor.analytics.portfolio_health.alerts_at`) raised an
    ``expansion_signal`` alert (seat utilization above, or 90-day usage growth at or
    above, the thresholds in ``settings["rules"]``), or it started using 2+ new
    features in the last 30 days; accounts with an open expansion opportunity are
    left out. Columns ``account_id, name, segment, csm_owner, arr, seats,
    seat_utilization, usage_growth_90d, new_features, feature_list, signal`` (plain
    words), ``expansion_probability, estimated_value`` (USD) and ``basis`` (how the
    value was estimated):

    - seat signal: :func:`seat_value` at ``rules.expansion_target_utilization``;
    - otherwise: ARR x the segment's median won expansion uplift (:func:`won_uplift`).
    """
    sc = scores(conn, f)
    cols = ["account_id", "name", "segment", "csm_owner", "arr", "seats", "seat_utilization",
            "usage_growth_90d", "new_features", "feature_list", "signal",
            "expansion_probability", "estimated_value", "basis"]
    if sc.empty:
        return pd.DataFrame(columns=cols)
    snap = sc["as_of"].iloc[0]
    ev = alerts_at(conn, snap, rule="expansion_signal")[["account_id", "evidence_json"]]
    ev = ev[ev["account_id"].isin(sc["account_id"])]
    parsed = ev["evidence_json"].map(lambda s: json.loads(s) if s else {})
    for k in ("seat_utilization", "usage_growth_90d"):  # null (unknown) -> NaN
        ev[k] = pd.to_numeric(parsed.map(lambda e, k=k: e.get(k)), errors="coerce")
    nf = new_features(conn, snap)
    df = sc.merge(ev.drop(columns="evidence_json"), on="account_id", how="left")
    df = df.merge(nf, on="account_id", how="left")
    # each account's thresholds: its segment's own, or the default (settings rules_by_segment)
    need = df["segment"].map(lambda s: rules.for_segment(settings, s)["expansion_new_features"])
    df = df[df["account_id"].isin(set(ev["account_id"])) | (df["new_features"] >= need)].copy()
    opp = state.opportunities_as_of(conn, snap, types=("expansion",), open_only=True)
    df = df[~df["account_id"].isin(set(opp["account_id"]))]
    if df.empty:
        return pd.DataFrame(columns=cols)
    seats = msql.arr_as_of(conn, snap, f.segment, f.owner).set_index("account_id")["seats"]
    df["seats"] = df["account_id"].map(seats).astype(float)
    uplift = won_uplift(conn, snap)

    def value_and_basis(row) -> tuple[float, str, str]:
        r = rules.for_segment(settings, row["segment"])
        util, growth = row["seat_utilization"], row["usage_growth_90d"]
        words = []
        if util is not None and not _nan(util) and util > r["expansion_seat_utilization"]:
            words.append(f"seat utilization {util:.0%}")
        if growth is not None and not _nan(growth) and growth >= r["expansion_usage_growth"]:
            words.append(f"usage up {growth:.0%} in 90 days")
        if not _nan(row["new_features"]) and row["new_features"] >= r["expansion_new_features"]:
            words.append(f"{row['new_features']:.0f} new features in 30 days")
        seats_n = row["seats"]
        if words and words[0].startswith("seat") and seats_n and not _nan(seats_n):
            extra, value = seat_value(util, seats_n, row["arr"], r["expansion_target_utilization"])
            per_seat = row["arr"] / seats_n
            return value, f"{extra} seats x ${per_seat:,.0f} per seat", "; ".join(words)
        u = uplift.get(row["segment"], uplift["all"])
        return row["arr"] * u, f"ARR x {u:.0%} (median won uplift in segment)", "; ".join(words)

    vals = df.apply(value_and_basis, axis=1, result_type="expand")
    df["estimated_value"], df["basis"], df["signal"] = vals[0], vals[1], vals[2]
    df["new_features"] = df["new_features"].fillna(0).astype(int)
    return df.sort_values(["estimated_value"], ascending=False, ignore_index=True)[cols]


def seat_value(utilization: float, seats: float, arr: float,
               target_utilization: float) -> tuple[int, float]:
    """Seats to add so that today's users fill ``target_utilization`` (0-1) of the seats,
    and what they are worth at today's ARR per seat: ``(extra_seats, value_usd)``.

    ``extra = max(ceil(utilization x seats / target - seats), 1)``; ``value = extra x
    arr / seats``. Raises ``ValueError`` when ``seats`` or ``target_utilization`` is not
    positive."""
    if seats <= 0 or target_utilization <= 0:
        raise ValueError("seats and the target utilization must be positive")
    extra = max(math.ceil(utilization * seats / target_utilization - seats), 1)
    return extra, extra * arr / seats


def _nan(v) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return True


def propensity_ranking(conn: Connection, f: Filters, top: int = 50) -> pd.DataFrame:
    """Accounts by P(expansion within 90 days), highest first, with the expected
    expansion value ARR x P x uplift (USD) and the model's top drivers (evidence).
    Columns ``account_id, name, segment, csm_owner, arr, health_score, band,
    expansion_probability, expected_value, drivers``. Empty when unscored or the
    expansion model is unavailable."""
    sc = scores(conn, f)
    if sc.empty or sc["expansion_probability"].isna().all():
        return pd.DataFrame()
    top_sc = sc.sort_values("expansion_probability", ascending=False).head(top).copy()
    uplift = won_uplift(conn, top_sc["as_of"].iloc[0])
    top_sc["expected_value"] = top_sc["arr"] * top_sc["expansion_probability"] * \
        top_sc["segment"].map(lambda s: uplift.get(s, uplift["all"]))
    ss = schema.score_snapshots
    det = pd.read_sql(sa.select(ss.c.account_id, ss.c.details_json).where(
        ss.c.as_of == top_sc["as_of"].iloc[0], ss.c.account_id.in_(list(top_sc["account_id"]))),
        conn).set_index("account_id")["details_json"]
    top_sc["drivers"] = top_sc["account_id"].map(lambda a: "; ".join(
        d["evidence"] for d in (json.loads(det[a]).get("expansion_drivers", [])
                                if a in det and det[a] else [])))
    return top_sc[["account_id", "name", "segment", "csm_owner", "arr", "health_score", "band",
                   "expansion_probability", "expected_value", "drivers"]].reset_index(drop=True)
