"""Health score on hand-computed cases (SPEC.md "Health score")."""

import math

import numpy as np
import pandas as pd
import pytest

from greendoor.config import default_settings
from greendoor.scoring.health import (
    at_risk_rows,
    band,
    best_improvement,
    classify_trend,
    compose,
    health_panel,
    is_at_risk,
    scale,
    score_health,
)


def comps(*rows):
    return pd.DataFrame(rows, columns=["engagement", "sentiment", "growth"])


def test_compose_default_weights():
    out = compose(comps((80, 60, 70)))
    # 0.4*80 + 0.3*60 + 0.3*70 = 71
    assert out["health_score"].iloc[0] == pytest.approx(71.0)
    assert out["band"].iloc[0] == "yellow"
    assert out["confidence"].iloc[0] == pytest.approx(1.0)


def test_compose_spreads_missing_weight_proportionally():
    out = compose(comps((80, np.nan, 70), (np.nan, np.nan, 40), (np.nan, np.nan, np.nan)))
    # (0.4*80 + 0.3*70) / 0.7
    assert out["health_score"].iloc[0] == pytest.approx(53.0 / 0.7)
    assert out["confidence"].iloc[0] == pytest.approx(0.7)
    assert out["health_score"].iloc[1] == pytest.approx(40.0)
    assert out["confidence"].iloc[1] == pytest.approx(0.3)
    assert math.isnan(out["health_score"].iloc[2])
    assert pd.isna(out["band"].iloc[2]) and out["confidence"].iloc[2] == 0.0


def test_compose_custom_weights_and_errors():
    out = compose(comps((80, 60, 70)), {"engagement": 1, "sentiment": 1, "growth": 2})
    assert out["health_score"].iloc[0] == pytest.approx((80 + 60 + 140) / 4)
    with pytest.raises(ValueError):
        compose(comps((1, 2, 3)), {"engagement": -1})
    with pytest.raises(ValueError):
        compose(pd.DataFrame({"engagement": [1.0]}))


@pytest.mark.parametrize("score, expected", [
    (100, "green"), (80, "green"), (79.99, "yellow"), (50, "yellow"), (49.99, "red"), (0, "red")])
def test_band_boundaries(score, expected):
    assert band(score) == expected


def test_band_missing_and_custom_thresholds():
    assert band(float("nan")) is None and band(None) is None
    assert band(75, {"green": 70, "yellow": 40}) == "green"


@pytest.mark.parametrize("delta, expected", [
    (5.0, "improving"), (4.99, "stable"), (0.0, "stable"), (-4.99, "stable"), (-5.0, "declining")])
def test_classify_trend(delta, expected):
    assert classify_trend(delta) == expected


def test_classify_trend_threshold_and_missing():
    assert classify_trend(3, threshold=2) == "improving"
    assert classify_trend(float("nan")) is None


def test_at_risk():
    assert is_at_risk("red", "stable") and is_at_risk("yellow", "declining")
    assert not is_at_risk("yellow", "stable") and not is_at_risk("green", "declining")
    cases = [("red", "stable"), ("yellow", "declining"), ("yellow", "stable"),
             ("green", "declining"), (None, "declining"), ("yellow", None), ("red", None)]
    rows = at_risk_rows(pd.Series([b for b, _ in cases]), pd.Series([t for _, t in cases]))
    assert rows.tolist() == [is_at_risk(b, t) for b, t in cases] == [True, True, False, False,
                                                                      False, False, True]


def test_scale_interpolates_and_clamps():
    pts = [[4, 0], [22, 100]]
    assert list(scale([13, 0, 30, 4], pts)) == pytest.approx([50, 0, 100, 0])
    assert math.isnan(scale([float("nan")], pts)[0])
    # decreasing map (days since last touch): 52 days is halfway from 14 to 90
    assert scale([52], [[14, 100], [90, 0]])[0] == pytest.approx(50)
    assert scale([7], [[0, 0], [6, 40], [9, 100]])[0] == pytest.approx(60)


def _features(**overrides):
    base = {
        "active_days_30d": 13.0,  # (13-4)/18 -> 50
        "seat_utilization": 0.45,  # (0.45-0.15)/0.6 -> 50
        "feature_breadth_30d": 8.0,  # 100
        "days_since_touch": 14.0,  # 100
        "latest_nps": 9.0,  # 100
        "csat_90d": 4.5,  # 100
        "escalated_tickets_90d": 0.0,  # 100
        "high_priority_tickets_90d": 0.0,  # 100
        "nps_detractor": 0.0,  # 100
        "usage_trend": 1.0,  # 75
        "seat_utilization_change": 0.0,  # 75
        "arr_change_90d": 0.0,  # 75
        "segment": "smb",
    }
    base.update(overrides)
    return pd.DataFrame([base], index=pd.Index(["A"], name="account_id"))


def test_score_health_hand_computed():
    scores, why = score_health(_features(), default_settings())
    s = scores.loc["A"]
    assert s["engagement"] == pytest.approx((50 + 50 + 100 + 100) / 4)
    assert s["sentiment"] == pytest.approx(100)
    assert s["growth"] == pytest.approx(75)
    assert s["health_score"] == pytest.approx(0.4 * 75 + 0.3 * 100 + 0.3 * 75)
    assert s["band"] == "green" and s["confidence"] == pytest.approx(1.0)
    w = why[why["account_id"] == "A"]
    assert w["weight"].sum() == pytest.approx(1.0)
    assert w["contribution"].sum() == pytest.approx(s["health_score"])
    # an engagement measure carries 0.4 / 4 = 0.1 of the score
    row = w.set_index("measure").loc["active_days_30d"]
    assert row["weight"] == pytest.approx(0.1) and row["contribution"] == pytest.approx(5.0)
    # the largest gain: 0.1 x (100 - 50) = 5 points (two engagement measures tie; the
    # growth measures give 0.1 x 25 = 2.5)
    assert best_improvement(why)["A"] in {"active_days_30d", "seat_utilization"}


def test_score_health_missing_measures_and_components():
    f = _features(latest_nps=np.nan, csat_90d=np.nan, nps_detractor=np.nan,
                  escalated_tickets_90d=np.nan, high_priority_tickets_90d=np.nan)
    scores, why = score_health(f, default_settings())
    s = scores.loc["A"]
    assert math.isnan(s["sentiment"])
    # sentiment's 0.3 spread over engagement and growth: (0.4*75 + 0.3*75) / 0.7
    assert s["health_score"] == pytest.approx(75.0)
    assert s["confidence"] == pytest.approx(0.7)
    f2 = _features(csat_90d=np.nan)  # one of five sentiment measures missing
    s2 = score_health(f2, default_settings())[0].loc["A"]
    assert s2["sentiment"] == pytest.approx(100)
    assert s2["confidence"] == pytest.approx(1 - 0.3 / 5)


def test_segment_weights_override():
    st = default_settings()
    st["health"]["segment_weights"] = {"smb": {"engagement": 1.0, "sentiment": 0.0, "growth": 0.0}}
    scores, _ = score_health(_features(), st)
    assert scores.loc["A", "health_score"] == pytest.approx(75.0)


def test_wide_why_panel_is_the_long_panel():
    """health_panel (batch scoring) and score_health (long form) are the same numbers,
    and the panel's best improvement is best_improvement's, including ties and an
    account without any measure."""
    f = pd.concat([_features(), _features(latest_nps=np.nan, csat_90d=np.nan).rename({"A": "B"}),
                   _features(**{m: np.nan for m in _features().columns if m != "segment"})
                   .rename({"A": "C"})])
    scores, panel = health_panel(f, default_settings())
    long = panel.long()
    s2, why = score_health(f, default_settings())
    pd.testing.assert_frame_equal(scores, s2)
    pd.testing.assert_frame_equal(long, why)
    assert list(long["account_id"][:3]) == ["A", "B", "C"]  # measure-major
    best = panel.best_improvement()
    assert best["A"] == best_improvement(why)["A"] == "active_days_30d"  # first of a tie
    assert best["B"] == best_improvement(why)["B"]
    assert best["C"] is None and "C" not in best_improvement(why)
    g = panel.gain
    assert np.nanmax(g[0]) == pytest.approx(5.0)  # 0.1 x (100 - 50)


def _two_measure_settings():
    """Engagement has measures a (weight 1) and b (weight 3); sentiment c; growth d; each
    scaled linearly 0 -> 0, 10 -> 100. Component weights 2 / 1 / 1 (sum 4, not 1, so
    a normalisation that is skipped shows); smb weighs engagement 0, the others 1."""
    st = default_settings()
    line = [[0, 0], [10, 100]]
    st["health"]["measures"] = {"engagement": {"a": {"weight": 1.0, "points": line},
                                               "b": {"weight": 3.0, "points": line}},
                                "sentiment": {"c": {"weight": 1.0, "points": line}},
                                "growth": {"d": {"weight": 1.0, "points": line}}}
    st["health"]["weights"] = {"engagement": 2.0, "sentiment": 1.0, "growth": 1.0}
    st["health"]["segment_weights"] = {"smb": {"engagement": 0.0, "sentiment": 1.0,
                                               "growth": 1.0}}
    return st


def test_confidence_and_why_weights_hand_computed():
    """X (no segment): a = 5 (scaled 50), b missing, c = 10 (100), d = 0 (0).
    Engagement = 50 from a alone; its present measure weight is 1 of 4 (share 0.25).
    Health = (2 x 50 + 1 x 100 + 1 x 0) / 4 = 50. Confidence = (2 x 0.25 + 1 x 1 +
    1 x 1) / 4 = 0.625. Why weights: a = 1 x 2/4 = 0.5, c = 1/4, d = 1/4, b = 0;
    contributions 25 + 25 + 0 = 50 = the score; gains: a 0.5 x 50 = 25, d 0.25 x 100 = 25
    (a tie: the first, a), c 0.

    Y (smb): a = b = 10, c = 0, d = 10: engagement 100 weighs 0 in smb, so health =
    (0 + 1 x 0 + 1 x 100) / 2 = 50 (the default weights would give (200 + 0 + 100) / 4 =
    75); confidence (0 x 1 + 1 + 1) / 2 = 1; why weights a, b 0, c = d = 0.5.

    Z (smb): nothing known: no score, confidence 0, no best improvement."""
    f = pd.DataFrame({"a": [5.0, 10.0, np.nan], "b": [np.nan, 10.0, np.nan],
                      "c": [10.0, 0.0, np.nan], "d": [0.0, 10.0, np.nan],
                      "segment": [None, "smb", "smb"]},
                     index=pd.Index(["X", "Y", "Z"], name="account_id"))
    scores, panel = health_panel(f, _two_measure_settings())
    assert scores.loc["X", "engagement"] == pytest.approx(50.0)
    assert scores.loc["X", "health_score"] == pytest.approx(50.0)
    assert scores.loc["X", "confidence"] == pytest.approx(0.625)
    assert scores.loc["Y", "health_score"] == pytest.approx(50.0)
    assert scores.loc["Y", "confidence"] == pytest.approx(1.0)
    assert math.isnan(scores.loc["Z", "health_score"]) and pd.isna(scores.loc["Z", "band"])
    assert scores.loc["Z", "confidence"] == pytest.approx(0.0)
    w = pd.DataFrame(panel.weight, index=panel.accounts, columns=panel.measures)
    np.testing.assert_allclose(w.loc["X"], [0.5, 0.0, 0.25, 0.25])
    np.testing.assert_allclose(w.loc["Y"], [0.0, 0.0, 0.5, 0.5])
    contribution = pd.DataFrame(panel.contribution, index=panel.accounts, columns=panel.measures)
    assert contribution.loc["X"].sum() == pytest.approx(50.0)
    gain = pd.DataFrame(panel.gain, index=panel.accounts, columns=panel.measures)
    assert gain.loc["X", "a"] == pytest.approx(25.0) and gain.loc["X", "d"] == pytest.approx(25.0)
    best = panel.best_improvement()
    assert best["X"] == "a" and best["Y"] == "c" and best["Z"] is None
    long = panel.long()
    assert list(long.columns) == ["account_id", "component", "measure", "value", "scaled",
                                  "weight", "contribution", "gain"]
    row = long[(long["account_id"] == "X") & (long["measure"] == "a")].iloc[0]
    assert (row["component"], row["value"], row["scaled"], row["gain"]) == \
        ("engagement", 5.0, 50.0, pytest.approx(25.0))


def test_compose_clips_and_rejects_bad_weights():
    """Components above 100 or below 0 cannot push the score outside 0-100; a score of
    exactly 0 is red, not missing."""
    out = compose(comps((150, 150, 150), (-20, -20, -20), (0, 0, 0)))
    assert list(out["health_score"]) == [100.0, 0.0, 0.0]
    assert list(out["band"]) == ["green", "red", "red"]
    with pytest.raises(ValueError, match="non-negative"):
        compose(comps((50, 50, 50)), {"engagement": -1, "sentiment": 1, "growth": 1})
    with pytest.raises(ValueError, match="lack columns"):
        compose(pd.DataFrame({"engagement": [50]}))


def test_a_missing_component_gives_its_weight_to_the_others():
    """W (no segment column at all: the default weights): a = 10, b = 10, c = 10, d
    missing, so growth is missing. Health = (2 x 100 + 1 x 100) / 3 = 100; confidence =
    (2 x 1 + 1 x 1 + 1 x 0) / 4 = 0.75; why weights a = 1/4 x 2/3 = 1/6, b = 3/4 x 2/3 =
    1/2, c = 1/3, d = 0."""
    f = pd.DataFrame({"a": [10.0], "b": [10.0], "c": [10.0], "d": [np.nan]},
                     index=pd.Index(["W"], name="account_id"))
    scores, panel = health_panel(f, _two_measure_settings())
    assert scores.loc["W", "health_score"] == pytest.approx(100.0)
    assert math.isnan(scores.loc["W", "growth"])
    assert scores.loc["W", "confidence"] == pytest.approx(0.75)
    np.testing.assert_allclose(panel.weight[0], [1 / 6, 1 / 2, 1 / 3, 0.0])


def test_compose_weights_not_summing_to_one_and_custom_bands():
    """Weights 2 / 1 / 1 with sentiment missing: (2 x 80 + 1 x 70) / 3 = 76.67,
    confidence 3 / 4. With bands green 90, yellow 60: 76.67 is yellow, 95 green, 59 red."""
    w = {"engagement": 2.0, "sentiment": 1.0, "growth": 1.0}
    out = compose(comps((80, np.nan, 70), (95, 95, 95), (59, 59, 59)), w,
                  {"green": 90.0, "yellow": 60.0})
    assert out["health_score"].iloc[0] == pytest.approx(230 / 3)
    assert out["confidence"].iloc[0] == pytest.approx(0.75)
    assert list(out["band"]) == ["yellow", "green", "red"]
