"""Figures of the team view: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import BAND_COLORS, GREY, SKY, Theme, finish, labels, percent_axis

#: Bar colour of each load status.
STATUS_COLORS = {"overloaded": BAND_COLORS["red"], "ok": SKY,
                 "can take more": BAND_COLORS["green"]}


def utilisation(summary: pd.DataFrame, overloaded: float, underloaded: float,
                theme: Theme) -> go.Figure:
    """Each CSM's load as a share of their hours (bars, coloured by status) with the
    overloaded and underloaded shares as lines. ``summary``: ``csm_owner, utilisation,
    load_hours, accounts, status`` (:func:`greendoor.analytics.team.team`)."""
    df = summary.sort_values("utilisation")
    fig = go.Figure(go.Bar(
        x=df["utilisation"], y=labels(df["csm_owner"]), orientation="h",
        marker_color=[STATUS_COLORS.get(s, GREY) for s in df["status"]],
        text=[f"{u:.0%}" for u in df["utilisation"]], textposition="outside", cliponaxis=False,
        customdata=df[["csm_owner", "load_hours", "accounts"]].to_numpy(),
        hovertemplate="%{customdata[0]}: %{x:.0%} of their hours (%{customdata[1]:.0f} h a "
                      "month, %{customdata[2]} accounts)<extra>click to list the accounts"
                      "</extra>"))
    for x, text in ((overloaded, "overloaded"), (underloaded, "can take more")):
        fig.add_vline(x=x, line=dict(color=GREY, dash="dot"), annotation_text=text,
                      annotation_position="top")
    fig.update_xaxes(title_text="Load / hours a month", rangemode="tozero")
    return finish(percent_axis(fig, "x"), "CSM load against capacity", theme,
                  height=120 + 34 * len(df))
