"""AppTest: Account 360 at ?account=ID, and an action round trip through its dialog."""

from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import config
from greendoor.demo import DATAFLOW, TECHCORP
from greendoor.store import schema
from tests.conftest import linked_id, risk_queue, shown

APP = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")
PAGE = "../pages/account_360.py"
LABELS = ["Create task", "Start playbook", "Escalate", "Log interaction",
          "New expansion", "Invite to advocacy", "Snooze alert", "Close out"]


@pytest.fixture
def app(scored_store_copy, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, scored_store_copy[0])

    def open_account(account_id: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        at.switch_page(PAGE)
        at.query_params["account"] = account_id
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return open_account


@pytest.mark.parametrize("account_id, name", [(DATAFLOW, "DataFlow Analytics"),
                                              (TECHCORP, "TechCorp Financial Services")])
def test_account_360_renders_the_archetypes(app, account_id, name):
    at = app(account_id)
    assert [t.value for t in at.title] == [name]
    labels = [m.label for m in at.metric]
    assert labels[0] == "ARR" and labels[1].startswith("Health (") and "Churn risk index" in labels
    # DataFlow is the red archetype, TechCorp the green one
    assert labels[1] == ("Health (red)" if account_id == DATAFLOW else "Health (green)")
    assert [b.label for b in at.button][:8] == LABELS


def test_action_round_trip_from_account_360(app, scored_store_copy):
    _, eng = scored_store_copy
    at = app(DATAFLOW)
    at.button(key="a360_Create task").click().run()
    assert not at.exception
    at.text_input(key="dlg_title").set_value("Executive call with the CDO")
    at.button(key="dlg_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with eng.connect() as conn:
        act = conn.execute(sa.select(schema.actions.c.action_id, schema.actions.c.type)
                           .where(schema.actions.c.title == "Executive call with the CDO")).one()
        audited = conn.execute(sa.select(sa.func.count()).select_from(schema.audit_log)
                               .where(schema.audit_log.c.entity_id == act[0])).scalar()
    assert act[1] == "task" and audited == 1
    timeline = next(df.value for df in at.dataframe if "kind" in df.value.columns)
    assert "Executive call with the CDO" in set(timeline["what"])


def test_unknown_account_offers_a_picker(app):
    at = app("NOPE-123")
    assert any("No account" in w.value for w in at.warning)
    assert at.selectbox(key="a360_pick") is not None


def test_clicking_an_account_row_opens_account_360(scored_store_copy, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, scored_store_copy[0])
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    first = next(d.value for d in at.dataframe if "open_tickets" in d.value.columns).iloc[0]
    at.session_state["accounts_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [shown(first["name"])]
    assert at.query_params["account"] == linked_id(first["name"])


def test_attention_list_and_band_drill_down(scored_store_copy, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, scored_store_copy[0])
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert {"Average health", "ARR red", "ARR at risk (90 days)"} <= set(labels)
    attention = next(d.value for d in at.dataframe if "expected_loss" in d.value.columns)
    assert attention["expected_loss"].is_monotonic_decreasing
    # a click on one bar of the health distribution lists that bar's accounts (issue 18:
    # it listed the whole band)
    at.session_state["health_hist"] = {"selection": {
        "points": [{"customdata": ["yellow", 60.0, 70.0]}], "point_indices": [0], "box": [],
        "lasso": []}}
    at.run()
    table = next(d.value for d in at.dataframe if "open_tickets" in d.value.columns)
    assert len(table) > 0 and set(table["band"]) == {"yellow"}
    assert table["health_score"].between(60, 70, inclusive="left").all()
    # a click on the attention list opens that account
    at2 = AppTest.from_file(APP, default_timeout=120)
    at2.run()
    at2.session_state["attention"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at2.run()
    assert [t.value for t in at2.title] == [shown(attention.iloc[0]["name"])]


def test_an_action_shows_on_the_actions_page_and_can_be_closed(app, scored_store_copy):
    _, eng = scored_store_copy
    at = app(TECHCORP)
    at.button(key="a360_Start playbook").click().run()
    at.selectbox(key="dlg_playbook").set_value("expansion").run()
    at.button(key="dlg_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("../pages/actions.py").run()
    assert not at.exception, [e.value for e in at.exception]
    inbox = next(d.value for d in at.dataframe if "account_name" in d.value.columns
                 and "overdue" in d.value.columns)
    steps = inbox[inbox["playbook"] == "Expansion"]
    assert len(steps) == 3 and set(steps["account_name"].map(shown)) == {"TechCorp Financial Services"}
    runs = next(d.value for d in at.dataframe if "progress" in d.value.columns)
    assert "TechCorp Financial Services" in set(runs["account_name"].map(shown))
    row = list(inbox.index).index(steps.index[0])
    at.session_state["inbox"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    at.button(key="inbox_done").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with eng.connect() as conn:
        done = conn.execute(sa.select(sa.func.count()).select_from(schema.actions).where(
            schema.actions.c.playbook == "expansion", schema.actions.c.status == "done")).scalar()
    assert done == 1


def test_this_week_lists_changes_and_opens_the_account(scored_store_copy, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, scored_store_copy[0])
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/this_week.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["This week"]
    assert [m.label for m in at.metric][0] == "New reds"
    tables = [d for d in at.dataframe if "detail" in d.value.columns]
    assert tables, "the demo's last week has changes"
    first = tables[0].value.iloc[0]
    key = next(k for k in ("agenda_0", "agenda_1", "agenda_2", "agenda_3", "agenda_4",
                           "agenda_5", "agenda_6") if k in at.session_state)
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert [t.value for t in at.title] == [shown(first["name"])]


def test_churn_risk_queue_drill_and_act(scored_store_copy, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, scored_store_copy[0])
    _, eng = scored_store_copy
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/churn_risk.py").run()
    assert not at.exception, [e.value for e in at.exception]
    queue = next(d.value for d in at.dataframe if "drivers" in d.value.columns)
    assert len(queue) > 0 and queue["expected_loss"].is_monotonic_decreasing
    assert {"Expected loss", "Expected ARR saved"} <= {m.label for m in at.metric}
    # a click on a driver bar filters the queue to the accounts with that driver (the
    # page sends the drivers in words; the features behind them come from the analytics)
    drivers = risk_queue(eng)["driver_features"]
    assert [linked_id(n) for n in queue["name"]] == drivers.index.tolist()
    feature = drivers.iloc[0][0]
    at.session_state["drivers_chart"] = {"selection": {"points": [{"customdata": [feature]}],
                                                       "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    filtered = next(d.value for d in at.dataframe if "drivers" in d.value.columns)
    assert 0 < len(filtered) <= len(queue)
    assert all(feature in drivers[linked_id(n)] for n in filtered["name"])
    # select the first account and escalate it from the list
    at.session_state["risk_queue"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="risk_queue_Escalate").click().run()
    at.text_area(key="dlg_note").set_value("Usage collapsed; renewal close")
    at.button(key="dlg_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with eng.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(schema.actions).where(
            schema.actions.c.type == "escalation")).scalar()
    assert n >= 1


def _all_text(at: AppTest) -> str:
    parts = [e.value for e in (*at.title, *at.markdown, *at.caption, *at.info, *at.warning,
                               *at.subheader, *at.header)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    for d in at.dataframe:
        parts += d.value.astype(str).to_numpy().ravel().tolist()
    # a name column sends Account 360 links, the name URL-encoded in them (app.shell)
    return " ".join(unquote(str(p)) for p in parts)


def test_presentation_mode_masks_names_everywhere(scored_store_copy, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, scored_store_copy[0])
    _, eng = scored_store_copy
    with eng.connect() as conn:
        accounts = [r[0] for r in conn.execute(sa.select(schema.accounts.c.name))]
        contacts = [r[0] for r in conn.execute(sa.select(schema.contacts.c.name)) if r[0]]
        emails = [r[0] for r in conn.execute(sa.select(schema.contacts.c.email)) if r[0]]
    secret = set(accounts) | set(contacts) | set(emails)
    pages = [None, "../pages/this_week.py", "../pages/churn_risk.py", "../pages/actions.py",
             "../pages/account_360.py"]
    for page in pages:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["present"] = "1"
        if page and page.endswith("account_360.py"):
            at.query_params["account"] = DATAFLOW
        at.run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        text = _all_text(at)
        leaked = sorted(s for s in secret if s in text)
        assert not leaked, (page, leaked[:5])
        if page and page.endswith("account_360.py"):
            assert at.title[0].value.startswith("Account ")


DIALOG_CASES = [
    ("Create task", {}, "task"),
    ("Start playbook", {}, "playbook_run"),
    ("Escalate", {"dlg_note": "Sponsor unresponsive"}, "escalation"),
    ("Log interaction", {"dlg_note": "Call with the new champion"}, "interaction"),
    ("New expansion", {}, "opportunity"),
    ("Invite to advocacy", {}, "advocacy_invite"),
    ("Snooze alert", {"dlg_note": "Known issue, fix shipping"}, "alert_snooze"),
    ("Close out", {"dlg_note": "Moved to a competitor's suite"}, "close_out"),
]


@pytest.mark.parametrize("label, texts, kind", DIALOG_CASES)
def test_every_action_round_trips(app, scored_store_copy, label, texts, kind):
    _, eng = scored_store_copy
    with eng.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(schema.actions)
                              .where(schema.actions.c.type == kind)).scalar()
    at = app(DATAFLOW)
    at.button(key=f"a360_{label}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    for key, value in texts.items():
        at.text_area(key=key).set_value(value)
    at.button(key="dlg_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    with eng.connect() as conn:
        rows = conn.execute(sa.select(schema.actions.c.action_id).where(
            schema.actions.c.type == kind)).all()
        audited = conn.execute(sa.select(sa.func.count()).select_from(schema.audit_log).where(
            schema.audit_log.c.entity_id.in_([r[0] for r in rows]))).scalar()
    assert len(rows) == before + 1 and audited >= 1
    at.switch_page("../pages/actions.py").run()
    assert not at.exception


def test_model_quality_reports_the_backtest(scored_store_copy, monkeypatch):
    url, eng = scored_store_copy  # a private copy: the backtest below replaces the stored one
    monkeypatch.setenv(config.DB_URL_ENV, url)
    from greendoor.scoring.run import evaluate

    ev = evaluate(eng)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/model_quality.py").run()
    assert not at.exception, [e.value for e in at.exception]
    success = next(d.value for d in at.dataframe if "target" in d.value.columns)
    assert ("Renewal forecast accuracy (past quarters, mean), beating its best baseline"
            in set(success["metric"]))
    measured = [k for k in ("churn", "renewal", "expansion") if "test" in ev[k]]
    vs = [m for m in at.metric if m.label == "ROC AUC vs best baseline"]
    assert len(vs) == len(measured)  # each measured model beside its best baseline
    words = " ".join(x.value for x in [*at.error, *at.success])
    for kind in measured:
        assert (f"The {kind} model beats" in words) or (f"The {kind} model has no measurable "
                                                        "skill" in words)
    assert any(d.value["what"].str.startswith("baseline: ").any() for d in at.dataframe
               if "what" in d.value.columns)


def test_model_quality_on_an_unscored_store_says_what_to_run(ravenstack_store, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, ravenstack_store[0])
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/model_quality.py").run()
    assert not at.exception
    assert any("greendoor score" in i.value for i in at.info)


def test_a_presenter_computing_a_page_first_leaves_names_for_the_next_viewer(
        scored_store_copy, monkeypatch):
    """Segmentation's loader reads the clustering through another loader. A presenter
    whose visit computes it must get masked names, and the cached result must stay
    unmasked: a director opening the page afterwards sees the accounts' names."""
    import app.data as D

    monkeypatch.setenv(config.DB_URL_ENV, scored_store_copy[0])
    _, eng = scored_store_copy
    with eng.connect() as conn:
        accounts = {r[0] for r in conn.execute(sa.select(schema.accounts.c.name))}
    for cached in ("segmentation", "clusters"):  # the presenter's visit computes them
        D.LOADERS[cached].clear()
    seen = {}
    for present in (True, False):
        at = AppTest.from_file(APP, default_timeout=120)
        if present:
            at.query_params["present"] = "1"
        at.run()
        at.switch_page("../pages/segmentation.py").run()
        assert not at.exception, [e.value for e in at.exception]
        text = _all_text(at)
        seen[present] = {n for n in accounts if n in text}
    assert not seen[True], sorted(seen[True])[:5]
    assert seen[False], "no account name on Segmentation after a presenter's visit"
