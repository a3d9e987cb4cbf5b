"""This week's "Renewals entering a window": a renewal enters a window only when its
contract is at least twice the window's length (a month-to-month contract is always
inside its 30-day window and would enter it every month)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from greendoor.analytics.this_week import agenda
from greendoor.periods import Filters
from greendoor.store import schema
from greendoor.store.engine import init_store, make_engine

AS_OF = dt.date(2026, 6, 30)


def test_renewals_enter_a_window_only_for_contracts_twice_its_length(tmp_path):
    eng = make_engine(f"duckdb:///{tmp_path / 's.duckdb'}")
    init_store(eng)
    # renewal dates as of AS_OF: start + k x term; all three renew on 2026-07-25 (25 days),
    # 32 days before the week began on 2026-06-23: each crossed the 30-day line this week
    accounts = [("A1", "Annual Co", 12, dt.date(2025, 7, 25)),
                ("A2", "Monthly Co", 1, dt.date(2026, 1, 25)),
                ("A3", "Quarterly Co", 3, dt.date(2026, 1, 25))]
    with eng.begin() as conn:
        for aid, name, term, start in accounts:
            conn.execute(sa.insert(schema.accounts).values(
                account_id=aid, name=name, signup_date=dt.date(2025, 1, 1)))
            conn.execute(sa.insert(schema.subscriptions).values(
                subscription_id=f"S-{aid}", account_id=aid, start_date=start, arr=12_000.0,
                term_months=term))
    with eng.connect() as conn:
        items = agenda(conn, Filters(as_of=AS_OF), since=AS_OF - dt.timedelta(days=7),
                       windows=(30, 60, 90), today=AS_OF)
    entering = items[items["section"] == "Renewals entering a window"]
    # annual (365 days >= 2 x 30) and quarterly (91 days >= 60) count; monthly (30 < 60) not
    assert sorted(entering["account_id"]) == ["A1", "A3"]
    assert entering["detail"].str.startswith("30-day window: renews 25 Jul 2026 (25 days)").all()
