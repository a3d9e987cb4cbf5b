"""`greendoor score` / `evaluate` end to end on a demo store and on RavenStack."""

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor.account360 import why_frame
from greendoor.cli import main
from greendoor.demo import DATAFLOW, TECHCORP, DemoParams, load_demo
from greendoor.scoring.run import latest_evaluation, score
from greendoor.store import schema
from greendoor.store.engine import init_store, make_engine

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    url = f"duckdb:///{tmp_path_factory.mktemp('scored') / 's.duckdb'}"
    eng = make_engine(url)
    init_store(eng)
    load_demo(eng, DemoParams(n_accounts=400, months=18, seed=11, as_of=AS_OF))
    report = score(eng, backfill_weeks=8)
    yield url, eng, report
    eng.dispose()


def snapshots(eng) -> pd.DataFrame:
    with eng.connect() as conn:
        return pd.read_sql(sa.select(schema.score_snapshots), conn)


def test_snapshots_one_row_per_account_and_date(scored):
    _, eng, report = scored
    s = snapshots(eng)
    assert len(report.dates) == 9 and report.dates[0] == AS_OF
    assert not s.duplicated(["account_id", "as_of"]).any()
    assert set(pd.to_datetime(s["as_of"]).dt.date) == set(report.dates)
    latest = s[pd.to_datetime(s["as_of"]).dt.date == AS_OF]
    assert len(latest) == report.accounts
    assert latest["health_score"].between(0, 100).all()
    # a model's numbers only where the backtest found skill; the rules' always
    for col, kind, hi in (("churn_probability", "churn", 1), ("risk_index", "renewal", 100)):
        if report.models[kind]["skill"] == "skill":
            assert latest[col].between(0, hi).all(), col
        else:
            assert latest[col].isna().all(), col
    assert latest["loss_probability"].between(0, 1).all()
    assert latest["rule_churn_probability"].between(0, 1).all()
    assert set(latest["risk_basis"]) <= {"model", "health band", "base rate"}
    assert latest["days_to_renewal"].notna().mean() > 0.9
    assert set(latest["band"]) <= {"green", "yellow", "red"}
    assert (latest["settings_version"] == 1).all()
    # trends exist from the 5th week on (4-week window on the weekly grid)
    assert latest["trend"].notna().mean() > 0.9


def test_details_explain_the_scores(scored):
    _, eng, _ = scored
    s = snapshots(eng).set_index(["account_id", "as_of"])
    row = s.loc[(DATAFLOW, AS_OF)]
    d = json.loads(row["details_json"])
    why = why_frame(d)  # the why panel, stored column-wise
    assert set(d["why"]) == {"component", "measure", "value", "scaled", "weight"}
    assert why["contribution"].fillna(0).sum() == pytest.approx(row["health_score"], abs=0.01)
    assert len(why) == why["measure"].nunique() >= 10
    assert d["best_improvement"] in set(why["measure"])
    # drivers only from a model with measured skill, each with its direction in words
    assert all(x["evidence"].endswith(": raises risk") for x in d["churn_drivers"])
    assert d["renewal"]["days_to_renewal"] == 127 == row["days_to_renewal"]


def test_archetypes_are_scored_as_the_seeds_describe(scored):
    _, eng, _ = scored
    latest = snapshots(eng)
    latest = latest[pd.to_datetime(latest["as_of"]).dt.date == AS_OF].set_index("account_id")
    assert latest.loc[TECHCORP, "band"] == "green"
    assert latest.loc[DATAFLOW, "band"] in ("yellow", "red")
    # renewal in 127 days: little risk *this quarter*, high risk at the renewal (by the
    # renewal model when it has skill, else by the health-band rule)
    if latest["risk_index"].notna().any():
        assert latest.loc[DATAFLOW, "risk_index"] > 75
    assert latest.loc[DATAFLOW, "renewal_probability"] < latest["renewal_probability"].median()
    assert latest.loc[DATAFLOW, "loss_probability"] > latest["loss_probability"].median()
    assert latest.loc[TECHCORP, "advocacy_readiness"] >= 75
    with eng.connect() as conn:
        rules = {r[0] for r in conn.execute(sa.select(schema.alerts.c.rule)
                                            .where(schema.alerts.c.account_id == DATAFLOW))}
    assert {"logins_drop", "champion_inactive"} <= rules


def test_rescoring_reuses_the_model_and_replaces_snapshots(scored):
    _, eng, _ = scored
    ss, al = schema.score_snapshots, schema.alerts
    before = snapshots(eng)
    latest = before[pd.to_datetime(before["as_of"]).dt.date == AS_OF]
    with eng.begin() as conn:
        alerts_before = pd.read_sql(sa.select(al).where(al.c.as_of == AS_OF), conn)
        # a stale snapshot (an account not scored on the date), a tampered one, and an
        # open alert no rule raises
        unscored = conn.execute(sa.select(schema.accounts.c.account_id).where(
            schema.accounts.c.account_id.not_in(list(latest["account_id"]))).limit(1)).scalar_one()
        conn.execute(ss.insert().values(account_id=unscored, as_of=AS_OF, settings_version=1,
                                        scored_at=dt.datetime(2026, 1, 1), health_score=1.0))
        conn.execute(ss.update().where(ss.c.account_id == DATAFLOW, ss.c.as_of == AS_OF)
                     .values(health_score=-1.0, details_json=None))
        conn.execute(al.insert().values(alert_id="stale", account_id=DATAFLOW, as_of=AS_OF,
                                        rule="retired_rule", severity="warning", title="old",
                                        status="open", created_at=dt.datetime(2026, 1, 1)))
    again = score(eng, evaluate_models=False)
    assert again.models["churn"]["source"] == "reused"
    after = snapshots(eng)
    assert len(after) == len(before)  # the as-of date's rows are replaced, not added
    row = after.set_index(["account_id", "as_of"]).loc[(DATAFLOW, AS_OF)]
    assert row["health_score"] == latest.set_index("account_id").loc[DATAFLOW, "health_score"]
    assert json.loads(row["details_json"])["why"]
    assert unscored not in set(after["account_id"])
    with eng.connect() as conn:
        alerts_after = pd.read_sql(sa.select(al).where(al.c.as_of == AS_OF), conn)
    # the same alerts, raised again: same ids (kept, not rewritten); the stale one is gone
    assert "stale" not in set(alerts_after["alert_id"])
    key = ["alert_id", "account_id", "rule", "title", "evidence_json", "created_at"]
    pd.testing.assert_frame_equal(alerts_after.sort_values("alert_id")[key].reset_index(drop=True),
                                  alerts_before.sort_values("alert_id")[key].reset_index(drop=True))
    assert alerts_after["alert_id"].str.fullmatch(r"[0-9a-f]{32}").all()


def test_backtest_is_stored_and_measures_real_skill(scored):
    url, eng, report = scored
    ev = report.evaluation
    assert ev["status"] == "ok"
    churn = ev["churn"]
    assert churn["status"] in ("skill", "no skill") and churn["test"]["n"] > 0
    assert churn["test"]["auc"] > 0.75
    assert churn["test"]["top_decile_lift"] > 2
    # beside its baselines, with the lift's interval and the skill beyond timing
    assert set(churn["baselines"]) == {"timing", "health"}
    assert churn["lift"]["lo"] <= churn["lift"]["lift"] <= churn["lift"]["hi"]
    assert churn["status"] == ("skill" if churn["lift"]["lo"] > 0 else "no skill")
    assert 0 < churn["beyond_timing"]["auc"] < 1 and 0 <= churn["ece"] < 1
    assert set(churn["important_features"]) <= set(i["feature"] for i in churn["importance"])
    assert report.models["churn"]["skill"] == churn["status"]
    rates = {r["group"]: r["rate"] for r in ev["health"]["churn_rate_by_band"]}
    assert rates["red"] > rates["yellow"] > rates["green"]
    # train dates end at least one horizon before the test dates start
    last_train = dt.date.fromisoformat(ev["train_dates"][-1])
    first_test = dt.date.fromisoformat(ev["test_dates"][0])
    assert (first_test - last_train).days >= 90
    with eng.connect() as conn:
        assert latest_evaluation(conn)["status"] == "ok"


def test_evaluate_cli_prints_json(scored, capsys):
    url, eng, _ = scored
    eng.dispose()
    assert main(["--db-url", url, "evaluate", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and 0 <= out["churn"]["test"]["auc"] <= 1


def test_ravenstack_is_scored_and_evaluated_honestly(tmp_path):
    from conftest import RAVENSTACK_DIR

    from greendoor.ingest import import_path

    if not RAVENSTACK_DIR.is_dir():
        pytest.skip(f"RavenStack dataset not found at {RAVENSTACK_DIR}")
    rs = make_engine(f"duckdb:///{tmp_path / 'rs.duckdb'}")
    init_store(rs)
    assert import_path(rs, RAVENSTACK_DIR, "ravenstack").ok
    report = score(rs, backfill_weeks=4)
    assert report.accounts == 500
    churn = report.evaluation["churn"]
    # no skill there (usage and support barely differ between churners and the rest):
    # measured, said, and no model number is stored
    assert churn["status"] in ("no skill", "not measured")
    assert churn.get("reason") or churn["lift"]["lo"] <= 0
    s = snapshots(rs)
    assert s["health_score"].notna().all() and (s["confidence"] < 1).all()  # no surveys etc.
    assert s["churn_probability"].isna().all() and s["risk_basis"].ne("model").all()
    rs.dispose()
