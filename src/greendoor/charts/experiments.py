"""Figures of experiments of playbooks: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import BAND_COLORS, GREY, INK, NAVY, Theme, finish


def retention_effects(effects: pd.DataFrame, min_effect: float, theme: Theme) -> go.Figure:
    """Each arm's retention against the control, in points: the difference with its
    Newcombe interval (thick) and bootstrap interval (thin), zero marked, and the band of
    +/- ``min_effect`` (effects too small to matter) shaded. ``effects``: ``name,
    retention_diff, lo, hi, boot_lo, boot_hi`` (fractions) from
    :func:`greendoor.experiments.results`."""
    e = effects.iloc[::-1]
    pts = 100.0
    fig = go.Figure()
    fig.add_vrect(x0=-min_effect * pts, x1=min_effect * pts, fillcolor=GREY, opacity=0.15,
                  line_width=0)
    fig.add_vline(x=0, line=dict(color=INK, width=1))
    fig.add_trace(go.Scatter(
        x=e["retention_diff"] * pts, y=e["name"], mode="markers", name="bootstrap interval",
        marker=dict(color=GREY, size=1),
        error_x=dict(type="data", symmetric=False, color=GREY, thickness=1.5, width=6,
                     array=(e["boot_hi"] - e["retention_diff"]) * pts,
                     arrayminus=(e["retention_diff"] - e["boot_lo"]) * pts)))
    colors = [BAND_COLORS["green"] if lo > 0 else BAND_COLORS["red"] if hi < 0 else NAVY
              for lo, hi in zip(e["lo"], e["hi"], strict=True)]
    fig.add_trace(go.Scatter(
        x=e["retention_diff"] * pts, y=e["name"], mode="markers+text", name="difference",
        text=[f"{d * pts:+.1f}" for d in e["retention_diff"]], textposition="top center",
        marker=dict(color=colors, size=14),
        error_x=dict(type="data", symmetric=False, color=NAVY, thickness=4, width=0,
                     array=(e["hi"] - e["retention_diff"]) * pts,
                     arrayminus=(e["retention_diff"] - e["lo"]) * pts),
        hovertemplate="%{y}: %{x:+.1f} points<extra></extra>"))
    fig.update_xaxes(title="retention against the control (points)", zeroline=False)
    return finish(fig, "Effect on retention, with its interval", theme,
                  height=190 + 70 * len(e))
