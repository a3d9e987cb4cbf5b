"""Figures of the Renewal forecast: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import (
    BAND_COLORS,
    BLUE,
    GREY,
    NAVY,
    ORANGE,
    OUTCOME_COLORS,
    Theme,
    finish,
    money_axis,
    percent_axis,
)

CATEGORIES = ("commit", "best_case", "pipeline", "omitted", "no_opportunity")
CATEGORY_LABELS = {"commit": "Commit", "best_case": "Best case", "pipeline": "Pipeline",
                   "omitted": "Omitted", "no_opportunity": "No renewal opportunity",
                   "unknown": "Not known at the date"}


def period_label(start: pd.Timestamp, period: str) -> str:
    """"Q3 2026" or "Aug 2026"."""
    return f"Q{(start.month - 1) // 3 + 1} {start.year}" if period != "month" else f"{start:%b %Y}"


def due_vs_expected(per: pd.DataFrame, period: str, theme: Theme) -> go.Figure:
    """ARR due and expected renewed ARR (P10-P90 bars) per period. ``per``:
    ``period_start``, ``arr_due``, ``expected``, ``p10``, ``p90``; ``customdata`` =
    period start (ISO)."""
    x = [period_label(p, period) for p in per["period_start"]]
    cd = per[["period_start"]].astype(str).to_numpy()
    fig = go.Figure()
    fig.add_bar(x=x, y=per["arr_due"], name="ARR due", marker_color=GREY, customdata=cd,
                hovertemplate="%{x}: $%{y:,.0f} due<extra>click to list</extra>")
    fig.add_bar(x=x, y=per["expected"], name="Expected renewed", marker_color=NAVY,
                error_y=dict(type="data", symmetric=False, array=per["p90"] - per["expected"],
                             arrayminus=per["expected"] - per["p10"]), customdata=cd,
                hovertemplate="%{x}: $%{y:,.0f} expected (P10-P90 bars)"
                              "<extra>click to list</extra>")
    fig.update_layout(barmode="overlay")
    return finish(money_axis(fig), f"Renewals by {period}: due vs expected (P10-P90)", theme,
                  height=380, legend_below=True)


def by_category(per: pd.DataFrame, period: str, theme: Theme) -> go.Figure:
    """ARR due per forecast category and period (columns named as :data:`CATEGORIES`);
    ``customdata`` = [period start, category]."""
    x = [period_label(p, period) for p in per["period_start"]]
    fig = go.Figure()
    for c in (*CATEGORIES, "unknown"):
        if c in per:
            fig.add_bar(x=x, y=per[c], name=CATEGORY_LABELS[c],
                        marker_color=OUTCOME_COLORS.get(c, "#d5d8dc"),
                        customdata=[[str(p), c] for p in per["period_start"]],
                        hovertemplate=f"{CATEGORY_LABELS[c]}: $%{{y:,.0f}}"
                                      "<extra>click to list</extra>")
    fig.update_layout(barmode="stack")
    return finish(money_axis(fig), "ARR due by forecast category", theme, height=380,
                  legend_below=True)


def history_and_forecast(actual: pd.DataFrame, forecast: pd.DataFrame, title: str,
                         percent: bool, theme: Theme) -> go.Figure:
    """A series' history and forecast with its P10-P90 band. ``actual``: ``ds``, ``y``;
    ``forecast``: ``ds``, ``yhat``, ``yhat_lower``, ``yhat_upper``, ``model``."""
    fig = go.Figure()
    fig.add_scatter(x=actual["ds"], y=actual["y"], name="Actual", mode="lines+markers",
                    line=dict(color=NAVY, width=3))
    if len(forecast):
        fig.add_scatter(x=pd.concat([forecast["ds"], forecast["ds"][::-1]]),
                        y=pd.concat([forecast["yhat_upper"], forecast["yhat_lower"][::-1]]),
                        fill="toself", fillcolor="rgba(46,134,193,0.2)", line=dict(width=0),
                        name="P10-P90", hoverinfo="skip")
        fig.add_scatter(x=forecast["ds"], y=forecast["yhat"],
                        name=f"Forecast ({forecast['model'].iloc[0]})", mode="lines+markers",
                        line=dict(color=BLUE, dash="dash"))
    fig = percent_axis(fig) if percent else money_axis(fig)
    return finish(fig, title, theme, height=400, legend_below=True)


def past_quarters(past: pd.DataFrame, theme: Theme) -> go.Figure:
    """Forecast made at each quarter's start (P10-P90 bars) vs renewed ARR. ``past``:
    ``period_start``, ``expected``, ``p10``, ``p90``, ``actual``."""
    x = [period_label(p, "quarter") for p in past["period_start"]]
    fig = go.Figure()
    fig.add_bar(x=x, y=past["expected"], name="Forecast at quarter start", marker_color=BLUE,
                error_y=dict(type="data", symmetric=False, array=past["p90"] - past["expected"],
                             arrayminus=past["expected"] - past["p10"]))
    fig.add_bar(x=x, y=past["actual"], name="Actually renewed",
                marker_color=BAND_COLORS["green"])
    return finish(money_axis(fig), "Renewed ARR: forecast made at each quarter's start vs "
                  "actual", theme, height=340, legend_below=True)


#: How each way of forecasting is drawn in the accuracy chart.
METHOD_STYLE = {"model": (NAVY, "solid"), "calls": (BLUE, "solid"), "commit": (GREY, "dot"),
                "constant": (ORANGE, "dash")}


def call_accuracy(weekly: pd.DataFrame, labels: dict, theme: Theme) -> go.Figure:
    """Absolute percentage error of each forecast by week of one quarter (week 0 = Day 1),
    with the ±5 % and ±10 % bands. ``weekly``: ``week_no, method, ape`` of one quarter and
    basis; ``labels``: method -> legend text. The model is a single Day-1 point."""
    fig = go.Figure()
    for y, text in ((0.05, "±5 %"), (0.10, "±10 %")):
        fig.add_hline(y=y, line=dict(color=GREY, width=1, dash="dot"), annotation_text=text,
                      annotation_position="top left")
    for method, g in weekly.groupby("method", sort=False):
        color, dash = METHOD_STYLE.get(method, (GREY, "solid"))
        fig.add_trace(go.Scatter(x=g["week_no"], y=g["ape"], name=labels.get(method, method),
                                 mode="lines+markers" if len(g) > 1 else "markers",
                                 marker=dict(size=11 if len(g) == 1 else 6, color=color),
                                 line=dict(color=color, dash=dash, width=3),
                                 hovertemplate="week %{x}: %{y:.1%} off<extra></extra>"))
    fig.update_xaxes(title_text="Week of the quarter (0 = Day 1)", dtick=1)
    fig.update_yaxes(title_text="|forecast − actual| / actual", rangemode="tozero")
    return finish(percent_axis(fig), "How far each forecast was off, week by week", theme,
                  height=380, legend_below=True)
