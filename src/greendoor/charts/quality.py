"""Figures of Model quality: frame in, figure out, no queries."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import BAND_COLORS, BAND_ORDER, BLUE, GREY, NAVY, Theme, finish

MODEL_COLORS = {"churn": BAND_COLORS["red"], "expansion": BAND_COLORS["green"], "renewal": NAVY}


def calibration(tables: dict[str, pd.DataFrame], theme: Theme) -> go.Figure:
    """Predicted vs observed rate per decile, one line per model. ``tables``: model ->
    frame with ``predicted`` and ``observed`` (0-1)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                             line=dict(dash="dot", color=GREY)))
    top = 0.05
    for kind, cal in tables.items():
        if len(cal):
            fig.add_trace(go.Scatter(x=cal["predicted"], y=cal["observed"],
                                     mode="lines+markers", name=kind,
                                     line=dict(color=MODEL_COLORS.get(kind, BLUE), width=3)))
            top = max(top, float(cal["observed"].max()), float(cal["predicted"].max()))
    rng = [0, min(1, top * 1.1)]
    fig.update_xaxes(title="predicted", range=rng, tickformat=".0%")
    fig.update_yaxes(title="observed", range=rng, tickformat=".0%")
    return finish(fig, "Calibration: predicted vs observed rate (test set, deciles)", theme,
                  height=420)


def band_churn(rates: pd.DataFrame, horizon_days: int, auc_words: str,
               theme: Theme) -> go.Figure:
    """Churn rate within the horizon per health band. ``rates``: ``group`` (band),
    ``rate``, ``n``."""
    r = rates[rates["group"].isin(BAND_ORDER)].copy()
    r["order"] = r["group"].map({b: i for i, b in enumerate(BAND_ORDER)})
    r = r.sort_values("order")
    fig = go.Figure(go.Bar(x=r["group"].str.capitalize(), y=r["rate"],
                           marker_color=[BAND_COLORS[g] for g in r["group"]],
                           text=[f"{v:.1%} (n={n:,})" for v, n in zip(r["rate"], r["n"],
                                                                       strict=True)],
                           textposition="outside", cliponaxis=False))
    fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(title_text=auc_words)  # under the bars: the title stays one line
    return finish(fig, f"Churn within {horizon_days} days by health band", theme, height=420)
