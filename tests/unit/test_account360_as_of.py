"""Account 360 at a past as-of date shows nothing dated after it: events, actions,
contracts, opportunities, contacts and alerts as they stood then (issue 18, issue 22)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from greendoor import account360, actions
from greendoor.demo import DATAFLOW
from greendoor.store import schema
from tests.conftest import DEMO_AS_OF


def _ts(d: dt.date) -> pd.Timestamp:
    return pd.Timestamp(d)


def test_account_360_at_a_past_date_shows_nothing_after_it(scored_store_copy):
    _, eng = scored_store_copy
    past = DEMO_AS_OF - dt.timedelta(days=120)
    # an action taken in the app today, after both dates
    actions.create_task(eng, DATAFLOW, "Called today", "ann", DEMO_AS_OF, actor="test")
    with eng.connect() as conn:
        now = account360.load(conn, DATAFLOW, DEMO_AS_OF)
        then = account360.load(conn, DATAFLOW, past)
        subs_all = pd.read_sql(sa.select(schema.subscriptions).where(
            schema.subscriptions.c.account_id == DATAFLOW), conn)
    # today's action is part of the present, not of the replay
    assert "Called today" in set(now.timeline["what"])
    assert "Called today" not in set(then.timeline["what"])
    assert len(then.timeline) and (then.timeline["when"] < _ts(past)).all()
    assert len(then.timeline) < len(now.timeline)
    # contracts as they stood: started by then, none ended after it, no exported renewal date
    assert (pd.to_datetime(then.subscriptions["start_date"]) <= _ts(past)).all()
    ended = pd.to_datetime(then.subscriptions["end_date"]).dropna()
    assert (ended < _ts(past)).all()
    assert then.subscriptions["renewal_date"].isna().all()
    assert len(then.subscriptions) <= len(subs_all)
    # opportunities created before the date, open unless closed before it
    assert set(then.opportunities["status"]) <= {"open", "won", "lost"}
    closed_later = then.opportunities[(then.opportunities["status"] == "open")
                                      & then.opportunities["close_date"].notna()]
    assert closed_later.empty or (pd.to_datetime(closed_later["close_date"]) >= _ts(past)).all()
    # contacts: no engagement after the date
    engaged = pd.to_datetime(then.contacts["last_engaged_at"]).dropna()
    assert (engaged < _ts(past)).all()
    # health history and the snapshot end at the date
    assert (pd.to_datetime(then.history["as_of"]) <= _ts(past)).all()
    assert then.snapshot is None or then.snapshot["as_of"] <= past
    # alerts: what that scoring raised, not what was done with them later
    assert set(then.alerts["status"]) <= {"raised"}
