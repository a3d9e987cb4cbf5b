"""RevOps figures on a five-account book computed by hand (issue 21): forecast calls
(recorded append-only with an audit row; the weekly snapshot reads the calls in force
that week; accuracy, bias and MAPE of calls, commit, model and the constant baseline on
two closed quarters), retention by signup cohort, and what the scores showed before
each churn reason."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import actions as A
from greendoor.access import AccessDenied, Principal
from greendoor.analytics import renewals as RN
from greendoor.forecast import calls as FC
from greendoor.periods import Filters
from greendoor.store import schema
from greendoor.store.engine import init_store, make_engine

AS_OF = dt.date(2026, 8, 1)
Q1, Q2 = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-04-01")

# account: (first contract start, ARR, what happened at its renewal: new ARR or None = churn)
BOOK = {"D": ("2024-11-15", 100.0, 120.0),   # renews in Q4 2025: the baseline's history
        "A": ("2025-02-10", 100.0, 110.0),   # Q1 2026, renews with expansion
        "B": ("2025-03-05", 200.0, None),    # Q1 2026, churns
        "C": ("2025-05-20", 300.0, 300.0),   # Q2 2026, renews flat
        "E": ("2025-06-10", 100.0, 80.0)}    # Q2 2026, renews with contraction


def _add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, d.day)


@pytest.fixture
def book(tmp_path):
    eng = make_engine(f"duckdb:///{tmp_path / 'calls.duckdb'}")
    init_store(eng)
    with eng.begin() as conn:
        for aid, (start, arr, after) in BOOK.items():
            s = dt.date.fromisoformat(start)
            r = _add_months(s, 12)
            conn.execute(schema.accounts.insert().values(
                account_id=aid, name=f"Account {aid}", segment="smb", csm_owner="Ana Smith",
                signup_date=s))
            conn.execute(schema.subscriptions.insert().values(
                subscription_id=f"{aid}-1", account_id=aid, start_date=s, end_date=r,
                term_months=12, arr=arr, status="ended" if after else "churned"))
            if after is None:
                conn.execute(schema.churn_events.insert().values(
                    churn_event_id=f"{aid}-churn", account_id=aid, churn_date=r, arr_lost=arr))
            else:
                conn.execute(schema.subscriptions.insert().values(
                    subscription_id=f"{aid}-2", account_id=aid, start_date=r, term_months=12,
                    arr=after, status="active"))
        # the model's Day-1 forecast of Q2, as `greendoor forecast` stores it
        conn.execute(schema.renewal_forecasts.insert().values(
            run_id="r1", kind="past", period="quarter", period_start=Q2.date(), renewals=2,
            arr_due=400.0, expected=390.0, actual=400.0))
    calls = [("A", "2026-02-10", "commit", 110.0, "2025-12-15"),
             ("B", "2026-03-05", "at_risk", 100.0, "2025-12-20"),
             ("B", "2026-03-05", "lost", 0.0, "2026-02-01"),
             ("C", "2026-05-20", "commit", 300.0, "2026-03-25")]
    with eng.begin() as conn:
        for i, (aid, r, call, amount, at) in enumerate(calls):
            conn.execute(schema.forecast_calls.insert().values(
                call_id=f"c{i}", account_id=aid, renewal_date=dt.date.fromisoformat(r),
                call=call, amount=amount, created_by="ana",
                created_at=dt.datetime.fromisoformat(at + " 10:00")))
    yield eng
    eng.dispose()


def _day1(acc, method, basis, quarter):
    row = acc[(acc["method"] == method) & (acc["basis"] == basis)
              & (acc["quarter_start"] == quarter) & (acc["week_no"] == 0)]
    assert len(row) == 1, (method, basis, quarter)
    return row.iloc[0]


def test_baseline_rates_use_only_outcomes_known_at_the_quarter_start(book):
    with book.connect() as conn:
        # before Q1: only D (due 100, renewed at 120)
        assert FC.trailing_rates(conn, Q1.date()) == pytest.approx({"grr": 1.0, "nrr": 1.2})
        # before Q2: D, A (due 100 -> 110) and B (due 200, churned): 200/400 and 230/400
        assert FC.trailing_rates(conn, Q2.date()) == pytest.approx({"grr": 0.5, "nrr": 0.575})


def test_accuracy_is_the_same_at_every_date_of_its_quarter(book):
    """The app keys the accuracy by its quarter (FC.accuracy_date): 2026-08-01 - 14 days
    = 2026-07-18, in Q3, whose start + 14 days is 2026-07-15; the day before, 07-14, still
    has Q2 - 14 days in Q2, so it closes one quarter less."""
    assert FC.accuracy_date(AS_OF) == dt.date(2026, 7, 15)
    assert FC.accuracy_date(dt.date(2026, 7, 15)) == dt.date(2026, 7, 15)
    assert FC.accuracy_date(dt.date(2026, 7, 14)) == dt.date(2026, 4, 15)
    assert FC.closed_quarters(dt.date(2026, 7, 14), 2) != FC.closed_quarters(dt.date(2026, 7, 15), 2)
    with book.connect() as conn:
        at = FC.accuracy(conn, AS_OF, n_quarters=2)
        first = FC.accuracy(conn, FC.accuracy_date(AS_OF), n_quarters=2)
    assert len(at) > 0
    pd.testing.assert_frame_equal(at, first)


def test_day1_forecasts_against_actuals_by_hand(book):
    with book.connect() as conn:
        acc = FC.accuracy(conn, AS_OF, n_quarters=2)
    assert set(acc["quarter_start"]) == {Q1, Q2}
    # Q1: due A 100 + B 200 = 300; renewed: A only -> GRR actual 100, NRR actual 110
    c = _day1(acc, "constant", "grr", Q1)
    assert (c["forecast"], c["actual"]) == (300.0, 100.0)       # 1.0 x 300
    assert c["bias"] == pytest.approx(2.0) and c["accuracy"] == pytest.approx(-1.0)
    k = _day1(acc, "calls", "grr", Q1)  # A min(110, 100) + B at risk min(100, 200) = 200
    assert k["forecast"] == 200.0 and k["bias"] == pytest.approx(1.0)
    assert k["coverage"] == pytest.approx(1.0)
    assert _day1(acc, "calls", "nrr", Q1)["forecast"] == 210.0   # 110 + 100
    m = _day1(acc, "commit", "grr", Q1)  # A only: 100 = actual
    assert m["forecast"] == 100.0 and m["ape"] == 0.0
    # Q2: due C 300 + E 100 = 400, both renew -> GRR 400, NRR 300 + 80 = 380
    k = _day1(acc, "calls", "grr", Q2)  # C 300 + E uncalled at the rate 0.5 x 100 = 350
    assert (k["forecast"], k["actual"]) == (350.0, 400.0)
    assert k["bias"] == pytest.approx(-0.125) and k["coverage"] == pytest.approx(0.75)
    n = _day1(acc, "calls", "nrr", Q2)  # 300 + 0.575 x 100 = 357.5 against 380
    assert n["forecast"] == pytest.approx(357.5) and n["bias"] == pytest.approx(-22.5 / 380)
    c = _day1(acc, "constant", "nrr", Q2)  # 0.575 x 400 = 230 against 380
    assert c["forecast"] == pytest.approx(230.0) and c["ape"] == pytest.approx(150 / 380)
    model = _day1(acc, "model", "grr", Q2)  # the stored Day-1 forecast 390 against 400
    assert model["accuracy"] == pytest.approx(0.975)
    assert not ((acc["method"] == "model") & (acc["basis"] == "nrr")).any()


def test_week_by_week_reads_the_calls_in_force_that_week(book):
    with book.connect() as conn:
        acc = FC.accuracy(conn, AS_OF, n_quarters=2)
    q1 = acc[(acc["quarter_start"] == Q1) & (acc["basis"] == "grr")
             & (acc["method"] == "calls")].set_index("week_no")["forecast"]
    # weeks 0-4 (to 29 Jan): B still called at risk (100); from week 5 (5 Feb) B is lost
    assert list(q1.loc[0:4]) == [200.0] * 5
    assert q1.loc[5] == 100.0
    # week 6 (12 Feb): A renewed on 10 Feb and counts with its known outcome (100)
    const = acc[(acc["quarter_start"] == Q1) & (acc["basis"] == "grr")
                & (acc["method"] == "constant")].set_index("week_no")["forecast"]
    assert const.loc[5] == 300.0 and const.loc[6] == 100.0 + 1.0 * 200.0
    assert q1.index.max() == 12  # 1 Jan + 12 weeks = 26 Mar; week 13 is in April


def test_summary_mape_bias_and_who_beats_the_constant(book):
    with book.connect() as conn:
        s = FC.summary(FC.accuracy(conn, AS_OF, n_quarters=2)).set_index(["method", "basis"])
    # constant GRR: APE 2.0 (Q1) and 0.5 (Q2)
    assert s.loc[("constant", "grr"), "mape"] == pytest.approx(1.25)
    assert s.loc[("constant", "grr"), "bias"] == pytest.approx(0.75)    # (2.0 - 0.5) / 2
    # calls GRR: APE 1.0 and 0.125 -> MAPE 0.5625; closer in both quarters
    assert s.loc[("calls", "grr"), "mape"] == pytest.approx(0.5625)
    assert s.loc[("calls", "grr"), "beats_constant"] is True
    # commit GRR: APE 0 and 0.25: within 5 % in one quarter of two
    assert s.loc[("commit", "grr"), "within_5"] == 0.5
    # the model has one quarter (APE 0.025 against the constant's 0.5)
    assert s.loc[("model", "grr"), "quarters"] == 1
    assert s.loc[("model", "grr"), "within_5"] == 1.0
    assert s.loc[("model", "grr"), "beats_constant"] is True
    assert pd.isna(s.loc[("constant", "grr"), "beats_constant"])


def test_calls_are_appended_with_an_audit_row_and_never_overwritten(book):
    r = dt.date(2026, 11, 15)  # D's next renewal
    one = pd.DataFrame([{"account_id": "D", "renewal_date": r, "call": "best_case",
                         "amount": 120.0, "note": "budget approved"}])
    assert A.record_forecast_calls(book, one, actor="ana") == 1
    assert A.record_forecast_calls(book, one, actor="ana") == 0  # the same call: skipped
    later = one.assign(call="commit")
    assert A.record_forecast_calls(book, later, actor="ana") == 1
    with book.connect() as conn:
        history = FC.call_history(conn)
        audit = conn.execute(sa.select(sa.func.count()).select_from(schema.audit_log).where(
            schema.audit_log.c.action == "forecast.call")).scalar()
        now = FC.calls_at(conn)
    mine = history[history["account_id"] == "D"]
    assert list(mine["call"]) == ["best_case", "commit"] and audit == 2
    assert now.set_index("account_id").loc["D", "call"] == "commit"


@pytest.mark.parametrize("row, message", [
    ({"call": "maybe"}, "row 1 (D), call: must be one of commit, best_case, at_risk, lost"),
    ({"amount": -5}, "row 1 (D), amount: must be a finite amount of 0 or more"),
    ({"amount": "lots"}, "row 1 (D), amount: not a number, got 'lots'"),
    ({"renewal_date": "15/11/2026"}, "renewal_date is not a date"),
    ({"account_id": "NOPE"}, "unknown account 'NOPE'"),
])
def test_bad_calls_are_refused_and_nothing_is_written(book, row, message):
    base = {"account_id": "D", "renewal_date": "2026-11-15", "call": "commit", "amount": 120.0}
    good = {**base, "account_id": "C", "renewal_date": "2027-05-20"}
    frame = pd.DataFrame([{**base, **row}, good])
    with pytest.raises(A.ActionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        A.record_forecast_calls(book, frame, actor="ana")
    with book.connect() as conn:
        assert len(FC.call_history(conn)) == 4  # the fixture's calls only


def test_a_csm_calls_only_their_own_book(book):
    with book.begin() as conn:
        conn.execute(schema.accounts.update().where(schema.accounts.c.account_id == "C")
                     .values(csm_owner="Kai Patel"))
    ana = Principal("ana", "csm", book="Ana Smith")
    mine = pd.DataFrame([{"account_id": "D", "renewal_date": "2026-11-15", "call": "commit",
                          "amount": 120.0}])
    assert A.record_forecast_calls(book, mine, actor=ana) == 1
    theirs = mine.assign(account_id="C", renewal_date="2027-05-20")
    with pytest.raises(AccessDenied):
        A.record_forecast_calls(book, pd.concat([mine.assign(call="best_case"), theirs]),
                                actor=ana)
    with book.connect() as conn:  # the whole batch was refused: D keeps its commit
        assert FC.calls_at(conn).set_index("account_id").loc["D", "call"] == "commit"
    with pytest.raises(AccessDenied):
        A.record_forecast_calls(book, mine, actor=Principal("vic", "viewer"))


def test_call_sheet_at_a_past_date_shows_the_calls_in_force_then(book):
    with book.connect() as conn:
        past = RN.forecast_calls(conn, Filters(as_of=dt.date(2026, 1, 20)), model_skill=False)
    sheet = past["sheet"].set_index("account_id")
    # on 20 Jan, B's call was still "at risk" (the "lost" call came on 1 Feb)
    assert sheet.loc["B", "call"] == "at_risk" and sheet.loc["A", "call"] == "commit"
    assert sheet["renewal_probability"].isna().all()  # no model with skill: no P(renew)
    roll = past["rollup"]  # this quarter: A and B; calls 100 + 100, commit 100
    assert (roll["due"], roll["calls"], roll["commit"]) == (300.0, 200.0, 100.0)
    assert roll["constant"] == pytest.approx(300.0) and roll["model"] != roll["model"]


def test_only_edited_rows_with_a_call_are_recorded():
    before = pd.DataFrame({"account_id": ["A", "B", "C"], "arr": [100.0, 200.0, 300.0],
                           "renewal_date": pd.to_datetime(["2026-12-01"] * 3),
                           "call": pd.array([None, "commit", None], dtype="string"),
                           "amount": [None, 200.0, None],
                           "note": pd.array([None, None, None], dtype="string")})
    after = before.copy()
    after.loc[0, "call"] = "best_case"          # a new call without an amount: ARR due
    after.loc[1, "note"] = "signed next week"   # a note on an existing call
    after.loc[2, "amount"] = 50.0               # an amount without a call: not a call
    out = FC.changed_calls(before, after)
    assert list(out["account_id"]) == ["A", "B"]
    assert list(out["amount"]) == [100.0, 200.0]
    assert out.set_index("account_id").loc["B", "note"] == "signed next week"
    assert FC.changed_calls(before, before).empty


def test_cohort_logo_and_revenue_retention_by_hand(book):
    from greendoor.analytics import segments as SG

    with book.connect() as conn:
        c = SG.revenue_cohorts(conn, Filters(as_of=dt.date(2026, 4, 15)), months=24,
                               min_accounts=1)
    q1 = c[c["cohort"] == pd.Timestamp("2025-01-01")].set_index("age")
    # Q1 2025 signups: A (from 1 Mar 2025, ARR 100) and B (from 1 Apr 2025, ARR 200)
    assert (q1["accounts"] == 2).all()
    # month 11: A on 1 Feb 2026 (100) and B on 1 Mar 2026 (200, ends 5 Mar): all kept
    assert q1.loc[11, "revenue_retention"] == pytest.approx(1.0)
    # month 12: A on 1 Mar 2026 renewed at 110; B on 1 Apr 2026 gone: 110 / 300
    assert q1.loc[12, "revenue_retention"] == pytest.approx(110 / 300)
    assert q1.loc[12, "logo_retention"] == 0.5
    # month 13 is shown only once both accounts reach it (B would on 1 May 2026)
    assert 13 not in q1.index
    # D (Q4 2024) is its own cohort: 100 until its renewal, 120 after (1 Dec 2025 = month 12)
    d = c[c["cohort"] == pd.Timestamp("2024-10-01")].set_index("age")
    assert d.loc[11, "revenue_retention"] == 1.0 and d.loc[12, "revenue_retention"] == 1.2
    # with a 12-month window D held ARR at its first month: it has no age 0 and no cohort
    with book.connect() as conn:
        short = SG.revenue_cohorts(conn, Filters(as_of=dt.date(2026, 4, 15)), months=12,
                                   min_accounts=1)
    assert pd.Timestamp("2024-10-01") not in set(short["cohort"])


def test_cohorts_are_the_same_at_every_as_of_date_of_a_month(book):
    """The app computes them once per month (app/data.month_revenue_cohorts): they read
    the ARR at month starts only."""
    from greendoor.analytics import segments as SG

    with book.connect() as conn:
        first = SG.revenue_cohorts(conn, Filters(as_of=dt.date(2026, 4, 1)), min_accounts=1)
        assert len(first) > 10
        for day in (2, 15, 30):
            pd.testing.assert_frame_equal(SG.revenue_cohorts(
                conn, Filters(as_of=dt.date(2026, 4, day)), min_accounts=1), first)
        # the next month adds a month start: not the same
        may = SG.revenue_cohorts(conn, Filters(as_of=dt.date(2026, 5, 1)), min_accounts=1)
        assert len(may) > len(first)


def test_scores_before_a_churn_reason_against_the_book_then(book):
    from greendoor.analytics import churn_risk as CR

    def snap(aid, day, health):
        return {"account_id": aid, "as_of": dt.date.fromisoformat(day), "settings_version": 1,
                "health_score": health, "engagement": health, "sentiment": 50.0,
                "growth": 50.0, "band": "yellow", "scored_at": dt.datetime(2026, 3, 1)}

    with book.begin() as conn:
        conn.execute(schema.score_snapshots.insert(), [
            snap("A", "2026-01-20", 80.0), snap("B", "2026-01-20", 40.0),
            snap("C", "2026-01-20", 60.0), snap("B", "2026-02-20", 30.0)])
        events = CR.churn_reasons(conn, Filters(as_of=AS_OF), days=365)["events"]
        pre = CR.reason_precursors(conn, events, lead_days=30).set_index("measure")
        late = CR.reason_precursors(conn, events, lead_days=90)
    # B churned on 5 Mar 2026 ("not given"): 30 days before is 3 Feb, so the 20 Jan score
    # (40), not the 20 Feb one (30); the book that day: 80, 40, 60 -> median 60
    assert pre.loc["health_score", "before"] == 40.0 and pre.loc["health_score", "book"] == 60.0
    assert pre.loc["health_score", "gap"] == -20.0 and pre.loc["sentiment", "gap"] == 0.0
    assert pre.loc["health_score", "reason"] == "not given"
    assert late.empty  # no score 90 days before the churn


def test_rule_lead_time_is_the_median_days_from_alert_to_churn():
    from greendoor.analytics import alerts as AL

    churns = pd.DataFrame({"account_id": ["B", "B", "X"],
                           "churn_date": pd.to_datetime(["2026-03-05", "2026-05-01",
                                                         "2026-02-01"])})
    # alerted on 1 Feb: B churned 32 days later (its first churn in the horizon); X on the
    # day itself is not after the alert; C never churned
    leads = AL._leads(churns, dt.date(2026, 2, 1), 90)
    assert leads.to_dict() == {"B": 32}
    assert leads.reindex(["B", "X", "C"]).dropna().tolist() == [32]  # as rule_quality reads
    assert AL._leads(churns, dt.date(2026, 2, 1), 30).empty  # B's churn: beyond the horizon


def test_the_models_weekly_forecast_uses_only_scores_recorded_live(book):
    def snap(aid, day, p, scored):
        return {"account_id": aid, "as_of": dt.date.fromisoformat(day), "settings_version": 1,
                "renewal_probability": p, "scored_at": dt.datetime.fromisoformat(scored)}

    with book.begin() as conn:
        conn.execute(schema.score_snapshots.insert(), [
            snap("C", "2026-04-20", 0.9, "2026-04-20 06:00"),   # live
            snap("E", "2026-04-20", 0.5, "2026-04-20 06:00"),
            snap("C", "2026-05-04", 0.1, "2026-08-01 06:00"),   # backfilled months later
            snap("E", "2026-05-04", 0.1, "2026-08-01 06:00")])
        acc = FC.accuracy(conn, AS_OF, n_quarters=2)
    m = acc[(acc["quarter_start"] == Q2) & (acc["method"] == "model")].set_index("week_no")
    # Day 1: the stored retrained forecast (390); weeks 1-2 (8 and 15 Apr): no live scoring yet
    assert m.loc[0, "forecast"] == 390.0 and 1 not in m.index and 2 not in m.index
    # from week 3 (22 Apr): 300 x 0.9 + 100 x 0.5 = 320 against 400, every renewal scored
    assert m.loc[3, "forecast"] == pytest.approx(320.0) and m.loc[3, "coverage"] == 1.0
    assert m.loc[3, "bias"] == pytest.approx(-0.2)
    # week 5 (6 May): the 4 May scores were backfilled later and are not used
    assert m.loc[5, "forecast"] == pytest.approx(320.0)


def test_close_outs_add_reasons_beside_the_exported_churn_events(book):
    from greendoor.analytics import churn_risk as CR

    with book.begin() as conn:  # the export's churn of B (5 Mar 2026) carries no reason
        conn.execute(schema.churn_events.update().values(reason=None))
    today = dt.date(2026, 7, 20)
    # B's CSM closes it out two days after the export's date: the same churn
    A.record_close_out(book, "B", "2026-03-07", "competitor", "Moved to a suite",
                       actor="ana", today=today)
    # E left on 10 Jun without an exported churn event: a churn of its own
    aid = A.record_close_out(book, "E", "2026-06-10", "pricing", actor="ana", today=today)
    with book.connect() as conn:
        ev = CR.churn_reasons(conn, Filters(as_of=AS_OF), days=365)["events"]
        payload = conn.execute(sa.select(schema.actions.c.payload_json).where(
            schema.actions.c.action_id == aid)).scalar()
        audited = conn.execute(sa.select(sa.func.count()).select_from(schema.audit_log).where(
            schema.audit_log.c.action == "action.close_out")).scalar()
    by = ev.set_index("account_id")
    assert list(ev["account_id"]).count("B") == 1  # not counted twice
    assert by.loc["B", "reason"] == "competitor" and by.loc["B", "source"] == "export"
    assert by.loc["B", "feedback"] == "Moved to a suite"
    assert by.loc["E", "reason"] == "pricing" and by.loc["E", "source"] == "close-out"
    # E's ARR lost defaults to the ARR in force on the day it left (its contract to 10 Jun)
    assert by.loc["E", "arr_lost"] == 100.0 and '"arr_lost": 100.0' in payload
    assert audited == 2
    with pytest.raises(A.ActionError, match="a close-out records a churn that happened"):
        A.record_close_out(book, "C", "2026-08-01", "budget", today=today)
    with pytest.raises(A.ActionError, match="reason must be one of"):
        A.record_close_out(book, "C", "2026-07-01", "weather", today=today)
