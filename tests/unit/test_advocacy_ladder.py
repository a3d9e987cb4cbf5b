"""The advocacy ladder and what advocacy brings (issue 25): each account's rung from its
completed activities, readiness with fatigue, asks refused past the quarterly limit, and
the referral and reference rules by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import actions as A
from greendoor.analytics import advocacy as AD
from greendoor.periods import Filters, default_as_of
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert


def test_referral_and_reference_rules_by_hand(engine):
    """Referrals: 4 asked, 2 completed ($1,000 and $500 recorded) -> conversion 2/4 = 50 %,
    pipeline $1,500. References completed on 10 Jan and 1 Mar 2026; new-business deals won
    on 5 Jan ($50: before any reference), 1 Feb ($100: 22 days after one), 15 May ($200:
    75 days after 1 Mar) and 1 Aug ($300: 153 days after the last): with a 90-day window
    2 deals and $300 influenced; with 30 days only the first, $100."""
    accounts = pd.DataFrame({"account_id": ["A", "B"], "name": ["A", "B"],
                             "signup_date": pd.to_datetime(["2025-01-01"] * 2)})
    acts = pd.DataFrame({
        "activity_id": [f"v{i}" for i in range(6)], "account_id": ["A", "A", "B", "B", "A", "B"],
        "type": ["referral"] * 4 + ["reference_call"] * 2,
        "status": ["asked", "declined", "completed", "completed", "completed", "completed"],
        "occurred_at": pd.to_datetime(["2026-01-02", "2026-01-03", "2026-02-01", "2026-03-01",
                                       "2026-01-10", "2026-03-01"]),
        "value": [None, None, 1000.0, 500.0, None, None]})
    opps = pd.DataFrame({
        "opportunity_id": ["D4", "D1", "D2", "D3", "X"], "account_id": ["A", "A", "B", "B", "B"],
        "type": ["new_business"] * 4 + ["expansion"], "amount": [50.0, 100.0, 200.0, 300.0, 9e9],
        "close_date": pd.to_datetime(["2026-01-05", "2026-02-01", "2026-05-15", "2026-08-01",
                                      "2026-02-01"]),
        "status": ["won"] * 5})
    with engine.begin() as conn:
        bulk_insert(conn, schema.accounts, accounts)
        bulk_insert(conn, schema.advocacy_activities, acts)
        bulk_insert(conn, schema.opportunities, opps)
    f = Filters(as_of=dt.date(2026, 9, 1))
    with engine.connect() as conn:
        r90 = AD.roi(conn, f, influence_days=90)
        r30 = AD.roi(conn, f, influence_days=30)
    assert (r90["referrals_asked"], r90["referrals_completed"]) == (4, 2)
    assert r90["referral_conversion"] == 0.5 and r90["referral_pipeline"] == 1500.0
    assert r90["references"] == 2
    assert (r90["influenced_deals"], r90["influenced_revenue"]) == (2, 300.0)
    assert (r30["influenced_deals"], r30["influenced_revenue"]) == (1, 100.0)


def test_ladder_levels_readiness_and_the_ask_limit(scored_store_copy):
    _, eng = scored_store_copy
    with eng.connect() as conn:
        as_of = default_as_of(conn)
        lad = AD.ladder(conn, Filters(as_of=as_of), max_asks=2)
        v = schema.advocacy_activities
        acts = pd.read_sql(sa.select(v).where(v.c.occurred_at < as_of,
                                               v.c.status == "completed"), conn)
    # an account's level: the highest rung it completed an activity of, by hand
    rank = {"testimonial": 1, "review": 1, "case_study": 2, "reference_call": 3,
            "speaking": 4, "advisory_board": 5}
    want = acts[acts["type"].isin(rank)].assign(r=lambda d: d["type"].map(rank)) \
        .groupby("account_id")["r"].max()
    got = lad.set_index("account_id")["level"]
    both = got.index.intersection(want.index)
    assert len(both) > 10 and (got[both] == want[both]).all()
    assert (got[~got.index.isin(want.index)] == 0).all() and got.max() >= 3
    ready = lad[lad["ready"]]
    assert len(ready) and (ready["promoter"] & ready["green"] & ~ready["fatigued"]).all()
    assert (lad.loc[lad["level"] == 5, "ready"] == False).all()  # noqa: E712 - nothing above
    counts = AD.ladder_counts(lad)
    assert counts["accounts"].sum() == len(lad) and list(counts["level"]) == [0, 1, 2, 3, 4, 5]
    # two asks in a quarter, then the third is refused and nothing is written
    aid = lad.loc[lad["asks_90d"] == 0, "account_id"].iloc[0]
    A.invite_to_advocacy(eng, aid, "testimonial", today=as_of)
    A.invite_to_advocacy(eng, aid, "case_study", today=as_of)
    with eng.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(v)).scalar()
    with pytest.raises(A.ActionError, match="already asked 2 time"):
        A.invite_to_advocacy(eng, aid, "reference_call", today=as_of)
    with eng.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(v)).scalar() == n


def test_evangelism_stages_and_score_by_hand(engine):
    """As of 1 Sep 2026. A: promoter, green, champion; a completed community talk (public)
    and a completed reference in the year -> active evangelist, score 25 x 4 = 100.
    B: promoter, green, champion; an accepted case study -> engaged, 75 (nothing public
    completed). C: promoter, green, no champion; a testimonial asked on 15 Aug, unanswered
    -> invited, 50. D: promoter, green, champion, no activity -> identified, 75.
    E: promoter only -> 25, in no stage. F: a referral completed in June 2025, more than a
    year before -> nothing counts, in no stage."""
    ids = list("ABCDEF")
    accounts = pd.DataFrame({"account_id": ids, "name": ids,
                             "signup_date": pd.to_datetime(["2024-01-01"] * 6)})
    acts = pd.DataFrame({
        "activity_id": [f"v{i}" for i in range(5)], "account_id": ["A", "A", "B", "C", "F"],
        "type": ["community", "reference_call", "case_study", "testimonial", "referral"],
        "status": ["completed", "completed", "accepted", "asked", "completed"],
        "occurred_at": pd.to_datetime(["2026-05-01", "2026-03-01", "2026-06-01", "2026-08-15",
                                       "2025-06-01"]),
        "value": [None, None, None, None, 1000.0]})
    with engine.begin() as conn:
        bulk_insert(conn, schema.accounts, accounts)
        bulk_insert(conn, schema.advocacy_activities, acts)
    lad = pd.DataFrame({"account_id": ids, "arr": [10.0] * 6,
                        "promoter": [True, True, True, True, True, False],
                        "green": [True, True, True, True, False, False],
                        "champion_active": [True, True, False, True, False, False]})
    with engine.connect() as conn:
        ev = AD.evangelism(lad, conn, Filters(as_of=dt.date(2026, 9, 1))).set_index("account_id")
    assert ev["stage"].to_dict() == {"A": "active evangelist", "B": "engaged", "C": "invited",
                                     "D": "identified"}
    assert ev["evangelism_score"].to_dict() == {"A": 100.0, "B": 75.0, "C": 50.0, "D": 75.0}
    funnel = AD.evangelism_funnel(ev.reset_index()).set_index("stage")["accounts"]
    assert funnel.to_dict() == {"identified": 1, "invited": 1, "engaged": 1,
                                "active evangelist": 1}


def test_the_asset_library_lists_assets_and_where_they_were_used(scored_store_copy):
    """Completed case studies, testimonials and reviews are the library; a use recorded
    against a deal shows with its count and what it was used for; a declined or
    non-asset activity, an empty "used for" and an unknown deal are refused, nothing
    written; a csm cannot use another book's asset."""
    from greendoor.access import AccessDenied, Principal

    _, eng = scored_store_copy
    with eng.connect() as conn:
        as_of = default_as_of(conn)
        lib = AD.assets(conn, Filters(as_of=as_of))
        v, o = schema.advocacy_activities, schema.opportunities
        other = conn.execute(sa.select(v.c.activity_id).where(
            v.c.type == "referral")).scalar()
        deal = conn.execute(sa.select(o.c.opportunity_id).where(
            o.c.type == "new_business")).scalar()
    assert len(lib) > 5 and set(lib["type"]) <= set(A.ASSET_TYPES) and (lib["uses"] == 0).all()
    asset = lib.iloc[0]
    A.record_asset_use(eng, asset["activity_id"], "Acme Corp deal, security review",
                       opportunity_id=deal, actor="mgr")
    A.record_asset_use(eng, asset["activity_id"], "Website customer page", actor="mgr")
    for bad in (dict(activity_id=other, used_for="x"),
                dict(activity_id=asset["activity_id"], used_for="  "),
                dict(activity_id=asset["activity_id"], used_for="x", opportunity_id="NOPE")):
        with pytest.raises(A.ActionError):
            A.record_asset_use(eng, **bad)
    with pytest.raises(AccessDenied):
        A.record_asset_use(eng, asset["activity_id"], "x",
                           actor=Principal("carl", "csm", book="nobody"))
    with eng.connect() as conn:
        row = AD.assets(conn, Filters(as_of=as_of)).set_index("activity_id").loc[
            asset["activity_id"]]
    assert row["uses"] == 2 and row["used_for"] == "Website customer page"
