"""Plotly figure factories for the portfolio views: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

SEGMENT_LABELS = {"enterprise": "Enterprise", "mid_market": "Mid-market", "smb": "SMB",
                  "unknown": "Unknown"}
SEGMENT_COLORS = {"enterprise": "#1f4e79", "mid_market": "#2e86c1", "smb": "#85c1e9",
                  "unknown": "#b0b0b0"}
FONT = dict(size=15)


def _layout(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    fig.update_layout(title=dict(text=title, font=dict(size=18)), height=height, font=FONT,
                      margin=dict(l=10, r=10, t=50, b=10), plot_bgcolor="white",
                      hoverlabel=dict(font_size=14))
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(gridcolor="#eeeeee")
    return fig


def segment_bars(df: pd.DataFrame, value: str, title: str, money: bool = False) -> go.Figure:
    """Horizontal bar per segment. ``df``: columns ``segment`` and ``value``.

    Each bar carries its segment in ``customdata`` so a selection names it.
    """
    d = df.copy()
    d["label"] = d["segment"].map(SEGMENT_LABELS).fillna(d["segment"])
    text = d[value].map(lambda v: f"${v / 1e6:,.1f}M" if money else f"{v:,.0f}")
    fig = go.Figure(go.Bar(
        x=d[value], y=d["label"], orientation="h", text=text, textposition="auto",
        marker_color=[SEGMENT_COLORS.get(s, "#888888") for s in d["segment"]],
        customdata=d[["segment"]].to_numpy(),
        hovertemplate="%{y}: %{text}<extra>click to list these accounts</extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    if money:
        fig.update_xaxes(tickprefix="$")
    return _layout(fig, title, height=260)


def arr_trend_line(df: pd.DataFrame) -> go.Figure:
    """ARR by month. ``df``: columns ``month``, ``arr``, ``accounts``."""
    fig = go.Figure(go.Scatter(
        x=df["month"], y=df["arr"], mode="lines+markers", line=dict(color="#1f4e79", width=3),
        customdata=df[["accounts"]].to_numpy(),
        hovertemplate="%{x|%b %Y}: $%{y:,.0f} ARR, %{customdata[0]} accounts<extra></extra>",
    ))
    fig.update_yaxes(tickprefix="$", rangemode="tozero")
    return _layout(fig, "ARR over time (as of each month start)")


BAND_COLORS = {"green": "#1e8449", "yellow": "#d4ac0d", "red": "#c0392b"}
BAND_ORDER = ("red", "yellow", "green")


def health_histogram(scores: pd.DataFrame) -> go.Figure:
    """Accounts per 10-point health bin, coloured by band. ``scores``: ``health_score``,
    ``band``. Each bar's ``customdata`` holds its band (a click filters by it)."""
    s = scores.dropna(subset=["health_score"])
    bins = (s["health_score"] // 10).clip(upper=9) * 10
    agg = s.assign(bin=bins).groupby(["bin", "band"]).size().reset_index(name="accounts")
    fig = go.Figure()
    for band in BAND_ORDER:
        d = agg[agg["band"] == band]
        fig.add_trace(go.Bar(x=d["bin"] + 5, y=d["accounts"], width=9.5, name=band.capitalize(),
                             marker_color=BAND_COLORS[band], customdata=d[["band"]].to_numpy(),
                             hovertemplate="health %{x:.0f}±5: %{y} accounts<extra>click to list</extra>"))
    fig.update_layout(barmode="stack", legend=dict(orientation="h", y=1.12))
    fig.update_xaxes(range=[0, 100], title="Health score")
    fig.update_yaxes(title="Accounts")
    return _layout(fig, "Health distribution")


def arr_by_band_segment(scores: pd.DataFrame) -> go.Figure:
    """ARR by segment, stacked by band. ``customdata`` = [band, segment] per bar."""
    agg = scores.groupby(["segment", "band"])["arr"].sum().reset_index()
    fig = go.Figure()
    for band in BAND_ORDER:
        d = agg[agg["band"] == band]
        fig.add_trace(go.Bar(
            x=d["segment"].map(SEGMENT_LABELS).fillna(d["segment"]), y=d["arr"],
            name=band.capitalize(), marker_color=BAND_COLORS[band],
            customdata=d[["band", "segment"]].to_numpy(),
            hovertemplate="%{x}, " + band + ": $%{y:,.0f}<extra>click to list</extra>"))
    fig.update_layout(barmode="stack", legend=dict(orientation="h", y=1.12))
    fig.update_yaxes(tickprefix="$")
    return _layout(fig, "ARR by health band and segment")
