"""The alert inbox (issue 19): live alerts across the book, changes in one transaction
with audit and action rows, quiet alerts not raised again, rights, and each rule's lift
against a hand-computed case."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import actions as A
from greendoor import rules
from greendoor.access import AccessDenied, Principal
from greendoor.analytics import alerts as IB
from greendoor.periods import Filters, default_as_of
from greendoor.scoring.run import score
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert

TODAY = dt.date(2026, 7, 1)


def live(eng) -> pd.DataFrame:
    with eng.connect() as conn:
        return IB.inbox(conn, Filters(as_of=default_as_of(conn)), TODAY)


def statuses(eng, ids) -> dict:
    al = schema.alerts
    with eng.connect() as conn:
        return dict(conn.execute(sa.select(al.c.alert_id, al.c.status)
                                 .where(al.c.alert_id.in_(list(ids)))).all())


def counts(eng) -> tuple[int, int]:
    with eng.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                     for t in (schema.audit_log, schema.actions))


def test_changes_are_audited_checked_and_survive_a_rescore(scored_store_copy):
    _, eng = scored_store_copy
    inbox = live(eng)
    assert len(inbox) > 10 and inbox["status"].isin(["open", "acknowledged"]).all()
    groups = IB.by_rule(inbox)
    assert groups["alerts"].sum() == len(inbox)
    first = inbox.drop_duplicates("rule").head(3)
    ack, fp, snooze = first["alert_id"].tolist()
    audit0, actions0 = counts(eng)
    # refused changes write nothing
    for bad in (dict(change="resolve"), dict(change="false_positive", note="  "),
                dict(change="snooze", until=TODAY), dict(change="shout")):
        with pytest.raises(A.ActionError):
            A.update_alerts(eng, [ack], today=TODAY, **{"note": None, **bad})
    other = Principal("carl", "csm", book="nobody")
    with pytest.raises(AccessDenied):
        A.update_alerts(eng, [ack, fp], "acknowledge", actor=other, today=TODAY)
    assert counts(eng) == (audit0, actions0) and set(statuses(eng, [ack, fp]).values()) == {"open"}
    # two alerts acknowledged at once: one audit row and one action row each
    assert A.update_alerts(eng, [ack, fp], "acknowledge", today=TODAY) == 2
    assert counts(eng) == (audit0 + 4, actions0 + 2)  # each action row is audited too
    A.update_alerts(eng, [fp], "false_positive", note="usage dip was a holiday", today=TODAY,
                    quiet_days=30)
    A.update_alerts(eng, [snooze], "snooze", until=TODAY + dt.timedelta(days=7), today=TODAY)
    assert statuses(eng, [ack, fp, snooze]) == {ack: "acknowledged", fp: "false_positive",
                                                snooze: "snoozed"}
    with pytest.raises(A.ActionError, match="already false_positive"):
        A.update_alerts(eng, [fp], "acknowledge", today=TODAY)
    al = schema.alerts
    with eng.connect() as conn:
        quiet = conn.execute(sa.select(al.c.snoozed_until).where(al.c.alert_id == fp)).scalar()
        audit = conn.execute(sa.select(schema.audit_log.c.after_json).where(
            schema.audit_log.c.action == "alert.false_positive")).scalar()
    assert quiet == TODAY + dt.timedelta(days=30)
    assert json.loads(audit)["note"] == "usage dip was a holiday"
    fp_row = first.set_index("alert_id").loc[fp]
    ack_row = first.set_index("alert_id").loc[ack]
    # a rescore: the acknowledged alert stays acknowledged, the false positive stays quiet
    score(eng, backfill_weeks=0, evaluate_models=False)
    after = live(eng)
    keyed = after.set_index(["account_id", "rule"])["status"]
    assert keyed.get((ack_row["account_id"], ack_row["rule"])) == "acknowledged"
    assert (fp_row["account_id"], fp_row["rule"]) not in keyed.index
    assert not after.duplicated(["account_id", "rule"]).any()  # one live alert each


def test_rule_lift_by_hand(engine):
    """Four accounts with ARR on 2026-01-05; the rule fired on A and B that day; only A
    churns within 90 days (its subscription ends on 2026-02-01): hit rate 1/2, base rate
    1/4, lift 2."""
    d = dt.date(2026, 1, 5)
    accounts = pd.DataFrame({"account_id": list("ABCD"), "name": list("ABCD"),
                             "signup_date": pd.to_datetime(["2025-01-01"] * 4)})
    subs = pd.DataFrame({"subscription_id": list("abcd"), "account_id": list("ABCD"),
                         "start_date": pd.to_datetime(["2025-01-01"] * 4),
                         "end_date": pd.to_datetime(["2026-02-01", None, None, None]),
                         "arr": [100.0] * 4})
    raised = [{"rule": "usage_decline", "severity": "warning", "title": "t", "evidence": {}}]
    snaps = pd.DataFrame({"account_id": list("ABCD"), "as_of": [d] * 4,
                          "details_json": [json.dumps({"alerts": raised})] * 2
                          + [json.dumps({"alerts": []})] * 2,
                          "settings_version": 1, "scored_at": pd.Timestamp("2026-01-05")})
    with engine.begin() as conn:
        bulk_insert(conn, schema.accounts, accounts)
        bulk_insert(conn, schema.subscriptions, subs)
        bulk_insert(conn, schema.score_snapshots, snaps)
    with engine.connect() as conn:
        q = IB.rule_quality(conn, Filters(as_of=dt.date(2026, 6, 1)), horizon_days=90)
    row = q.set_index("rule").loc["usage_decline"]
    assert (row["outcome"], row["raised"], row["dates"]) == ("churn", 2, 1)
    assert row["hit_rate"] == 0.5 and row["base_rate"] == 0.25 and row["lift"] == 2.0
    # A's contract ended on 1 Feb 2026, 1 Feb - d days after the alert: the warning it gave
    assert row["lead_days"] == (dt.date(2026, 2, 1) - d).days
    with engine.connect() as conn:  # before the horizon has passed, nothing is measured
        assert IB.rule_quality(conn, Filters(as_of=dt.date(2026, 1, 10)),
                               horizon_days=90).empty  # the horizon has not passed


def test_the_measured_dates_are_counted_from_the_first_snapshot(engine):
    """Weekly snapshots from 5 Jan 2026: every 4th from the first (5 Jan, 2 Feb, 2 Mar,
    ...), those at least 90 days before the as-of date, newest first. A week later the
    same dates plus the next one on the grid; counted from the latest instead, every
    date would move with the as-of date."""
    weeks = [dt.date(2026, 1, 5) + dt.timedelta(weeks=k) for k in range(30)]
    with engine.begin() as conn:
        bulk_insert(conn, schema.score_snapshots, pd.DataFrame({
            "account_id": "A", "as_of": weeks, "settings_version": 1,
            "scored_at": pd.Timestamp("2026-08-01")}))
    with engine.connect() as conn:
        on = IB.measured_dates(conn, dt.date(2026, 7, 1), horizon_days=90)
        # 1 Jul 2026 - 90 days = 2 Apr 2026: 5 Jan, 2 Feb, 2 Mar and 30 Mar qualify
        assert on == [dt.date(2026, 3, 30), dt.date(2026, 3, 2), dt.date(2026, 2, 2),
                      dt.date(2026, 1, 5)]
        for days in (7, 14, 21):  # within the next four weeks: the same dates
            assert IB.measured_dates(conn, dt.date(2026, 7, 1) + dt.timedelta(days=days),
                                     horizon_days=90) == on
        # 29 Jul - 90 days = 30 Apr: 27 Apr joins; at most 3 dates drops the oldest
        assert IB.measured_dates(conn, dt.date(2026, 7, 29), horizon_days=90, max_dates=3) \
            == [dt.date(2026, 4, 27), *on[:2]]


@pytest.mark.parametrize("share, words", [(0.28, "28%"), (0.0099, "1%"), (0.004, "under 1%"),
                                          (0.0, "under 1%")])
def test_a_small_arr_drop_is_not_written_as_zero(share, words):
    assert rules._share(share) == words
