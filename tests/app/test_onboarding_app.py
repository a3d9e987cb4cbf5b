"""AppTest: the Onboarding and Value realization pages on the demo; a deal closed in the
app becomes a plan that is submitted and approved with its audit rows (issue 20); on
RavenStack (no plans) both pages say what is missing."""

from pathlib import Path

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import config
from greendoor.store import schema

APP = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_pages_are_populated_on_the_demo(scored_demo_store, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, scored_demo_store[0])
    at = _open("../pages/onboarding.py")
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["In onboarding"]) > 0 and "Stuck" in labels
    assert any("Stuck: an open milestone is 21+ days" in c.value for c in at.caption)
    assert at.selectbox(key="onb_plan").value  # a plan is shown with its timeline
    at = _open("../pages/value.py")
    labels = {m.label: m.value for m in at.metric}
    assert labels["Realized value a year"].startswith("$") and "ROI (first year)" in labels


def test_a_deal_closed_in_the_app_gets_a_plan_that_is_submitted_and_approved(
        scored_store_copy, monkeypatch):
    url, eng = scored_store_copy
    monkeypatch.setenv(config.DB_URL_ENV, url)
    o = schema.opportunities
    with eng.begin() as conn:  # an open new-business deal to close
        acc = conn.execute(sa.select(schema.accounts.c.account_id)
                           .order_by(schema.accounts.c.account_id).limit(1)).scalar()
        conn.execute(o.insert().values(opportunity_id="OPP-T1", account_id=acc,
                                       type="new_business", amount=12_000.0, status="open",
                                       close_date=sa.func.current_date(), name="Test deal"))
    at = _open("../pages/onboarding.py")
    at.selectbox(key="plan_deal").set_value("OPP-T1").run()
    at.button(key="plan_close_won").click().run()
    assert not at.exception, [e.value for e in at.exception]
    sp = schema.success_plans
    with eng.connect() as conn:
        plan = conn.execute(sa.select(sp).where(sp.c.opportunity_id == "OPP-T1")).mappings().one()
        assert conn.execute(sa.select(o.c.status).where(o.c.opportunity_id == "OPP-T1")
                            ).scalar() == "won"
    pid = plan["plan_id"]
    assert plan["status"] == "draft"
    at.selectbox(key="onb_plan").set_value(pid).run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key=f"plan_submit_{pid}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="onb_plan").set_value(pid).run()
    at.button(key=f"plan_approve_{pid}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with eng.connect() as conn:
        status = conn.execute(sa.select(sp.c.status).where(sp.c.plan_id == pid)).scalar()
        trail = [r[0] for r in conn.execute(
            sa.select(schema.audit_log.c.action).where(schema.audit_log.c.entity_id == pid)
            .order_by(schema.audit_log.c.occurred_at))]
    assert status == "approved"
    assert trail == ["plan.create", "plan.submit", "plan.approve"]


def test_ravenstack_pages_say_what_is_missing(ravenstack_store, monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV, ravenstack_store[0])
    for page, words in (("../pages/onboarding.py", "Not in the store: **success plans**"),
                        ("../pages/value.py", "Not in the store: **value metrics**")):
        at = _open(page)
        assert any(words in i.value for i in at.info), [i.value for i in at.info]
