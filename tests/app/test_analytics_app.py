"""AppTest: the analytics pages (Expansion pipeline, Renewal forecast, Advocacy,
Segmentation, Behavior) on the demo and on RavenStack, a drill-down per page, and the
settings change -> rescore -> page shows the new version round trip."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import config
from greendoor.store import schema
from tests.conftest import code_for, linked_id, shown_alert_ids

APP = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")
PAGES = {"expansion": "Expansion pipeline", "renewals": "Renewal forecast",
         "advocacy": "Advocacy", "segmentation": "Segmentation", "behavior": "Behavior"}


def open_page(page: str, **session) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    for k, v in session.items():
        at.session_state[k] = v
    at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame_with(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def click(at: AppTest, key: str, *customdata) -> AppTest:
    at.session_state[key] = {"selection": {"points": [{"customdata": list(customdata)}],
                                           "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def select_row(at: AppTest, key: str, row: int = 0) -> AppTest:
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def demo(scored_store_copy, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, scored_store_copy[0])
    return scored_store_copy[1]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_analytics_page_renders_on_the_demo(demo, page):
    at = open_page(page)
    assert [t.value for t in at.title] == [PAGES[page]]
    assert len(at.dataframe) >= 1
    # a table sends only the columns it shows (app.lists.shown): Segmentation's list was
    # 790 KB a view at 1,500 accounts with its hidden driver columns, 219 KB without
    for d in at.dataframe:
        order = list(d.proto.column_order)
        assert not order or set(d.value.columns) <= set(order), (d.key, set(d.value.columns) - set(order))
        # a missing value reads as a dash, not "None" (editors keep their empty cells)
        assert d.editing_mode != "read_only" or d.proto.placeholder == "—", d.key
    # every page says which settings version its scores come from
    if page != "behavior":
        assert any("settings version 1" in c.value for c in at.caption)


@pytest.mark.parametrize("page", list(PAGES))
def test_analytics_pages_on_ravenstack_say_what_is_missing(ravenstack_store, monkeypatch, page):
    monkeypatch.setenv(config.DB_URL_ENV, ravenstack_store[0])
    at = open_page(page)
    assert [t.value for t in at.title] == [PAGES[page]]
    notes = " ".join(i.value for i in at.info)
    if page == "behavior":  # RavenStack has usage: the page shows it, with nothing missing
        assert not notes
        assert {"DAU (7-day mean)", "MAU"} <= {m.label for m in at.metric}
        assert all(m.value not in ("", "—", "0") for m in at.metric if m.label == "MAU")
        return
    expected = {"expansion": "opportunities", "renewals": "renewal", "advocacy": "survey_responses",
                "segmentation": "No score snapshot"}[page]
    assert expected in notes
    if page == "advocacy":  # no mentions: what they would power
        assert "mentions" in notes and "share of voice" in notes


def test_expansion_stage_click_lists_deals_and_signal_creates_opportunity(demo):
    at = open_page("expansion")
    deals = frame_with(at, "opportunity")
    stage = deals["stage"].iloc[-1]  # shown in words; the chart's customdata holds the code
    with demo.connect() as conn:
        codes = conn.execute(sa.select(schema.opportunities.c.stage).distinct()).scalars()
        click(at, "stage_funnel", code_for(stage, codes), 1, 1.0)
    shown = frame_with(at, "opportunity")
    assert set(shown["stage"]) == {stage} and len(shown) == (deals["stage"] == stage).sum()
    signals = frame_with(at, "estimated_value")
    assert len(signals) > 0 and (signals["estimated_value"] > 0).all()
    with demo.connect() as conn:
        open_acc = {r[0] for r in conn.execute(sa.select(schema.opportunities.c.account_id).where(
            schema.opportunities.c.type == "expansion", schema.opportunities.c.status == "open"))}
    assert not {linked_id(n) for n in signals["name"]} & open_acc  # only unconverted signals
    acc = linked_id(signals.iloc[0]["name"])
    select_row(at, "signals")
    at.button(key="signals_New expansion").click().run()
    at.button(key="dlg_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with demo.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(schema.opportunities).where(
            schema.opportunities.c.account_id == acc, schema.opportunities.c.status == "open",
            schema.opportunities.c.type == "expansion")).scalar()
    assert n == 1
    # the signal is converted now: it leaves the list
    assert acc not in {linked_id(n) for n in frame_with(at, "estimated_value")["name"]}


def test_renewal_forecast_drill_down_and_top_down(demo):
    from greendoor.forecast.run import run_forecasts

    run_forecasts(demo, past_quarters=1)
    at = open_page("renewals")
    due = frame_with(at, "renewal_probability")
    assert len(due) > 0 and due["renewal_date"].is_monotonic_increasing
    labels = {m.label for m in at.metric}
    assert {"ARR up for renewal (12 months)", "Expected renewed ARR"} <= labels
    def quarter(frame):  # the quarter of each renewal date, as the chart's bars are keyed
        return pd.to_datetime(frame["renewal_date"]).dt.to_period("Q").dt.start_time \
            .astype(str).str[:10]

    period = quarter(due).iloc[-1]
    click(at, "renewal_periods", period)
    shown = frame_with(at, "renewal_probability")
    assert set(quarter(shown)) == {period} and len(shown) < len(due)
    assert any("won the rolling-origin backtest" in m.value or "could be backtested" in m.value
               for m in at.markdown)
    backtest = frame_with(at, "horizon")  # (columns with no value at all are not shown)
    assert {"prophet", "ets", "seasonal_naive"} <= set(backtest["model"])
    # the no-plan toggle keeps only renewals without a renewal playbook
    at.toggle(key="renewal_no_plan").set_value(True).run()
    assert (frame_with(at, "renewal_probability")["plan"] == "No").all()


def test_advocacy_candidates_and_invite(demo):
    at = open_page("advocacy")
    cand = frame_with(at, "advocacy_readiness")
    assert len(cand) > 0 and cand["promoter"].all() and cand["green"].all() \
        and cand["no_recent_ask"].all()
    acc = linked_id(cand.iloc[0]["name"])
    select_row(at, "adv_candidates")
    at.button(key="adv_candidates_Invite to advocacy").click().run()
    at.button(key="dlg_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with demo.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(schema.actions).where(
            schema.actions.c.account_id == acc, schema.actions.c.type == "advocacy_invite")).scalar()
    assert n == 1
    # a click on the pipeline lists the activities of that type and status
    acts = frame_with(at, "occurred_at")
    t, s = acts.iloc[0]["type"], acts.iloc[0]["status"]
    with demo.connect() as conn:
        codes = conn.execute(sa.select(schema.advocacy_activities.c.type).distinct()).scalars()
        click(at, "adv_pipeline", code_for(t, codes), s)
    shown = frame_with(at, "occurred_at")
    assert set(shown["type"]) == {t} and set(shown["status"]) == {s}


def test_segmentation_click_and_account_vs_segment(demo):
    at = open_page("segmentation")
    bench = frame_with(at, "accounts_then")
    group = bench.iloc[0]["group"]
    click(at, "rule_bars", code_for(group, [f"{s} · {lc}" for s in ("smb", "mid_market", "enterprise")
                                           for lc in ("onboarding", "adopting", "established")]))
    accounts = frame_with(at, "rule_segment")
    assert set(accounts["rule_segment"]) == {group}
    select_row(at, "seg_accounts")
    cmp = frame_with(at, "segment_median")
    assert "health score" in set(cmp["measure"])
    assert any("clusters" in m.value and "silhouette" in m.value for m in at.markdown)
    # migration flows list their accounts (the fixture holds 4 weeks of snapshots)
    import datetime as dt

    from tests.conftest import DEMO_AS_OF

    at.date_input(key="mig_from").set_value(DEMO_AS_OF - dt.timedelta(days=21)).run()
    assert not at.exception
    assert len([c for c in at.caption if "accounts moved" in c.value]) == 1
    opts = at.selectbox(key="mig_flow").options
    assert len(opts) > 1, opts  # three weeks hold some band moves
    at.selectbox(key="mig_flow").set_value(opts[1].split(" (")[0]).run()
    assert not at.exception
    assert len(frame_with(at, "target")) > 0


def test_behavior_feature_click_lists_accounts(demo):
    at = open_page("behavior")
    assert {"DAU (7-day mean)", "WAU", "MAU", "Stickiness (DAU/MAU)"} <= {m.label for m in at.metric}
    feature = "dashboards"
    click(at, "adoption", feature)
    fa = frame_with(at, "error_rate")
    assert len(fa) > 0
    assert any(feature in i.value for i in at.info)


def test_settings_change_rescore_and_pages_show_the_new_version(tmp_path, monkeypatch):
    import datetime as dt

    from greendoor.demo import DemoParams, load_demo
    from greendoor.scoring.run import score
    from greendoor.store.engine import init_store, make_engine

    url = f"duckdb:///{tmp_path / 's.duckdb'}"
    eng = make_engine(url)
    init_store(eng)
    load_demo(eng, DemoParams(n_accounts=80, months=8, seed=3, as_of=dt.date(2026, 6, 30)))
    score(eng, backfill_weeks=1, evaluate_models=False)
    eng.dispose()
    monkeypatch.setenv(config.DB_URL_ENV, url)
    at = open_page("data")
    assert at.number_input(key="settings_green").value == 80.0  # the default band
    at.number_input(key="settings_green").set_value(85.0)
    at.text_input(key="settings_note").set_value("stricter green band")
    at.button(key="FormSubmitter:settings_form-Save as a new version").click().run()
    assert not at.exception, [e.value for e in at.exception]
    hist = frame_with(at, "changes")
    assert hist.iloc[0]["version"] == 2 and "health.bands.green: 80.0 → 85.0" in hist.iloc[0]["changes"]
    assert hist.iloc[0]["note"] == "stricter green band"
    at.button(key="rescore").click().run()
    assert not at.exception, [e.value for e in at.exception]
    eng = make_engine(url)
    with eng.connect() as conn:
        snap = conn.execute(sa.select(schema.score_snapshots.c.settings_version, sa.func.min(
            schema.score_snapshots.c.health_score)).where(
            schema.score_snapshots.c.band == "green").group_by(
            schema.score_snapshots.c.settings_version).order_by(
            schema.score_snapshots.c.settings_version.desc())).first()
    eng.dispose()
    assert snap[0] == 2 and snap[1] >= 85.0  # the new band applied
    at.switch_page("../pages/advocacy.py").run()
    assert any("settings version 2" in c.value for c in at.caption)


def test_segment_thresholds_frame_round_trips_and_the_section_previews(demo):
    from app import settings_ui as SU

    cur = config.default_settings()
    frame = SU.segment_rules_frame(cur, "enterprise")
    assert (frame["value"] == frame["default"]).all() and (frame["own"] == "default").all()
    assert "warning_usage_decline" in set(frame["setting"])
    assert "product_gap_arr" not in set(frame["setting"])  # portfolio rules: the whole book
    frame.loc[frame["setting"] == "warning_usage_decline", "value"] = 0.15
    frame.loc[frame["setting"] == "checkin_no_contact_days", "value"] = 30  # = the default
    new = SU.with_segment_rules(cur, "enterprise", frame)
    assert new["rules_by_segment"] == {"enterprise": {"warning_usage_decline": 0.15}}
    again = SU.segment_rules_frame(new, "enterprise").set_index("setting")
    assert again.loc["warning_usage_decline", ["value", "own"]].tolist() == [0.15, "own value"]
    assert SU.with_segment_rules(new, "enterprise", SU.segment_rules_frame(cur, "enterprise")
                                 )["rules_by_segment"] == {}  # back to the defaults
    at = open_page("data")
    assert at.selectbox(key="seg_rules_segment").value
    at.button(key="seg_rules_preview").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("nothing to preview" in i.value for i in at.info)
    at.button(key="seg_rules_save").click().run()
    assert any("nothing changed" in i.value for i in at.info)


def test_an_experiment_started_on_the_actions_page_assigns_and_reports(demo):
    """Issue 25: a manager checks and starts an experiment on the page; its accounts get
    their arms and the playbook arm its runs; the page says it is measuring and shows no
    effect before its window closes; the observational comparison is labelled."""
    from greendoor import experiments as E

    at = open_page("actions")
    assert any(h.value == "Experiments" for h in at.subheader)
    assert any(c.value.startswith("Observational:") for c in at.caption)
    at.text_input(key="ex_name").set_value("Retention playbook against none")
    at.button(key="ex_check").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("eligible accounts" in m.value for m in [*at.info, *at.warning])
    at.button(key="ex_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with demo.connect() as conn:
        listed = E.listing(conn)
        (row,) = listed[listed["created_by"] != "demo"].itertuples()  # (the demo has its own)
        asg = schema.experiment_assignments
        arms = pd.read_sql(sa.select(asg).where(asg.c.experiment_id == row.experiment_id), conn)
    assert row.name == "Retention playbook against none" and row.accounts == len(arms) > 4
    assert set(arms["arm"]) == {"none", "retention_14d"}
    assert arms.loc[arms["arm"] == "retention_14d", "action_id"].notna().all()
    assert any("the outcome window closes on 27 Dec 2026" in i.value for i in at.info)
    assert not any(c.value.startswith("Interval: Newcombe") for c in at.caption)


def test_advocacy_asset_use_is_recorded_from_the_page(demo):
    at = open_page("advocacy")
    lib = frame_with(at, "uses")  # (no "used for" column yet: an empty column is left out)
    assert len(lib) > 0 and (lib["uses"] == 0).all()
    at.text_input(key="asset_used_for").set_value("Website customer page")
    at.button(key="FormSubmitter:asset_use-Record use").click().run()
    assert not at.exception, [e.value for e in at.exception]
    t = schema.actions
    with demo.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(t).where(
            t.c.type == "asset_use")).scalar()
    assert n == 1
    after = frame_with(at, "used_for")
    assert after["uses"].sum() == 1 and "Website customer page" in set(after["used_for"])


def test_advocacy_community_and_social_on_the_demo(demo):
    at = open_page("advocacy")
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["Mentions (90 days)"].replace(",", "")) > 0
    assert labels["Share of voice (90 days)"].endswith("%")
    assert len(frame_with(at, "influence")) > 0


def test_advocacy_ladder_promotes_a_ready_account_once_within_the_limit(demo):
    """Issue 25: the ladder's figures, its ready accounts, and "Promote" asking one for the
    next rung (an advocacy ask with its action row)."""
    at = open_page("advocacy")
    labels = {m.label for m in at.metric}
    assert {"Referral conversion (12 months)", "Deals influenced by references"} <= labels
    ready = frame_with(at, "next_rung")
    assert len(ready) > 0
    at.session_state["adv_ladder_accounts"] = {"selection": {"rows": [0], "columns": [],
                                                             "cells": []}}
    at.run()
    button = at.button(key="adv_promote")
    assert button.label == f"Promote to {ready['next_rung'].iloc[0]}"
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    v = schema.advocacy_activities
    with demo.connect() as conn:
        asked = conn.execute(sa.select(v.c.type).where(
            v.c.account_id == linked_id(ready["name"].iloc[0]),
            v.c.status == "asked")).scalars().all()
    from greendoor.analytics.advocacy import LADDER

    assert {r.ask for r in LADDER if r.name == ready["next_rung"].iloc[0]} <= set(asked)


def test_share_of_voice_words_are_saved_as_a_settings_version(demo):
    from app import settings_ui as SU
    from greendoor import settings as S

    assert SU.parse_competitors("Stratus: stratus, stratus.io\n\nCirrus") == {
        "Stratus": ["stratus", "stratus.io"], "Cirrus": ["Cirrus"]}
    with pytest.raises(S.SettingsError, match="line 1"):
        SU.parse_competitors(": nameless")
    at = open_page("data")
    at.text_input(key="sov_brand").set_value("Lumora, lumora.io")
    at.text_area(key="sov_competitors").set_value("Stratus: Stratus\nOrbit: Orbit, orbit.app")
    at.button(key="FormSubmitter:sov_form-Save share of voice").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with demo.connect() as conn:
        m = S.current(conn)[1]["mentions"]
    assert m["brand_keywords"] == ["Lumora", "lumora.io"]
    assert m["competitors"] == {"Stratus": ["Stratus"], "Orbit": ["Orbit", "orbit.app"]}


def test_churn_reasons_click_and_feedback_search(demo):
    at = open_page("churn_risk")
    events = frame_with(at, "tenure_days")
    assert len(events) > 0 and (events["arr_lost"] >= 0).all()
    with demo.connect() as conn:
        codes = conn.execute(sa.select(schema.churn_events.c.reason).distinct()).scalars()
        reason = code_for(events["reason"].iloc[0], codes)
    click(at, "churn_reasons", reason)
    shown = frame_with(at, "tenure_days")
    assert set(shown["reason"]) == {events["reason"].iloc[0]} and len(shown) <= len(events)
    word = next(w for w in str(shown["feedback"].dropna().iloc[0]).split() if len(w) > 3)
    at.text_input(key="churn_feedback_search").input(word).run()
    found = frame_with(at, "tenure_days")
    assert 0 < len(found) <= len(shown)
    assert found["feedback"].str.lower().str.contains(word.lower(), regex=False).all()


def test_alert_inbox_bulk_acknowledge_round_trips(demo):
    at = open_page("alerts")
    inbox = frame_with(at, "severity")
    assert len(inbox) >= 2 and any(m.label == "Live alerts" for m in at.metric)
    rules = frame_with(at, "oldest_days")
    assert rules["alerts"].sum() == len(inbox)
    select = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.session_state["alert_inbox"] = select
    at.run()
    at.selectbox(key="alert_action").set_value("Acknowledge")
    next(b for b in at.button if b.label.startswith("Apply to 2")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    ids = shown_alert_ids(demo, inbox)[:2]
    al, log = schema.alerts, schema.audit_log
    with demo.connect() as conn:
        st = dict(conn.execute(sa.select(al.c.alert_id, al.c.status)
                               .where(al.c.alert_id.in_(ids))).all())
        audited = conn.execute(sa.select(sa.func.count()).select_from(log).where(
            log.c.action == "alert.acknowledge")).scalar()
    assert st == dict.fromkeys(ids, "acknowledged") and audited == 2


def test_alert_inbox_snoozes_in_bulk_and_the_alerts_leave_the_inbox(demo):
    at = open_page("alerts")
    inbox = frame_with(at, "severity")
    at.session_state["alert_inbox"] = {"selection": {"rows": [0, 1, 2], "columns": [],
                                                     "cells": []}}
    at.run()
    at.selectbox(key="alert_action").set_value("Snooze")
    until = dt.date.today() + dt.timedelta(days=21)
    at.date_input(key="alert_until").set_value(until)
    next(b for b in at.button if b.label.startswith("Apply to 3")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    ids = shown_alert_ids(demo, inbox)[:3]
    al, log = schema.alerts, schema.audit_log
    with demo.connect() as conn:
        rows = conn.execute(sa.select(al.c.status, al.c.snoozed_until)
                            .where(al.c.alert_id.in_(ids))).all()
        audited = conn.execute(sa.select(sa.func.count()).select_from(log).where(
            log.c.action == "alert.snooze")).scalar()
    assert set(rows) == {("snoozed", until)} and audited == 3
    assert not set(ids) & set(shown_alert_ids(demo, frame_with(at, "severity")))  # gone


def test_alert_inbox_assigns_alerts_to_a_csm(demo):
    at = open_page("alerts")
    inbox = frame_with(at, "severity")
    owner = inbox["csm_owner"].dropna().iloc[-1]
    at.session_state["alert_inbox"] = {"selection": {"rows": [len(inbox) - 1], "columns": [],
                                                     "cells": []}}
    at.run()
    at.selectbox(key="alert_action").set_value("Assign")
    at.selectbox(key="alert_assignee").set_value(owner)
    next(b for b in at.button if b.label.startswith("Apply to 1")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    aid = shown_alert_ids(demo, inbox)[-1]
    al = schema.alerts
    with demo.connect() as conn:
        row = conn.execute(sa.select(al.c.status, al.c.assignee)
                           .where(al.c.alert_id == aid)).one()
    assert tuple(row) == ("acknowledged", owner)
    shown = frame_with(at, "severity")
    shown.index = shown_alert_ids(demo, shown)
    assert shown.loc[aid, "assignee"] == owner  # the inbox shows it at once


def test_forecast_calls_section_saves_only_in_the_present(demo):
    at = open_page("renewals")
    labels = [m.label for m in at.metric]
    assert {"Model", "CSM calls", "Commit", "Constant baseline"} <= set(labels)
    assert any(lbl.startswith("Due by ") for lbl in labels)
    assert any(b.label == "Save calls" for b in at.button)
    assert any("Forecast accuracy" in h.value for h in at.subheader)
    # at a past date the calls in force then are shown, read only
    day = at.sidebar.date_input[0]
    day.set_value(day.value - dt.timedelta(days=60)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any(b.label == "Save calls" for b in at.button)
    assert any("read only at a past date" in c.value for c in at.caption)


def test_bulk_start_playbook_from_the_churn_queue_round_trips(demo):
    at = open_page("churn_risk")
    queue = frame_with(at, "loss_probability")
    assert len(queue) >= 3
    at.session_state["risk_queue"] = {"selection": {"rows": [0, 1, 2], "columns": [],
                                                    "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("3 accounts selected" in m.value for m in at.markdown)
    at.selectbox(key="risk_queue_bulk_pb").set_value("retention_14d")
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    next(b for b in at.button if b.label == "Apply to 3 accounts").click().run()
    assert not at.exception, [e.value for e in at.exception]
    ids = [linked_id(n) for n in queue["name"].iloc[:3]]
    t, log = schema.actions, schema.audit_log
    with demo.connect() as conn:
        runs = conn.execute(sa.select(t.c.action_id, t.c.account_id).where(
            t.c.type == "playbook_run", t.c.playbook == "retention_14d",
            t.c.created_at >= started)).all()
        audited = conn.execute(sa.select(sa.func.count()).select_from(log).where(
            log.c.action == "action.playbook_run",
            log.c.entity_id.in_([r[0] for r in runs]))).scalar()
    assert sorted(r[1] for r in runs) == sorted(ids) and audited == 3


def test_an_automation_rule_created_on_the_alerts_page_fires_on_the_next_scoring(demo):
    from greendoor import automation
    from greendoor.scoring.run import score

    at = open_page("alerts")
    assert any(h.value == "Automation rules" for h in at.subheader)
    at.text_input(key="au_name").set_value("Yellow and renewing")
    at.button(key="au_preview").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(i.value.startswith("Matches ") for i in at.info)
    at.button(key="au_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with demo.connect() as conn:
        (rule,) = automation.rules(conn)
    assert rule.name == "Yellow and renewing" and rule.action["type"] == "task"
    fired = score(demo, backfill_weeks=0, evaluate_models=False).automation
    again = score(demo, backfill_weeks=0, evaluate_models=False).automation
    assert fired["Yellow and renewing"] >= 1 and again == {"Yellow and renewing": 0}
