"""Figures of Account 360: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import BAND_COLORS, NAVY, SKY, Theme, finish


def health_history(history: pd.DataFrame, theme: Theme) -> go.Figure:
    """Health score per snapshot over the health bands in force. ``history``:
    ``as_of``, ``health_score``."""
    fig = go.Figure()
    for band, lo, hi in theme.bands():
        fig.add_hrect(y0=lo, y1=hi, fillcolor=BAND_COLORS[band], opacity=0.08, line_width=0)
    fig.add_trace(go.Scatter(x=pd.to_datetime(history["as_of"]), y=history["health_score"],
                             mode="lines+markers", line=dict(color=NAVY, width=3), name="Health",
                             hovertemplate="%{x|%d %b %Y}: %{y:.0f}<extra></extra>"))
    fig.update_yaxes(range=[0, 100])
    return finish(fig, "Health history (weekly snapshots)", theme, height=300)


def weekly_usage(usage: pd.DataFrame, theme: Theme) -> go.Figure:
    """Events (bars) and active users (line, right axis) per week. ``usage``: ``week``,
    ``events``, ``active_users``."""
    week = pd.to_datetime(usage["week"])
    fig = go.Figure(go.Bar(x=week, y=usage["events"], name="Events", marker_color=SKY))
    fig.add_trace(go.Scatter(x=week, y=usage["active_users"], name="Active users", yaxis="y2",
                             line=dict(color=NAVY, width=3)))
    fig.update_layout(yaxis2=dict(overlaying="y", side="right", rangemode="tozero"))
    return finish(fig, "Usage per week (last 12 months)", theme, height=300)


def health_components(components: pd.DataFrame, theme: Theme) -> go.Figure:
    """The three health components of one snapshot as horizontal bars over the bands in
    force. ``components``: ``component`` (engagement, sentiment, growth), ``score`` (0-100,
    NaN when unknown: no bar, labelled "unknown")."""
    score = pd.to_numeric(components["score"], errors="coerce")
    text = [f"{v:.0f}" if pd.notna(v) else "unknown" for v in score]
    color = [BAND_COLORS[b] for b in _bands(score, theme)]
    fig = go.Figure(go.Bar(x=score.fillna(0), y=[c.capitalize() for c in components["component"]],
                           orientation="h", marker_color=color, text=text,
                           textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: %{text}<extra></extra>"))
    fig.update_xaxes(range=[0, 110], title_text="Score (0-100)")
    fig.update_yaxes(autorange="reversed")
    return finish(fig, "Health by component", theme, height=240)


def _bands(score: pd.Series, theme: Theme) -> list[str]:
    return ["green" if v >= theme.green else "yellow" if v >= theme.yellow else "red"
            for v in score.fillna(0)]
