"""Figures of the Expansion pipeline: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import BLUE, GREY, Theme, finish, labels


def stage_label(stage) -> str:
    """"Closed won" for ``closed_won``."""
    return str(stage).replace("_", " ").capitalize()


def stage_funnel(stages: pd.DataFrame, theme: Theme) -> go.Figure:
    """Open pipeline by stage. ``stages``: ``stage``, ``amount``, ``opportunities``,
    ``weighted``; ``customdata`` = [stage, deals, weighted]."""
    fig = go.Figure(go.Funnel(
        y=labels(stages["stage"].map(stage_label)), x=stages["amount"],
        customdata=stages[["stage", "opportunities", "weighted"]].to_numpy(),
        texttemplate="$%{x:,.0f}<br>%{customdata[1]} deals", marker_color=BLUE,
        hovertemplate="%{y}: $%{x:,.0f} in %{customdata[1]} deals, weighted "
                      "$%{customdata[2]:,.0f}<extra>click to list the deals</extra>"))
    return finish(fig, "Open expansion pipeline by stage", theme, height=380)


def stage_aging(stages: pd.DataFrame, theme: Theme) -> go.Figure:
    """Median days since created per stage. ``stages``: ``stage``,
    ``median_age_days``; ``customdata`` = stage."""
    fig = go.Figure(go.Bar(
        x=stages["median_age_days"], y=labels(stages["stage"].map(stage_label)),
        orientation="h", marker_color=GREY, customdata=stages[["stage"]].to_numpy(),
        text=stages["median_age_days"].map(lambda v: f"{v:.0f} d"), textposition="outside",
        cliponaxis=False,
        hovertemplate="%{y}: median age %{x:.0f} days<extra>click to list the deals</extra>"))
    fig.update_yaxes(autorange="reversed")
    return finish(fig, "Stage aging (median days since created)", theme, height=380)
