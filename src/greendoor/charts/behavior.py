"""Figures of Behavior: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import (
    BAND_COLORS,
    BLUE,
    GREY,
    NAVY,
    ORANGE,
    Theme,
    finish,
    labels,
    percent_axis,
)
from greendoor.labels import human


def active_users(au: pd.DataFrame, theme: Theme) -> go.Figure:
    """DAU, WAU, MAU and stickiness (right axis) by week. ``au``: ``week_end``, ``dau``,
    ``wau``, ``mau``, ``stickiness``."""
    fig = go.Figure()
    for col, name, color in (("mau", "MAU", GREY), ("wau", "WAU", BLUE), ("dau", "DAU", NAVY)):
        fig.add_scatter(x=au["week_end"], y=au[col], name=name, mode="lines",
                        line=dict(color=color, width=3))
    fig.add_scatter(x=au["week_end"], y=au["stickiness"], name="Stickiness (right axis)",
                    yaxis="y2", mode="lines", line=dict(color=ORANGE, dash="dot"))
    # both axes from zero (users are counts), the right one with its own round ticks and
    # no grid of its own (ticks placed on the left axis' grid read 1 %, 6 %, 11 % ...)
    fig.update_layout(yaxis=dict(rangemode="tozero"),
                      yaxis2=dict(overlaying="y", side="right", tickformat=".0%",
                                  rangemode="tozero", tickmode="auto", nticks=6,
                                  showgrid=False))
    return finish(fig, "Active users by week", theme, height=360, legend_below=True)


def adoption(features: pd.DataFrame, gap: float, theme: Theme) -> go.Figure:
    """Share of active accounts using each feature in 30 days; adoption gaps (below
    ``gap``) in red. ``features``: ``feature``, ``adoption``, ``gap``; ``customdata`` =
    feature."""
    d = features.sort_values("adoption")
    fig = go.Figure(go.Bar(
        x=d["adoption"], y=labels(d["feature"].map(human)), orientation="h",
        customdata=d[["feature"]].to_numpy(),
        marker_color=[BAND_COLORS["red"] if g else BLUE for g in d["gap"]],
        text=d["adoption"].map(lambda v: f"{v:.0%}"), textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.0%} of active accounts<extra>click to list accounts</extra>"))
    fig.add_vline(x=gap, line_dash="dot", line_color=BAND_COLORS["red"])
    fig.update_xaxes(range=[0, 1.1])
    return finish(percent_axis(fig, "x"), "Share of active accounts using each feature (30 days)",
                  theme, height=420)


def error_rates(features: pd.DataFrame, theme: Theme) -> go.Figure:
    """Errors per event by feature, last 30 days and the 30 before. ``features``:
    ``feature``, ``error_rate``, ``error_rate_prior``; ``customdata`` = feature."""
    d = features.sort_values("error_rate")
    fig = go.Figure()
    for col, name, color in (("error_rate", "Last 30 days", BAND_COLORS["red"]),
                             ("error_rate_prior", "30 days before", "#f5b7b1")):
        fig.add_bar(x=d[col], y=labels(d["feature"].map(human)), orientation="h", name=name,
                    marker_color=color, customdata=d[["feature"]].to_numpy(),
                    hovertemplate="%{y}: %{x:.2%} errors per event"
                                  "<extra>click to list accounts</extra>")
    fig.update_layout(barmode="group")
    return finish(percent_axis(fig, "x", 1), "Error rate by feature (errors / events)", theme,
                  height=420, legend_below=True)


def cohort_heatmap(cohorts: pd.DataFrame, theme: Theme) -> go.Figure:
    """Share of each signup month's accounts with usage, by months since signup.
    ``cohorts``: ``cohort`` (date), ``age`` (months), ``retention`` (0-1), ``size``;
    ``customdata`` = cohort date (ISO)."""
    piv = cohorts.pivot_table(index="cohort", columns="age", values="retention")
    size = cohorts.groupby("cohort")["size"].first()
    fig = go.Figure(go.Heatmap(
        z=piv.to_numpy(), x=[f"M{a}" for a in piv.columns],
        y=[f"{c:%b %Y} ({size[c]})" for c in piv.index], colorscale="Blues", zmin=0, zmax=1,
        customdata=[[str(c)[:10]] * len(piv.columns) for c in piv.index],
        hovertemplate="%{y}, %{x}: %{z:.0%} active<extra>click to list the cohort</extra>"))
    fig.update_yaxes(autorange="reversed")
    return finish(fig, "Share of each signup month's accounts with usage, by months since "
                  "signup", theme, height=max(360, 24 * len(piv)))
