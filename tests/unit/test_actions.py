"""Write-back: every action is one transaction with its audit row; bad input writes nothing."""

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import actions as A
from greendoor.playbooks import PLAYBOOKS
from greendoor.scoring.run import write_alerts
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def store(engine):
    with engine.begin() as conn:
        bulk_insert(conn, schema.accounts, pd.DataFrame({
            "account_id": ["A1"], "name": ["Alpha"], "csm_owner": ["ann"],
            "signup_date": [pd.Timestamp("2024-01-01")]}))
        conn.execute(schema.alerts.insert().values(
            alert_id="al1", account_id="A1", as_of=TODAY, rule="proactive_checkin",
            severity="warning", title="Proactive check-in", status="open",
            created_at=dt.datetime(2026, 6, 1)))
    return engine


def rows(engine, table, **where):
    q = sa.select(table)
    for k, v in where.items():
        q = q.where(table.c[k] == v)
    with engine.connect() as conn:
        return pd.read_sql(q, conn)


def test_create_task_writes_action_and_audit(store):
    aid = A.create_task(store, "A1", "Call Jennifer", "ann", "2026-06-10", "executive outreach",
                        note="about the renewal", actor="sam")
    act = rows(store, schema.actions, action_id=aid).iloc[0]
    assert (act["type"], act["title"], act["owner"], act["status"]) == ("task", "Call Jennifer", "ann", "open")
    assert act["due_date"] == dt.date(2026, 6, 10) and act["created_by"] == "sam"
    assert json.loads(act["payload_json"])["task_type"] == "executive outreach"
    audit = rows(store, schema.audit_log, entity_id=aid).iloc[0]
    assert audit["actor"] == "sam" and audit["action"] == "action.task"
    assert json.loads(audit["after_json"])["title"] == "Call Jennifer"


def test_invalid_input_writes_nothing(store):
    before = len(rows(store, schema.audit_log))
    for call in (
        lambda: A.create_task(store, "A1", "", "ann", "2026-06-10"),
        lambda: A.create_task(store, "A1", "x", "ann", "not-a-date"),
        lambda: A.create_task(store, "NOPE", "x", "ann", "2026-06-10"),
        lambda: A.create_task(store, "A1", "x" * 201, "ann", "2026-06-10"),
        lambda: A.create_expansion_opportunity(store, "A1", -5, "2026-09-01"),
        lambda: A.start_playbook(store, "A1", "renewal", "ann"),  # no renewal date
        lambda: A.log_interaction(store, "A1", "fax", "2026-06-01"),
        lambda: A.snooze_alert(store, "al1", "2026-07-01", reason=""),
    ):
        with pytest.raises(A.ActionError):
            call()
    assert len(rows(store, schema.actions)) == 0
    assert len(rows(store, schema.audit_log)) == before


def test_start_playbook_creates_a_run_and_its_steps(store):
    run = A.start_playbook(store, "A1", "retention_14d", "ann", start=TODAY, actor="sam")
    steps = rows(store, schema.actions, parent_action_id=run).sort_values("due_date")
    pb = PLAYBOOKS["retention_14d"]
    assert len(steps) == len(pb.steps)
    assert [d for d in steps["due_date"]] == [TODAY + dt.timedelta(days=s.offset_days) for s in pb.steps]
    renewal = A.start_playbook(store, "A1", "renewal", "ann", start=TODAY,
                               renewal_date=dt.date(2026, 10, 1))
    due = sorted(rows(store, schema.actions, parent_action_id=renewal)["due_date"])
    # 120 days before 1 Oct is 3 Jun; earlier steps would be in the past: due at the start
    assert due == [dt.date(2026, 6, 3), dt.date(2026, 7, 3), dt.date(2026, 8, 2), dt.date(2026, 9, 1)]


def test_canonical_rows_are_written(store):
    A.log_interaction(store, "A1", "meeting", "2026-05-30", attended=True, note="QBR prep")
    A.create_expansion_opportunity(store, "A1", 25_000, "2026-09-30", note="20 seats")
    A.invite_to_advocacy(store, "A1", "case_study")
    assert rows(store, schema.interactions).iloc[0]["attended"] == True  # noqa: E712
    opp = rows(store, schema.opportunities).iloc[0]
    assert (opp["type"], opp["amount"], opp["status"]) == ("expansion", 25_000.0, "open")
    assert rows(store, schema.advocacy_activities).iloc[0]["status"] == "asked"
    assert set(rows(store, schema.actions)["type"]) == {"interaction", "opportunity", "advocacy_invite"}


def test_reassign_keeps_before_and_after(store):
    A.reassign_owner(store, "A1", "bob", "books rebalanced", actor="mgr")
    assert rows(store, schema.accounts).iloc[0]["csm_owner"] == "bob"
    audit = rows(store, schema.audit_log, action="account.reassign").iloc[0]
    assert json.loads(audit["before_json"]) == {"csm_owner": "ann"}
    assert json.loads(audit["after_json"]) == {"csm_owner": "bob"}


def test_snoozed_alert_is_not_raised_again_by_rescoring(store):
    A.snooze_alert(store, "al1", "2026-07-01", "customer on holiday")
    alert = rows(store, schema.alerts, alert_id="al1").iloc[0]
    assert alert["status"] == "snoozed" and alert["snoozed_until"] == dt.date(2026, 7, 1)
    new = pd.DataFrame([{"account_id": "A1", "rule": "proactive_checkin", "severity": "warning",
                         "title": "Proactive check-in", "evidence": {}}])
    with store.begin() as conn:
        write_alerts(conn, new, dt.date(2026, 6, 8))
    assert len(rows(store, schema.alerts, rule="proactive_checkin")) == 1  # still only the snoozed one


def test_rewriting_alerts_keeps_one_per_account_and_rule_and_updates_it_in_place(store):
    day = dt.date(2026, 6, 8)

    def alert(rule, title, **evidence):
        return {"account_id": "A1", "rule": rule, "severity": "warning", "title": title,
                "evidence": evidence}

    with store.begin() as conn:
        write_alerts(conn, pd.DataFrame([alert("usage_decline", "Usage down 30%", change=-0.3),
                                          alert("logins_drop", "Logins down 40%", change=-0.4)]), day)
    first = rows(store, schema.alerts, as_of=day).set_index("rule")
    with store.begin() as conn:
        write_alerts(conn, pd.DataFrame([alert("usage_decline", "Usage down 30%", change=-0.3),
                                          alert("logins_drop", "Logins down 45%", change=-0.45),
                                          alert("tickets_spike", "Tickets up", tickets_30d=4)]), day)
    second = rows(store, schema.alerts, as_of=day).set_index("rule")
    assert sorted(second.index) == ["logins_drop", "tickets_spike", "usage_decline"]
    assert second.loc["usage_decline", "alert_id"] == first.loc["usage_decline", "alert_id"]
    # raised again with new evidence: the same alert (id, creation time), updated
    assert second.loc["logins_drop", "alert_id"] == first.loc["logins_drop", "alert_id"]
    assert second.loc["logins_drop", "created_at"] == first.loc["logins_drop", "created_at"]
    assert second.loc["logins_drop", "title"] == "Logins down 45%"
    assert json.loads(second.loc["logins_drop", "evidence_json"]) == {"change": -0.45}
    assert (second["status"] == "open").all() and second["alert_id"].str.len().eq(32).all()
    with store.begin() as conn:
        write_alerts(conn, pd.DataFrame(columns=["account_id", "rule", "severity", "title",
                                                  "evidence"]), day)
    assert rows(store, schema.alerts, as_of=day, status="open").empty


def test_status_changes_are_audited(store):
    aid = A.create_task(store, "A1", "Call", "ann", "2026-06-10")
    A.set_status(store, aid, "done", actor="ann")
    act = rows(store, schema.actions, action_id=aid).iloc[0]
    assert act["status"] == "done" and act["completed_at"] is not None
    assert len(rows(store, schema.audit_log, action="action.status")) == 1
    with store.connect() as conn:
        assert len(A.list_actions(conn, owner="ann", status="done")) == 1


def test_hostile_text_is_stored_verbatim(store):
    nasty = "Robert'); DROP TABLE accounts;-- \u202e ✓ " + "x" * 50
    aid = A.create_task(store, "A1", nasty, "ann", "2026-06-10", note=nasty * 3)
    assert rows(store, schema.actions, action_id=aid).iloc[0]["title"] == nasty
    assert len(rows(store, schema.accounts)) == 1


def test_playbook_runs_progress_and_overdue(store):
    run = A.start_playbook(store, "A1", "retention_14d", "ann", start=TODAY)
    with store.connect() as conn:
        step = conn.execute(sa.select(schema.actions.c.action_id).where(
            schema.actions.c.parent_action_id == run).order_by(schema.actions.c.due_date)).first()[0]
    A.set_status(store, step, "done")
    with store.connect() as conn:
        runs = A.playbook_runs(conn, today=TODAY + dt.timedelta(days=6))
    r = runs.iloc[0]
    assert (r["steps"], r["done"]) == (5, 1) and r["progress"] == pytest.approx(0.2)
    assert r["overdue"] == 2  # steps due on days 2 and 4 are still open on day 6


def test_playbook_effectiveness_against_comparable_accounts(store):
    with store.begin() as conn:
        bulk_insert(conn, schema.accounts, pd.DataFrame({
            "account_id": ["B1", "C1"], "name": ["Beta", "Gamma"],
            "signup_date": [pd.Timestamp("2024-01-01")] * 2}))
        snaps = []
        for acc, h0, h1 in (("A1", 40.0, 60.0), ("B1", 42.0, 47.0), ("C1", 85.0, 80.0)):
            for d, h in ((dt.date(2026, 5, 1), h0), (dt.date(2026, 6, 5), h1)):
                snaps.append({"account_id": acc, "as_of": pd.Timestamp(d), "settings_version": 1,
                              "health_score": h, "band": "red" if h < 50 else "yellow" if h < 80 else "green",
                              "scored_at": pd.Timestamp("2026-06-05")})
        bulk_insert(conn, schema.score_snapshots, pd.DataFrame(snaps))
        conn.execute(schema.actions.insert().values(
            action_id="r1", account_id="A1", type="playbook_run", title="run", status="open",
            playbook="retention_14d", created_by="t", created_at=dt.datetime(2026, 5, 2)))
    with store.connect() as conn:
        eff = A.playbook_effectiveness(conn, days=30).set_index("playbook")
    row = eff.loc["retention_14d"]
    # A1 red 40 -> 60 (+20); the comparable red account B1 +5 (C1 is green: not comparable)
    assert row["health_change"] == pytest.approx(20) and row["comparable_change"] == pytest.approx(5)
    assert row["uplift"] == pytest.approx(15) and row["runs"] == 1
    # 90 days after the start is past the last snapshot: retention not measurable yet
    assert pd.isna(row["retained"])


def test_playbook_effectiveness_runs_sharing_dates_and_retention(store):
    """Two runs on the same day share their peers (computed once, the same figures for
    each); retention 90 days on is measured once the snapshots reach that day."""
    with store.begin() as conn:
        bulk_insert(conn, schema.accounts, pd.DataFrame({
            "account_id": ["A2", "B1", "B2"], "name": ["Alpha 2", "Beta", "Beta 2"],
            "signup_date": [pd.Timestamp("2024-01-01")] * 3}))
        # B2 left on 2026-07-01: not holding ARR 90 days after the runs (2026-07-31)
        bulk_insert(conn, schema.subscriptions, pd.DataFrame({
            "subscription_id": ["s1", "s2", "s3", "s4"], "account_id": ["A1", "A2", "B1", "B2"],
            "start_date": pd.to_datetime(["2024-01-01"] * 4),
            "end_date": pd.to_datetime([None, None, None, "2026-07-01"]),
            "arr": [100.0, 100.0, 100.0, 100.0]}))
        health = {"A1": (40.0, 60.0, 60.0), "A2": (30.0, 40.0, 40.0),
                  "B1": (42.0, 47.0, 47.0), "B2": (44.0, 35.0, 35.0)}
        days = (dt.date(2026, 5, 1), dt.date(2026, 6, 5), dt.date(2026, 8, 10))
        bulk_insert(conn, schema.score_snapshots, pd.DataFrame([
            {"account_id": acc, "as_of": pd.Timestamp(d), "settings_version": 1,
             "health_score": h, "band": "red", "scored_at": pd.Timestamp("2026-08-10")}
            for acc, hs in health.items() for d, h in zip(days, hs, strict=True)]))
        for aid, acc in (("r1", "A1"), ("r2", "A2")):
            conn.execute(schema.actions.insert().values(
                action_id=aid, account_id=acc, type="playbook_run", title="run",
                status="open", playbook="retention_14d", created_by="t",
                created_at=dt.datetime(2026, 5, 2)))
    with store.connect() as conn:
        row = A.playbook_effectiveness(conn, days=30).set_index("playbook").loc["retention_14d"]
    # runs: A1 +20, A2 +10 -> 15; peers (red, no run) B1 +5, B2 -9 -> -2 for each run
    assert row["runs"] == 2 and row["health_change"] == pytest.approx(15)
    assert row["comparable_change"] == pytest.approx(-2) and row["uplift"] == pytest.approx(17)
    # on 2026-07-31 both run accounts hold ARR; of the peers B1 does, B2 does not
    assert row["retained"] == 1.0 and row["comparable_retained"] == pytest.approx(0.5)


def test_an_assigned_alert_keeps_its_assignee_when_raised_on_a_later_date(store):
    """Issue 19: "Assign" acknowledges the alert and names its owner (audited before and
    after); the next week's scoring raises it again acknowledged, with the same assignee;
    the scoring never touches an automation rule's alerts."""
    A.update_alerts(store, ["al1"], "assign", assignee="Dana Lee", actor="mgr",
                    today=dt.date(2026, 6, 1))
    alert = rows(store, schema.alerts, alert_id="al1").iloc[0]
    assert (alert["status"], alert["assignee"]) == ("acknowledged", "Dana Lee")
    audit = rows(store, schema.audit_log, action="alert.assign").iloc[0]
    assert json.loads(audit["before_json"])["assignee"] is None
    assert json.loads(audit["after_json"])["assignee"] == "Dana Lee"
    with pytest.raises(A.ActionError, match="assignee is required"):
        A.update_alerts(store, ["al1"], "assign", assignee=" ")
    later = alert["as_of"] + dt.timedelta(days=7)
    auto = pd.DataFrame([{"account_id": "A1", "rule": "automation:r1", "severity": "warning",
                          "title": "From a rule", "evidence": {}}])
    with store.begin() as conn:
        write_alerts(conn, auto, later, scope=("automation:r1",))
        write_alerts(conn, pd.DataFrame([{"account_id": "A1", "rule": alert["rule"],
                                          "severity": "warning", "title": "again",
                                          "evidence": {}}]), later)
    again = rows(store, schema.alerts, as_of=later).set_index("rule")
    assert again.loc[alert["rule"], "status"] == "acknowledged"
    assert again.loc[alert["rule"], "assignee"] == "Dana Lee"
    assert again.loc["automation:r1", "status"] == "open"  # the scoring left it alone
    # raised at the scoring before: the same alert, so its age runs on
    assert again.loc[alert["rule"], "created_at"] == alert["created_at"]
