"""Advocacy read models (SPEC.md "Pages" 5; NPS and CSAT per "Metric definitions").

NPS = % promoters (9-10) - % detractors (0-6). Advocacy candidates (SPEC.md):
promoter + green health + no advocacy ask in the last 90 days, from the latest
score snapshot's readiness conditions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import periods, state
from greendoor.analytics.portfolio_health import scores
from greendoor.metrics import core
from greendoor.metrics import sql as msql
from greendoor.periods import Filters
from greendoor.store import schema

STATUS_ORDER = ("asked", "accepted", "completed", "declined")


def _month_starts(as_of: dt.date, months: int) -> list[dt.date]:
    first = as_of.replace(day=1)
    out = []
    for k in range(months - 1, -1, -1):
        m = first.month - 1 - k
        out.append(dt.date(first.year + m // 12, m % 12 + 1, 1))
    return out


def nps_trend(conn: Connection, f: Filters, months: int = 12) -> pd.DataFrame:
    """Per calendar month (the last ``months``, up to the as-of date): ``month,
    responses, promoters, passives, detractors, nps`` (points) from NPS answers, and
    ``csat_responses, csat`` (mean 1-5) and ``csat_satisfied`` (share of 4-5) from
    ticket and survey CSAT answers."""
    rows = []
    starts = _month_starts(f.as_of, months)
    for i, m in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else f.as_of
        if end <= m:
            continue
        n = msql.nps(conn, m, end, f.segment, f.owner)
        c = msql.csat(conn, m, end, f.segment, f.owner)
        rows.append({"month": m, **n, "csat_responses": c["responses"], "csat": c["mean"],
                     "csat_satisfied": c["pct_satisfied"]})
    return pd.DataFrame(rows)


def latest_nps_by_account(conn: Connection, f: Filters, days: int = 365) -> pd.DataFrame:
    """Each account's latest NPS answer in the ``days`` before the as-of date:
    ``account_id, name, segment, csm_owner, score, responded_at, category``
    (promoter | passive | detractor)."""
    r, a = schema.survey_responses, schema.accounts
    ranked = (sa.select(r.c.account_id, r.c.score, r.c.responded_at,
                        sa.func.row_number().over(partition_by=r.c.account_id,
                                                  order_by=r.c.responded_at.desc()).label("rn"))
              .where(r.c.survey == "nps",
                     r.c.responded_at < dt.datetime.combine(f.as_of, dt.time()),
                     r.c.responded_at >= dt.datetime.combine(
                         f.as_of - dt.timedelta(days=days), dt.time())).subquery("rk"))
    q = (sa.select(ranked.c.account_id, a.c.name, a.c.csm_owner, ranked.c.score,
                   ranked.c.responded_at)
         .select_from(ranked.join(a, a.c.account_id == ranked.c.account_id))
         .where(ranked.c.rn == 1))
    flt = msql.account_filter(ranked.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        q = q.where(flt)
    df = state.with_segment_at(conn, pd.read_sql(q, conn), f.as_of)
    df["category"] = pd.cut(df["score"], [-1, 6, 8, 10],
                            labels=["detractor", "passive", "promoter"]).astype(str)
    return df


def candidates(conn: Connection, f: Filters) -> pd.DataFrame:
    """Accounts by advocacy readiness (0-100, 25 points per condition met: promoter,
    green health, active champion, no ask in 90 days), readiest first, with the
    conditions as booleans. ``candidate`` is True when SPEC.md's three conditions
    hold (promoter, green, no recent ask)."""
    sc = scores(conn, f)
    if sc.empty:
        return sc
    ss = schema.score_snapshots
    det = pd.read_sql(sa.select(ss.c.account_id, ss.c.details_json).where(
        ss.c.as_of == sc["as_of"].iloc[0]), conn).set_index("account_id")["details_json"]
    cond = sc["account_id"].map(lambda a: json.loads(det[a]).get("advocacy", {})
                                if a in det and det[a] else {})
    for k in ("promoter", "green", "champion_active", "no_recent_ask"):
        sc[k] = cond.map(lambda c, _k=k: bool(c.get(_k, False)))
    sc["candidate"] = sc["promoter"] & sc["green"] & sc["no_recent_ask"]
    return sc.sort_values(["advocacy_readiness", "arr"], ascending=False, ignore_index=True)


def activities(conn: Connection, f: Filters, days: int = 365) -> pd.DataFrame:
    """Advocacy activities dated in the ``days`` before the as-of date: ``activity_id,
    account_id, name, segment, csm_owner, type, status, occurred_at, value`` (USD,
    e.g. a referral's pipeline)."""
    v, a = schema.advocacy_activities, schema.accounts
    q = (sa.select(v.c.activity_id, v.c.account_id, a.c.name, a.c.csm_owner,
                   v.c.type, v.c.status, v.c.occurred_at, v.c.value)
         .select_from(v.join(a, a.c.account_id == v.c.account_id))
         .where(v.c.occurred_at < f.as_of, v.c.occurred_at >= f.as_of - dt.timedelta(days=days)))
    flt = msql.account_filter(v.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        q = q.where(flt)
    return state.with_segment_at(conn, pd.read_sql(q, conn), f.as_of)


def pipeline(acts: pd.DataFrame) -> pd.DataFrame:
    """Activities per ``type`` and ``status`` (asked, accepted, completed, declined):
    one row per type with a column per status and ``acceptance`` = (accepted +
    completed) / all asks answered or open."""
    if acts.empty:
        return pd.DataFrame(columns=["type", *STATUS_ORDER, "acceptance"])
    t = acts.pivot_table(index="type", columns="status", values="activity_id", aggfunc="count",
                         fill_value=0)
    t = t.reindex(columns=list(STATUS_ORDER), fill_value=0)
    total = t.sum(axis=1)
    t["acceptance"] = (t["accepted"] + t["completed"]) / total.where(total > 0)
    return t.reset_index().sort_values("completed", ascending=False, ignore_index=True)


def advocates_vs_others(conn: Connection, f: Filters) -> pd.DataFrame:
    """Trailing-12-month retention of advocates vs the other accounts.

    An advocate completed at least one advocacy activity in the year before the
    period start (so the grouping uses only what was known then). Over the accounts
    with ARR at the start: ``group, accounts, logo_churn, grr, nrr`` (fractions; NaN
    for an empty group). GRR/NRR per SPEC.md (:func:`greendoor.metrics.core.grr`).
    """
    start = f.as_of - dt.timedelta(days=365)
    st = msql.arr_as_of(conn, start, f.segment, f.owner).set_index("account_id")["arr"]
    en = msql.arr_as_of(conn, f.as_of).set_index("account_id")["arr"]
    v = schema.advocacy_activities
    adv = {r[0] for r in conn.execute(sa.select(v.c.account_id).where(
        v.c.status == "completed", v.c.occurred_at < start,
        v.c.occurred_at >= start - dt.timedelta(days=365)).distinct())}
    rows = []
    for name, ids in (("Advocates", [a for a in st.index if a in adv]),
                      ("Other accounts", [a for a in st.index if a not in adv])):
        rows.append({"group": name, "accounts": len(ids), **core.cohort_retention(st, en, ids)})
    return pd.DataFrame(rows)


def referrals(acts: pd.DataFrame, conn: Connection, f: Filters) -> dict:
    """Referrals in the activity window and influenced pipeline: ``referrals``
    (completed), ``referral_value`` (USD recorded on them), ``new_business_won`` and
    ``new_business_open`` (USD of new-business opportunities of the same accounts)."""
    ref = acts[(acts["type"] == "referral") & (acts["status"] == "completed")]
    o = schema.opportunities
    ids = list(set(ref["account_id"]))
    nb = pd.read_sql(sa.select(o.c.status, sa.func.sum(o.c.amount).label("amount"))
                     .where(o.c.type == "new_business", o.c.account_id.in_(ids))
                     .group_by(o.c.status), conn) if ids else pd.DataFrame(columns=["status", "amount"])
    by = nb.set_index("status")["amount"] if not nb.empty else pd.Series(dtype=float)
    return {"referrals": int(len(ref)), "referral_value": float(ref["value"].fillna(0).sum()),
            "new_business_won": float(by.get("won", 0.0)),
            "new_business_open": float(by.get("open", 0.0))}


# --------------------------------------------------------------------------- #
# the advocacy ladder (issue 25; seed journey 9.5)
# --------------------------------------------------------------------------- #
@dataclasses.dataclass(frozen=True)
class Rung:
    """One step of the ladder: its name and the advocacy activity types that reach it
    (a completed one); ``ask`` is the type a promotion asks for."""

    name: str
    types: tuple[str, ...]
    ask: str


#: Testimonial -> case study -> reference -> speaker -> advisory board (seeds 9.5.1); a
#: public review counts as a testimonial. Referrals and community activity are not rungs:
#: they are measured on their own (:func:`roi`, the evangelism pipeline).
LADDER: tuple[Rung, ...] = (
    Rung("Testimonial", ("testimonial", "review"), "testimonial"),
    Rung("Case study", ("case_study",), "case_study"),
    Rung("Reference", ("reference_call",), "reference_call"),
    Rung("Speaker", ("speaking",), "speaking"),
    Rung("Advisory board", ("advisory_board",), "advisory_board"),
)


def ladder(conn: Connection, f: Filters, max_asks: int) -> pd.DataFrame:
    """Each scored account's place on :data:`LADDER` as of ``f.as_of`` (only activities
    before it): ``account_id, name, segment, csm_owner, arr, health_score, level`` (0 =
    not on the ladder, 1-5 = the highest rung with a completed activity), ``rung``,
    ``next_rung``, ``next_ask`` (the activity type a promotion asks for), ``asks_90d``
    (advocacy activities of any type in the 90 days before), ``declined_90d``,
    ``fatigued`` (``asks_90d`` >= ``max_asks``), the readiness conditions of
    :func:`candidates` and ``ready`` = promoter, green, no decline in 90 days, not
    fatigued and a rung left to climb. Ready first, then by level and ARR."""
    cand = candidates(conn, f)
    cols = ["account_id", "name", "segment", "csm_owner", "arr", "health_score", "level",
            "rung", "next_rung", "next_ask", "asks_90d", "declined_90d", "fatigued",
            "promoter", "green", "champion_active", "advocacy_readiness", "ready"]
    if cand.empty:
        return pd.DataFrame(columns=cols)
    v = schema.advocacy_activities
    acts = pd.read_sql(sa.select(v.c.account_id, v.c.type, v.c.status, v.c.occurred_at)
                       .where(v.c.occurred_at < f.as_of), conn)
    acts["occurred_at"] = pd.to_datetime(acts["occurred_at"])
    level_of = {t: i + 1 for i, r in enumerate(LADDER) for t in r.types}
    done = acts[(acts["status"] == "completed") & acts["type"].isin(level_of)]
    level = done.assign(level=done["type"].map(level_of)).groupby("account_id")["level"].max()
    recent = acts[acts["occurred_at"] >= pd.Timestamp(f.as_of - dt.timedelta(days=90))]
    asks = recent.groupby("account_id").size()
    declined = recent[recent["status"] == "declined"].groupby("account_id").size()
    df = cand.copy()
    df["level"] = df["account_id"].map(level).fillna(0).astype(int)
    df["rung"] = df["level"].map(lambda n: LADDER[n - 1].name if n else "Not on the ladder")
    df["next_rung"] = df["level"].map(lambda n: LADDER[n].name if n < len(LADDER) else None)
    df["next_ask"] = df["level"].map(lambda n: LADDER[n].ask if n < len(LADDER) else None)
    df["asks_90d"] = df["account_id"].map(asks).fillna(0).astype(int)
    df["declined_90d"] = df["account_id"].map(declined).fillna(0).astype(int)
    df["fatigued"] = df["asks_90d"] >= max_asks
    df["ready"] = (df["promoter"] & df["green"] & (df["declined_90d"] == 0) & ~df["fatigued"]
                   & df["next_rung"].notna())
    return df.sort_values(["ready", "level", "arr"], ascending=False, ignore_index=True)[cols]


def ladder_counts(lad: pd.DataFrame) -> pd.DataFrame:
    """Accounts per rung (``rung, level, accounts, ready``: ready to move up from it),
    from the bottom of the ladder up."""
    rows = [{"rung": "Not on the ladder", "level": 0}] + [
        {"rung": r.name, "level": i + 1} for i, r in enumerate(LADDER)]
    out = pd.DataFrame(rows)
    g = lad.groupby("level").agg(accounts=("account_id", "size"), ready=("ready", "sum"))
    out["accounts"] = out["level"].map(g["accounts"]).fillna(0).astype(int)
    out["ready"] = out["level"].map(g["ready"]).fillna(0).astype(int)
    return out


def roi(conn: Connection, f: Filters, influence_days: int, days: int = 365) -> dict:
    """What referrals and references brought in the ``days`` before ``f.as_of``, by stated
    rules (accounts within the filters):

    - ``referrals_asked`` (every referral activity), ``referrals_completed``,
      ``referral_conversion`` = completed / asked; ``referral_pipeline`` (USD) = the
      value recorded on the completed referrals (the referred deal's amount in the CRM
      export);
    - ``references`` (completed reference calls); ``influenced_deals`` and
      ``influenced_revenue`` (USD): new-business opportunities **won** within
      ``influence_days`` after a completed reference call (the time-window rule of
      influence, not cause: a deal counts once, however many references preceded it).
    """
    start = f.as_of - dt.timedelta(days=days)
    v, o = schema.advocacy_activities, schema.opportunities
    q = sa.select(v.c.account_id, v.c.type, v.c.status, v.c.occurred_at, v.c.value).where(
        v.c.occurred_at >= start, v.c.occurred_at < f.as_of)
    flt = msql.account_filter(v.c.account_id, f.segment, f.owner, f.as_of)
    acts = pd.read_sql(q.where(flt) if flt is not None else q, conn)
    ref = acts[acts["type"] == "referral"]
    done = ref[ref["status"] == "completed"]
    calls = pd.to_datetime(acts.loc[(acts["type"] == "reference_call")
                                    & (acts["status"] == "completed"), "occurred_at"])
    won = pd.read_sql(sa.select(o.c.opportunity_id, o.c.amount, o.c.close_date).where(
        o.c.type == "new_business", o.c.status == "won", o.c.close_date >= start,
        o.c.close_date < f.as_of), conn)
    won["close_date"] = pd.to_datetime(won["close_date"])
    window = pd.Timedelta(days=influence_days)
    hit = [bool(((calls < c) & (calls >= c - window)).any()) for c in won["close_date"]]
    influenced = won[hit] if len(won) else won
    return {"referrals_asked": int(len(ref)), "referrals_completed": int(len(done)),
            "referral_conversion": len(done) / len(ref) if len(ref) else float("nan"),
            "referral_pipeline": float(done["value"].fillna(0).sum()),
            "references": int(len(calls)), "influenced_deals": int(len(influenced)),
            "influenced_revenue": float(influenced["amount"].sum()),
            "influence_days": influence_days}


#: Evangelism stages, from the first to the last (issue 25; seed journey 9.8).
EVANGELISM_STAGES = ("identified", "invited", "engaged", "active evangelist")
#: Activities that speak in public: what makes an advocate an evangelist.
PUBLIC_TYPES = ("community", "speaking", "review", "case_study", "testimonial")


def evangelism(lad: pd.DataFrame, conn: Connection, f: Filters) -> pd.DataFrame:
    """The evangelism pipeline as of ``f.as_of`` from a :func:`ladder` frame:
    ``evangelism_score`` (0-100) = 25 each for a promoter, green health, an active champion
    and community activity (a completed public activity, :data:`PUBLIC_TYPES`, in the
    year before); ``stage``, the furthest reached:

    - ``active evangelist``: 2 or more completed activities in the year, one of them public;
    - ``engaged``: a completed or accepted activity in the year;
    - ``invited``: an ask in the 90 days before that is not answered yet;
    - ``identified``: a score of 75 or more, and none of the above;

    accounts in no stage are left out. Also ``completed_12m``, ``public_12m``,
    ``referral_value_12m`` (USD recorded on completed referrals: what the stage brought).
    Furthest stage first, then score and ARR."""
    cols = [*lad.columns, "evangelism_score", "stage", "completed_12m", "public_12m",
            "referral_value_12m"]
    if lad.empty:
        return pd.DataFrame(columns=cols)
    v = schema.advocacy_activities
    year = pd.read_sql(sa.select(v.c.account_id, v.c.type, v.c.status, v.c.occurred_at,
                                 v.c.value).where(
        v.c.occurred_at < f.as_of, v.c.occurred_at >= f.as_of - dt.timedelta(days=365)), conn)
    year["occurred_at"] = pd.to_datetime(year["occurred_at"])
    done = year[year["status"] == "completed"]
    completed = done.groupby("account_id").size()
    public = done[done["type"].isin(PUBLIC_TYPES)].groupby("account_id").size()
    answered = year[year["status"].isin(["accepted", "completed"])].groupby("account_id").size()
    recent = year["occurred_at"] >= pd.Timestamp(f.as_of - dt.timedelta(days=90))
    waiting = year[recent & (year["status"] == "asked")].groupby("account_id").size()
    referral = done[done["type"] == "referral"].groupby("account_id")["value"].sum()
    df = lad.copy()
    df["completed_12m"] = df["account_id"].map(completed).fillna(0).astype(int)
    df["public_12m"] = df["account_id"].map(public).fillna(0).astype(int)
    df["referral_value_12m"] = df["account_id"].map(referral).fillna(0.0)
    df["evangelism_score"] = 25.0 * (df["promoter"].astype(int) + df["green"].astype(int)
                                     + df["champion_active"].astype(int)
                                     + (df["public_12m"] > 0).astype(int))
    stage = np.select(
        [(df["completed_12m"] >= 2) & (df["public_12m"] >= 1),
         df["account_id"].map(answered).fillna(0) > 0,
         df["account_id"].map(waiting).fillna(0) > 0,
         df["evangelism_score"] >= 75],
        ["active evangelist", "engaged", "invited", "identified"], default="")
    df["stage"] = stage
    df = df[df["stage"] != ""]
    order = df["stage"].map({s: i for i, s in enumerate(EVANGELISM_STAGES)})
    return (df.assign(_o=order).sort_values(["_o", "evangelism_score", "arr"],
                                            ascending=False)
            .drop(columns="_o").reset_index(drop=True)[cols])


def evangelism_funnel(ev: pd.DataFrame) -> pd.DataFrame:
    """``stage, accounts, arr, completed_12m, referral_value_12m`` per stage of
    :data:`EVANGELISM_STAGES` (zeros for an empty stage), first stage first."""
    g = ev.groupby("stage").agg(accounts=("account_id", "size"), arr=("arr", "sum"),
                                completed_12m=("completed_12m", "sum"),
                                referral_value_12m=("referral_value_12m", "sum"))
    return g.reindex(list(EVANGELISM_STAGES), fill_value=0).rename_axis("stage").reset_index()


def assets(conn: Connection, f: Filters) -> pd.DataFrame:
    """The asset library as of ``f.as_of``: every completed case study, testimonial and
    review (:data:`greendoor.actions.ASSET_TYPES`) of the accounts within the filters,
    newest first, with where it was used (``asset_use`` actions recorded before the
    as-of date): ``activity_id, account_id, name, type, occurred_at, uses, last_used,
    used_for`` (the latest use's "used for")."""
    from greendoor.actions import ASSET_TYPES

    v, a, t = schema.advocacy_activities, schema.accounts, schema.actions
    q = (sa.select(v.c.activity_id, v.c.account_id, a.c.name, v.c.type, v.c.occurred_at)
         .select_from(v.join(a, a.c.account_id == v.c.account_id))
         .where(v.c.type.in_(ASSET_TYPES), v.c.status == "completed", v.c.occurred_at < f.as_of))
    flt = msql.account_filter(v.c.account_id, f.segment, f.owner, f.as_of)
    df = pd.read_sql((q.where(flt) if flt is not None else q)
                     .order_by(v.c.occurred_at.desc(), v.c.activity_id), conn)
    # at the data's latest date, uses recorded in the app since then count: the present
    cut = sa.true() if periods.is_present(conn, f.as_of) else \
        t.c.created_at < dt.datetime.combine(f.as_of + dt.timedelta(days=1), dt.time())
    uses = pd.read_sql(sa.select(t.c.payload_json, t.c.created_at).where(
        t.c.type == "asset_use", cut), conn)
    if len(uses):
        p = uses["payload_json"].map(json.loads)
        uses = uses.assign(activity_id=p.map(lambda x: x.get("activity_id")),
                           used_for=p.map(lambda x: x.get("used_for")))
        uses = uses.sort_values("created_at")
        g = uses.groupby("activity_id").agg(uses=("used_for", "size"),
                                            last_used=("created_at", "max"),
                                            used_for=("used_for", "last"))
        df = df.join(g, on="activity_id")
    for c in ("uses", "last_used", "used_for"):
        if c not in df:
            df[c] = None
    df["uses"] = df["uses"].fillna(0).astype(int)
    return df
