"""Figures of Churn risk: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import BAND_COLORS, Theme, finish, labels


def driver_bars(drivers: pd.DataFrame, theme: Theme, top: int = 10) -> go.Figure:
    """How many queued accounts have each feature as a top driver. ``drivers``:
    ``feature``, ``description``, ``accounts`` (most first); ``customdata`` = feature."""
    d = drivers.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(
        x=d["accounts"], y=labels(d["description"]), orientation="h",
        customdata=d[["feature"]].to_numpy(), marker_color=BAND_COLORS["red"],
        text=d["accounts"], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x} accounts<extra>click to filter the queue</extra>"))
    fig.update_xaxes(title="Accounts (top driver)")
    return finish(fig, "What drives the risk", theme, height=420)
