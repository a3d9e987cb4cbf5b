"""Onboarding, success plans and value realization (issue 20): the rules by hand, the
point-in-time reads on a hand-made store, the import's refusals, and the plan's life
from a won deal to its approval."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import onboarding as OB
from greendoor import success_plans as SP
from greendoor.access import AccessDenied, Principal
from greendoor.ingest import import_path
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert

D = dt.date


# --------------------------------------------------------------------------- rules
def test_roi_and_its_interval_by_hand():
    # one metric: 10 units gained, a unit worth 80 / 100 / 140 a year (low, mode, high),
    # cost 500 -> ROI at the mode (10 x 100 - 500) / 500 = 1.0
    assert OB.roi(1000.0, 500.0) == 1.0
    assert math.isnan(OB.roi(100.0, 0.0))
    # triangular(a=80, c=100, b=140): F(c) = (c-a)/(b-a) = 1/3
    # q10 = a + sqrt(0.1 (b-a)(c-a)) = 80 + sqrt(120) = 90.954 -> ROI 0.81909
    # q50 = b - sqrt(0.5 (b-a)(b-c)) = 140 - sqrt(1200) = 105.359 -> ROI 1.10718
    # q90 = b - sqrt(0.1 (b-a)(b-c)) = 140 - sqrt(240) = 124.508 -> ROI 1.49016
    lo, mid, hi = OB.roi_interval(np.array([10.0]), np.array([80.0]), np.array([100.0]),
                                  np.array([140.0]), 500.0, draws=200_000, seed=3, level=0.8)
    assert lo == pytest.approx(0.81909, abs=0.004)
    assert mid == pytest.approx(1.10718, abs=0.004)
    assert hi == pytest.approx(1.49016, abs=0.004)
    # seeded: the same draws give the same interval
    again = OB.roi_interval(np.array([10.0]), np.array([80.0]), np.array([100.0]),
                            np.array([140.0]), 500.0, draws=200_000, seed=3, level=0.8)
    assert again == (lo, mid, hi)
    # no range: the interval collapses on the point
    assert OB.roi_interval(np.array([10.0]), np.array([np.nan]), np.array([100.0]),
                           np.array([np.nan]), 500.0) == (1.0, 1.0, 1.0)


def test_business_day_sla_by_hand():
    fri = dt.datetime(2026, 11, 27, 15, 0)  # a Friday
    s = OB.sla(fri, dt.datetime(2026, 11, 30, 9, 0))  # Monday morning
    assert s.due == dt.datetime(2026, 12, 1, 15, 0)  # Fri + 2 business days = Tue, 15:00
    assert s.business_days_left == 1 and not s.overdue
    assert OB.sla(fri, dt.datetime(2026, 12, 1, 15, 1)).overdue  # a minute late
    late = OB.sla(fri, dt.datetime(2026, 12, 3, 10, 0))  # Thursday
    assert late.overdue and late.business_days_left == -2
    sat = OB.sla(dt.datetime(2026, 11, 28, 11, 0), dt.datetime(2026, 11, 30, 9, 0))
    assert sat.due == dt.datetime(2026, 12, 2, 0, 0)  # counts from Monday 00:00


def test_critical_path_and_cycles_by_hand():
    ms = pd.DataFrame({
        "milestone_id": ["A", "B", "C", "D", "E"],
        "start_date": pd.to_datetime(["2026-01-01", "2026-01-05", "2026-01-05",
                                      "2026-01-15", "2026-01-02"]),
        "due_date": pd.to_datetime(["2026-01-05", "2026-01-15", "2026-01-08", "2026-01-20",
                                    "2026-01-04"]),
        "depends_on": [None, "A", "A", "B, C", None]})
    # finishes: A 4, B 4+10 = 14, C 4+3 = 7, D max(14, 7)+5 = 19, E 2 -> A, B, D
    assert OB.critical_path(ms) == ["A", "B", "D"]
    ms.loc[0, "depends_on"] = "D"
    cyc = OB.dependency_cycle(ms)
    assert cyc is not None and set(cyc) >= {"A", "B", "D"} and cyc[0] == cyc[-1]
    with pytest.raises(ValueError, match="dependency cycle"):
        OB.critical_path(ms)


@pytest.mark.parametrize("behind, done, total, expected", [
    (0, 3, 8, "on track"), (6, 3, 8, "on track"), (7, 3, 8, "behind"), (20, 3, 8, "behind"),
    (21, 3, 8, "stuck"), (200, 3, 8, "stuck"), (0, 8, 8, "complete")])
def test_status_rule(behind, done, total, expected):
    assert OB.status(behind, done, total, behind_days=7, stuck_days=21) == expected


def test_rules_phases_and_trajectory():
    assert OB.parse_rule("active_users>=5") == ("active_users", None, 5)
    assert OB.parse_rule("feature_users:reports >= 3") == ("feature_users", "reports", 3)
    assert OB.parse_rule(None) is None and OB.parse_rule("") is None
    with pytest.raises(ValueError, match="completion rule"):
        OB.parse_rule("users>5")
    start = D(2026, 1, 1)
    assert [OB.phase_of(start, start + dt.timedelta(days=n)) for n in (-1, 0, 29, 30, 60, 89, 90)] \
        == ["not started", "foundation", "foundation", "integration", "realization",
            "realization", "after day 90"]
    # baseline 100 at day 1, target 60 on day 90 (89 days later): at day 45, 100 - 40 x 44/89
    assert OB.planned(100, 60, start, D(2026, 3, 31), D(2026, 2, 14)) == \
        pytest.approx(100 - 40 * 44 / 89)
    assert OB.improvement(100, 80, "decrease") == 20 and OB.improvement(5, 9, "increase") == 4
    ok = pd.DataFrame({"name": ["A", "B"], "raci": ["accountable", "responsible"]})
    assert OB.raci_problems(ok) == []
    assert OB.raci_problems(ok.assign(raci=["responsible", "informed"])) == \
        ["no one is Accountable"]


# --------------------------------------------------------------------------- store
def _hand_store(engine):
    """One account, a plan started 2026-01-01 with an adoption milestone completed by usage
    (2 users) and a value milestone done by hand on 2026-03-15, one value metric."""
    with engine.begin() as conn:
        bulk_insert(conn, schema.accounts, pd.DataFrame([{
            "account_id": "A1", "name": "Acme", "segment": "smb", "csm_owner": "Kim",
            "signup_date": D(2025, 12, 30)}]))
        bulk_insert(conn, schema.subscriptions, pd.DataFrame([{
            "subscription_id": "S1", "account_id": "A1", "start_date": D(2025, 12, 30),
            "arr": 10_000.0, "seats": 10}]))
        bulk_insert(conn, schema.usage, pd.DataFrame({
            "account_id": "A1", "date": [D(2025, 12, 31), D(2026, 1, 5), D(2026, 1, 6),
                                         D(2026, 1, 10)],
            "user_id": ["u0", "u1", "u1", "u2"], "feature": "reports", "events": 3}))
        bulk_insert(conn, schema.success_plans, pd.DataFrame([{
            "plan_id": "P1", "account_id": "A1", "start_date": D(2026, 1, 1),
            "status": "approved", "created_at": D(2025, 12, 31),
            "submitted_at": dt.datetime(2026, 1, 2, 10), "decided_at": dt.datetime(2026, 1, 6, 9),
            "investment": 2000.0, "version": 1}]))
        bulk_insert(conn, schema.milestones, pd.DataFrame([
            {"milestone_id": "M1", "plan_id": "P1", "name": "First users", "phase": "foundation",
             "kind": "adoption", "start_date": D(2026, 1, 1), "due_date": D(2026, 1, 20),
             "completion_rule": "active_users>=2"},
            {"milestone_id": "M2", "plan_id": "P1", "name": "First value", "phase": "realization",
             "kind": "value", "start_date": D(2026, 2, 1), "due_date": D(2026, 3, 1),
             "completed_at": D(2026, 3, 15), "depends_on": "M1"}]))
        bulk_insert(conn, schema.value_metrics, pd.DataFrame([{
            "metric_id": "V1", "plan_id": "P1", "name": "Hours a month", "unit": "hours",
            "direction": "decrease", "baseline": 100.0, "target": 60.0,
            "target_date": D(2026, 3, 31), "value_per_unit": 600.0,
            "value_per_unit_low": 400.0, "value_per_unit_high": 800.0}]))
        bulk_insert(conn, schema.value_measurements, pd.DataFrame({
            "measurement_id": ["m1", "m2"], "metric_id": "V1",
            "measured_at": [D(2026, 2, 1), D(2026, 4, 1)], "value": [90.0, 70.0]}))


def test_time_to_value_status_and_value_at_a_date(engine):
    _hand_store(engine)
    with engine.connect() as conn:
        # 8 Jan: u1 started on 5 Jan (u0's use before the start does not count): 1 user
        early = SP.progress(conn, D(2026, 1, 8))
        assert early.loc[0, "done"] == 0 and math.isnan(early.loc[0, "time_to_first_value"])
        # 1 Mar: u2 on 10 Jan is the 2nd user -> first value 9 days after the start; the
        # value milestone due 1 Mar is open (0 days late on its due day)
        mar = SP.progress(conn, D(2026, 3, 1)).iloc[0]
        assert mar["time_to_first_value"] == 9 and math.isnan(mar["time_to_value"])
        assert (mar["done"], mar["days_behind"], mar["status"]) == (1, 0, "on track")
        # 12 Mar: 11 days late -> behind; 15 Mar: done -> time to value 73 days, complete
        assert SP.progress(conn, D(2026, 3, 12)).iloc[0]["status"] == "behind"
        apr = SP.progress(conn, D(2026, 4, 2)).iloc[0]
        assert apr["time_to_value"] == 73 and apr["status"] == "complete"
        # approval as it stood: submitted on 3 Jan, approved from 6 Jan
        assert SP.plans_as_of(conn, D(2026, 1, 3)).iloc[0]["approval"] == "submitted"
        assert SP.plans_as_of(conn, D(2026, 1, 6)).iloc[0]["approval"] == "approved"
        assert SP.plans_as_of(conn, D(2025, 12, 30)).empty  # not created yet
        # value on 15 Feb: latest 90 (1 Feb) -> 10 hours gained x 600 = 6,000 a year;
        # planned at 15 Feb: 40 x 45/89 = 20.22 hours -> 12,134.8
        plans = SP.plans_as_of(conn, D(2026, 2, 15))
        v = SP.value_as_of(conn, D(2026, 2, 15), plans).iloc[0]
        assert v["gain"] == 10 and v["benefit"] == 6000
        assert v["planned_benefit"] == pytest.approx(40 * 45 / 89 * 600)
        from greendoor.analytics import onboarding as OBA
        from greendoor.config import Settings
        from greendoor.periods import Filters
        cfg = Settings().model_dump()
        book = OBA.value_book(conn, Filters(as_of=D(2026, 2, 15)), cfg)
        row = book["accounts"].iloc[0]
        # cost = ARR 10,000 + services 2,000; ROI = (6,000 - 12,000) / 12,000 = -0.5;
        # realized 6,000 < (1 - 0.25) x 12,134.8 after day 30 -> value at risk
        assert row["cost"] == 12_000 and row["roi"] == -0.5 and row["value_risk"]
        assert row["roi_low"] < -0.5 < row["roi_high"]
        feats = SP.onboarding_features(conn, D(2026, 3, 12), cfg).iloc[0]
        assert feats["onboarding_days_behind"] == 11 and feats["onboarding_stuck"] == 0


def _write_csv(path, name, rows):
    pd.DataFrame(rows).to_csv(path / f"{name}.csv", index=False)


def test_import_refuses_an_unknown_plan_and_a_cycle_and_changes_nothing(engine, tmp_path):
    _hand_store(engine)
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(schema.milestones)).scalar()
    _write_csv(tmp_path, "milestones", [
        {"milestone_id": "X1", "plan_id": "NOPE", "name": "Kickoff", "phase": "foundation",
         "due_date": "2026-02-01"},
        {"milestone_id": "X2", "plan_id": "P1", "name": "Loop a", "phase": "integration",
         "due_date": "2026-02-10", "depends_on": "X3"},
        {"milestone_id": "X3", "plan_id": "P1", "name": "Loop b", "phase": "integration",
         "due_date": "2026-02-12", "depends_on": "X2"},
        {"milestone_id": "X4", "plan_id": "P1", "name": "Users", "phase": "foundation",
         "due_date": "2026-02-12", "completion_rule": "users > 5"}])
    rep = import_path(engine, tmp_path, replace=False)
    assert rep.status == "failed"
    errs = [str(e) for e in rep.errors]
    assert any("milestones.csv, line 2, column plan_id, value 'NOPE': unknown success plan"
               in e for e in errs), errs
    assert any("milestones.csv, line" in e and "dependency cycle: X" in e for e in errs), errs
    assert any("line 5, column completion_rule, value 'users > 5': not a completion rule"
               in e for e in errs), errs
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.milestones)
                            ).scalar() == before


def test_a_won_deal_gets_a_plan_and_the_plan_is_approved_with_an_audit_trail(engine):
    _hand_store(engine)
    with engine.begin() as conn:
        bulk_insert(conn, schema.contacts, pd.DataFrame([
            {"contact_id": "C1", "account_id": "A1", "name": "Ada Sponsor", "role":
             "executive_sponsor", "title": "COO", "active": True},
            {"contact_id": "C2", "account_id": "A1", "name": "Bo Champion", "role": "champion",
             "title": "Ops lead", "active": True}]))
        bulk_insert(conn, schema.opportunities, pd.DataFrame([
            {"opportunity_id": "O1", "account_id": "A1", "type": "expansion", "amount": 5000.0,
             "close_date": D(2026, 12, 20), "status": "open"},
            {"opportunity_id": "O2", "account_id": "A1", "type": "renewal", "amount": 9000.0,
             "close_date": D(2026, 12, 20), "status": "open"}]))
    kim = Principal("kim", "csm", book="Kim")
    pid = SP.close_deal(engine, "O1", won=True, actor=kim, on=D(2026, 12, 1))
    assert SP.close_deal(engine, "O2", won=True, actor="local", on=D(2026, 12, 1)) is None
    with engine.connect() as conn:
        plan = conn.execute(sa.select(schema.success_plans).where(
            schema.success_plans.c.plan_id == pid)).mappings().one()
        ms = pd.read_sql(sa.select(schema.milestones).where(
            schema.milestones.c.plan_id == pid), conn)
        people = pd.read_sql(sa.select(schema.stakeholders).where(
            schema.stakeholders.c.plan_id == pid), conn)
        created = conn.execute(sa.select(schema.audit_log.c.after_json).where(
            schema.audit_log.c.action == "plan.create")).scalar()
        opp = conn.execute(sa.select(schema.opportunities.c.status).where(
            schema.opportunities.c.opportunity_id == "O1")).scalar()
    assert opp == "won" and plan["status"] == "draft" and plan["template"] == "smb"
    assert len(ms) == len(SP.TEMPLATES["smb"].milestones)
    assert ms["due_date"].max() == D(2026, 12, 1) + dt.timedelta(days=89)  # day 90
    assert dict(zip(people["name"], people["raci"], strict=True)) == {
        "Ada Sponsor": "accountable", "Bo Champion": "responsible", "Kim": "responsible"}
    # 10 of the 11 required fields (no value metric yet) = 90.9 %
    assert '"required_filled": 0.909' in created and '"value metric"' in created
    # the RACI grid refuses a plan without an Accountable, writing nothing
    no_a = people.assign(raci=people["raci"].replace("accountable", "consulted"))
    with pytest.raises(SP.PlanError, match="no one is Accountable"):
        SP.save_stakeholders(engine, pid, no_a, actor=kim)
    assert SP.submit(engine, pid, actor=kim, at=dt.datetime(2026, 12, 1, 10)) == 2
    with pytest.raises(AccessDenied):  # a csm does not approve
        SP.decide(engine, pid, True, actor=kim)
    with pytest.raises(SP.PlanError, match="rejection needs a note"):
        SP.decide(engine, pid, False, actor=Principal("mo", "manager"))
    assert SP.decide(engine, pid, True, actor=Principal("mo", "manager")) == 3
    with engine.connect() as conn:
        trail = conn.execute(sa.select(schema.audit_log.c.action, schema.audit_log.c.actor)
                             .where(schema.audit_log.c.entity_id == pid)
                             .order_by(schema.audit_log.c.occurred_at)).all()
        assert conn.execute(sa.select(schema.stakeholders.c.raci).where(
            schema.stakeholders.c.name == "Ada Sponsor")).scalar() == "accountable"
    assert [tuple(t) for t in trail] == [("plan.create", "kim"), ("plan.submit", "kim"),
                                          ("plan.approve", "mo")]


def test_the_demo_plans_stall_where_onboarding_failed_and_those_churn_more(scored_demo_store):
    _, eng = scored_demo_store
    from greendoor.demo import DemoParams
    from greendoor.demo.simulator import _Simulation
    from tests.conftest import DEMO_AS_OF

    with eng.connect() as conn:
        plans = SP.plans_as_of(conn, DEMO_AS_OF)
        prog = SP.progress(conn, DEMO_AS_OF, plans=plans)
        churned = set(pd.read_sql(sa.select(schema.churn_events.c.account_id), conn)["account_id"])
        n_meas = conn.execute(sa.select(sa.func.count()).select_from(
            schema.value_measurements)).scalar()
    assert len(plans) >= 20 and n_meas > 0
    assert set(prog["status"]) >= {"stuck", "complete"}
    sim = _Simulation(DemoParams(n_accounts=150, months=14, seed=7, as_of=DEMO_AS_OF))
    sim.run()
    failed = set(sim.ids[sim.failed_onboarding])
    stuck = prog[prog["status"] == "stuck"]
    # a stalled plan is a failed onboarding (the cause), and those churn more often
    assert stuck["account_id"].isin(failed).mean() >= 0.5
    rate = prog.assign(churned=prog["account_id"].isin(churned),
                       stalled=prog["status"] == "stuck").groupby("stalled")["churned"].mean()
    assert rate[True] > rate[False]


def test_rule_days_count_each_plans_users_by_their_first_day():
    """:class:`SP.RuleDays` per plan and per plan and feature: each user's first day,
    sorted; the n-th distinct user's day meets a rule. A use with no feature counts for
    ``active_users`` only."""
    first = pd.DataFrame({
        "plan_id": ["P1", "P1", "P1", "P1", "P2"],
        "user_id": ["a", "a", "b", "c", "a"],
        "feature": ["x", "y", "x", None, "x"],
        "first": pd.to_datetime(["2026-01-05", "2026-01-03", "2026-01-04", "2026-01-02",
                                 "2026-01-09"])})
    days = SP.RuleDays(first)
    # P1 by user: c 2 Jan, a 3 Jan (its earlier feature), b 4 Jan -> the 2nd is 3 Jan
    assert days.met_on("P1", "active_users>=2") == pd.Timestamp("2026-01-03")
    assert days.met_on("P1", "active_users>=4") is None  # 3 users only
    # feature x in P1: b 4 Jan, a 5 Jan -> the 2nd is 5 Jan; y has one user
    assert days.met_on("P1", "feature_users:x>=2") == pd.Timestamp("2026-01-05")
    assert days.met_on("P1", "feature_users:y>=1") == pd.Timestamp("2026-01-03")
    assert days.met_on("P1", "feature_users:y>=2") is None
    assert days.met_on("P2", "active_users>=1") == pd.Timestamp("2026-01-09")
    assert days.met_on("P3", "active_users>=1") is None  # no use at all
    assert SP.RuleDays(first.iloc[:0]).met_on("P1", "active_users>=1") is None
