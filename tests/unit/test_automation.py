"""Automation rules (issue 19): a rule saved as data creates its tasks on the next scoring
and none on a second one in the same period; bad rules are refused in words; the preview
counts the accounts a rule would have caught a quarter ago and their churn rate."""

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from greendoor import automation as AU
from greendoor.access import AccessDenied, Principal
from greendoor.periods import default_as_of
from greendoor.scoring.run import score
from greendoor.store import schema

RULE = {"name": "Yellow and renewing without a playbook",
        "conditions": [{"field": "band", "op": "==", "value": "yellow"},
                       {"field": "days_to_renewal", "op": "<=", "value": 120},
                       {"field": "has_open_playbook", "op": "==", "value": "false"}],
        "action": {"type": "task", "title": "Plan the renewal", "due_days": 7},
        "period_days": 90}


def _tasks(eng):
    t = schema.actions
    with eng.connect() as conn:
        return conn.execute(sa.select(t.c.account_id, t.c.payload_json).where(
            t.c.created_by == "automation")).all()


def test_a_rule_creates_its_tasks_on_the_next_scoring_and_only_once(scored_store_copy):
    _, eng = scored_store_copy
    rid = AU.save(eng, RULE, "admin")
    with eng.connect() as conn:
        as_of = default_as_of(conn)
        frame = AU.accounts_frame(conn, as_of)
    expected = set(frame.index[(frame["band"] == "yellow") & (frame["days_to_renewal"] <= 120)
                               & ~frame["has_open_playbook"]])
    assert expected, "the demo should have a yellow account renewing within 120 days"
    first = score(eng, backfill_weeks=0, evaluate_models=False)
    assert first.automation == {RULE["name"]: len(expected)}
    made = _tasks(eng)
    assert {a for a, _ in made} == expected
    assert all(json.loads(p)["automation_rule"] == rid and json.loads(p)["rule_version"] == 1
               for _, p in made)
    second = score(eng, backfill_weeks=0, evaluate_models=False)
    assert second.automation == {RULE["name"]: 0} and len(_tasks(eng)) == len(made)
    with eng.connect() as conn:
        audited = conn.execute(sa.select(sa.func.count()).select_from(schema.audit_log).where(
            schema.audit_log.c.action == "action.task",
            schema.audit_log.c.actor == "automation")).scalar()
    assert audited == len(made)


def test_an_alert_rule_raises_one_live_alert_per_account_and_follows_its_condition(
        scored_store_copy):
    """The action "raise an alert": its alerts are in the inbox under the rule's key, one per
    account, raised again (same alert) by a second scoring, quiet once resolved, and gone
    when the rule is disabled."""
    from greendoor import actions as A
    from greendoor.analytics import alerts as IB
    from greendoor.periods import Filters

    _, eng = scored_store_copy
    rule = {**RULE, "action": {"type": "alert", "title": "Yellow, renewing, no playbook",
                               "severity": "critical"}}
    rid = AU.save(eng, rule, "admin")
    key = AU.alert_rule_key(rid)
    with eng.connect() as conn:
        as_of = default_as_of(conn)
        frame = AU.accounts_frame(conn, as_of)
    expected = set(frame.index[(frame["band"] == "yellow") & (frame["days_to_renewal"] <= 120)
                               & ~frame["has_open_playbook"]])
    assert len(expected) >= 2
    first = score(eng, backfill_weeks=0, evaluate_models=False)
    assert first.automation == {rule["name"]: len(expected)}

    def inbox():
        with eng.connect() as conn:
            df = IB.inbox(conn, Filters(as_of=as_of), as_of)
        return df[df["rule"] == key]

    mine = inbox()
    assert set(mine["account_id"]) == expected and (mine["severity"] == "critical").all()
    assert set(mine["rule_label"]) == {"Automation: Yellow, renewing, no playbook"}
    assert score(eng, backfill_weeks=0, evaluate_models=False).automation == {rule["name"]: 0}
    again = inbox()
    assert set(again["alert_id"]) == set(mine["alert_id"])  # the same alerts, not new ones
    closed = again["alert_id"].iloc[0]
    A.update_alerts(eng, [closed], "resolve", note="renewal planned", today=as_of)
    score(eng, backfill_weeks=0, evaluate_models=False)
    assert set(inbox()["account_id"]) == expected - {again["account_id"].iloc[0]}
    with eng.connect() as conn:
        firings = conn.execute(sa.select(sa.func.count()).select_from(
            schema.automation_firings).where(schema.automation_firings.c.rule_id == rid)).scalar()
    assert firings == len(expected)
    AU.save(eng, {**rule, "rule_id": rid, "enabled": False}, "admin")
    score(eng, backfill_weeks=0, evaluate_models=False)
    assert inbox().empty


def test_a_disabled_rule_fires_nothing_and_edits_are_versioned(scored_store_copy):
    _, eng = scored_store_copy
    rid = AU.save(eng, {**RULE, "enabled": False}, "admin")
    assert score(eng, backfill_weeks=0, evaluate_models=False).automation == {}
    AU.save(eng, {**RULE, "rule_id": rid, "enabled": True}, "admin")
    with eng.connect() as conn:
        (rule,) = AU.rules(conn)
        saves = conn.execute(sa.select(sa.func.count()).select_from(schema.audit_log).where(
            schema.audit_log.c.action == "automation.save")).scalar()
    assert rule.version == 2 and rule.enabled and saves == 2
    with pytest.raises(AccessDenied):
        AU.save(eng, RULE, Principal("ana", "csm", book="Ana Smith"))


@pytest.mark.parametrize("change, words", [
    ({"conditions": [{"field": "vibes", "op": "==", "value": "good"}]},
     "condition 1: unknown field 'vibes'"),
    ({"conditions": [{"field": "health_score", "op": "<", "value": "low"}]},
     "condition 1 (health_score): 'low' is not a number"),
    ({"conditions": [{"field": "band", "op": "<", "value": "red"}]},
     "condition 1 (band): operator '<' is not one of ==, !="),
    ({"action": {"type": "email"}}, "action: type 'email' is not one of task, playbook, alert"),
    ({"action": {"type": "alert", "title": "x", "severity": "loud"}},
     "alert severity 'loud' is not one of critical, warning, info"),
    ({"action": {"type": "alert", "title": " "}}, "an alert needs a title"),
    ({"action": {"type": "playbook", "playbook": "magic"}}, "unknown playbook 'magic'"),
    ({"period_days": 0}, "period_days: 0 is not 1-366 days"),
])
def test_bad_rules_are_refused_in_words_and_nothing_is_saved(scored_store_copy, change, words):
    _, eng = scored_store_copy
    with pytest.raises(AU.AutomationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        AU.save(eng, {**RULE, **change}, "admin")
    with eng.connect() as conn:
        assert AU.rules(conn) == []


def test_preview_counts_the_accounts_a_rule_would_have_caught(scored_demo_store):
    _, eng = scored_demo_store
    red = {"name": "Red", "conditions": [{"field": "band", "op": "==", "value": "red"}],
           "action": {"type": "playbook", "playbook": "retention_14d"}}
    with eng.connect() as conn:
        as_of = default_as_of(conn)
        # the test store keeps four weeks of scores: nothing a quarter before its date
        early = AU.preview(conn, red, as_of)
        # a quarter after it, "then" is the store's own scoring date
        p = AU.preview(conn, red, as_of + dt.timedelta(days=AU.PREVIEW_DAYS + 1))
        then = AU.accounts_frame(conn, p["then_date"])
        now = AU.accounts_frame(conn, as_of)
    assert early["then"] == 0 and early["then_date"] is None and early["now"] >= 1
    assert early["now"] == int((now["band"] == "red").sum())
    assert p["then_date"] <= as_of
    assert p["then"] == int((then["band"] == "red").sum()) >= 1
