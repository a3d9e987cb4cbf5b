"""Figures of Onboarding and Value realization (issue 20): frame in, figure out, no queries."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go

from greendoor.charts.theme import BAND_COLORS, BLUE, GREY, INK, Theme, finish, money_axis

#: Onboarding statuses, worst first, with the band colour each borrows.
STATUS_COLORS = {"stuck": BAND_COLORS["red"], "behind": BAND_COLORS["yellow"],
                 "on track": BAND_COLORS["green"], "complete": BLUE}


def status_bars(plans: pd.DataFrame, theme: Theme) -> go.Figure:
    """Plans by onboarding phase and status (stacked). ``plans``: ``phase, status``;
    ``customdata`` = ``[status, phase]`` (a click lists those plans)."""
    phases = ["foundation", "integration", "realization", "after day 90"]
    fig = go.Figure()
    for status, colour in STATUS_COLORS.items():
        sub = plans[plans["status"] == status]
        n = [int((sub["phase"] == p).sum()) for p in phases]
        fig.add_bar(x=[p.capitalize() for p in phases], y=n, name=status.capitalize(),
                    marker_color=colour, customdata=[[status, p] for p in phases],
                    text=[v or "" for v in n], textposition="inside",
                    hovertemplate=f"{status}: %{{y}} plans<extra>click to list them</extra>")
    fig.update_layout(barmode="stack", uniformtext_minsize=11, uniformtext_mode="hide")
    fig.update_yaxes(title="plans")
    return finish(fig, "Onboardings by phase and status", theme, height=380, legend_below=True)


def gantt(ms: pd.DataFrame, as_of: dt.date, theme: Theme) -> go.Figure:
    """One plan's milestones as bars from start to due date, coloured by state (done,
    late, open), critical-path milestones outlined and marked; the as-of date as a line.
    ``ms``: ``name, phase, start_date, due_date, done_on, days_late, critical``."""
    m = ms.copy()
    m["start"] = pd.to_datetime(m["start_date"]).fillna(pd.to_datetime(m["due_date"]))
    m["end"] = pd.to_datetime(m["due_date"]) + pd.Timedelta(days=1)
    state = ["done" if pd.notna(d) else "late" if late > 0 else "open"
             for d, late in zip(m["done_on"], m["days_late"], strict=True)]
    colours = {"done": BAND_COLORS["green"], "late": BAND_COLORS["red"], "open": GREY}
    labels = [("★ " if c else "") + n for n, c in zip(m["name"], m["critical"], strict=True)]
    fig = go.Figure()
    for s in ("done", "late", "open"):
        idx = [i for i, x in enumerate(state) if x == s]
        if not idx:
            continue
        sub = m.iloc[idx]
        fig.add_bar(
            y=[labels[i] for i in idx], x=(sub["end"] - sub["start"]).dt.days * 86_400_000,
            base=sub["start"], orientation="h", name={"done": "Done", "late": "Late",
                                                       "open": "Open"}[s],
            marker=dict(color=colours[s], line=dict(
                color=INK, width=[3 if c else 0 for c in sub["critical"]])),
            customdata=list(zip(sub["phase"].str.capitalize(),
                                sub["done_on"].dt.strftime("%-d %b %Y").fillna("not yet"),
                                sub["days_late"], strict=True)),
            hovertemplate="%{y}<br>%{customdata[0]} · due %{x|%-d %b %Y}<br>done: "
                          "%{customdata[1]} · days late: %{customdata[2]}<extra></extra>")
    fig.add_vline(x=pd.Timestamp(as_of).value / 1e6, line=dict(color=INK, dash="dot"))
    fig.add_annotation(x=pd.Timestamp(as_of), y=0, yref="paper", text=" as of", showarrow=False,
                       xanchor="left", yanchor="bottom", font=dict(color=INK))
    fig.update_xaxes(type="date")
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    fig.update_layout(barmode="overlay")
    return finish(fig, "Plan timeline (★ and outline: critical path)", theme,
                  height=max(320, 46 * len(m) + 140), legend_below=True)


def value_trajectory(traj: pd.DataFrame, theme: Theme) -> go.Figure:
    """Realized against planned value (money per year) of one plan over time, summed over
    its metrics. ``traj``: ``date, metric, realized, planned``."""
    t = traj.groupby("date")[["realized", "planned"]].sum().sort_index()
    fig = go.Figure()
    fig.add_scatter(x=t.index, y=t["planned"], name="Planned", mode="lines",
                    line=dict(color=GREY, dash="dash"),
                    hovertemplate="planned %{y:$,.0f} a year<extra></extra>")
    fig.add_scatter(x=t.index, y=t["realized"], name="Realized", mode="lines+markers",
                    line=dict(color=BLUE),
                    hovertemplate="realized %{y:$,.0f} a year<extra></extra>")
    money_axis(fig)
    fig.update_yaxes(title="value a year")
    return finish(fig, "Value realized against the plan", theme, height=360, legend_below=True)


def roi_ranges(accounts: pd.DataFrame, theme: Theme, top: int = 20) -> go.Figure:
    """ROI with its interval per account (the ``top`` lowest realization first).
    ``accounts``: ``name, roi, roi_low, roi_high, value_risk, account_id``;
    ``customdata`` = account id."""
    a = accounts.dropna(subset=["roi"]).head(top).iloc[::-1]
    colour = [BAND_COLORS["red"] if r else BLUE for r in a["value_risk"]]
    fig = go.Figure()
    fig.add_scatter(
        x=a["roi"], y=a["name"], mode="markers", marker=dict(color=colour, size=11),
        error_x=dict(type="data", symmetric=False, array=a["roi_high"] - a["roi"],
                     arrayminus=a["roi"] - a["roi_low"], color=GREY),
        customdata=a["account_id"], name="ROI",
        hovertemplate="%{y}: ROI %{x:.0%}<extra>click for the account</extra>")
    fig.add_vline(x=0, line=dict(color=INK, width=1))
    fig.update_xaxes(tickformat=".0%", title="ROI = (benefit − cost) / cost")
    return finish(fig, "ROI and its interval (red: value behind plan)", theme,
                  height=max(320, 30 * len(a) + 140))
