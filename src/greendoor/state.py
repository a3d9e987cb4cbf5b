"""Point-in-time state: what an account's changing attributes were on a past date.

An export holds each attribute's *latest* value: a segment derived from today's ARR, a
``renewal_date`` that a billing system overwrote when the customer churned (it then
holds the churn date), an opportunity's final stage and forecast category. Read as of
a past date these values leak the outcome: every account without ARR today gets no
segment, every churner "renews" on its churn date. Every feature, score, label and
forecast therefore reads these attributes through this module, which takes each as it
was known on the as-of date ``d``:

* **Segment** (:func:`segment_as_of`, :func:`segment_at_query`): as the source gave it;
  when Greendoor derived it (``accounts.segment_source = 'derived'``), from the ARR in
  force at ``d`` (SPEC.md thresholds, :func:`greendoor.config.segment_from_arr`), or the
  last contract's before ``d`` for an account without ARR then. Pages filter and label
  accounts by this segment, never ``accounts.segment`` (the latest contract's).
* **Next renewal** (:func:`next_renewals`): from the contract in force at ``d``: the
  first ``start_date + k x term_months`` on or after ``d`` (k >= 1). A stored
  ``renewal_date`` is used only when the term is unknown; ``basis`` says which.
* **Plan and seats**: from the subscriptions in force at ``d`` (``plan_as_of``).
* **Opportunities** (:func:`opportunities_as_of`): those created before ``d``; their
  stage, forecast category and probability from ``opportunity_history`` (rows valid
  from on or before ``d``). An opportunity closed before ``d`` shows its final values;
  one still open at ``d`` with no history row by then shows them as unknown, unless
  ``d`` is on or after the export date (the data's as-of date), when the exported
  values are what was known.

The CSM owner has no history in the sources Greendoor reads; it is the current owner
for every date (stated on the pages that filter by it).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.config import SEGMENT_ARR_THRESHOLDS
from greendoor.periods import default_as_of
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert


def add_months(dates, months) -> np.ndarray:
    """Add calendar months to dates (``datetime64[D]``), clamping the day of the month
    (31 Jan + 1 month = 28 or 29 Feb). Vectorised over both arguments."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    month = dates.astype("datetime64[M]")
    dom = (dates - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64)
    last_dom = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64) - 1
    return target.astype("datetime64[D]") + np.minimum(dom, last_dom)


def segment_of_arr(arr: sa.ColumnElement) -> sa.ColumnElement:
    """SQL: the segment of an ARR (SPEC.md: > $50K enterprise, $10K-$50K mid_market,
    < $10K smb); NULL for no ARR."""
    return sa.case((arr > SEGMENT_ARR_THRESHOLDS["enterprise"], "enterprise"),
                   (arr >= SEGMENT_ARR_THRESHOLDS["mid_market"], "mid_market"),
                   (arr > 0, "smb"), else_=None)


def segment_as_of(accounts: sa.Table, arr_now: sa.ColumnElement) -> sa.ColumnElement:
    """SQL: an account's segment at the date whose ARR is ``arr_now``: the source's own
    segment, or (derived segments) the segment of that ARR."""
    derived = sa.or_(accounts.c.segment.is_(None), accounts.c.segment_source == "derived")
    return sa.case((derived, segment_of_arr(arr_now)), else_=accounts.c.segment)


def segment_at_query(d: dt.date) -> sa.Select:
    """SQL ``SELECT account_id, segment``: every account's segment as known at ``d``.

    A segment the source gave is taken as given. A derived one (``segment_source =
    'derived'`` or no segment) is the segment of the account's ARR in force at ``d``
    (:func:`segment_of_arr`); an account with no ARR then (churned, or between
    contracts) keeps the segment of its last contract started before ``d``, the
    import's rule for churned accounts (:func:`greendoor.ingest._derive_segments`);
    NULL before its first contract. Same ARR convention as
    :func:`greendoor.metrics.sql.arr_as_of_query` (``start_date < d``, ``end_date`` empty
    or ``>= d``)."""
    s, a = schema.subscriptions, schema.accounts
    now = (sa.select(s.c.account_id, sa.func.sum(s.c.arr).label("arr"))
           .where(s.c.start_date < d, sa.or_(s.c.end_date.is_(None), s.c.end_date >= d))
           .group_by(s.c.account_id).subquery("seg_now"))
    first = (sa.select(s.c.account_id, sa.func.max(s.c.start_date).label("last_start"))
             .where(s.c.start_date < d).group_by(s.c.account_id).subquery("seg_last_start"))
    last = (sa.select(s.c.account_id, sa.func.sum(s.c.arr).label("arr"))
            .select_from(s.join(first, sa.and_(first.c.account_id == s.c.account_id,
                                               first.c.last_start == s.c.start_date)))
            .group_by(s.c.account_id).subquery("seg_last"))
    arr = sa.case((now.c.arr > 0, now.c.arr), else_=last.c.arr)
    return (sa.select(a.c.account_id, segment_as_of(a, arr).label("segment"))
            .select_from(a.outerjoin(now, now.c.account_id == a.c.account_id)
                         .outerjoin(last, last.c.account_id == a.c.account_id)))


def segments_at(conn: Connection, d: dt.date) -> pd.Series:
    """Every account's segment as known at ``d`` (:func:`segment_at_query`): a Series of
    segment names (None when unknown) indexed by ``account_id``."""
    seg = pd.read_sql(segment_at_query(d), conn).set_index("account_id")["segment"]
    return seg.astype(object).where(seg.notna(), None)


def with_segment_at(conn: Connection, frame: pd.DataFrame, d: dt.date) -> pd.DataFrame:
    """``frame`` (with an ``account_id`` column) with a ``segment`` column: each account's
    segment as known at ``d`` (:func:`segments_at`), in place of the frame's own, else
    after ``name``, else last. A copy."""
    seg = frame["account_id"].map(segments_at(conn, d)).astype(object)
    out = frame.copy()
    if "segment" in out:
        out["segment"] = seg
    else:
        out.insert(out.columns.get_loc("name") + 1 if "name" in out else len(out.columns),
                   "segment", seg)
    return out


def export_date(conn: Connection) -> dt.date | None:
    """The data's as-of date (the day its export was taken): the demo's as-of date, or
    the day after the latest usage, ticket or subscription start; ``None`` when empty."""
    return default_as_of(conn)


# --------------------------------------------------------------------------- #
# renewals
# --------------------------------------------------------------------------- #
def renewal_on_or_after(start: pd.Series, term_months: pd.Series, d: dt.date) -> pd.Series:
    """For contracts starting ``start`` with terms of ``term_months`` months: the first
    renewal ``start + k x term`` (k >= 1) on or after ``d`` (NaT where the term is
    unknown or not positive)."""
    s = pd.to_datetime(start).to_numpy(dtype="datetime64[D]")
    t = pd.to_numeric(term_months, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(t) & (t > 0)
    t_int = np.where(ok, t, 1).astype(np.int64)
    dd = np.datetime64(d, "D")
    months = (dd.astype("datetime64[M]") - s.astype("datetime64[M]")).astype(np.int64)
    k = np.maximum(1, np.ceil(months / t_int)).astype(np.int64)
    cand = add_months(s, k * t_int)
    k = np.where(cand < dd, k + 1, k)
    cand = add_months(s, k * t_int)
    # the previous candidate may already be on or after d (clamped days of the month)
    prev = add_months(s, np.maximum(k - 1, 1) * t_int)
    cand = np.where((k > 1) & (prev >= dd), prev, cand)
    out = pd.Series(cand.astype("datetime64[ns]"), index=start.index)
    return out.where(ok)


def next_renewals(conn: Connection, d: dt.date) -> pd.DataFrame:
    """Each account's next renewal in force at ``d``, one row per account with a
    subscription in force: ``account_id, next_renewal`` (Timestamp, NaT when unknown),
    ``days_to_renewal`` (float), ``basis`` ("contract": from start date and term;
    "stored": the exported ``renewal_date``, used only when the term is unknown; None),
    ``term_months`` (of the contract that renews next) and ``auto_renew`` (1.0 if any
    subscription in force renews automatically, 0.0, or NaN)."""
    s = schema.subscriptions
    rows = pd.read_sql(
        sa.select(s.c.account_id, s.c.start_date, s.c.term_months, s.c.renewal_date,
                  s.c.auto_renew)
        .where(s.c.start_date < d, sa.or_(s.c.end_date.is_(None), s.c.end_date >= d)), conn)
    cols = ["account_id", "next_renewal", "days_to_renewal", "basis", "term_months", "auto_renew"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    by_term = renewal_on_or_after(rows["start_date"], rows["term_months"], d)
    stored = pd.to_datetime(rows["renewal_date"])
    stored = stored.where(stored >= pd.Timestamp(d))
    rows["next_renewal"] = by_term.where(by_term.notna(), stored)
    rows["basis"] = np.where(by_term.notna(), "contract",
                             np.where(stored.notna(), "stored", None))
    rows["auto_num"] = rows["auto_renew"].map(
        lambda v: np.nan if v is None or (isinstance(v, float) and np.isnan(v)) else float(bool(v)))
    first = rows.sort_values("next_renewal", na_position="last").drop_duplicates("account_id")
    auto = rows.groupby("account_id")["auto_num"].max()
    out = first[["account_id", "next_renewal", "basis", "term_months"]].copy()
    out["auto_renew"] = out["account_id"].map(auto)
    out["days_to_renewal"] = (out["next_renewal"] - pd.Timestamp(d)).dt.days.astype(float)
    return out[cols].reset_index(drop=True)


def plan_as_of(conn: Connection, d: dt.date) -> pd.DataFrame:
    """``account_id, plan``: the plan of the largest subscription in force at ``d``
    (the account's own plan column when no subscription names one)."""
    s, a = schema.subscriptions, schema.accounts
    rows = pd.read_sql(sa.select(s.c.account_id, s.c.plan, s.c.arr)
                       .where(s.c.start_date < d, sa.or_(s.c.end_date.is_(None),
                                                         s.c.end_date >= d)), conn)
    own = pd.read_sql(sa.select(a.c.account_id, a.c.plan.label("own")), conn)
    top = (rows.dropna(subset=["plan"]).sort_values("arr", ascending=False)
           .drop_duplicates("account_id")[["account_id", "plan"]])
    out = own.merge(top, on="account_id", how="left")
    out["plan"] = out["plan"].where(out["plan"].notna(), out["own"])
    return out[["account_id", "plan"]]


# --------------------------------------------------------------------------- #
# opportunities
# --------------------------------------------------------------------------- #
STATE_COLUMNS = ("stage", "forecast_category", "probability")


def opportunities_as_of(conn: Connection, d: dt.date, types: tuple[str, ...] | None = None,
                        open_only: bool = False) -> pd.DataFrame:
    """Opportunities as known at ``d`` (see the module docstring): ``opportunity_id,
    account_id, type, amount, close_date, created_at, status`` (at ``d``: ``open``
    unless closed before ``d``), ``stage, forecast_category, probability`` (as known
    then; None when unknown) and ``known`` (whether they were). ``open_only`` keeps the
    opportunities open at ``d``. At the data's export date or later (the present), the
    opportunities created since, in the app, count too."""
    o, h = schema.opportunities, schema.opportunity_history
    exported = export_date(conn)
    current_known = exported is not None and d >= exported
    q = sa.select(o.c.opportunity_id, o.c.account_id, o.c.type, o.c.amount, o.c.close_date,
                  o.c.created_at, o.c.status.label("final_status"),
                  *[o.c[c] for c in STATE_COLUMNS])
    if not current_known:  # at the data's date or later, opportunities created since count
        q = q.where(sa.or_(o.c.created_at.is_(None), o.c.created_at < d))
    if types:
        q = q.where(o.c.type.in_(list(types)))
    df = pd.read_sql(q, conn)
    closed_before = (df["final_status"].isin(["won", "lost"])
                     & (pd.to_datetime(df["close_date"]) < pd.Timestamp(d)))
    df["status"] = np.where(closed_before, df["final_status"], "open")
    if open_only:
        df = df[df["status"] == "open"].copy()
        closed_before = closed_before[df.index]
    hist = pd.read_sql(sa.select(h.c.opportunity_id, h.c.valid_from,
                                 *[h.c[c] for c in STATE_COLUMNS])
                       .where(h.c.valid_from <= d), conn)
    latest = (hist.sort_values("valid_from").drop_duplicates("opportunity_id", keep="last")
              .set_index("opportunity_id"))
    has_hist = df["opportunity_id"].isin(latest.index)
    exported = df[list(STATE_COLUMNS)].notna().any(axis=1)
    df["known"] = closed_before | has_hist | (current_known & exported)
    for c in STATE_COLUMNS:
        from_hist = df["opportunity_id"].map(latest[c]) if len(latest) else np.nan
        use_hist = has_hist & ~closed_before & ~current_known
        vals = df[c].astype(object).where(~use_hist, from_hist).where(df["known"])
        df[c] = (pd.to_numeric(vals, errors="coerce") if c == "probability"
                 else vals.astype(object).where(vals.notna(), None))
    return df.drop(columns=["final_status"]).reset_index(drop=True)


def record_history(conn: Connection, frame: pd.DataFrame, valid_from: dt.date,
                   source: str) -> int:
    """Append an ``opportunity_history`` row for each opportunity of ``frame`` (columns
    of ``opportunities``) that is new or whose stage, forecast category, probability,
    status, amount or close date differ from its latest history row. Returns the
    number of rows written."""
    h = schema.opportunity_history
    cols = ["stage", "forecast_category", "probability", "status", "amount", "close_date"]
    if frame.empty:
        return 0
    new = frame[["opportunity_id", *[c for c in cols if c in frame]]].copy()
    for c in cols:
        if c not in new:
            new[c] = None
    new["close_date"] = pd.to_datetime(new["close_date"]).dt.date
    ids = list(new["opportunity_id"])
    old = pd.read_sql(sa.select(h).where(h.c.opportunity_id.in_(ids)), conn) if ids else None
    if old is not None and len(old):
        old = old.sort_values("valid_from").drop_duplicates("opportunity_id", keep="last")
        old["close_date"] = pd.to_datetime(old["close_date"]).dt.date
        merged = new.merge(old[["opportunity_id", "valid_from", *cols]], on="opportunity_id",
                           how="left", suffixes=("", "_old"))
        same = pd.Series(True, index=merged.index)
        for c in cols:
            a, b = merged[c], merged[f"{c}_old"]
            same &= (a == b) | (a.isna() & b.isna())
        same &= merged["valid_from"].notna()
        # a row valid from the same day is replaced, not duplicated
        conn.execute(h.delete().where(h.c.valid_from == valid_from,
                                      h.c.opportunity_id.in_(list(merged.loc[~same,
                                                                             "opportunity_id"]))))
        new = new[~same.to_numpy()]
    if new.empty:
        return 0
    new = new.assign(valid_from=valid_from, source=source)
    return bulk_insert(conn, h, new[["opportunity_id", "valid_from", *cols, "source"]])
