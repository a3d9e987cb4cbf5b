"""Figures of Churn risk: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import BAND_COLORS, Theme, finish, labels, money_axis
from greendoor.labels import human


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


def churn_reasons(by_reason: pd.DataFrame, money, theme: Theme) -> go.Figure:
    """ARR lost by churn reason. ``by_reason``: ``reason, events, arr_lost`` (most first);
    ``money`` formats a dollar amount; ``customdata`` = reason."""
    d = by_reason.iloc[::-1]
    fig = go.Figure(go.Bar(
        x=d["arr_lost"], y=labels(d["reason"].map(human)), orientation="h",
        customdata=d[["reason"]].to_numpy(), marker_color=BAND_COLORS["red"],
        text=[f"{money(v)} ({n})" for v, n in zip(d["arr_lost"], d["events"], strict=True)],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{text}<extra>click to list these churns</extra>"))
    top = float(d["arr_lost"].max()) if len(d) else 0.0
    if top > 0:
        fig.update_xaxes(range=[0, top * 1.3])
    return finish(money_axis(fig, "x"), "ARR lost by reason (churns in the period)", theme,
                  height=360)


def reason_trend(by_quarter: pd.DataFrame, theme: Theme) -> go.Figure:
    """Churns per quarter stacked by reason. ``by_quarter``: ``quarter, reason, events``;
    ``customdata`` = reason."""
    fig = go.Figure()
    for reason, g in by_quarter.groupby("reason", sort=True):
        fig.add_bar(x=g["quarter"], y=g["events"], name=human(reason),
                    customdata=[[reason]] * len(g),
                    hovertemplate=f"{human(reason)}: %{{y}} churns<extra>%{{x|Q%q %Y}}</extra>")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(dtick="M3", tickformat="Q%q %Y")
    fig.update_yaxes(title="Churns")
    return finish(fig, "Churns per quarter by reason", theme, height=360, legend_below=True)



#: Names of the precursor measures on the heatmap.
PRECURSOR_LABELS = {"health_score": "Health", "engagement": "Engagement",
                    "sentiment": "Sentiment", "growth": "Growth"}


def reason_precursors(pre: pd.DataFrame, lead_days: int, theme: Theme) -> go.Figure:
    """Each churn reason (rows) by health measure (columns): the reason's median score
    ``lead_days`` or more before the churn, coloured by its gap to the book's median then
    (red below, green above; points). ``pre``: ``reason, measure, events, before, book,
    gap`` (:func:`greendoor.analytics.churn_risk.reason_precursors`)."""
    gap = pre.pivot(index="reason", columns="measure", values="gap")
    before = pre.pivot(index="reason", columns="measure", values="before")
    n = pre.groupby("reason")["events"].max()
    cols = [c for c in PRECURSOR_LABELS if c in gap.columns]
    gap, before = gap[cols], before[cols]
    rows = [f"{human(r)} ({n[r]})" for r in gap.index]
    text = [[f"{b:.0f} ({g:+.0f})" for b, g in zip(br, gr, strict=True)]
            for br, gr in zip(before.to_numpy(), gap.to_numpy(), strict=True)]
    lim = max(float(abs(gap.to_numpy()).max()), 1.0)
    fig = go.Figure(go.Heatmap(
        z=gap.to_numpy(), x=[PRECURSOR_LABELS[c] for c in cols], y=labels(rows), text=text,
        texttemplate="%{text}", zmin=-lim, zmax=lim, zmid=0,
        colorscale=[[0, BAND_COLORS["red"]], [0.5, "#f8f9f9"], [1, BAND_COLORS["green"]]],
        colorbar=dict(title="vs book (pts)"),
        hovertemplate="%{y}, %{x}: %{text}<extra>median score (gap to the book)</extra>"))
    fig.update_yaxes(autorange="reversed")
    return finish(fig, f"What the scores showed {lead_days}+ days before each reason "
                  "(median, and its gap to the book then)", theme,
                  height=140 + 48 * len(rows))
