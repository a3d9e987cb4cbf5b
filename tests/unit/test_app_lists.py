"""app.lists: shares shown as whole percentages ("27 %", not "27.27%")."""

import pandas as pd
import streamlit as st

from app import lists


def test_percent_points_scales_only_the_percentage_columns():
    frame = pd.DataFrame({"p": [0.2727, None], "arr": [1000.4, 2.6], "q": [0.5, 0.25]})
    config = {"p": lists.pct_col("P(renew)"), "arr": lists.money_col("ARR ($)"),
              "q": st.column_config.NumberColumn("Q", format="%.2f"),
              "missing": lists.pct_col("Not in the frame"), "label": "Label"}
    out = lists.percent_points(frame, config)
    assert out["p"].iloc[0] == 27.27 and pd.isna(out["p"].iloc[1])  # 0.2727 × 100
    assert out["arr"].tolist() == [1000.0, 3.0]  # whole dollars: no "1,000.4"
    assert out["q"].tolist() == [0.5, 0.25]
    assert frame["p"].iloc[0] == 0.2727  # the caller's frame is not changed
    assert config["p"]["type_config"]["format"] == "%.0f%%"  # drawn as "27%"
    assert lists.pct_col("MAPE", decimals=1)["type_config"]["format"] == "%.1f%%"


def test_percent_points_without_percentages_returns_the_frame_itself():
    frame = pd.DataFrame({"arr": [1.0]})
    assert lists.percent_points(frame, {"arr": st.column_config.NumberColumn("ARR")}) is frame


def test_humanize_shows_codes_in_words_and_leaves_the_rest():
    frame = pd.DataFrame({"segment": ["mid_market", None], "forecast_category": ["no_opportunity", "commit"],
                          "band": ["red", "green"], "arr": [1.0, 2.0], "note": ["x", None],
                          "p": [None, None]})
    out = lists.humanize(frame)
    assert out["segment"].tolist() == ["Mid-market", "—"] and out["note"].tolist() == ["x", "—"]
    assert "p" not in out  # no value at all: left out
    assert out["forecast_category"].tolist() == ["No renewal opportunity", "Commit"]
    assert out["band"].tolist() == ["red", "green"] and frame["segment"].iloc[0] == "mid_market"
