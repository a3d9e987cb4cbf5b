"""Analytics read models and versioned settings on hand-computed cases."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from greendoor import config, state
from greendoor import settings as S
from greendoor.analytics import advocacy, behavior, expansion, renewals, segments
from greendoor.periods import Filters
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert
from greendoor.store.rollups import usage_rollups_fresh

AS_OF = dt.date(2025, 6, 1)


def _accounts(engine, n=3, signup="2023-01-01"):
    df = pd.DataFrame({"account_id": [f"A{i}" for i in range(n)],
                       "name": [f"Acc {i}" for i in range(n)],
                       "segment": ["smb"] * n, "csm_owner": ["ann"] * n,
                       "signup_date": pd.to_datetime([signup] * n)})
    with engine.begin() as conn:
        bulk_insert(conn, schema.accounts, df)


def _usage(engine, rows, rollup: bool = False):
    """Insert usage rows; with ``rollup`` also rebuild the usage rollups (fresh), else
    they are stale and readers use the raw rows."""
    from greendoor.store.rollups import refresh_usage_rollups

    df = pd.DataFrame(rows, columns=["account_id", "date", "user_id", "feature", "events",
                                     "duration_seconds", "errors"])
    df["usage_id"] = [f"u{i}" for i in range(len(df))]
    df["date"] = pd.to_datetime(df["date"])
    with engine.begin() as conn:
        bulk_insert(conn, schema.usage, df)
        if rollup:
            refresh_usage_rollups(conn)


# --------------------------------------------------------------------------- behavior
def test_feature_adoption_share_and_gap(engine):
    """4 accounts active in the last 30 days; 'reports' used by 3 (75 %), 'api' by 1
    (25 %). In the 30 days after release (first use 2025-01-01) 'api' reached 1 of 4
    active accounts (25 %, no gap) and 'beta' 0 of 4... beta released later: 1 of 4."""
    _accounts(engine, 4)
    rows = []
    for i in range(4):
        rows.append((f"A{i}", "2025-01-02", "u1", "core", 10, 60.0, 0))
        rows.append((f"A{i}", "2025-05-20", "u1", "core", 10, 60.0, 0))
    for i in range(3):
        rows.append((f"A{i}", "2025-05-21", "u1", "reports", 10, 60.0, 1))
    rows.append(("A0", "2025-01-01", "u1", "api", 10, 60.0, 5))
    rows.append(("A0", "2025-05-22", "u1", "api", 20, 60.0, 2))
    _usage(engine, rows)
    with engine.connect() as conn:
        fa = behavior.feature_adoption(conn, Filters(AS_OF)).set_index("feature")
    assert fa.loc["core", "adoption"] == 1.0
    assert fa.loc["reports", "adoption"] == 0.75
    assert fa.loc["api", "adoption"] == 0.25
    assert fa.loc["api", "error_rate"] == pytest.approx(2 / 20)
    # api released 2025-01-01: in [Jan 1, Jan 31) 4 accounts active, 1 used api -> 25 %
    assert fa.loc["api", "adoption_30d_after_release"] == 0.25 and not fa.loc["api", "gap"]
    # reports released 2025-05-21: its 30 days are not over yet -> unknown, no gap claimed
    assert np.isnan(fa.loc["reports", "adoption_30d_after_release"])
    assert not fa.loc["reports", "gap"]


@pytest.mark.parametrize("rollup", [False, True], ids=["raw", "rollup"])
def test_anomalies_flag_a_drop_over_20_percent(engine, rollup):
    _accounts(engine, 2)
    with engine.begin() as conn:
        bulk_insert(conn, schema.subscriptions, pd.DataFrame({
            "subscription_id": ["s0", "s1"], "account_id": ["A0", "A1"],
            "start_date": pd.to_datetime(["2024-01-01"] * 2), "arr": [1000.0, 2000.0]}))
    # A0: 100 events before, 70 now (-30 %): flagged. A1: 100 -> 90 (-10 %): not.
    _usage(engine, [("A0", "2025-05-10", "u", "x", 100, 600.0, 0),
                    ("A0", "2025-05-25", "u", "x", 70, 600.0, 0),
                    ("A1", "2025-05-10", "u", "x", 100, 600.0, 0),
                    ("A1", "2025-05-25", "u", "x", 90, 600.0, 0)], rollup)
    with engine.connect() as conn:
        an = behavior.anomalies(conn, Filters(AS_OF))  # the rollup when fresh
    assert list(an["account_id"]) == ["A0"]
    assert an.loc[0, "events_change"] == pytest.approx(-0.3)
    assert an.loc[0, "anomaly"] == "events -30%"


@pytest.mark.parametrize("rollup", [False, True], ids=["raw", "rollup"])
def test_active_users_dau_wau_mau(engine, rollup):
    """u1 active every day of the last week, u2 on one day, u3 only 20 days ago:
    DAU = (7 + 1) / 7, WAU = 2, MAU = 3."""
    _accounts(engine, 1)
    rows = [("A0", str(AS_OF - dt.timedelta(days=d)), "u1", "x", 1, 1.0, 0) for d in range(1, 8)]
    rows += [("A0", str(AS_OF - dt.timedelta(days=3)), "u2", "x", 1, 1.0, 0),
             ("A0", str(AS_OF - dt.timedelta(days=20)), "u3", "x", 1, 1.0, 0),
             ("A0", str(AS_OF - dt.timedelta(days=60)), "u3", "x", 1, 1.0, 0)]  # before the window
    _usage(engine, rows, rollup)
    with engine.connect() as conn:
        assert usage_rollups_fresh(conn) is rollup
        au = behavior.active_users(conn, Filters(AS_OF), weeks=1)
    row = au.iloc[-1]
    assert row["dau"] == pytest.approx(8 / 7) and row["wau"] == 2 and row["mau"] == 3
    assert row["stickiness"] == pytest.approx(8 / 7 / 3)


@pytest.mark.parametrize("rollup", [False, True], ids=["raw", "rollup"])
def test_cohort_retention(engine, rollup):
    """Two accounts signed up in Jan 2025; both use it in January, one in February."""
    _accounts(engine, 2, signup="2025-01-05")
    _usage(engine, [("A0", "2025-01-10", "u", "x", 1, 1.0, 0),
                    ("A1", "2025-01-11", "u", "x", 1, 1.0, 0),
                    ("A0", "2025-02-10", "u", "x", 1, 1.0, 0)], rollup)
    with engine.connect() as conn:
        c = behavior.cohort_retention(conn, Filters(AS_OF)).set_index("age")
    assert c.loc[0, "retention"] == 1.0 and c.loc[1, "retention"] == 0.5
    assert c.loc[0, "size"] == 2


def test_behavior_reads_the_same_from_the_rollups_as_from_raw_rows(demo_store):
    """On the demo portfolio (fresh rollups), active users, anomalies and cohorts from
    the rollups equal the raw-row answers, for the whole book and one segment."""
    from tests.conftest import DEMO_AS_OF

    _, eng = demo_store
    with eng.connect() as conn:
        assert usage_rollups_fresh(conn)
        for f in (Filters(DEMO_AS_OF), Filters(DEMO_AS_OF, segment="smb")):
            for fn in (behavior.active_users, behavior.anomalies, behavior.cohort_retention):
                fast, raw = fn(conn, f, rollup=True), fn(conn, f, rollup=False)
                assert len(raw) > 0, fn.__name__
                pd.testing.assert_frame_equal(fast, raw, check_dtype=False, obj=fn.__name__)


# --------------------------------------------------------------------------- expansion
def test_pipeline_by_stage_weighted_and_aging(engine):
    _accounts(engine, 2)
    opp = pd.DataFrame({
        "opportunity_id": ["o1", "o2", "o3", "o4"], "account_id": ["A0", "A1", "A1", "A0"],
        "type": ["expansion", "expansion", "expansion", "renewal"],
        "stage": ["proposal", "discovery", "proposal", "negotiation"],
        "amount": [1000.0, 500.0, 3000.0, 9999.0], "probability": [0.5, 0.1, 0.2, 0.9],
        "close_date": pd.to_datetime(["2025-07-01"] * 4), "status": ["open"] * 4,
        "created_at": pd.to_datetime(["2025-05-01", "2025-05-22", "2025-04-01", "2025-05-01"])})
    with engine.begin() as conn:
        bulk_insert(conn, schema.opportunities, opp)
        # no export date and no history at AS_OF: the stages were not known then
        unknown = expansion.by_stage(expansion.open_pipeline(conn, Filters(AS_OF)))
        state.record_history(conn, opp, AS_OF - dt.timedelta(days=1), "test")
        pipe = expansion.open_pipeline(conn, Filters(AS_OF))
    assert list(unknown["stage"]) == ["unknown"] and unknown["amount"].sum() == 4500
    st = expansion.by_stage(pipe)
    assert list(st["stage"]) == ["discovery", "proposal"]  # deal order; renewal left out
    prop = st.set_index("stage").loc["proposal"]
    assert prop["amount"] == 4000 and prop["weighted"] == pytest.approx(500 + 600)
    assert prop["median_age_days"] == pytest.approx((31 + 61) / 2)
    assert prop["oldest_age_days"] == 61


def test_seat_signal_value_restores_the_target_utilization():
    """20 seats at 100 % utilization need 5 more seats to fall back to 80 % (20 / 25);
    value = 5 x ARR per seat = 5 x 20,000 / 20 = 5,000. 20 seats at 81 %: 16.2 / 0.8 =
    20.25 -> 21 seats, 1 more (at least 1). At a 50 % target: 20 / 0.5 - 20 = 20 seats."""
    target = config.default_settings()["rules"]["expansion_target_utilization"]
    assert target == 0.8
    assert expansion.seat_value(1.0, 20, 20_000.0, target) == (5, 5_000.0)
    assert expansion.seat_value(0.81, 20, 20_000.0, target) == (1, 1_000.0)
    assert expansion.seat_value(1.0, 20, 20_000.0, 0.5) == (20, 20_000.0)
    with pytest.raises(ValueError):
        expansion.seat_value(1.0, 0, 20_000.0, target)


# --------------------------------------------------------------------------- renewals
def test_window_summary_counts_renewals_without_plan():
    due = pd.DataFrame({"window": [30, 30, 90, np.nan], "arr": [100.0, 200.0, 50.0, 999.0],
                        "has_plan": [True, False, False, False]})
    w = renewals.window_summary(due, [120, 90, 60, 30]).set_index("window")
    assert w.loc[30, "renewals"] == 2 and w.loc[30, "without_plan"] == 1
    assert w.loc[30, "arr_without_plan"] == 200 and w.loc[90, "renewals"] == 1
    assert w.loc[60, "renewals"] == 0 and w.loc[120, "renewals"] == 0


def test_verdict_names_winner_and_margin():
    cmp = pd.DataFrame({"model": ["prophet", "ets", "seasonal_naive"], "status": ["ok"] * 3,
                        "reason": [None] * 3, "cutoffs": [8] * 3, "mape": [0.01, 0.02, 0.2],
                        "mase": [0.5, 1.0, 2.0]})
    v = renewals.verdict(cmp)
    assert "prophet won" in v and "50% lower than the runner-up ets" in v
    assert "75% below the seasonal-naive baseline" in v


# --------------------------------------------------------------------------- advocacy
def test_advocates_vs_others_retention(engine):
    """A0 (advocate, completed a case study before the period) keeps 100 -> 120; A1 and
    A2 (others) : A1 keeps 100, A2 churns 100."""
    _accounts(engine, 3)
    start = AS_OF - dt.timedelta(days=365)
    with engine.begin() as conn:
        bulk_insert(conn, schema.subscriptions, pd.DataFrame({
            "subscription_id": ["s0", "s0b", "s1", "s2"], "account_id": ["A0", "A0", "A1", "A2"],
            "start_date": pd.to_datetime(["2023-01-01", "2025-01-01", "2023-01-01", "2023-01-01"]),
            "end_date": pd.to_datetime([None, None, None, "2025-01-01"]),
            "arr": [100.0, 20.0, 100.0, 100.0]}))
        bulk_insert(conn, schema.advocacy_activities, pd.DataFrame({
            "activity_id": ["v1", "v2"], "account_id": ["A0", "A1"],
            "type": ["case_study", "review"], "status": ["completed", "declined"],
            "occurred_at": pd.to_datetime([start - dt.timedelta(days=30)] * 2)}))
        av = advocacy.advocates_vs_others(conn, Filters(AS_OF)).set_index("group")
    assert av.loc["Advocates", "accounts"] == 1 and av.loc["Advocates", "nrr"] == pytest.approx(1.2)
    assert av.loc["Advocates", "grr"] == 1.0 and av.loc["Advocates", "logo_churn"] == 0
    assert av.loc["Other accounts", "logo_churn"] == 0.5
    assert av.loc["Other accounts", "grr"] == 0.5


def test_advocacy_pipeline_acceptance():
    acts = pd.DataFrame({"activity_id": range(5), "type": ["review"] * 5,
                         "status": ["asked", "accepted", "completed", "completed", "declined"]})
    p = advocacy.pipeline(acts).set_index("type")
    assert p.loc["review", "completed"] == 2 and p.loc["review", "acceptance"] == pytest.approx(0.6)


# --------------------------------------------------------------------------- segments
def test_lifecycle_stages():
    assert segments.lifecycle(10) == "onboarding"
    assert segments.lifecycle(90) == "adopting"
    assert segments.lifecycle(400) == "established"
    assert segments.lifecycle(float("nan")) == "unknown"


def test_clusters_find_planted_groups_and_name_them():
    """Two planted groups (heavy vs light users): k = 2 by silhouette, and the
    personas say which is which."""
    rng = np.random.default_rng(0)
    n = 60
    heavy = {"active_days_30d": rng.normal(25, 1, n), "seat_utilization": rng.normal(0.9, 0.03, n),
             "feature_breadth_30d": rng.normal(10, 0.5, n)}
    light = {"active_days_30d": rng.normal(4, 1, n), "seat_utilization": rng.normal(0.2, 0.03, n),
             "feature_breadth_30d": rng.normal(2, 0.5, n)}
    df = pd.concat([pd.DataFrame(heavy), pd.DataFrame(light)], ignore_index=True)
    for c in segments.CLUSTER_FEATURES:
        if c not in df:
            df[c] = 1.0  # constant: dropped as uninformative
    df.index = [f"A{i}" for i in range(len(df))]
    cl = segments.cluster(df)
    assert cl.k == 2 and cl.silhouette[2] == max(cl.silhouette.values())
    assert cl.labels.iloc[:n].nunique() == 1 and cl.labels.iloc[n:].nunique() == 1
    heavy_name, light_name = cl.labels.iloc[0], cl.labels.iloc[-1]
    assert heavy_name != light_name
    assert any(w in heavy_name.lower() for w in ("daily", "well used", "broad"))
    assert any(w in light_name.lower() for w in ("occasional", "idle", "narrow"))
    # assignment of the same rows reproduces the labels
    assert (cl.assign(df) == cl.labels).all()


def test_clusters_refuse_without_behavioral_data():
    df = pd.DataFrame({c: np.nan for c in segments.CLUSTER_FEATURES}, index=[f"A{i}" for i in range(50)])
    cl = segments.cluster(df)
    assert cl.model is None and "usage" in cl.reason


def test_benchmarks_follow_last_years_members(engine):
    """Retention groups accounts by what they were a year ago: a churned account still
    counts against its old segment."""
    _accounts(engine, 2)
    with engine.begin() as conn:
        bulk_insert(conn, schema.subscriptions, pd.DataFrame({
            "subscription_id": ["s0", "s1"], "account_id": ["A0", "A1"],
            "start_date": pd.to_datetime(["2023-01-01"] * 2),
            "end_date": pd.to_datetime([None, "2025-01-01"]), "arr": [100.0, 100.0]}))
        now = pd.DataFrame({"arr": [100.0], "health_score": [80.0], "seat_utilization": [0.5],
                            "feature_breadth_30d": [4.0]}, index=["A0"])
        b = segments.benchmarks(conn, now, pd.Series({"A0": "smb"}),
                                pd.Series({"A0": "smb", "A1": "smb"}), AS_OF)
    row = b.iloc[0]
    assert row["accounts"] == 1 and row["accounts_then"] == 2
    assert row["logo_churn"] == 0.5 and row["grr"] == 0.5 and row["nrr"] == 0.5


# --------------------------------------------------------------------------- settings
def test_settings_save_versions_and_audits(engine):
    with engine.connect() as conn:
        v, cur = S.current(conn)
    assert v == 1
    cur["health"]["weights"]["engagement"] = 0.5
    cur["health"]["segment_weights"] = {"smb": {"growth": 0.6}}
    assert S.save(engine, cur, actor="maria", note="more weight on engagement") == 2
    with engine.connect() as conn:
        v2, now = S.current(conn)
        hist = S.history(conn)
        audit = conn.execute(schema.audit_log.select().where(
            schema.audit_log.c.action == "settings.update")).mappings().all()
    assert v2 == 2 and now["health"]["weights"]["engagement"] == 0.5
    assert hist.loc[0, "created_by"] == "maria" and "engagement: 0.4 → 0.5" in hist.loc[0, "changes"]
    assert len(audit) == 1 and json.loads(audit[0]["before_json"]) == {
        "health.segment_weights.smb": None, "health.weights.engagement": 0.4}
    with pytest.raises(ValueError, match="nothing changed"):
        S.save(engine, now, actor="maria")


@pytest.mark.parametrize("path,value,message", [
    (("health", "bands", "yellow"), 90.0, "health.bands"),
    (("health", "weights", "growth"), -1, "health.weights.growth"),
    (("rules", "warning_login_drop"), 5, "rules.warning_login_drop"),
    (("renewal_windows_days",), [90, 90], "renewal_windows_days"),
    (("health", "trend_window_days"), 2, "health.trend_window_days"),
])
def test_invalid_settings_are_refused_by_path(engine, path, value, message):
    s = config.default_settings()
    node = s
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    with pytest.raises(S.SettingsError, match=message):
        S.save(engine, s, actor="x")
    with engine.connect() as conn:
        assert S.current(conn)[0] == 1  # nothing stored
