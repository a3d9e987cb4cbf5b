"""Churn Risk read model: the at-risk queue (who, ranked by expected ARR loss, with the
evidence of their churn drivers), the reading that explains a listing, the drivers
across the queue, and the retention what-if (SPEC.md page 2)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import state
from greendoor.analytics.portfolio_health import scores
from greendoor.config import DEFAULT_SETTINGS
from greendoor.metrics import sql as msql
from greendoor.periods import Filters, is_present
from greendoor.playbooks import PLAYBOOKS
from greendoor.scoring.features import describe
from greendoor.scoring.health import at_risk_rows
from greendoor.settings import current as current_settings
from greendoor.store import schema


def at_risk_queue(conn: Connection, f: Filters, settings: dict | None = None) -> pd.DataFrame:
    """Accounts at risk (SPEC.md: red, or yellow and declining) and any with a risk
    index of ``models.queue_min_risk_index`` or more (``settings``, default the store's
    current ones; when the renewal model has measured skill),
    ranked by expected ARR loss at the next renewal. Adds ``drivers`` (the evidence of
    the top churn drivers, "; "-joined), ``driver_features`` (list), ``open_playbook``
    (name of an open run) and ``reading`` (:func:`risk_reading`: why the account is
    listed when its figures seem to disagree)."""
    settings = settings or current_settings(conn)[1]
    sc = scores(conn, f)
    if sc.empty:
        return sc
    risky = sc[at_risk_rows(sc["band"], sc["trend"])
               | (sc["risk_index"].fillna(0) >= settings["models"]["queue_min_risk_index"])].copy()
    if risky.empty:
        return risky
    ss, t = schema.score_snapshots, schema.actions
    det = pd.read_sql(sa.select(ss.c.account_id, ss.c.details_json).where(
        ss.c.as_of == risky["as_of"].iloc[0], ss.c.account_id.in_(list(risky["account_id"]))), conn)
    det["d"] = det["details_json"].map(lambda s: json.loads(s) if s else {})
    det = det.set_index("account_id")["d"]
    drivers = risky["account_id"].map(lambda a: (det.get(a) or {}).get("churn_drivers", []))
    risky["drivers"] = drivers.map(lambda ds: "; ".join(d["evidence"] for d in ds))
    risky["driver_features"] = drivers.map(lambda ds: [d["feature"] for d in ds])
    runs = pd.read_sql(sa.select(t.c.account_id, t.c.playbook).where(
        t.c.type == "playbook_run", t.c.status == "open"), conn).drop_duplicates("account_id")
    risky["open_playbook"] = risky["account_id"].map(
        runs.set_index("account_id")["playbook"].map(lambda k: PLAYBOOKS[k].name if k in PLAYBOOKS else k))
    risky["reading"] = risk_reading(risky, settings)
    return risky.sort_values(["expected_loss", "arr"], ascending=False, ignore_index=True)


def risk_reading(df: pd.DataFrame, settings: dict = DEFAULT_SETTINGS) -> pd.Series:
    """One sentence per account where its risk figures seem to disagree, or its place
    in a risk list needs a reason ("" otherwise). Reads ``band``, ``trend``,
    ``risk_index``, ``churn_probability``, ``days_to_renewal`` and ``risk_basis``:

    * risk at renewal high (a risk index or a loss probability from the settings
      ``models.reading_high_risk_index`` / ``reading_high_loss``) but churn within the
      horizon unlikely (below ``models.reading_unlikely_churn``): the renewal is far
      away;
    * a green account in the queue: its risk index is what lists it;
    * a yellow one: health falling;
    * no model with measured skill: the rule that ranks it."""
    m, horizon_days = settings["models"], settings["churn_horizon_days"]
    out = []
    for r in df.itertuples():
        days, ri, cp = r.days_to_renewal, r.risk_index, r.churn_probability
        loss = getattr(r, "loss_probability", np.nan)
        at_renewal_high = ((pd.notna(ri) and ri >= m["reading_high_risk_index"])
                           or (pd.notna(loss) and loss >= m["reading_high_loss"]))
        parts = []
        if r.band == "green":
            parts.append(f"green health, listed for its risk at renewal (index {ri:.0f})"
                         if pd.notna(ri) else "green health")
        elif r.band == "yellow" and r.trend == "declining":
            parts.append("yellow and declining")
        if at_renewal_high and pd.notna(cp) and cp < m["reading_unlikely_churn"] \
                and pd.notna(days) \
                and days >= horizon_days:
            parts.append(f"renewal in {days:.0f} days: risk at renewal high, churn in the next "
                         f"{horizon_days} days unlikely")
        elif pd.notna(days) and 0 <= days < horizon_days and at_renewal_high:
            parts.append(f"renews in {days:.0f} days")
        if getattr(r, "risk_basis", "model") not in ("model", None):
            parts.append(f"ranked by the {r.risk_basis} rule (no model with measured skill)")
        out.append("; ".join(parts))
    return pd.Series(out, index=df.index, dtype=object)


def risk_drivers(queue: pd.DataFrame) -> pd.DataFrame:
    """How often each feature is a top churn driver in the queue, and the ARR
    behind it: ``feature, description, accounts, arr``; most frequent first."""
    if queue.empty:
        return pd.DataFrame(columns=["feature", "description", "accounts", "arr"])
    ex = queue[["account_id", "arr", "driver_features"]].explode("driver_features").dropna(
        subset=["driver_features"])
    out = ex.groupby("driver_features").agg(accounts=("account_id", "nunique"),
                                            arr=("arr", "sum")).reset_index()
    out = out.rename(columns={"driver_features": "feature"})
    out["description"] = out["feature"].map(describe)
    return out.sort_values(["accounts", "arr"], ascending=False, ignore_index=True)


def retention_what_if(queue: pd.DataFrame, save_rate: float, top_n: int) -> dict:
    """Expected ARR saved by an intervention on the ``top_n`` first queued accounts:
    Σ ARR x P(loss) x ``save_rate`` (an assumption the user sets, 0-1), where P(loss) is
    each account's ``loss_probability`` (model with measured skill, or rule)."""
    if not 0 <= save_rate <= 1:
        raise ValueError("save_rate must be between 0 and 1")
    q = queue.head(top_n)
    at_stake = float((q["arr"] * q["loss_probability"]).sum())
    return {"accounts": int(len(q)), "arr": float(q["arr"].sum()), "expected_loss": at_stake,
            "expected_saved": at_stake * save_rate}


def churn_reasons(conn: Connection, f: Filters, days: int = 730) -> dict:
    """Why customers left: the churn events (reactivations excluded) dated in
    ``[as_of - days, as_of)`` within the filters.

    ``events``: ``account_id, name, segment, csm_owner, churn_date, reason, arr_lost, feedback,
    tenure_days`` (signup to churn), ``source`` ("export", or "close-out": a CSM's close-out
    in Greendoor that no exported event covers, :func:`close_outs`), newest first. ``by_reason``: ``reason, events, arr_lost,
    median_tenure_days`` (most ARR lost first). ``by_quarter``: ``quarter`` (its first
    day), ``reason``, ``events``, ``arr_lost``. A missing reason is ``"not given"``."""
    ce, a = schema.churn_events, schema.accounts
    start = f.as_of - dt.timedelta(days=days)
    conds = [ce.c.churn_date >= start, ce.c.churn_date < f.as_of,
             sa.func.coalesce(ce.c.is_reactivation, False).is_(False)]
    flt = msql.account_filter(a.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        conds.append(flt)
    # a churned account's segment at the as-of date is that of its last contract
    ev = state.with_segment_at(conn, pd.read_sql(
        sa.select(ce.c.account_id, a.c.name, a.c.csm_owner, ce.c.churn_date, ce.c.reason,
                  ce.c.arr_lost, ce.c.feedback, a.c.signup_date)
        .select_from(ce.join(a, a.c.account_id == ce.c.account_id)).where(*conds), conn),
        f.as_of)
    ev["churn_date"] = pd.to_datetime(ev["churn_date"])
    ev = _with_close_outs(conn, ev, f, start)
    ev["reason"] = ev["reason"].astype(object).where(ev["reason"].notna(), "not given")
    ev["tenure_days"] = (ev["churn_date"] - pd.to_datetime(ev["signup_date"])).dt.days
    ev["arr_lost"] = pd.to_numeric(ev["arr_lost"], errors="coerce").fillna(0.0)
    ev = ev.drop(columns=["signup_date"]).sort_values("churn_date", ascending=False,
                                                      ignore_index=True)
    by_reason = (ev.groupby("reason").agg(events=("account_id", "size"),
                                          arr_lost=("arr_lost", "sum"),
                                          median_tenure_days=("tenure_days", "median"))
                 .reset_index().sort_values("arr_lost", ascending=False, ignore_index=True))
    ev["quarter"] = ev["churn_date"].dt.to_period("Q").dt.start_time
    by_quarter = (ev.groupby(["quarter", "reason"]).agg(events=("account_id", "size"),
                                                         arr_lost=("arr_lost", "sum"))
                  .reset_index())
    return {"events": ev.drop(columns=["quarter"]), "by_reason": by_reason,
            "by_quarter": by_quarter, "start": start}


def close_outs(conn: Connection, f: Filters, start: dt.date) -> pd.DataFrame:
    """The CSMs' close-outs (:func:`greendoor.actions.record_close_out`) dated in
    ``[start, as_of)`` within the filters (at a past date, only those recorded before it):
    ``account_id, name, segment, csm_owner, churn_date, reason, arr_lost, feedback,
    signup_date``."""
    t, a = schema.actions, schema.accounts
    q = (sa.select(t.c.account_id, a.c.name, a.c.csm_owner, t.c.payload_json,
                   t.c.note.label("feedback"), a.c.signup_date, t.c.created_at)
         .select_from(t.join(a, a.c.account_id == t.c.account_id))
         .where(t.c.type == "close_out"))
    flt = msql.account_filter(a.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        q = q.where(flt)
    df = state.with_segment_at(conn, pd.read_sql(q, conn), f.as_of)
    cols = ["account_id", "name", "segment", "csm_owner", "churn_date", "reason", "arr_lost",
            "feedback", "signup_date"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    if not is_present(conn, f.as_of):
        df = df[pd.to_datetime(df["created_at"]) < pd.Timestamp(f.as_of)]
    p = df["payload_json"].map(lambda x: json.loads(x or "{}"))
    df["churn_date"] = pd.to_datetime(p.map(lambda d: d.get("churn_date")))
    df["reason"] = p.map(lambda d: d.get("reason"))
    df["arr_lost"] = p.map(lambda d: d.get("arr_lost"))
    keep = (df["churn_date"] >= pd.Timestamp(start)) & (df["churn_date"] < pd.Timestamp(f.as_of))
    return df.loc[keep, cols].reset_index(drop=True)


def _with_close_outs(conn: Connection, ev: pd.DataFrame, f: Filters, start: dt.date
                     ) -> pd.DataFrame:
    """``ev`` (exported churn events) with ``source`` "export", plus the close-outs with
    ``source`` "close-out" that no exported event within
    :data:`greendoor.actions.SAME_CHURN_DAYS` days of the same account covers; an exported
    event without a reason takes its close-out's reason and feedback."""
    from greendoor.actions import SAME_CHURN_DAYS

    co = close_outs(conn, f, start)
    ev = ev.assign(source="export")
    if co.empty:
        return ev
    near = ev.rename_axis("ev_row").reset_index().merge(
        co.rename_axis("co_row").reset_index(), on="account_id", suffixes=("", "_co"))
    near = near[(near["churn_date"] - near["churn_date_co"]).abs()
                <= pd.Timedelta(days=SAME_CHURN_DAYS)]
    ev = ev.astype({"reason": object, "feedback": object})
    for r in near.itertuples():
        if pd.isna(ev.at[r.ev_row, "reason"]):
            ev.at[r.ev_row, "reason"] = r.reason_co
            if pd.isna(ev.at[r.ev_row, "feedback"]):
                ev.at[r.ev_row, "feedback"] = r.feedback_co
    extra = co[~co.index.isin(near["co_row"])].assign(source="close-out")
    return pd.concat([ev, extra], ignore_index=True) if len(extra) else ev


def search_feedback(events: pd.DataFrame, query: str) -> pd.DataFrame:
    """The churn events whose feedback or reason contains every word of ``query``
    (case-insensitive, literal text, not a pattern); all of them for an empty query."""
    words = [w for w in str(query or "").lower().split() if w]
    if not words or events.empty:
        return events
    text = (events["feedback"].fillna("").astype(str) + " " + events["reason"].astype(str)).str.lower()
    keep = np.logical_and.reduce([text.str.contains(w, regex=False).to_numpy() for w in words])
    return events[keep]



#: The health measures compared before each churn reason, in the order shown.
PRECURSORS = ("health_score", "engagement", "sentiment", "growth")


def reason_precursors(conn: Connection, events: pd.DataFrame, lead_days: int) -> pd.DataFrame:
    """What the scores showed before each churn reason (issue 21): for every churn event of
    ``events`` (:func:`churn_reasons`), the account's latest score snapshot dated at least
    ``lead_days`` before the churn (setting ``churn_reason_lead_days``), and the median
    of every account scored that day (the book then). Per reason and measure of
    :data:`PRECURSORS`: ``events`` (with a snapshot), ``before`` (median over the reason's
    accounts), ``book`` (median of the book's medians on those days) and ``gap`` =
    before − book (points; negative: the measure was already low). Reasons without any
    snapshot that early are left out."""
    cols = ["reason", "measure", "events", "before", "book", "gap"]
    if events.empty:
        return pd.DataFrame(columns=cols)
    ss = schema.score_snapshots
    ids = sorted(set(events["account_id"]))
    snaps = pd.read_sql(sa.select(ss.c.account_id, ss.c.as_of, *[ss.c[m] for m in PRECURSORS])
                        .where(ss.c.account_id.in_(ids)), conn)
    if snaps.empty:
        return pd.DataFrame(columns=cols)
    snaps["as_of"] = pd.to_datetime(snaps["as_of"]).astype("datetime64[ns]")
    ev = events[["account_id", "churn_date", "reason"]].copy()
    ev["cutoff"] = (pd.to_datetime(ev["churn_date"]) - pd.Timedelta(days=lead_days)
                    ).astype("datetime64[ns]")
    ev = ev.sort_values("cutoff")
    snaps = snaps.sort_values("as_of")
    hit = pd.merge_asof(ev, snaps, left_on="cutoff", right_on="as_of", by="account_id",
                        direction="backward").dropna(subset=["as_of"])
    if hit.empty:
        return pd.DataFrame(columns=cols)
    days = sorted({d.date() for d in hit["as_of"]})
    book = pd.read_sql(sa.select(ss.c.as_of, *[ss.c[m] for m in PRECURSORS])
                       .where(ss.c.as_of.in_(days)), conn)
    book["as_of"] = pd.to_datetime(book["as_of"]).astype("datetime64[ns]")
    medians = book.groupby("as_of")[list(PRECURSORS)].median()
    rows = []
    for reason, g in hit.groupby("reason"):
        base = medians.reindex(g["as_of"])
        for m in PRECURSORS:
            before, typical = float(g[m].median()), float(base[m].median())
            rows.append({"reason": reason, "measure": m, "events": int(g[m].notna().sum()),
                         "before": before, "book": typical, "gap": before - typical})
    return pd.DataFrame(rows, columns=cols)
