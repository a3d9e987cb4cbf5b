"""ChurnModel on data with a planted signal; metrics and alert rules on hand cases."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from greendoor.config import default_settings
from greendoor.scoring import evaluate as E
from greendoor.scoring.alerts import account_alerts
from greendoor.scoring.churn import ChurnModel, NotEnoughData, risk_index


def planted(n=4000, seed=0):
    """y depends on `signal` (and a category); `noise_*` carry nothing; dates span 10 months."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    seg = rng.choice(["smb", "mid_market", "enterprise", None], size=n, p=[0.4, 0.3, 0.2, 0.1])
    logit = -3.0 + 2.0 * signal + np.where(seg == "smb", 0.8, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({
        "signal": signal,
        "noise_a": rng.normal(size=n),
        "noise_b": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),  # missing values
        "always_missing": np.nan,
        "segment": pd.Series(seg, dtype=object),
    })
    dates = pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    return X, y, dates


def test_planted_signal_is_found_calibrated_and_explained():
    X, y, dates = planted()
    model = ChurnModel().fit(X, y, as_of=dates)
    Xt, yt, _ = planted(seed=1)
    p = model.predict_proba(Xt)[:, 1]
    assert p.shape == (len(Xt),) and ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(yt, p) > 0.8
    assert abs(p.mean() - yt.mean()) < 0.03  # calibrated on average
    assert model.estimator_ in ("logistic", "gradient_boosting")
    assert set(model.selection_) == {"logistic", "gradient_boosting"}
    assert "always_missing" in model.dropped_features_
    # the riskiest rows are driven by the planted feature
    top = Xt.iloc[np.argsort(-p)[:20]]
    d = model.drivers(top, top=2)
    firsts = d[d["rank"] == 1]["feature"].value_counts()
    assert firsts.index[0] == "signal"
    assert (d["contribution"] > 0).all()
    row = d.iloc[0]
    assert row["reference"] == pytest.approx(model.reference_[row["feature"]])


def test_tree_occlusion_gives_the_generic_occlusion_numbers():
    """The gradient-boosting shortcut (only the trees splitting on a feature are asked
    again) gives the same log-odds changes as perturbing every row and predicting,
    with a categorical feature, missing values, unknown categories and rows at the
    reference."""
    X, y, dates = planted(n=3000)
    model = ChurnModel(estimator="gradient_boosting").fit(X, y, as_of=dates)
    Xt, _, _ = planted(n=400, seed=2)
    Xt.loc[Xt.index[:5], "segment"] = "never_seen"
    Xt.loc[Xt.index[5:10], "signal"] = model.reference_["signal"]
    Xa = model._aligned(Xt)
    cols = list(Xa.columns)
    fast = model._tree_occlusion(Xa, cols)
    assert fast is not None  # the shortcut ran (scikit-learn's trees are where we read them)
    model_generic = clone(model)
    model_generic.__dict__.update(model.__dict__)
    model_generic._tree_occlusion = lambda X, cols: None
    slow = model_generic._occlusion(Xa, cols)
    assert slow.abs().to_numpy().max() > 0.1  # there is something to compare
    pd.testing.assert_frame_equal(fast, slow, atol=1e-9, rtol=0)
    assert (fast.loc[Xt.index[5:10], "signal"] == 0).all()


@pytest.mark.parametrize("estimator, calibration", [
    ("gradient_boosting", "sigmoid"), ("logistic", "sigmoid"), ("logistic", "isotonic")])
def test_predictions_equal_scikit_learns_own(estimator, calibration):
    """The one-pass predictions (preprocessing once, calibrator applied to the base
    model's decision, boosted trees walked on the training bins) equal scikit-learn's
    public calls, with missing values and an unknown category; without the internals
    the public calls answer."""
    X, y, dates = planted(n=3000)
    model = ChurnModel(estimator=estimator, calibration=calibration).fit(X, y, as_of=dates)
    Xt, _, _ = planted(n=500, seed=3)
    Xt.loc[Xt.index[:5], "segment"] = "never_seen"
    Xa = model._aligned(Xt)
    public_p = model.calibrated_.predict_proba(Xa)[:, 1]
    public_d = np.log(model.base_.predict_proba(Xa)[:, 1] / model.base_.predict_proba(Xa)[:, 0])
    assert (model._trees() is not None) == (estimator == "gradient_boosting")
    decision, proba = model.decision_and_proba(Xt)
    assert np.ptp(proba) > 0.5  # there is something to compare
    np.testing.assert_allclose(proba, public_p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(Xt)[:, 1], public_p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(decision, public_d, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.decision_function(Xt), public_d, rtol=0, atol=1e-9)
    fallback = clone(model)
    fallback.__dict__.update(model.__dict__)
    fallback.calibrated_ = type("Opaque", (), {"predict_proba": model.calibrated_.predict_proba})()
    d2, p2 = fallback.decision_and_proba(Xt)
    np.testing.assert_array_equal(p2, public_p)
    np.testing.assert_allclose(d2, public_d, rtol=0, atol=1e-9)


def test_untested_sklearn_release_takes_the_public_path(monkeypatch):
    """Outside the scikit-learn releases the fast path was tested on, no private
    attribute is read: the numbers come from the public calls."""
    from greendoor.scoring import churn

    assert churn.fast_path_supported("1.7.2") and not churn.fast_path_supported("1.10.0")
    assert not churn.fast_path_supported("1.5.2")
    X, y, dates = planted(n=2000)
    model = ChurnModel(estimator="gradient_boosting").fit(X, y, as_of=dates)
    Xt, _, _ = planted(n=300, seed=4)
    Xa = model._aligned(Xt)
    monkeypatch.setattr(churn.sklearn, "__version__", "1.10.0")
    assert model._trees() is None
    decision, proba = model.decision_and_proba(Xt)
    np.testing.assert_array_equal(proba, model.calibrated_.predict_proba(Xa)[:, 1])
    cols = list(Xa.columns)
    public = model._occlusion(Xa, cols)
    assert public.abs().to_numpy().max() > 0.1  # there is something to compare
    monkeypatch.setattr(churn.sklearn, "__version__", "1.7.2")
    assert model._trees() is not None
    pd.testing.assert_frame_equal(model._occlusion(Xa, cols), public, atol=1e-9, rtol=0)


def test_sklearn_conventions():
    m = ChurnModel(estimator="logistic", calibration="isotonic")
    assert m.get_params()["calibration"] == "isotonic"
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "calibrated_")
    X, y, dates = planted(1500)
    assert c.fit(X, y, as_of=dates) is c
    assert c.predict(X).shape == (1500,)
    assert list(c.classes_) == [0, 1]
    with pytest.raises(ValueError, match="lacks the columns"):
        c.predict_proba(X.drop(columns=["signal"]))


def test_refuses_to_train_without_enough_positives():
    X, _, dates = planted(500)
    y = np.zeros(500, dtype=int)
    y[:3] = 1
    with pytest.raises(NotEnoughData):
        ChurnModel().fit(X, y, as_of=dates)


def test_risk_index_is_a_percentile_rank():
    r = risk_index(np.array([0.1, 0.5, 0.3, 0.9]))
    assert list(r) == [25.0, 75.0, 50.0, 100.0]


# --------------------------------------------------------------------------- #
def test_top_decile_lift_hand_computed():
    y = [1, 1] + [0] * 18  # base rate 10 %
    score = [0.9, 0.8] + [0.1] * 18
    assert E.top_decile_lift(y, score) == pytest.approx(10.0)  # top 2 both positive
    assert E.top_decile_lift(y, [0.1, 0.1] + [0.9] * 18) == pytest.approx(0.0)
    assert np.isnan(E.top_decile_lift([0, 0], [0.1, 0.2]))


def test_classification_report_and_rates():
    rep = E.classification_report([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert rep["auc"] == pytest.approx(0.75)
    assert rep["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert rep["positives"] == 2 and rep["base_rate"] == 0.5
    rates = E.rate_by_group([1, 0, 0, 1, 1], ["red", "red", "green", "yellow", "red"]).set_index("group")
    assert rates.loc["red", "rate"] == pytest.approx(2 / 3) and rates.loc["green", "n"] == 1


# --------------------------------------------------------------------------- #
def feature_row(**kw):
    base = dict(arr=50_000.0, usage_change_mom=0.0, arr_change_90d=0.0, days_since_touch=10.0,
                logins_change_mom=0.0, tickets_30d=0.0, tickets_prior_30d=0.0,
                champion_left_90d=0.0, champion_active=1.0, days_to_renewal=300.0,
                seat_utilization=0.5, usage_growth_90d=0.0)
    base.update(kw)
    return base


def alerts_for(rows: dict, scores: dict) -> pd.DataFrame:
    f = pd.DataFrame.from_dict(rows, orient="index")
    s = pd.DataFrame.from_dict(scores, orient="index")
    return account_alerts(f, s, default_settings(), dt.date(2026, 1, 1))


def test_alert_rules():
    rows = {
        "red": feature_row(),
        "collapse": feature_row(usage_change_mom=-0.6),
        "downgrade": feature_row(arr_change_90d=-0.1),
        "checkin": feature_row(days_since_touch=45.0),
        "warnings": feature_row(usage_change_mom=-0.35, logins_change_mom=-0.55, tickets_30d=6.0,
                                tickets_prior_30d=2.0, champion_left_90d=1.0),
        "renewal": feature_row(days_to_renewal=75.0),
        "expand": feature_row(seat_utilization=0.85),
        "quiet": feature_row(),
    }
    scores = {k: {"band": "green", "health_score": 85.0, "health_change": 0.0} for k in rows}
    scores["red"] = {"band": "red", "health_score": 30.0, "health_change": -25.0}
    scores["checkin"] = {"band": "yellow", "health_score": 60.0, "health_change": 0.0}
    a = alerts_for(rows, scores)
    got = {(r.account_id, r.rule) for r in a.itertuples()}
    assert ("red", "churn_escalation") in got and ("red", "health_drop") in got
    assert ("collapse", "churn_escalation") in got and ("collapse", "usage_decline") not in got
    assert ("downgrade", "churn_escalation") in got
    assert ("checkin", "proactive_checkin") in got
    for rule in ("usage_decline", "logins_drop", "tickets_spike", "champion_inactive"):
        assert ("warnings", rule) in got, rule
    assert ("renewal", "renewal_90") in got
    assert ("expand", "expansion_signal") in got
    assert not [g for g in got if g[0] == "quiet"]
    esc = a[(a.account_id == "red") & (a.rule == "churn_escalation")].iloc[0]
    assert esc["severity"] == "critical" and esc["evidence"]["arr"] == 50_000.0
    assert esc["evidence"]["recommended_actions"] and esc["evidence"]["intervention_deadline"]


def test_alert_thresholds_come_from_settings():
    st = default_settings()
    st["rules"]["checkin_no_contact_days"] = 60
    f = pd.DataFrame.from_dict({"x": feature_row(days_since_touch=45.0)}, orient="index")
    s = pd.DataFrame.from_dict({"x": {"band": "yellow", "health_score": 60.0,
                                      "health_change": 0.0}}, orient="index")
    assert "proactive_checkin" not in set(account_alerts(f, s, st, dt.date(2026, 1, 1))["rule"])
