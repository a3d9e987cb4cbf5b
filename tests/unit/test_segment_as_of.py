"""Segments as known at the as-of date: a segment Greendoor derived from ARR follows the
ARR of that date on every page and metric, not the latest contract's (which the import
stores in ``accounts.segment``)."""

import datetime as dt

import pandas as pd
import pytest

from greendoor import periods, state
from greendoor.analytics import churn_risk, portfolio_health, segments
from greendoor.forecast import series
from greendoor.metrics import sql as msql
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert

D = dt.date
BEFORE, AFTER = D(2024, 6, 1), D(2025, 6, 1)


@pytest.fixture
def moved(engine):
    """E (derived): $5K smb in 2024, $60K enterprise from 2025 (stored: enterprise).
    F (derived): $20K mid_market, churned on 2025-02-01 (stored: mid_market).
    G (source): smb as the source says, though its $80K would be enterprise.
    H (derived): signs on 2025-03-01 at $8K smb."""
    accounts = pd.DataFrame({
        "account_id": ["E", "F", "G", "H"], "name": ["Echo", "Foxtrot", "Golf", "Hotel"],
        "segment": ["enterprise", "mid_market", "smb", "smb"],
        "segment_source": ["derived", "derived", "source", "derived"],
        "csm_owner": ["ann", "ann", "bob", "bob"],
        "signup_date": pd.to_datetime(["2024-01-01"] * 3 + ["2025-03-01"])})
    subs = pd.DataFrame({
        "subscription_id": ["e1", "e2", "f1", "g1", "h1"],
        "account_id": ["E", "E", "F", "G", "H"],
        "start_date": pd.to_datetime(["2024-01-01", "2025-01-01", "2024-01-01", "2024-01-01",
                                      "2025-03-01"]),
        "end_date": pd.to_datetime(["2024-12-31", None, "2025-02-01", None, None]),
        "seats": [5, 40, 10, 50, 4],
        "arr": [5_000.0, 60_000.0, 20_000.0, 80_000.0, 8_000.0]})
    snaps = pd.DataFrame({
        "account_id": ["E", "F", "G", "E", "G", "H"],
        "as_of": pd.to_datetime([BEFORE] * 3 + [AFTER] * 3), "settings_version": 1,
        "health_score": [50.0, 60.0, 70.0, 55.0, 65.0, 75.0], "band": "yellow",
        "arr": [5_000.0, 20_000.0, 80_000.0, 60_000.0, 80_000.0, 8_000.0],
        "loss_probability": 0.1, "scored_at": pd.Timestamp(AFTER)})
    churn = pd.DataFrame({"churn_event_id": ["x"], "account_id": ["F"],
                          "churn_date": pd.to_datetime(["2025-02-01"]), "reason": ["price"],
                          "arr_lost": [20_000.0]})
    with engine.begin() as conn:
        bulk_insert(conn, schema.accounts, accounts)
        bulk_insert(conn, schema.subscriptions, subs)
        bulk_insert(conn, schema.score_snapshots, snaps)
        bulk_insert(conn, schema.churn_events, churn)
    return engine


def test_segments_follow_the_arr_of_the_date(moved):
    with moved.connect() as conn:
        before, after = state.segments_at(conn, BEFORE), state.segments_at(conn, AFTER)
        first = state.segments_at(conn, D(2023, 6, 1))
    assert before.to_dict() == {"E": "smb", "F": "mid_market", "G": "smb", "H": None}
    # F has no ARR in June 2025: it keeps its last contract's segment
    assert after.to_dict() == {"E": "enterprise", "F": "mid_market", "G": "smb", "H": "smb"}
    # before any contract a derived segment is unknown; the source's is as given
    assert first.to_dict() == {"E": None, "F": None, "G": "smb", "H": None}


def test_the_segment_filter_counts_accounts_in_their_segment_then(moved):
    with moved.connect() as conn:
        smb_then = msql.arr_as_of(conn, BEFORE, "smb").set_index("account_id")["arr"]
        ent_now = msql.arr_as_of(conn, AFTER, "enterprise").set_index("account_id")["arr"]
        # cohort at the start: E (5K smb) and G (80K): 85K -> 60K + 80K
        ret = msql.retention(conn, BEFORE, AFTER, "smb")
        mv = msql.arr_movements(conn, BEFORE, AFTER, "smb").set_index("account_id")
        kpis = portfolio_health.kpis(conn, periods.Filters(as_of=BEFORE, segment="smb"))
        by_seg = portfolio_health.by_segment(conn, periods.Filters(as_of=BEFORE))
        trend = portfolio_health.arr_trend(
            conn, periods.Filters(as_of=AFTER, segment="enterprise"), months=12)
        arr_series = series._arr_at(conn, [BEFORE, AFTER], "enterprise")
    # today's stored segment would put E in enterprise in 2024: its $5K was smb then
    assert smb_then.to_dict() == {"E": 5_000.0, "G": 80_000.0}
    assert ent_now.to_dict() == {"E": 60_000.0}
    assert ret["start_arr"] == 85_000.0 and ret["nrr"] == pytest.approx(140_000 / 85_000)
    # E moved to enterprise: expansion in the smb cohort, not churn; H new in smb at the end
    assert mv["movement"].to_dict() == {"E": "expansion", "G": "flat", "H": "new"}
    assert kpis["arr"] == 85_000.0 and kpis["accounts"] == 2
    assert by_seg.set_index("segment")["arr"].to_dict() == {"smb": 85_000.0,
                                                            "mid_market": 20_000.0}
    # enterprise ARR month by month: nothing until E's 2025 contract
    assert trend.set_index("month")["arr"].get(pd.Timestamp("2024-12-01"), 0.0) == 0.0
    assert trend["arr"].iloc[-1] == 60_000.0
    assert arr_series.tolist() == [0.0, 60_000.0]


def test_pages_label_and_filter_by_the_segment_then(moved):
    with moved.connect() as conn:
        sc = portfolio_health.scores(conn, periods.Filters(as_of=BEFORE, segment="smb"))
        table = portfolio_health.account_table(conn, periods.Filters(as_of=BEFORE))
        churned = churn_risk.churn_reasons(
            conn, periods.Filters(as_of=AFTER, segment="mid_market"), days=365)["events"]
        options = periods.filter_options(conn)
    assert sc.set_index("account_id")["segment"].to_dict() == {"E": "smb", "G": "smb"}
    assert table.set_index("account_id")["segment"].to_dict() == {
        "E": "smb", "F": "mid_market", "G": "smb"}
    # a churned account is listed in the segment it had
    assert churned["account_id"].tolist() == ["F"] and churned["segment"].tolist() == ["mid_market"]
    # every ARR segment can be filtered on when any segment is derived
    assert options["segments"] == ["enterprise", "mid_market", "smb"]


def test_segmentation_groups_and_their_year_ago_members_follow_the_filter(moved):
    f = periods.Filters(as_of=AFTER, segment="smb")
    with moved.connect() as conn:
        acc = segments.account_frame(conn, f)
        now, bench = segments.rule_segments(conn, f, ["segment"], acc)
    # E has grown into enterprise; H signed on at $8K; G is smb as its source says
    assert set(acc.index) == {"G", "H"} and set(now) == {"smb"}
    # retention follows the accounts in smb a year earlier: E ($5K then) and G; F, then
    # mid_market, is not part of an smb view
    assert bench["group"].tolist() == ["smb"]
    row = bench.iloc[0]
    assert row["accounts"] == 2 and row["accounts_then"] == 2
    assert row["nrr"] == pytest.approx(140_000 / 85_000)
