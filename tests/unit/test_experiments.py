"""Experiments of playbooks (issue 25): the statistics by hand, reproducible stratified
assignment, one transaction that starts the arms' playbooks, and an effect simulated on a
demo store found inside the reported interval."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import config
from greendoor import experiments as E
from greendoor.access import AccessDenied, Principal
from greendoor.scoring.run import score
from greendoor.store import schema
from tests.conftest import DEMO_AS_OF

DEFAULTS = config.default_settings()["experiments"]


def test_two_proportion_test_by_hand():
    """45 of 50 retained against 35 of 50: diff 0.2; pooled p = 80/100 = 0.8, se =
    sqrt(0.8 * 0.2 * (1/50 + 1/50)) = sqrt(0.0064) = 0.08, z = 0.2 / 0.08 = 2.5, two-sided
    p = 2 (1 - Phi(2.5)) = 0.01242. Newcombe: Wilson bounds of each rate, then
    lo = d - sqrt((p1 - l1)^2 + (u0 - p0)^2), hi = d + sqrt((u1 - p1)^2 + (p0 - l0)^2)."""
    r = E.compare_proportions(45, 50, 35, 50, alpha=0.05)
    assert r["diff"] == pytest.approx(0.2)
    assert r["z"] == pytest.approx(2.5)
    assert r["p_value"] == pytest.approx(0.012419, abs=1e-6)
    z = 1.959964

    def wilson(x, n):
        p = x / n
        mid = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return mid - half, mid + half

    (l1, u1), (l0, u0) = wilson(45, 50), wilson(35, 50)
    assert r["lo"] == pytest.approx(0.2 - math.sqrt((0.9 - l1) ** 2 + (u0 - 0.7) ** 2), abs=1e-5)
    assert r["hi"] == pytest.approx(0.2 + math.sqrt((u1 - 0.9) ** 2 + (0.7 - l0) ** 2), abs=1e-5)


def test_sample_size_by_hand():
    """Control retention 0.8, smallest effect 0.1, alpha 0.05, power 0.8; each arm's
    n = 2 ((1.95996 + 0.84162) / h)^2 = 2 x 7.84885 / h^2. Up to 0.9:
    h = 2 asin(sqrt 0.9) - 2 asin(sqrt 0.8) = 2.49809 - 2.21430 = 0.28379, n = 194.9;
    down to 0.7: h = 2.21430 - 1.98231 = 0.23199, n = 291.7. The harder one: 292.
    At 0.95 only down is possible: h = 2.69057 - 2.34619 = 0.34438, n = 132.4 -> 133."""
    assert E.needed_per_arm(0.8, 0.1, 0.05, 0.8) == 292
    assert E.needed_per_arm(0.95, 0.1, 0.05, 0.8) == 133
    assert E.needed_per_arm(0.8, 0.05, 0.05, 0.8) > 292  # a smaller effect needs more


def test_assignment_is_stratified_balanced_and_reproducible():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"segment": rng.choice(["smb", "enterprise"], 101),
                          "band": rng.choice(["green", "yellow", "red"], 101)},
                         index=[f"A{i:03d}" for i in range(101)])
    one = E.assign(frame, ["none", "retention_14d"], seed=42)
    shuffled = E.assign(frame.sample(frac=1, random_state=3), ["none", "retention_14d"], 42)
    assert one.set_index("account_id")["arm"].equals(
        shuffled.set_index("account_id")["arm"].reindex(one["account_id"]))
    counts = one.groupby(["stratum", "arm"]).size().unstack(fill_value=0)
    assert (counts.max(axis=1) - counts.min(axis=1)).max() <= 1  # balanced in each stratum
    other = E.assign(frame, ["none", "retention_14d"], seed=43)
    assert not one["arm"].equals(other.set_index("account_id")["arm"].reindex(
        one["account_id"]).reset_index(drop=True))


@pytest.mark.parametrize("change, words", [
    ({"arms": ["retention_14d"]}, "at least two"),
    ({"arms": ["none", "magic"]}, "arm 2: unknown playbook 'magic'"),
    ({"arms": ["none", "none"]}, "each arm must differ"),
    ({"min_effect": 2}, "min_effect: 2 is not between"),
    ({"name": " "}, "needs a name"),
])
def test_bad_experiments_are_refused_in_words(change, words):
    with pytest.raises(E.ExperimentError, match=words):
        E.check({"name": "x", "arms": ["none", "retention_14d"], **change}, DEFAULTS)


def _churn(eng, accounts, day):
    rows = [{"churn_event_id": f"sim|{a}", "account_id": a, "churn_date": day,
             "reason": "other", "is_reactivation": False} for a in accounts]
    with eng.begin() as conn:
        if rows:
            conn.execute(schema.churn_events.insert(), rows)


def test_an_experiment_starts_its_playbooks_and_finds_a_simulated_effect(scored_store_copy):
    """Started 200 days before the store's date with a 90-day window; the simulation then
    churns 40 % of the control and 10 % of the playbook arm inside the window (a 30-point
    effect on retention, on top of the store's own churn, equal in both arms in
    expectation): the reported interval contains it, and the same seed on the same store
    gives the same arms."""
    _, eng = scored_store_copy
    start = DEMO_AS_OF - dt.timedelta(days=200)
    score(eng, as_of=start, backfill_weeks=0, evaluate_models=False)
    spec = {"name": "14-day retention against none", "arms": ["none", "retention_14d"],
            "outcome_days": 90, "min_effect": 0.1, "seed": 7}
    with pytest.raises(AccessDenied):
        E.create(eng, spec, DEFAULTS, Principal("carl", "csm", book="x"), start=start)
    eid = E.create(eng, spec, DEFAULTS, "manager", start=start)
    asg, t, log = schema.experiment_assignments, schema.actions, schema.audit_log
    with eng.connect() as conn:
        arms = pd.read_sql(sa.select(asg).where(asg.c.experiment_id == eid), conn)
        runs = conn.execute(sa.select(t.c.action_id, t.c.account_id).where(
            t.c.type == "playbook_run", t.c.created_by == "manager")).all()
        created = conn.execute(sa.select(sa.func.count()).select_from(log).where(
            log.c.action == "experiment.create")).scalar()
        pool = E.eligible(conn, E.check(spec, DEFAULTS), start)
    treated = arms[arms["arm"] == "retention_14d"]
    control = arms[arms["arm"] == "none"]
    assert abs(len(treated) - len(control)) <= arms["stratum"].nunique()
    assert sorted(r[1] for r in runs) == sorted(treated["account_id"])
    assert set(treated["action_id"]) == {r[0] for r in runs} and control["action_id"].isna().all()
    assert created == 1 and pool.empty  # every eligible account is in it now
    # the same seed on the same accounts: the same arms
    again = E.assign(pd.DataFrame({"segment": arms["stratum"].str.split(" · ").str[0].values,
                                   "band": arms["stratum"].str.split(" · ").str[1].values},
                                  index=arms["account_id"]), ["none", "retention_14d"], 7)
    assert again.set_index("account_id")["arm"].sort_index().equals(
        arms.set_index("account_id")["arm"].sort_index())
    # the simulated effect
    rng = np.random.default_rng(11)
    day = start + dt.timedelta(days=30)
    _churn(eng, control["account_id"][rng.random(len(control)) < 0.40], day)
    _churn(eng, treated["account_id"][rng.random(len(treated)) < 0.10], day)
    with eng.connect() as conn:
        res = E.results(conn, eid, DEMO_AS_OF, resamples=1000)
        early = E.results(conn, eid, start + dt.timedelta(days=60), resamples=200)
    eff = res["effects"].iloc[0]
    assert res["closed"] and not early["closed"]
    assert "Running" in early["effects"].iloc[0]["verdict"]
    assert eff["lo"] < 0.30 < eff["hi"] and eff["boot_lo"] < 0.30 < eff["boot_hi"]
    assert eff["lo"] > 0 and eff["conclusive"] and eff["verdict"].startswith("Conclusive")
    per = res["arms"].set_index("arm")
    assert per.loc["none", "accounts"] == len(control)
    assert eff["retention_diff"] == pytest.approx(per.loc["retention_14d", "retention"]
                                                  - per.loc["none", "retention"])
