"""Behavior: DAU/WAU/MAU and stickiness, feature adoption and adoption gaps, error
rates by feature, signup-cohort retention, usage anomalies and power users."""

import plotly.graph_objects as go
import streamlit as st

from app import actions_ui, data, lists, shell
from greendoor.analytics.behavior import ADOPTION_GAP
from greendoor.charts.portfolio import FONT
from greendoor.text import md

status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
st.title("Behavior")
if status["counts"].get("usage", 0) == 0:
    shell.missing_data_note(status, ["usage"])
    st.stop()
b = data.behavior(token, f)
au, feats = b["active"], b["features"]

if len(au):
    last = au.iloc[-1]
    c1, c2, c3, c4 = st.columns(4, border=True)
    prev = au.iloc[-5] if len(au) > 4 else None
    c1.metric("DAU (7-day mean)", f"{last['dau']:,.0f}",
              f"{last['dau'] / prev['dau'] - 1:+.0%} vs 4 weeks ago" if prev is not None and prev["dau"] else None)
    c2.metric("WAU", f"{last['wau']:,.0f}")
    c3.metric("MAU", f"{last['mau']:,.0f}")
    c4.metric("Stickiness (DAU/MAU)", shell.fmt_pct(last["stickiness"], 0),
              shell.delta_pts(last["stickiness"], prev["stickiness"], 0) if prev is not None else None,
              help="Mean daily active users / monthly active users (SPEC.md). An active user has "
                   "at least one event that day.")
    fig = go.Figure()
    for col, name, color in (("mau", "MAU", "#aab7b8"), ("wau", "WAU", "#2e86c1"),
                             ("dau", "DAU", "#1f4e79")):
        fig.add_scatter(x=au["week_end"], y=au[col], name=name, mode="lines", line=dict(color=color, width=3))
    fig.add_scatter(x=au["week_end"], y=au["stickiness"], name="Stickiness (right axis)", yaxis="y2",
                    mode="lines", line=dict(color="#d35400", dash="dot"))
    fig.update_layout(title="Active users by week", height=360, font=FONT, plot_bgcolor="white",
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h"),
                      yaxis2=dict(overlaying="y", side="right", tickformat=".0%", rangemode="tozero"))
    st.plotly_chart(fig, key="active_users", config={"displaylogo": False})

picked_feature = None
if len(feats):
    st.subheader("Feature adoption and errors")
    gaps = feats[feats["gap"]]
    if len(gaps):
        st.warning("Adoption gap (< 20 % of active accounts 30 days after release): "
                   + ", ".join(gaps["feature"]) + ".")
    left, right = st.columns(2)
    with left:
        d = feats.sort_values("adoption")
        fig = go.Figure(go.Bar(
            x=d["adoption"], y=d["feature"], orientation="h", customdata=d[["feature"]].to_numpy(),
            marker_color=["#c0392b" if g else "#2e86c1" for g in d["gap"]],
            text=d["adoption"].map(lambda v: f"{v:.0%}"), textposition="auto",
            hovertemplate="%{y}: %{x:.0%} of active accounts<extra>click to list accounts</extra>"))
        fig.add_vline(x=ADOPTION_GAP, line_dash="dot", line_color="#c0392b")
        fig.update_layout(title="Share of active accounts using each feature (30 days)", height=420,
                          font=FONT, plot_bgcolor="white", margin=dict(l=10, r=10, t=50, b=10),
                          xaxis=dict(tickformat=".0%", range=[0, 1]))
        ev = st.plotly_chart(fig, key="adoption", on_select="rerun", selection_mode="points",
                             config={"displaylogo": False})
    with right:
        d = feats.sort_values("error_rate")
        fig = go.Figure()
        fig.add_bar(x=d["error_rate"], y=d["feature"], orientation="h", name="Last 30 days",
                    marker_color="#c0392b", customdata=d[["feature"]].to_numpy(),
                    hovertemplate="%{y}: %{x:.2%} errors per event<extra>click to list accounts</extra>")
        fig.add_bar(x=d["error_rate_prior"], y=d["feature"], orientation="h", name="30 days before",
                    marker_color="#f5b7b1", customdata=d[["feature"]].to_numpy(),
                    hovertemplate="%{y}: %{x:.2%} before<extra>click to list accounts</extra>")
        fig.update_layout(title="Error rate by feature (errors / events)", barmode="group",
                          height=420, font=FONT, plot_bgcolor="white",
                          margin=dict(l=10, r=10, t=50, b=10), xaxis=dict(tickformat=".1%"),
                          legend=dict(orientation="h"))
        ev2 = st.plotly_chart(fig, key="errors", on_select="rerun", selection_mode="points",
                              config={"displaylogo": False})
    pts = lists.clicked(ev) + lists.clicked(ev2)
    picked_feature = pts[-1][0] if pts else None
    if picked_feature:
        fa = data.feature_accounts(token, f, picked_feature)
        st.info(f"{len(fa)} accounts used **{md(picked_feature)}** in the last 30 days; highest error "
                "rate first.")
        lists.account_list(fa, "feature_accounts",
                           ["name", "segment", "users", "events", "errors", "error_rate", "csm_owner"],
                           {"name": lists.name_col(), "error_rate": lists.pct_col("Error rate"),
                            "csm_owner": "CSM"}, height=300)

coh = b["cohorts"]
if len(coh):
    st.subheader("Signup-cohort retention")
    piv = coh.pivot_table(index="cohort", columns="age", values="retention")
    size = coh.groupby("cohort")["size"].first()
    fig = go.Figure(go.Heatmap(
        z=piv.to_numpy(), x=[f"M{a}" for a in piv.columns],
        y=[f"{c:%b %Y} ({size[c]})" for c in piv.index], colorscale="Blues", zmin=0, zmax=1,
        customdata=[[str(c)[:10]] * len(piv.columns) for c in piv.index],
        hovertemplate="%{y}, %{x}: %{z:.0%} active<extra>click to list the cohort</extra>"))
    fig.update_layout(title="Share of each signup month's accounts with usage, by months since signup",
                      height=max(360, 22 * len(piv)), font=dict(size=12),
                      margin=dict(l=10, r=10, t=50, b=10))
    fig.update_yaxes(autorange="reversed")
    ev3 = st.plotly_chart(fig, key="cohorts", on_select="rerun", selection_mode="points",
                          config={"displaylogo": False})
    pts = lists.clicked(ev3)
    if pts:
        import datetime as dt

        cohort = dt.date.fromisoformat(str(pts[-1][0])[:10])
        ca = data.cohort_accounts(token, f, cohort)
        st.info(f"The {len(ca)} accounts that signed up in {cohort:%B %Y}, with their last usage.")
        lists.account_list(ca, "cohort_accounts", ["name", "segment", "signup_date", "last_usage", "csm_owner"],
                           {"name": lists.name_col(),
                            "signup_date": st.column_config.DateColumn("Signed up", format="D MMM YYYY"),
                            "last_usage": st.column_config.DateColumn("Last usage", format="D MMM YYYY"),
                            "csm_owner": "CSM"}, height=300)

st.subheader(f"Usage anomalies ({len(b['anomalies'])})")
st.caption("Events or session time over the last 14 days down more than 20 % against the 14 days "
           "before (accounts with at least 20 events before), largest ARR first.")
if len(b["anomalies"]):
    lists.account_list(
        b["anomalies"].round({"arr": 0, "minutes_now": 0, "minutes_before": 0}), "anomalies",
        ["name", "anomaly", "arr", "events_now", "events_before", "minutes_now", "minutes_before",
         "csm_owner"],
        {"name": lists.name_col(), "anomaly": st.column_config.TextColumn("Change", width="medium"),
         "arr": lists.money_col("ARR ($)"), "events_now": "Events (14 d)",
         "events_before": "Events (14 d before)", "minutes_now": "Minutes (14 d)",
         "minutes_before": "Minutes (before)", "csm_owner": "CSM"}, height=360)

st.subheader("Power users (30 days)")
st.caption("Most active users by active days, then events: candidates for champions, betas and "
           "advocacy. Select one to act on the account.")
lists.account_list(b["power_users"], "power_users",
                   ["name", "user_id", "active_days", "events", "features"],
                   {"name": lists.name_col(), "user_id": "User", "active_days": "Active days",
                    "events": "Events", "features": "Features used"}, height=320)
