"""The audit view (filters, CSV export) and graceful degradation: an unreachable store
or an unusable model artifact gives a clear status, never a traceback."""

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import actions as A
from greendoor import config
from greendoor.store import schema
from tests.conftest import DEMO_AS_OF

APP = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")


def test_audit_view_filters_and_exports(scored_store_copy, monkeypatch):
    url, eng = scored_store_copy
    monkeypatch.setenv(config.DB_URL_ENV, url)
    with eng.connect() as conn:
        acc = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
    action_id = A.create_task(eng, acc, "audited task", owner="ana", due_date=DEMO_AS_OF,
                              actor="maria")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/audit.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Audit log"]
    at.date_input(key="audit_days").set_value((dt.date.today() - dt.timedelta(days=1),
                                               dt.date.today())).run()
    at.multiselect(key="audit_actors").set_value(["maria"]).run()
    log = next(d.value for d in at.dataframe if "after_json" in d.value.columns)
    assert set(log["actor"]) == {"maria"} and action_id in set(log["entity_id"])
    assert "audited task" in log.loc[log["entity_id"] == action_id, "after_json"].iloc[0]
    at.text_input(key="audit_entity").set_value(action_id).run()
    log = next(d.value for d in at.dataframe if "after_json" in d.value.columns)
    assert list(log["entity_id"]) == [action_id]
    assert any(b for b in at.get("download_button"))


def test_unreachable_store_shows_a_status_not_a_traceback(monkeypatch):
    monkeypatch.setenv(config.DB_URL_ENV,
                       "postgresql+psycopg://greendoor:secret@127.0.0.1:1/greendoor")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot reach its store" in e.value for e in at.error)
    text = " ".join(m.value for m in at.markdown) + " ".join(e.value for e in at.error)
    assert "secret" not in text  # the password is never shown
    assert "What to do" in text


def test_unusable_model_artifact_is_retrained(scored_store_copy, caplog):
    from greendoor.scoring.run import score

    _, eng = scored_store_copy
    with eng.begin() as conn:
        conn.execute(schema.model_runs.update().where(schema.model_runs.c.artifact.is_not(None))
                     .values(artifact=b"not a pickle"))
    rep = score(eng, as_of=DEMO_AS_OF, backfill_weeks=0, evaluate_models=False)
    assert rep.models["churn"].get("source") == "trained"
    assert "cannot be used" in caplog.text
