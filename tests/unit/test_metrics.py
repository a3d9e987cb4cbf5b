"""Metrics on hand-computed cases (SPEC.md "Metric definitions")."""

import math

import pandas as pd
import pytest

from greendoor import metrics as m
from greendoor.metrics import core


def test_logo_churn_rate():
    assert m.logo_churn_rate(3, 20) == pytest.approx(0.15)
    assert m.logo_churn_rate(0, 5) == 0.0
    with pytest.raises(ValueError):
        m.logo_churn_rate(1, 0)
    with pytest.raises(ValueError):
        m.logo_churn_rate(6, 5)


def test_annualize_churn():
    # a year is a year
    assert m.annualize_churn(0.1, 365) == pytest.approx(0.1)
    # half a year: 1 - 0.9^2 = 0.19
    assert m.annualize_churn(0.1, 182.5) == pytest.approx(0.19)
    # a quarter: 1 - 0.95^(365/91.25 = 4) = 1 - 0.81450625
    assert m.annualize_churn(0.05, 91.25) == pytest.approx(0.18549375)
    with pytest.raises(ValueError):
        m.annualize_churn(0.1, 0)
    with pytest.raises(ValueError):
        m.annualize_churn(1.5, 30)


def test_grr_and_nrr_hand_computed():
    # A expands 100 -> 120, B contracts 200 -> 150, C churns 100 -> 0,
    # D is new (0 -> 50) and is excluded from both.
    start = [100, 200, 100, 0]
    end = [120, 150, 0, 50]
    # GRR = (400 - 50 - 100) / 400
    assert m.grr(start, end) == pytest.approx(0.625)
    # NRR = (400 + 20 - 50 - 100) / 400
    assert m.nrr(start, end) == pytest.approx(0.675)


def test_grr_caps_each_account_at_its_start_arr():
    # expansion of one account never offsets another's churn in GRR
    assert m.grr([100, 100], [300, 0]) == pytest.approx(0.5)
    assert m.nrr([100, 100], [300, 0]) == pytest.approx(1.5)


def test_retention_errors():
    with pytest.raises(ValueError):
        m.grr([0, 0], [10, 10])
    with pytest.raises(ValueError):
        m.nrr([100], [100, 50])
    with pytest.raises(ValueError):
        m.grr([-1], [0])


def test_nps():
    # promoters 10, 9, 10, 9; passives 8, 7; detractors 6, 0, 3, 5 -> 40 % - 40 %
    assert m.nps([10, 9, 8, 7, 6, 0, 10, 3, 9, 5]) == pytest.approx(0.0)
    # 3 promoters of 4 -> 75
    assert m.nps([10, 10, 10, 7]) == pytest.approx(75.0)
    assert m.nps([0, 6]) == pytest.approx(-100.0)
    with pytest.raises(ValueError):
        m.nps([])
    with pytest.raises(ValueError):
        m.nps([11])


def test_csat():
    mean, satisfied = m.csat([5, 4, 3, 2, 1])
    assert mean == pytest.approx(3.0)
    assert satisfied == pytest.approx(0.4)
    assert m.csat([4, float("nan"), 5]) == (pytest.approx(4.5), pytest.approx(1.0))
    with pytest.raises(ValueError):
        m.csat([0])


def test_stickiness():
    # window of 4 days; u1 active every day, u2 on day 1 only (twice, counted once)
    activity = pd.DataFrame({
        "date": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-01",
                 "2025-01-01", "2025-01-05"],
        "user_id": ["u1", "u1", "u1", "u1", "u2", "u2", "u3"],  # u3 is outside the window
    })
    # DAU sum = 5 over 4 days = 1.25; MAU = 2 -> 0.625
    assert m.stickiness(activity, "2025-01-01", "2025-01-05") == pytest.approx(0.625)
    assert math.isnan(m.stickiness(activity, "2026-01-01", "2026-01-05"))


def test_seat_utilization():
    assert m.seat_utilization(6, 8) == pytest.approx(0.75)
    assert math.isnan(m.seat_utilization(3, 0))


def test_arr_at_risk():
    assert m.arr_at_risk([100, 200], [0.1, 0.5]) == pytest.approx(110.0)
    with pytest.raises(ValueError):
        m.arr_at_risk([100], [1.2])


def test_cohort_retention_hand_computed():
    """a keeps 100 -> 120, b contracts 200 -> 150, c churns (100 -> gone); d is not in
    the cohort. Logo churn 1/3, GRR (100 + 150) / 400, NRR (120 + 150) / 400."""
    start = pd.Series({"a": 100.0, "b": 200.0, "c": 100.0, "d": 50.0})
    end = pd.Series({"a": 120.0, "b": 150.0, "d": 80.0})
    r = core.cohort_retention(start, end, ["a", "b", "c"])
    assert r["logo_churn"] == pytest.approx(1 / 3)
    assert r["grr"] == pytest.approx(250 / 400) and r["nrr"] == pytest.approx(270 / 400)
    assert all(math.isnan(v) for v in core.cohort_retention(start, end, []).values())


# ------------------------------------------------------------------------ boundaries
# Each case below sits on an edge the code draws (<= vs <, 0 vs 1): a mutation-testing
# run (bench/mutation.py) showed these edges were not pinned.
def test_logo_churn_rate_edges_and_messages():
    assert m.logo_churn_rate(1, 1) == 1.0  # one account, lost: 100 %
    assert m.logo_churn_rate(2, 2) == 1.0  # every account lost is allowed
    with pytest.raises(ValueError, match="at least one account active"):
        m.logo_churn_rate(0, 0)
    with pytest.raises(ValueError, match="between 0 and accounts_at_start"):
        m.logo_churn_rate(3, 2)
    with pytest.raises(ValueError, match="between 0 and accounts_at_start"):
        m.logo_churn_rate(-1, 2)


def test_annualize_churn_edges_and_messages():
    # one day at 0.1 %: 1 - 0.999^365 = 0.30582
    assert m.annualize_churn(0.001, 1) == pytest.approx(1 - 0.999 ** 365)
    assert m.annualize_churn(0.0, 30) == 0.0
    assert m.annualize_churn(1.0, 30) == 1.0
    with pytest.raises(ValueError, match="days must be positive"):
        m.annualize_churn(0.1, -5)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\]"):
        m.annualize_churn(-0.1, 30)


def test_retention_small_arr_and_messages():
    # an account at 0.5 ARR at the start is active; one at 0.5 at the end is not churned
    assert m.grr([0.5, 100], [0.5, 100]) == pytest.approx(1.0)
    assert m.nrr([0.5], [1.0]) == pytest.approx(2.0)
    # NaN at the end is 0 ARR (the account is gone): GRR = 100 / 200
    assert m.grr([100, 100], [100, float("nan")]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same length"):
        m.grr([100], [100, 50])
    with pytest.raises(ValueError, match="ARR cannot be negative"):
        m.nrr([100], [-1])
    with pytest.raises(ValueError, match="no account had ARR at period start"):
        m.nrr([0], [5])


def test_cohort_retention_small_arr_is_not_churn():
    """c ends at 0.5 ARR: still a customer, so logo churn 0 of 3."""
    start = pd.Series({"a": 100.0, "b": 200.0, "c": 100.0})
    end = pd.Series({"a": 100.0, "b": 200.0, "c": 0.5})
    r = core.cohort_retention(start, end, ["a", "b", "c"])
    assert r["logo_churn"] == 0.0
    assert set(core.cohort_retention(start, end, [])) == {"logo_churn", "grr", "nrr"}


@pytest.mark.parametrize("score, category", [
    (10, "promoter"), (9, "promoter"), (8.9, "passive"), (8, "passive"), (7, "passive"),
    (6.1, "passive"), (6, "detractor"), (0, "detractor"), (None, None), (float("nan"), None)])
def test_nps_category_edges(score, category):
    """SPEC.md: promoters 9-10, passives 7-8, detractors 0-6."""
    assert core.nps_category(score) == category


def test_nps_and_csat_messages_and_edges():
    with pytest.raises(ValueError, match="at least one response"):
        m.nps([float("nan")])
    with pytest.raises(ValueError, match="between 0 and 10"):
        m.nps([-1])
    assert m.nps([9]) == 100.0  # one response is enough
    assert m.csat([3]) == (3.0, 0.0)  # one response; 3 is not satisfied (4-5 are)
    with pytest.raises(ValueError, match="at least one response"):
        m.csat([])
    with pytest.raises(ValueError, match="between 1 and 5"):
        m.csat([6])
    with pytest.raises(ValueError, match="between 1 and 5"):
        m.csat([5.5])


def test_stickiness_and_seat_edges():
    activity = pd.DataFrame({"date": ["2025-01-01", "2025-01-01"], "user_id": ["u1", "u2"]})
    # a one-day window: DAU 2, MAU 2 -> 1.0
    assert m.stickiness(activity, "2025-01-01", "2025-01-02") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="end must be after start"):
        m.stickiness(activity, "2025-01-02", "2025-01-02")
    assert m.seat_utilization(1, 1) == 1.0  # one seat is a seat
    assert math.isnan(m.seat_utilization(3, None))
    assert math.isnan(m.seat_utilization(3, float("nan")))


def test_arr_at_risk_messages():
    with pytest.raises(ValueError, match="same length"):
        m.arr_at_risk([100, 200], [0.1])
    assert m.arr_at_risk([100], [0.0]) == 0.0 and m.arr_at_risk([100], [1.0]) == 100.0


def test_retention_bridge_hand_computed():
    # A expands 100 -> 120, B contracts 200 -> 150, C churns (100), D is new (50),
    # E stays flat at 30, F has no ARR at either end
    start = [100, 200, 100, 0, 30, 0]
    end = [120, 150, float("nan"), 50, 30, 0]
    assert list(core.arr_movement(start, end)) == [
        "expansion", "contraction", "churn", "new", "flat", "none"]
    b = core.retention_bridge(start, end)
    assert (b["start"], b["new"], b["expansion"], b["contraction"], b["churn"]) == (
        430.0, 50.0, 20.0, 50.0, 100.0)
    assert b["end"] == 350.0  # 430 + 50 + 20 - 50 - 100
    assert b["grr"] == pytest.approx(280 / 430)  # (430 - 50 - 100) / 430
    assert b["nrr"] == pytest.approx(300 / 430)  # (430 + 20 - 50 - 100) / 430
    active = [i for i, s in enumerate(start) if s > 0]  # the same as grr() and nrr()
    assert b["grr"] == pytest.approx(core.grr([start[i] for i in active],
                                              [end[i] for i in active]))
    assert b["nrr"] == pytest.approx(core.nrr([start[i] for i in active],
                                              [end[i] for i in active]))


def test_retention_bridge_errors():
    with pytest.raises(ValueError, match="no account had ARR"):
        core.retention_bridge([0, 0], [10, 0])
    with pytest.raises(ValueError, match="negative"):
        core.arr_movement([-1], [0])
    with pytest.raises(ValueError, match="same length"):
        core.arr_movement([1, 2], [1])
