"""Figures of Portfolio health: frame in, figure out, no queries.

Every clickable mark carries what it stands for in ``customdata``, so a page can list
the accounts behind a click.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import (
    BAND_COLORS,
    BAND_ORDER,
    NAVY,
    SEGMENT_COLORS,
    SEGMENT_LABELS,
    Theme,
    finish,
    labels,
    money_axis,
)

#: Width of a health-histogram bin (points).
BIN_WIDTH = 10


def segment_label(segment) -> str:
    """"Mid-market" for ``mid_market``; other values as given."""
    return SEGMENT_LABELS.get(segment, str(segment))


def segment_bars(df: pd.DataFrame, value: str, title: str, theme: Theme,
                 money: bool = False) -> go.Figure:
    """Horizontal bar per segment. ``df``: columns ``segment`` and ``value``. Each bar
    carries its segment in ``customdata``. Values are labelled outside the bar, so a thin
    bar never hides them."""
    d = df.copy()
    d["label"] = labels(d["segment"].map(segment_label))
    text = d[value].map(lambda v: f"${v / 1e6:,.1f}M" if money else f"{v:,.0f}")
    fig = go.Figure(go.Bar(
        x=d[value], y=d["label"], orientation="h", text=text, textposition="outside",
        cliponaxis=False, marker_color=[SEGMENT_COLORS.get(s, "#888888") for s in d["segment"]],
        customdata=d[["segment"]].to_numpy(),
        hovertemplate="%{y}: %{text}<extra>click to list these accounts</extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    top = float(d[value].max()) if len(d) else 0.0
    if top > 0:  # room for the label outside the longest bar
        fig.update_xaxes(range=[0, top * 1.25])
    if money:
        money_axis(fig, "x")
    return finish(fig, title, theme, height=260)


def arr_trend_line(df: pd.DataFrame, theme: Theme) -> go.Figure:
    """ARR by month. ``df``: columns ``month``, ``arr``, ``accounts``."""
    fig = go.Figure(go.Scatter(
        x=df["month"], y=df["arr"], mode="lines+markers", line=dict(color=NAVY, width=3),
        customdata=df[["accounts"]].to_numpy(),
        hovertemplate="%{x|%b %Y}: $%{y:,.0f} ARR, %{customdata[0]} accounts<extra></extra>",
    ))
    fig.update_yaxes(rangemode="tozero")
    return finish(money_axis(fig), "ARR over time (as of each month start)", theme)


def health_histogram(scores: pd.DataFrame, theme: Theme) -> go.Figure:
    """Accounts per 10-point health bin, coloured by band. ``scores``: ``health_score``,
    ``band``. Each bar's ``customdata`` holds ``[band, bin low, bin high]``: a click lists
    the accounts of that bar, not of the whole band."""
    s = scores.dropna(subset=["health_score"])
    lo = (s["health_score"] // BIN_WIDTH).clip(upper=100 // BIN_WIDTH - 1) * BIN_WIDTH
    agg = s.assign(lo=lo).groupby(["lo", "band"]).size().reset_index(name="accounts")
    agg["hi"] = agg["lo"] + BIN_WIDTH
    fig = go.Figure()
    for band in BAND_ORDER:
        d = agg[agg["band"] == band]
        fig.add_trace(go.Bar(
            x=d["lo"] + BIN_WIDTH / 2, y=d["accounts"], width=BIN_WIDTH * 0.95,
            name=band.capitalize(), marker_color=BAND_COLORS[band],
            customdata=d[["band", "lo", "hi"]].to_numpy(),
            hovertemplate="health %{customdata[1]:.0f}-%{customdata[2]:.0f}, " + band
                          + ": %{y} accounts<extra>click to list them</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(range=[0, 100], title=f"Health score ({theme.band_words()})")
    fig.update_yaxes(title="Accounts")
    return finish(fig, "Health distribution", theme)  # short: one line at 1600 px


def arr_by_band_segment(scores: pd.DataFrame, theme: Theme) -> go.Figure:
    """ARR by segment, stacked by band. ``customdata`` = [band, segment] per bar."""
    agg = scores.groupby(["segment", "band"])["arr"].sum().reset_index()
    fig = go.Figure()
    for band in BAND_ORDER:
        d = agg[agg["band"] == band]
        fig.add_trace(go.Bar(
            x=labels(d["segment"].map(segment_label)), y=d["arr"],
            name=band.capitalize(), marker_color=BAND_COLORS[band],
            customdata=d[["band", "segment"]].to_numpy(),
            hovertemplate="%{x}, " + band + ": $%{y:,.0f}<extra>click to list</extra>"))
    fig.update_layout(barmode="stack")
    return finish(money_axis(fig), "ARR by health band and segment", theme)


#: Retention bridge bars: label, kind (Plotly waterfall measure) and sign.
BRIDGE_BARS = (("start", "Start ARR", "absolute", 1), ("new", "New logos", "relative", 1),
               ("expansion", "Expansion", "relative", 1),
               ("contraction", "Contraction", "relative", -1),
               ("churn", "Churn", "relative", -1), ("end", "End ARR", "total", 1))


def retention_bridge(bridge: dict, period: str, money, theme: Theme) -> go.Figure:
    """Start ARR -> new -> expansion -> contraction -> churn -> end ARR as a waterfall.
    ``bridge``: :func:`greendoor.metrics.core.retention_bridge`'s dict; ``period`` names
    it in the title; ``money`` formats a dollar amount. Each movement bar carries its
    movement in ``customdata`` (start and end carry ``None``)."""
    keys = [k for k, *_ in BRIDGE_BARS]
    fig = go.Figure(go.Waterfall(
        x=[label for _, label, *_ in BRIDGE_BARS],
        measure=[m for *_, m, _ in BRIDGE_BARS],
        y=[bridge[k] * sign if m != "total" else 0 for k, _, m, sign in BRIDGE_BARS],
        text=[("−" if sign < 0 else "+" if m == "relative" else "") + money(bridge[k])
              for k, _, m, sign in BRIDGE_BARS],
        textposition="outside", cliponaxis=False,
        customdata=[[k if k in ("new", "expansion", "contraction", "churn") else None]
                    for k in keys],
        connector=dict(line=dict(color="#9aa5b1", width=1)),
        increasing=dict(marker=dict(color=BAND_COLORS["green"])),
        decreasing=dict(marker=dict(color=BAND_COLORS["red"])),
        totals=dict(marker=dict(color=NAVY)),
        hovertemplate="%{x}: %{text}<extra>click to list the accounts</extra>"))
    fig.update_yaxes(rangemode="tozero")
    title = f"ARR bridge, {period}: GRR {bridge['grr']:.1%}, NRR {bridge['nrr']:.1%}"
    return finish(money_axis(fig), title, theme, height=400)

