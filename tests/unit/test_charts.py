"""The figure factories of greendoor.charts: frame in, figure out. Each test checks the
traces, the points a click can select (customdata) and the labels (issue 22)."""

from __future__ import annotations

import pandas as pd
import pytest

from greendoor.charts import (
    account,
    advocacy,
    behavior,
    expansion,
    portfolio,
    quality,
    renewals,
    risk,
    segmentation,
)
from greendoor.charts.theme import BAND_COLORS, Theme

THEME = Theme()


def test_health_histogram_bins_carry_their_range_and_follow_the_bands():
    scores = pd.DataFrame({"health_score": [5, 12, 61, 65, 69, 95, 100],
                           "band": ["red", "red", "yellow", "yellow", "yellow", "green", "green"]})
    fig = portfolio.health_histogram(scores, THEME)
    by_band = {t.name: t for t in fig.data}
    assert list(by_band) == ["Red", "Yellow", "Green"]
    yellow = by_band["Yellow"]
    # 61, 65, 69 share the 60-70 bin: one bar of 3, its click names the range
    assert list(yellow.y) == [3] and yellow.customdata[0].tolist() == ["yellow", 60.0, 70.0]
    assert by_band["Green"].customdata[-1].tolist() == ["green", 90.0, 100.0]  # 100 in the last
    assert by_band["Red"].marker.color == BAND_COLORS["red"]
    assert "green 80+, yellow 50-79, red below 50" in fig.layout.xaxis.title.text
    edited = portfolio.health_histogram(scores, Theme(green=75, yellow=40))
    assert "green 75+, yellow 40-74, red below 40" in edited.layout.xaxis.title.text


def test_presentation_scale_is_larger_and_dark():
    seg = pd.DataFrame({"segment": ["smb", "enterprise"], "arr": [2e6, 5e6]})
    normal = portfolio.segment_bars(seg, "arr", "ARR", THEME, money=True)
    big = portfolio.segment_bars(seg, "arr", "ARR", Theme(present=True), money=True)
    assert big.layout.font.size >= 16 > normal.layout.font.size
    assert big.layout.xaxis.tickfont.size >= 16 and big.layout.xaxis.tickfont.color == "#1b2631"
    assert list(normal.data[0].text) == ["$2.0M", "$5.0M"]
    assert normal.data[0].textposition == "outside"  # a thin bar never hides its label
    assert list(normal.data[0].y) == ["SMB", "Enterprise"]


def test_hostile_labels_are_escaped():
    seg = pd.DataFrame({"group": ["<a href='https://evil'>x</a>"], "nrr": [1.1], "grr": [0.9]})
    fig = segmentation.retention_bars(seg, THEME)
    assert fig.data[0].x[0] == "&lt;a href='https://evil'&gt;x&lt;/a&gt;"
    assert fig.data[0].customdata[0][0] == "<a href='https://evil'>x</a>"  # the raw value clicks


def test_account_figures():
    h = pd.DataFrame({"as_of": pd.to_datetime(["2026-01-01", "2026-01-08"]),
                      "health_score": [70, 55]})
    fig = account.health_history(h, Theme(green=85, yellow=60))
    rects = [(s.y0, s.y1) for s in fig.layout.shapes]
    assert rects == [(0.0, 60.0), (60.0, 85.0), (85.0, 100.0)]  # the bands in force
    u = pd.DataFrame({"week": ["2026-01-05"], "events": [10], "active_users": [3]})
    fig = account.weekly_usage(u, THEME)
    assert [t.name for t in fig.data] == ["Events", "Active users"] and fig.data[1].yaxis == "y2"


def test_risk_advocacy_behavior_expansion_figures():
    drv = pd.DataFrame({"feature": ["a", "b"], "description": ["A in words", "B"],
                        "accounts": [5, 2]})
    fig = risk.driver_bars(drv, THEME)
    assert list(fig.data[0].y) == ["B", "A in words"] and fig.data[0].customdata[1][0] == "a"
    trend = pd.DataFrame({"month": pd.to_datetime(["2026-01-01", "2026-02-01"]),
                          "nps": [20.0, 100.0], "responses": [40, 1], "promoters": [20, 1],
                          "passives": [8, 0], "detractors": [12, 0], "csat": [4.1, None],
                          "csat_responses": [10, 0], "csat_satisfied": [0.8, None]})
    fig = advocacy.nps_mix(trend, THEME)
    notes = [a.text for a in fig.layout.annotations]  # above each bar: NPS and n
    assert notes == ["NPS +20<br>n=40", "NPS +100<br>n=1<br>too few"]
    assert list(fig.data[0].x) == ["Jan 2026", "Feb 2026"]
    assert list(fig.data[0].marker.opacity) == [1.0, 0.35]
    assert len(advocacy.csat_trend(trend, THEME).data[0].x) == 1
    pipe = pd.DataFrame({"type": ["reference_call"], "asked": [2], "accepted": [1],
                         "completed": [1], "declined": [0]})
    fig = advocacy.ask_pipeline(pipe, THEME, lambda t: t.replace("_", " "))
    assert fig.data[0].y[0] == "reference call" and fig.data[0].customdata[0] == ["reference_call",
                                                                                  "asked"]
    feats = pd.DataFrame({"feature": ["api", "reports"], "adoption": [0.1, 0.6],
                          "gap": [True, False], "error_rate": [0.02, 0.01],
                          "error_rate_prior": [0.01, 0.01]})
    fig = behavior.adoption(feats, 0.2, THEME)
    assert list(fig.data[0].marker.color) == [BAND_COLORS["red"], "#2e86c1"]
    assert len(behavior.error_rates(feats, THEME).data) == 2
    stages = pd.DataFrame({"stage": ["closed_won"], "amount": [100.0], "opportunities": [1],
                           "weighted": [50.0], "median_age_days": [12.0]})
    assert expansion.stage_funnel(stages, THEME).data[0].y[0] == "Closed won"
    assert list(expansion.stage_aging(stages, THEME).data[0].text) == ["12 d"]


def test_renewal_and_quality_figures():
    per = pd.DataFrame({"period_start": pd.to_datetime(["2026-07-01"]), "arr_due": [100.0],
                        "expected": [90.0], "p10": [80.0], "p90": [95.0], "commit": [60.0],
                        "no_opportunity": [40.0]})
    fig = renewals.due_vs_expected(per, "quarter", THEME)
    assert list(fig.data[0].x) == ["Q3 2026"]
    assert list(fig.data[1].error_y.array) == [5.0] and list(fig.data[1].error_y.arrayminus) == [10.0]
    cats = renewals.by_category(per, "quarter", THEME)
    assert [t.name for t in cats.data] == ["Commit", "No renewal opportunity"]
    cal = quality.calibration({"churn": pd.DataFrame({"predicted": [0.1], "observed": [0.2]})},
                              THEME)
    assert cal.layout.xaxis.range == pytest.approx((0, 0.22))
    rates = pd.DataFrame({"group": ["green", "red", "unknown"], "rate": [0.01, 0.3, 0.5],
                          "n": [100, 10, 1]})
    fig = quality.band_churn(rates, 90, "AUC 0.8", THEME)
    assert list(fig.data[0].x) == ["Red", "Green"]  # bands in order, "unknown" left out


def test_retention_bridge_waterfall():
    b = {"start": 430.0, "new": 50.0, "expansion": 20.0, "contraction": 50.0, "churn": 100.0,
         "end": 350.0, "grr": 280 / 430, "nrr": 300 / 430}
    fig = portfolio.retention_bridge(b, "2025", lambda v: f"${v:,.0f}", THEME)
    w = fig.data[0]
    assert list(w.measure) == ["absolute", "relative", "relative", "relative", "relative",
                               "total"]
    assert list(w.y[:5]) == [430.0, 50.0, 20.0, -50.0, -100.0]  # losses drawn downwards
    assert list(w.text) == ["$430", "+$50", "+$20", "−$50", "−$100", "$350"]
    assert [c[0] for c in w.customdata] == [None, "new", "expansion", "contraction", "churn",
                                            None]
    assert "GRR 65.1%, NRR 69.8%" in fig.layout.title.text


def test_churn_reason_figures():
    by_reason = pd.DataFrame({"reason": ["competitor", "not given"], "events": [3, 1],
                              "arr_lost": [3000.0, 500.0]})
    fig = risk.churn_reasons(by_reason, lambda v: f"${v:,.0f}", THEME)
    assert list(fig.data[0].y) == ["Not given", "Competitor"]  # most ARR at the top
    assert list(fig.data[0].text) == ["$500 (1)", "$3,000 (3)"]
    assert fig.data[0].customdata[1][0] == "competitor"
    by_quarter = pd.DataFrame({"quarter": pd.to_datetime(["2025-01-01", "2025-01-01",
                                                          "2025-04-01"]),
                               "reason": ["budget", "competitor", "budget"], "events": [1, 2, 4]})
    fig = risk.reason_trend(by_quarter, THEME)
    assert [t.name for t in fig.data] == ["Budget", "Competitor"]
    assert list(fig.data[0].y) == [1, 4] and fig.data[1].customdata[0][0] == "competitor"


def test_survival_curves_figure():
    curves = pd.DataFrame({"segment": ["smb"] * 3, "months": [0.0, 2.0, 3.0],
                           "survival": [1.0, 0.75, 0.5], "lower": [1.0, 0.4, 0.2],
                           "upper": [1.0, 0.95, 0.8], "at_risk": [4, 4, 3]})
    fig = segmentation.survival_curves(curves, THEME)
    band_hi, band_lo, line = fig.data
    assert line.name == "SMB" and list(line.y) == [1.0, 0.75, 0.5] and line.line.shape == "hv"
    assert band_lo.fill == "tonexty" and list(band_lo.y) == [1.0, 0.4, 0.2]


def test_experiment_effects_mark_zero_the_band_and_the_colour_of_a_finding():
    from greendoor.charts import experiments as CX

    eff = pd.DataFrame({"name": ["Retention (14 days)", "Renewal"],
                        "retention_diff": [0.2, 0.01], "lo": [0.05, -0.04], "hi": [0.34, 0.06],
                        "boot_lo": [0.04, -0.05], "boot_hi": [0.36, 0.07]})
    fig = CX.retention_effects(eff, 0.05, Theme())
    band = fig.layout.shapes[0]
    assert (band.x0, band.x1) == (-5.0, 5.0)  # points, +/- the smallest effect worth finding
    diff = fig.data[1]
    assert list(diff.x) == [1.0, 20.0]  # reversed: the first arm on top
    assert list(diff.error_x.arrayminus) == pytest.approx([5.0, 15.0])
    # an interval above 0 is a finding (green); one across 0 is not (navy)
    assert diff.marker.color[1] != diff.marker.color[0]


def test_persona_figures_name_every_measure_and_leave_room_for_the_arr_labels():
    cent = pd.DataFrame([[1.2, -0.4], [-0.9, 0.3]], index=["Daily users", "Idle seats"],
                        columns=["active_days_30d", "seat_utilization"])
    fig = segmentation.persona_heatmap(cent, lambda c: f"long words for {c}", Theme())
    # on screen without hovering: the measures' short names
    assert list(fig.data[0].x) == ["Active days 30d", "Seat utilization"]
    assert fig.layout.xaxis.showticklabels is not False
    assert fig.data[0].customdata[1][0] == "long words for active_days_30d"  # the hover
    bench = pd.DataFrame({"group": ["Daily users", "Idle seats"], "accounts": [742, 403],
                          "arr": [39_495_924.0, 7_919_284.0]})
    bars = segmentation.persona_bars(bench, lambda v: f"${v / 1e6:.1f}M", Theme())
    assert bars.layout.xaxis.range[1] >= 742 * 1.5  # the longest bar's "$39.5M" fits


def test_active_users_count_from_zero_with_the_stickiness_on_its_own_round_ticks():
    weeks = pd.date_range("2026-03-01", periods=4, freq="7D")
    au = pd.DataFrame({"week_end": weeks, "dau": [7000.0] * 4, "wau": [17000.0] * 4,
                       "mau": [18000.0] * 4, "stickiness": [0.39] * 4})
    fig = behavior.active_users(au, THEME)
    assert fig.layout.yaxis.rangemode == "tozero"  # users: counts from zero, not from 6k
    y2 = fig.layout.yaxis2
    # its own auto ticks, no grid: on the left axis' grid it read 1 %, 6 %, 11 %, ...
    assert (y2.rangemode, y2.tickmode, y2.showgrid, y2.tickformat) == ("tozero", "auto",
                                                                       False, ".0%")
