"""Measured skill (greendoor.scoring.skill): baselines, the lift interval, the status that
gates each model, calibration, permutation importance and the drivers it allows; and
the RavenStack store, where no model has skill, ranked by the rules (issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from greendoor.scoring import skill


def test_auc_by_ranks_equals_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.round(rng.random(500), 1)  # many ties
    assert skill._auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert np.isnan(skill._auc(np.zeros(5, int), np.arange(5.0)))


def test_expected_calibration_error_hand_computed():
    # bin [0.1, 0.2): p = 0.1, 0.1, observed 1 of 2 -> |0.5 - 0.1| = 0.4, weight 2/4
    # bin [0.9, 1.0]: p = 0.9, 0.9, observed 2 of 2 -> |1.0 - 0.9| = 0.1, weight 2/4
    # ECE = 0.5 * 0.4 + 0.5 * 0.1 = 0.25
    y = [0, 1, 1, 1]
    p = [0.1, 0.1, 0.9, 0.9]
    assert skill.expected_calibration_error(y, p) == pytest.approx(0.25)
    assert skill.expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0


def test_a_model_equal_to_its_baseline_has_no_skill_and_a_better_one_has():
    rng = np.random.default_rng(1)
    n = 2_000
    y = rng.integers(0, 2, n)
    groups = np.arange(n) // 2  # two rows per account
    noise = rng.random(n)
    baseline = 0.3 * y + noise
    same = skill.auc_lift(y, baseline, baseline, groups)
    assert same["lift"] == 0 and same["lo"] <= 0 <= same["hi"]
    assert skill.status(same) == "no skill"
    better = skill.auc_lift(y, 0.9 * y + noise, baseline, groups)
    assert better["lo"] > 0 and skill.status(better) == "skill"
    worse = skill.auc_lift(y, noise, baseline, groups)
    assert worse["hi"] < 0 and skill.status(worse) == "no skill"
    assert skill.status(None) == "not measured"


def test_baselines_fit_their_own_columns():
    rng = np.random.default_rng(2)
    n = 400
    days = rng.integers(0, 365, n).astype(float)
    y = (days < 60).astype(int) & (rng.random(n) < 0.8)
    frame = pd.DataFrame({"days_to_renewal": days, "term_months": 12.0, "auto_renew": np.nan,
                          "health_score": rng.random(n) * 100})
    b = skill.fit_baselines("churn", frame, y)
    assert set(b) == {"timing", "health"}
    p_timing = b["timing"].predict_proba(frame)[:, 1]
    p_health = b["health"].predict_proba(frame)[:, 1]
    assert skill._auc(y, p_timing) > 0.85 > skill._auc(y, p_health) + 0.2


def test_gates_fall_back_to_the_measured_band_rates_then_the_base_rate():
    ev = {"status": "ok", "churn": {"status": "no skill"}, "renewal": {"status": "skill"},
          "expansion": {}, "health": {"status": "skill", "base_rate": 0.05,
                                      "renewal_base_rate": 0.2,
                                      "churn_rate_by_band": [{"group": "red", "rate": 0.4},
                                                             {"group": "green", "rate": 0.01}],
                                      "renewal_loss_by_band": [{"group": "red", "rate": 0.7}]}}
    g = skill.Gates(ev)
    assert not g.uses("churn") and g.uses("renewal") and not g.uses("expansion")
    band = pd.Series(["red", "green", "yellow"])
    assert g.rule == "health band"
    assert g.rule_churn(band).tolist() == [0.4, 0.01, 0.05]  # unknown band: base rate
    assert g.rule_renewal_loss(band).tolist() == [0.7, 0.2, 0.2]
    ev["health"]["status"] = "no skill"
    g = skill.Gates(ev)
    assert g.rule == "base rate" and g.rule_churn(band).tolist() == [0.05] * 3
    assert skill.Gates(None).status == dict.fromkeys(skill.Gates.MODELS, "not measured")
    assert "no measurable skill" in skill.status_sentence(
        skill.Gates({"status": "ok", "churn": {
            "status": "no skill", "test": {"auc": 0.49},
            "baselines": {"timing": {"auc": 0.5}}, "best_baseline": "timing",
            "lift": {"lift": -0.01, "lo": -0.05, "hi": 0.03}}}), "churn")


class _Model:
    """A fitted-looking model whose risk rises with ``a`` only."""

    driver_features_ = ["a", "b"]
    numeric_features_ = ["a", "b"]
    classes_ = np.array([0, 1])

    def decision_function(self, X):
        return X["a"].to_numpy(float)

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-X["a"].to_numpy(float)))
        return np.column_stack([1 - p, p])


def test_permutation_importance_finds_the_feature_that_matters_and_not_the_noise():
    rng = np.random.default_rng(3)
    n = 1_000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (X["a"] + rng.normal(scale=0.5, size=n) > 0).astype(int).to_numpy()
    imp = skill.permutation_importance(_Model(), X, y, groups=np.arange(n) // 2).set_index(
        "feature")
    assert imp.loc["a", "lo"] > 0.1
    # never used: no importance (float noise below the floor)
    assert abs(imp.loc["b", "mean"]) < 1e-12 and imp.loc["b", "lo"] <= skill.IMPORTANCE_FLOOR
    assert skill.global_direction(_Model(), X) == {"a": 1, "b": 0}


def test_drivers_are_important_features_pointing_the_way_the_model_moves_risk():
    from greendoor.scoring.run import _drivers

    class Fake:
        driver_features_ = ["active_users_30d", "industry", "tickets_90d", "latest_nps"]

        def drivers(self, X, top):
            rows = []
            for acc in X.index:
                rows += [  # occlusion says each of these raises this account's risk
                    (acc, "active_users_30d", 49.0, 9.0, 0.5),  # more users than typical
                    (acc, "industry", "Retail", "Software", 0.4),  # no measured importance
                    (acc, "tickets_90d", 8.0, 1.0, 0.3),
                    (acc, "latest_nps", 3.0, 8.0, 0.1)]
            return pd.DataFrame(rows, columns=["row", "feature", "value", "reference",
                                               "contribution"])

    g = skill.Gates(None)
    g.important["churn"] = ["active_users_30d", "tickets_90d", "latest_nps"]
    # across the portfolio, more active users lower the risk: 49 users is no risk driver
    g.direction["churn"] = {"active_users_30d": -1, "tickets_90d": 1, "latest_nps": -1}
    out = _drivers(Fake(), pd.DataFrame(index=["A1"]), g, "churn")["A1"]
    assert [d["feature"] for d in out] == ["tickets_90d", "latest_nps"]
    assert sum(d["share"] for d in out) == pytest.approx(1.0, abs=0.002)
    assert out[0]["share"] == pytest.approx(0.75)
    assert out[0]["evidence"] == "tickets opened in the last 90 days: 8, typical 1: raises risk"
