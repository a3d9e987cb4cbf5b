"""Point-in-time features on a hand-built store, labels, and the leakage test."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from greendoor.scoring.features import FEATURES, features_as_of
from greendoor.scoring.labels import churn_labels, expansion_labels
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert

D = dt.date(2025, 6, 1)
TS = pd.Timestamp(D)


def day(n: int) -> pd.Timestamp:
    """``n`` days after the as-of date (negative = before)."""
    return TS + pd.Timedelta(days=n)


def insert(engine, table, rows: list[dict]):
    with engine.begin() as conn:
        bulk_insert(conn, table, pd.DataFrame(rows))


@pytest.fixture
def store(engine):
    insert(engine, schema.accounts, [
        {"account_id": "A", "name": "Alpha", "segment": "smb", "plan": "Growth",
         "industry": "Retail", "region": "EMEA", "signup_date": pd.Timestamp("2024-01-01")},
        {"account_id": "B", "name": "Beta", "segment": "mid_market", "plan": "Business",
         "industry": "Media", "region": "APAC", "signup_date": pd.Timestamp("2025-03-01")},
    ])
    insert(engine, schema.subscriptions, [
        {"subscription_id": "a1", "account_id": "A", "start_date": pd.Timestamp("2024-01-01"),
         "end_date": pd.Timestamp("2025-04-01"), "renewal_date": pd.Timestamp("2025-04-01"),
         "arr": 1000.0, "seats": 10, "auto_renew": True},
        {"subscription_id": "a2", "account_id": "A", "start_date": pd.Timestamp("2025-04-01"),
         "renewal_date": pd.Timestamp("2026-01-01"), "arr": 1200.0, "seats": 10, "auto_renew": True},
        {"subscription_id": "b1", "account_id": "B", "start_date": pd.Timestamp("2025-03-01"),
         "renewal_date": pd.Timestamp("2025-08-01"), "arr": 5000.0, "seats": 20, "auto_renew": False},
    ])
    u = lambda d, user, feat, ev, err=0, dur=0.0: {  # noqa: E731
        "account_id": "A", "date": day(d), "user_id": user, "feature": feat, "events": ev,
        "errors": err, "duration_seconds": dur}
    insert(engine, schema.usage, [
        u(-1, "u1", "reports", 10, 1, 600.0), u(-1, "u1", "dashboards", 5, 0, 300.0),
        u(-10, "u2", "reports", 4, 0, 240.0), u(-40, "u1", "reports", 20, 0, 1200.0),
        u(-100, "u3", "reports", 8, 0, 100.0),
        u(0, "u1", "reports", 99, 9, 999.0),  # on the as-of date: not yet known
    ])
    h = pd.Timedelta(hours=10)
    insert(engine, schema.tickets, [
        {"ticket_id": "t1", "account_id": "A", "opened_at": day(-5) + h, "closed_at": day(-4) + h,
         "priority": "high", "escalated": True, "csat": 2.0, "resolution_hours": 24.0},
        {"ticket_id": "t2", "account_id": "A", "opened_at": day(-45), "closed_at": day(-44),
         "priority": "low", "escalated": False, "csat": 4.0, "resolution_hours": 5.0},
        {"ticket_id": "t3", "account_id": "A", "opened_at": day(-2), "priority": "urgent",
         "escalated": False},
        {"ticket_id": "t4", "account_id": "A", "opened_at": day(0) + h, "priority": "urgent",
         "escalated": True},
    ])
    insert(engine, schema.survey_responses, [
        {"response_id": "r1", "account_id": "A", "responded_at": day(-100), "survey": "nps", "score": 9.0},
        {"response_id": "r2", "account_id": "A", "responded_at": day(-30), "survey": "nps", "score": 3.0},
        {"response_id": "r3", "account_id": "A", "responded_at": day(-20), "survey": "csat", "score": 5.0},
        {"response_id": "r4", "account_id": "A", "responded_at": day(0), "survey": "nps", "score": 10.0},
    ])
    insert(engine, schema.interactions, [
        {"interaction_id": "i1", "account_id": "A", "occurred_at": day(-10), "type": "meeting", "attended": True},
        {"interaction_id": "i2", "account_id": "A", "occurred_at": day(-20), "type": "call", "attended": False},
        {"interaction_id": "i3", "account_id": "A", "occurred_at": day(-5), "type": "email"},
        {"interaction_id": "i4", "account_id": "A", "occurred_at": day(0) + h, "type": "meeting", "attended": True},
    ])
    insert(engine, schema.contacts, [
        {"contact_id": "c1", "account_id": "A", "role": "champion", "active": False,
         "started_at": pd.Timestamp("2024-01-01"), "ended_at": day(-20)},
        {"contact_id": "c2", "account_id": "A", "role": "champion", "active": True, "started_at": day(-5)},
        {"contact_id": "s1", "account_id": "A", "role": "executive_sponsor", "active": True,
         "started_at": pd.Timestamp("2024-01-01")},
        {"contact_id": "s2", "account_id": "B", "role": "executive_sponsor", "active": True,
         "started_at": pd.Timestamp("2025-03-01")},
    ])
    insert(engine, schema.invoices, [
        {"invoice_id": "v1", "account_id": "A", "issued_at": day(-60), "due_at": day(-30),
         "paid_at": day(-10), "amount": 100.0},
        {"invoice_id": "v2", "account_id": "A", "issued_at": day(-40), "due_at": day(-10), "amount": 100.0},
    ])
    insert(engine, schema.opportunities, [
        {"opportunity_id": "o1", "account_id": "A", "type": "expansion", "amount": 500.0,
         "status": "open", "created_at": day(-10), "close_date": day(30)},
        {"opportunity_id": "o2", "account_id": "A", "type": "renewal", "amount": 1200.0,
         "status": "open", "created_at": day(1), "close_date": day(200)},
        {"opportunity_id": "o3", "account_id": "A", "type": "expansion", "amount": 300.0,
         "status": "won", "created_at": day(-50), "close_date": day(-5)},
    ])
    insert(engine, schema.advocacy_activities, [
        {"activity_id": "adv1", "account_id": "A", "type": "review", "status": "asked",
         "occurred_at": day(-30)},
    ])
    return engine


def features(engine, d=D):
    with engine.connect() as conn:
        return features_as_of(conn, d)


def test_columns_are_the_documented_features(store):
    f = features(store)
    assert list(f.columns) == ["as_of", *FEATURES]
    assert sorted(f.index) == ["A", "B"]


def test_activity_features_hand_computed(store):
    a = features(store).loc["A"]
    expected = {
        "active_days_7d": 1, "active_days_30d": 2, "active_days_90d": 3,
        "active_users_7d": 1, "active_users_30d": 2, "active_users_90d": 2,
        "seat_utilization": 0.2, "seat_utilization_change": 0.2 - 0.1,
        "feature_breadth_30d": 2, "events_30d": 19, "events_prior_60d": 20,
        "usage_trend": (19 / 30) / (20 / 60), "usage_change_mom": 19 / 20 - 1,
        "usage_growth_90d": 19 / 8 - 1, "logins_change_mom": 2 / 1 - 1,
        "session_minutes_30d": 1140 / 2 / 60, "session_change": 570 / 1200 - 1,
        "errors_30d": 1, "error_rate_30d": 1 / 19,
    }
    for name, value in expected.items():
        assert a[name] == pytest.approx(value), name


def test_support_and_voice_features_hand_computed(store):
    a = features(store).loc["A"]
    expected = {
        "tickets_30d": 2, "tickets_prior_30d": 1, "tickets_90d": 3,
        "high_priority_tickets_90d": 2, "escalated_tickets_90d": 1, "open_tickets": 1,
        "csat_90d": (2 + 4 + 5) / 3, "resolution_hours_90d": (24 + 5) / 2,
        "latest_nps": 3, "nps_detractor": 1, "nps_promoter": 0, "days_since_nps": 30,
    }
    for name, value in expected.items():
        assert a[name] == pytest.approx(value), name


def test_relationship_and_commercial_features_hand_computed(store):
    f = features(store)
    a, b = f.loc["A"], f.loc["B"]
    expected_a = {
        "days_since_touch": 5, "meetings_90d": 2, "meeting_attendance_90d": 0.5,
        "champion_active": 1, "sponsor_active": 1, "champion_left_90d": 1, "advocacy_asks_90d": 1,
        "arr": 1200, "arr_change_90d": 0.2, "seats": 10, "tenure_days": 517,
        "days_to_renewal": 214, "auto_renew": 1, "overdue_invoices": 1, "max_days_late_180d": 20,
        "open_expansion_pipeline": 500, "open_opportunities": 1,
    }
    for name, value in expected_a.items():
        assert a[name] == pytest.approx(value), name
    assert (a["segment"], a["plan"], a["industry"], a["region"]) == ("smb", "Growth", "Retail", "EMEA")
    # B: no usage at all, never touched (as long ago as its signup), no champion
    assert b["active_users_30d"] == 0 and b["seat_utilization"] == 0
    assert np.isnan(b["usage_trend"]) and np.isnan(b["latest_nps"])
    assert b["days_since_touch"] == 92 and b["champion_active"] == 0
    assert b["days_to_renewal"] == 61 and b["auto_renew"] == 0


def test_no_leakage_rows_on_or_after_the_as_of_date_change_nothing(store):
    before = features(store)
    h = pd.Timedelta(hours=1)
    for n in (0, 1, 30, 100):
        insert(store, schema.usage, [{"account_id": acc, "date": day(n), "user_id": f"x{n}",
                                      "feature": "api", "events": 500, "errors": 50,
                                      "duration_seconds": 9e4} for acc in ("A", "B")])
        insert(store, schema.tickets, [{"ticket_id": f"f{n}{acc}", "account_id": acc,
                                        "opened_at": day(n) + h, "priority": "urgent",
                                        "escalated": True, "csat": 1.0} for acc in ("A", "B")])
        insert(store, schema.survey_responses, [{"response_id": f"f{n}{acc}", "account_id": acc,
                                                 "responded_at": day(n), "survey": "nps",
                                                 "score": 0.0} for acc in ("A", "B")])
        insert(store, schema.interactions, [{"interaction_id": f"f{n}{acc}", "account_id": acc,
                                             "occurred_at": day(n), "type": "meeting",
                                             "attended": False} for acc in ("A", "B")])
        insert(store, schema.contacts, [{"contact_id": f"f{n}{acc}", "account_id": acc,
                                         "role": "champion", "started_at": day(n)}
                                        for acc in ("A", "B")])
        insert(store, schema.invoices, [{"invoice_id": f"f{n}{acc}", "account_id": acc,
                                         "issued_at": day(n), "due_at": day(n),
                                         "amount": 1.0} for acc in ("A", "B")])
        insert(store, schema.opportunities, [{"opportunity_id": f"f{n}{acc}", "account_id": acc,
                                              "type": "expansion", "amount": 1e6, "status": "open",
                                              "created_at": day(n), "close_date": day(n + 30)}
                                             for acc in ("A", "B")])
        insert(store, schema.subscriptions, [{"subscription_id": f"f{n}{acc}", "account_id": acc,
                                              "start_date": day(n), "arr": 1e6, "seats": 1000}
                                             for acc in ("A", "B")])
        insert(store, schema.advocacy_activities, [{"activity_id": f"f{n}{acc}", "account_id": acc,
                                                    "type": "review", "status": "asked",
                                                    "occurred_at": day(n)} for acc in ("A", "B")])
        insert(store, schema.churn_events, [{"churn_event_id": f"f{n}{acc}", "account_id": acc,
                                             "churn_date": day(n)} for acc in ("A", "B")])
    after = features(store)
    pd.testing.assert_frame_equal(before, after)


def test_churn_and_expansion_labels(store):
    insert(store, schema.churn_events, [{"churn_event_id": "e1", "account_id": "B",
                                         "churn_date": day(30)}])
    insert(store, schema.subscriptions, [{"subscription_id": "a3", "account_id": "A",
                                          "start_date": day(20), "arr": 300.0, "seats": 3}])
    with store.connect() as conn:
        churn = churn_labels(conn, D, 90)
        expansion = expansion_labels(conn, D, 90)
        churn_later = churn_labels(conn, D + dt.timedelta(days=31), 90)
    assert churn.to_dict() == {"A": 0, "B": 1}
    # A: ARR 1,200 -> 1,500 (+25 %) within 90 days
    assert expansion.to_dict() == {"A": 1, "B": 0}
    assert churn_later.get("B") == 0  # the churn event is before this window


def test_churn_label_from_arr_reaching_zero(store):
    with store.begin() as conn:
        conn.execute(schema.subscriptions.update().where(
            schema.subscriptions.c.subscription_id == "b1").values(end_date=day(45).date()))
    with store.connect() as conn:
        assert churn_labels(conn, D, 90).to_dict() == {"A": 0, "B": 1}
        assert churn_labels(conn, D, 30).to_dict() == {"A": 0, "B": 0}


def test_usage_rollup_gives_the_same_features_and_is_never_used_stale(scored_store_copy):
    """The daily per-user rollup (kept by the demo load) gives exactly the raw-row
    features; a usage write that bypasses it makes readers fall back to raw rows."""
    import pandas as pd
    import sqlalchemy as sa

    from greendoor.scoring.features import features_as_of
    from greendoor.store import rollups, schema
    from tests.conftest import DEMO_AS_OF

    _, eng = scored_store_copy
    with eng.connect() as conn:
        assert rollups.usage_rollups_fresh(conn)
        n_raw = conn.execute(sa.select(sa.func.count()).select_from(schema.usage)).scalar()
        n_days = conn.execute(sa.select(sa.func.count()).select_from(schema.usage_user_days)).scalar()
        assert 0 < n_days < n_raw
        for d in (DEMO_AS_OF, DEMO_AS_OF - dt.timedelta(days=95)):
            pd.testing.assert_frame_equal(features_as_of(conn, d, rollup=True),
                                          features_as_of(conn, d, rollup=False))
        acc = conn.execute(sa.select(schema.usage.c.account_id).limit(1)).scalar()
    with eng.begin() as conn:  # a write that does not refresh the rollup
        conn.execute(schema.usage.insert().values(account_id=acc, user_id="u-new",
                                                  date=DEMO_AS_OF - dt.timedelta(days=1),
                                                  feature="reports", events=5))
    with eng.connect() as conn:
        assert not rollups.usage_rollups_fresh(conn)
        fresh = features_as_of(conn, DEMO_AS_OF)  # falls back to the raw rows
        stale = features_as_of(conn, DEMO_AS_OF, rollup=True)
    assert fresh.loc[acc, "events_30d"] == stale.loc[acc, "events_30d"] + 5
    with eng.begin() as conn:
        rollups.refresh_usage_rollups(conn)
    with eng.connect() as conn:
        assert rollups.usage_rollups_fresh(conn)
        assert features_as_of(conn, DEMO_AS_OF).loc[acc, "events_30d"] == fresh.loc[acc, "events_30d"]


def test_an_import_leaves_the_usage_rollup_fresh(ravenstack_store):
    import sqlalchemy as sa

    from greendoor.store import rollups, schema

    _, eng = ravenstack_store
    with eng.connect() as conn:
        assert rollups.usage_rollups_fresh(conn)
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.usage_user_days)).scalar() > 0
