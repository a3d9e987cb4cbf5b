"""Figures of Advocacy: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import BLUE, OUTCOME_COLORS, Theme, finish, labels, percent_axis

#: Fewest answers in a month for its bar to be drawn as a share (else marked "too few").
MIN_ANSWERS = 10


def nps_mix(trend: pd.DataFrame, theme: Theme) -> go.Figure:
    """Promoters, passives and detractors by month as shares of the month's answers.
    ``trend``: ``month``, ``nps``, ``responses``, ``promoters``, ``passives``,
    ``detractors``; ``customdata`` = category. A month with fewer than
    :data:`MIN_ANSWERS` answers is drawn pale and labelled as such."""
    t = trend.dropna(subset=["nps"])
    few = t["responses"] < MIN_ANSWERS
    x = [f"{m:%b %Y}" for m in t["month"]]
    fig = go.Figure()
    for month, n, r, f in zip(x, t["nps"], t["responses"], few, strict=True):
        fig.add_annotation(x=month, y=1.0, yanchor="bottom", showarrow=False,
                           text=f"NPS {n:+.0f}<br>n={r}" + ("<br>too few" if f else ""))
    for col, name in (("promoters", "Promoters"), ("passives", "Passives"),
                      ("detractors", "Detractors")):
        fig.add_bar(x=x, y=t[col] / t["responses"], name=name,
                    marker=dict(color=OUTCOME_COLORS[col],
                                opacity=[0.35 if f else 1.0 for f in few]),
                    customdata=[[col[:-1]]] * len(t),
                    hovertemplate=f"{name}: %{{y:.0%}}<extra>click to list accounts</extra>")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(tickangle=0)
    fig = percent_axis(fig)
    fig.update_yaxes(range=[0, 1.3], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0])
    return finish(fig, "NPS mix by month (months with answers)", theme,
                  height=420, legend_below=True)


def csat_trend(trend: pd.DataFrame, theme: Theme) -> go.Figure:
    """Mean CSAT (1-5) by month. ``trend``: ``month``, ``csat``, ``csat_responses``,
    ``csat_satisfied``."""
    t = trend.dropna(subset=["csat"])
    fig = go.Figure(go.Scatter(
        x=t["month"], y=t["csat"], mode="lines+markers", line=dict(color=BLUE, width=3),
        customdata=t[["csat_responses", "csat_satisfied"]].to_numpy(),
        hovertemplate="%{x|%b %Y}: %{y:.2f} (%{customdata[0]} answers, "
                      "%{customdata[1]:.0%} 4-5)<extra></extra>"))
    fig.update_yaxes(range=[1, 5])
    return finish(fig, "CSAT by month (1-5)", theme, height=380)


def ask_pipeline(pipe: pd.DataFrame, theme: Theme, type_label=str) -> go.Figure:
    """Advocacy asks by activity type and status. ``pipe``: ``type`` and one column per
    status; ``customdata`` = [type, status]. ``type_label`` names a type in words."""
    fig = go.Figure()
    for status in ("asked", "accepted", "completed", "declined"):
        fig.add_bar(y=labels(pipe["type"].map(type_label)), x=pipe[status],
                    name=status.capitalize(),
                    orientation="h", marker_color=OUTCOME_COLORS[status],
                    customdata=[[t, status] for t in pipe["type"]],
                    hovertemplate="%{y}, " + status + ": %{x}<extra>click to list</extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(autorange="reversed")
    return finish(fig, "Asks by activity type and status", theme, height=380, legend_below=True)


def ladder(counts: pd.DataFrame, theme: Theme) -> go.Figure:
    """Accounts on each rung of the advocacy ladder, the top rung on top, and how many
    of them are ready to move up. ``counts``: ``rung, level, accounts, ready``
    (:func:`greendoor.analytics.advocacy.ladder_counts`). A click selects a rung
    (customdata: level)."""
    c = counts.sort_values("level")
    fig = go.Figure()
    fig.add_trace(go.Bar(y=c["rung"], x=c["accounts"] - c["ready"], orientation="h",
                         name="on the rung", marker_color=BLUE, customdata=c[["level"]],
                         hovertemplate="%{y}: %{x} not ready<extra></extra>"))
    fig.add_trace(go.Bar(y=c["rung"], x=c["ready"], orientation="h", name="ready to move up",
                         marker_color=OUTCOME_COLORS["completed"],
                         customdata=c[["level"]], text=[f"{r} ready" if r else "" for r in
                                                        c["ready"]],
                         textposition="outside", cliponaxis=False,
                         hovertemplate="%{y}: %{x} ready to move up<extra></extra>"))
    fig.update_layout(barmode="stack")
    top = float(c["accounts"].max()) if len(c) else 1.0
    fig.update_xaxes(title="accounts", range=[0, max(top, 1.0) * 1.35])
    return finish(fig, "Accounts on each rung", theme, height=380, legend_below=True)


def evangelism_funnel(funnel: pd.DataFrame, theme: Theme) -> go.Figure:
    """Accounts per evangelism stage, first stage on top, with what each stage brought
    (completed activities in the year). ``funnel``: ``stage, accounts, completed_12m``
    (:func:`greendoor.analytics.advocacy.evangelism_funnel`). A click selects a stage
    (customdata: stage)."""
    c = funnel.iloc[::-1]
    fig = go.Figure(go.Bar(
        y=[s.capitalize() for s in c["stage"]], x=c["accounts"], orientation="h",
        marker_color=OUTCOME_COLORS["completed"], customdata=c[["stage"]],
        text=[f"{n:,}" for n in c["accounts"]], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x} accounts, %{customdata[1]:,} activities done in 12 "
                      "months<extra></extra>"))
    fig.data[0].customdata = c[["stage", "completed_12m"]].to_numpy()
    top = float(c["accounts"].max()) if len(c) else 1.0
    fig.update_xaxes(title="accounts", range=[0, max(top, 1.0) * 1.25])
    return finish(fig, "Accounts per stage", theme, height=320)


def mentions_monthly(month: pd.DataFrame, theme: Theme) -> go.Figure:
    """Mentions per month by tone (negative, neutral, positive stacked), from
    :func:`greendoor.analytics.mentions.monthly`. A click selects a month and tone
    (customdata: month, tone)."""
    fig = go.Figure()
    colors = {"negative": OUTCOME_COLORS["detractors"], "neutral": OUTCOME_COLORS["passives"],
              "positive": OUTCOME_COLORS["promoters"]}
    for tone in ("negative", "neutral", "positive"):
        fig.add_trace(go.Bar(x=month["month"], y=month[tone], name=tone, marker_color=colors[tone],
                             customdata=[[str(m.date()), tone] for m in month["month"]],
                             hovertemplate="%{x|%b %Y}: %{y} " + tone + "<extra></extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(tickformat="%b %Y")
    fig.update_yaxes(title="mentions")
    return finish(fig, "Mentions per month, by tone", theme, height=340)
