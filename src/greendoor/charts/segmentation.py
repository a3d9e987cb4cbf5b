"""Figures of Segmentation: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from greendoor.charts.theme import (
    BAND_COLORS,
    BLUE,
    GREY,
    INK,
    NAVY,
    Theme,
    finish,
    labels,
    percent_axis,
)
from greendoor.labels import human
from greendoor.text import plot_text


def retention_bars(bench: pd.DataFrame, theme: Theme) -> go.Figure:
    """NRR and GRR per rule segment. ``bench``: ``group``, ``nrr``, ``grr``;
    ``customdata`` = group."""
    g = [x.replace(" · ", "<br>") for x in labels(bench["group"].map(human))]  # one part a line
    cd = bench[["group"]].to_numpy()
    fig = go.Figure(go.Bar(x=g, y=bench["nrr"], marker_color=BLUE, customdata=cd, name="NRR",
                           hovertemplate="%{x}: NRR %{y:.0%}<extra>click to list accounts</extra>"))
    fig.add_bar(x=g, y=bench["grr"], marker_color=NAVY, name="GRR", customdata=cd,
                hovertemplate="%{x}: GRR %{y:.0%}<extra>click to list accounts</extra>")
    fig.update_layout(barmode="group")
    fig.update_xaxes(tickangle=0)
    return finish(percent_axis(fig), "Retention by rule segment (trailing 12 months)", theme,
                  height=380, legend_below=True)


def persona_bars(bench: pd.DataFrame, money, theme: Theme) -> go.Figure:
    """Accounts per persona with their ARR. ``bench``: ``group``, ``accounts``, ``arr``;
    ``money`` formats a dollar amount; ``customdata`` = persona."""
    fig = go.Figure(go.Bar(x=bench["accounts"], y=labels(bench["group"]), orientation="h",
                           marker_color=NAVY, customdata=bench[["group"]].to_numpy(),
                           text=bench["arr"].map(money), textposition="outside",
                           cliponaxis=False,
                           hovertemplate="%{y}: %{x} accounts, %{text} ARR"
                                         "<extra>click to list accounts</extra>"))
    fig.update_yaxes(autorange="reversed")
    # room right of the longest bar for its ARR label (cliponaxis alone leaves it cut
    # at the figure's edge)
    fig.update_xaxes(range=[0, float(bench["accounts"].max() or 1) * 1.5])
    return finish(fig, "Accounts per persona", theme, height=320)


def persona_heatmap(centroids: pd.DataFrame, measure_label, theme: Theme) -> go.Figure:
    """Each persona's centroid in standard deviations from the mean. ``centroids``:
    personas x measures (feature names); ``measure_label`` describes a measure in words
    (the hover). Columns are named by :func:`greendoor.labels.human`, slanted so that
    seven fit in half a page, so a projector shows which measure each is without
    hovering."""
    names = labels(human(c) for c in centroids.columns)
    words = [plot_text(measure_label(c)) for c in centroids.columns]
    fig = go.Figure(go.Heatmap(
        z=centroids.to_numpy(), x=names, y=labels(centroids.index), colorscale="RdBu",
        zmid=0, zmin=-2, zmax=2, customdata=[words] * len(centroids),
        hovertemplate="%{y}<br>%{customdata}: %{z:+.2f} SD from the mean<extra></extra>"))
    fig.update_xaxes(tickangle=-35, side="bottom")
    return finish(fig, "What sets each persona apart (centroid, SDs from the mean)", theme,
                  height=380)


def migration_sankey(flows: pd.DataFrame, title: str, theme: Theme) -> go.Figure:
    """Accounts moving between groups (bands or personas). ``flows``: ``source``,
    ``target``, ``accounts``, ``arr``."""
    sources, targets = sorted(set(flows["source"])), sorted(set(flows["target"]))
    names = sources + targets
    idx_s = {s: i for i, s in enumerate(sources)}
    idx_t = {t: len(sources) + i for i, t in enumerate(targets)}
    fig = go.Figure(go.Sankey(
        node=dict(label=labels(f"{x} ({'then' if i < len(sources) else 'now'})"
                               for i, x in enumerate(names)),
                  color=[BAND_COLORS.get(x, "#5d6d7e") for x in names], pad=18),
        textfont=dict(color=INK, size=theme.font),
        link=dict(source=flows["source"].map(idx_s), target=flows["target"].map(idx_t),
                  value=flows["accounts"], customdata=flows[["arr"]].to_numpy(),
                  hovertemplate="%{source.label} → %{target.label}: %{value} accounts, "
                                "$%{customdata[0]:,.0f} ARR<extra></extra>")))
    return finish(fig, title, theme, height=420)


def survival_curves(curves: pd.DataFrame, theme: Theme) -> go.Figure:
    """Customer survival by segment (Kaplan-Meier) with its pointwise 95 % interval.
    ``curves``: ``segment, months, survival, lower, upper, at_risk``."""
    fig = go.Figure()
    palette = [NAVY, BLUE, BAND_COLORS["yellow"], BAND_COLORS["green"], INK]
    for i, (seg, g) in enumerate(curves.groupby("segment", sort=True)):
        color = palette[i % len(palette)]
        name = human(seg)
        band = g.dropna(subset=["lower", "upper"])
        fig.add_scatter(x=band["months"], y=band["upper"], mode="lines", line_shape="hv",
                        line=dict(width=0, color=color), showlegend=False, hoverinfo="skip",
                        legendgroup=name)
        fig.add_scatter(x=band["months"], y=band["lower"], mode="lines", line_shape="hv",
                        line=dict(width=0, color=color), fill="tonexty", opacity=0.15,
                        showlegend=False, hoverinfo="skip", legendgroup=name)
        fig.add_scatter(x=g["months"], y=g["survival"], mode="lines", line_shape="hv",
                        name=name, legendgroup=name, line=dict(color=color, width=3),
                        customdata=g[["at_risk"]].to_numpy(),
                        hovertemplate=name + ", month %{x:.0f}: %{y:.0%} still customers "
                                      "(%{customdata[0]} at risk)<extra></extra>")
    fig.update_xaxes(title="Months since the first contract", rangemode="tozero")
    fig.update_yaxes(range=[0, 1.02])
    return finish(percent_axis(fig), "Customers still with us, by segment (95 % interval)", theme,
                  height=420, legend_below=True)



def cohort_curves(cohorts: pd.DataFrame, measure: str, theme: Theme) -> go.Figure:
    """Retention by signup cohort over the months since each account's first ARR: one line
    per cohort (the latest darkest), 100 % dotted. ``cohorts``: ``cohort`` (quarter
    start), ``age``, ``accounts`` and ``measure`` (``logo_retention`` or
    ``revenue_retention``, fractions)."""
    fig = go.Figure()
    groups = list(cohorts.groupby("cohort", sort=True))
    colors = sample_colorscale("Viridis", max(len(groups), 2), low=0.0, high=0.85)
    for (cohort, g), color in zip(groups, colors, strict=False):
        q = pd.Timestamp(cohort)
        name = f"{q.year} Q{q.quarter} ({int(g['accounts'].iloc[0])} accounts)"
        fig.add_scatter(x=g["age"], y=g[measure], mode="lines+markers", name=name,
                        line=dict(color=color, width=2.5), marker=dict(size=5, color=color),
                        hovertemplate=name + ", month %{x}: %{y:.0%}<extra></extra>")
    fig.add_hline(y=1.0, line=dict(color=GREY, width=1, dash="dot"))
    fig.update_xaxes(title_text="Months since the first ARR", dtick=3)
    title = ("Revenue retention by signup cohort (ARR kept, expansion included)"
             if measure == "revenue_retention" else "Logo retention by signup cohort")
    return finish(percent_axis(fig), title, theme, height=400, legend_below=True)
