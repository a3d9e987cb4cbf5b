"""On a store where no model beats its baselines (RavenStack), the pages say so beside
every probability and rank by the rules (issue 17)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from greendoor import config
from greendoor.scoring.run import score
from greendoor.store import schema
from greendoor.store.engine import make_engine
from tests.conftest import linked_id, risk_queue

APP = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")


@pytest.fixture(scope="module")
def scored_ravenstack(ravenstack_store, tmp_path_factory):
    url, _ = ravenstack_store
    path = tmp_path_factory.mktemp("rs_scored") / "rs.duckdb"
    shutil.copy(sa.make_url(url).database, path)
    copy = f"duckdb:///{path}"
    eng = make_engine(copy)
    report = score(eng, backfill_weeks=2)
    assert {report.models[k]["skill"] for k in ("churn", "renewal")} <= {"no skill",
                                                                         "not measured"}
    yield copy, eng
    eng.dispose()


def _page(url, monkeypatch, page: str, **params) -> AppTest:
    monkeypatch.setenv(config.DB_URL_ENV, url)
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(page)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_churn_risk_says_no_skill_and_ranks_by_the_rules(scored_ravenstack, monkeypatch):
    url, eng = scored_ravenstack
    at = _page(url, monkeypatch, "../pages/churn_risk.py")
    warnings = " ".join(w.value for w in at.warning)
    assert "churn model has no measurable skill" in warnings
    assert "renewal model" in warnings and "rule drives these numbers" in warnings
    queue = at.dataframe[0].value
    # no model number is shown: the rule's probability is, in its own labelled column
    assert "churn_probability" not in queue and "rule_churn_probability" in queue
    basis = risk_queue(eng).loc[[linked_id(n) for n in queue["name"]], "risk_basis"]
    assert basis.isin(["health band", "base rate"]).all()
    loss = queue["expected_loss"].to_numpy()
    assert (loss[:-1] >= loss[1:]).all()  # ranked by the rule's expected loss
    assert queue["drivers"].eq("").all()  # no model drivers without measured skill


def test_account_360_says_no_skill_beside_every_probability(scored_ravenstack, monkeypatch):
    url, eng = scored_ravenstack
    with eng.connect() as conn:
        aid = conn.execute(sa.select(schema.score_snapshots.c.account_id).limit(1)).scalar()
    at = _page(url, monkeypatch, "../pages/account_360.py", account=aid)
    metrics = {m.label: (m.value, m.proto.delta) for m in at.metric}
    for label in ("Churn risk index", "P(churn, 90 days)", "P(expansion, 90 days)"):
        assert metrics[label] == ("—", "no measurable skill"), (label, metrics[label])
