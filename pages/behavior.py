"""Behavior: DAU/WAU/MAU and stickiness, feature adoption and adoption gaps, error
rates by feature, signup-cohort retention, usage anomalies and power users."""

import streamlit as st

from app import actions_ui, data, lists, shell
from greendoor.analytics.behavior import COMPARE_WEEKS
from greendoor.charts import behavior as charts
from greendoor.labels import percent
from greendoor.text import md

status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
st.title("Behavior")
if status["counts"].get("usage", 0) == 0:
    shell.missing_data_note(status, ["usage"], usage_rows=True)
    au = data.behavior_from_aggregates(token, f) if status.get("usage_in_warehouse") else []
    if len(au):  # the usage stays in the warehouse: what its aggregates can say
        last = au.iloc[-1]
        c1, c2, c3, c4 = st.columns(4, border=True)
        c1.metric("DAU (30-day mean)", f"{last['dau']:,.0f}",
                  help="User-days in the 30 days before the date / 30 (the warehouse's "
                       "per-account figures hold no 7-day user-days).")
        c2.metric("WAU", f"{last['wau']:,.0f}")
        c3.metric("MAU", f"{last['mau']:,.0f}")
        c4.metric("Stickiness (30-day DAU/MAU)", percent(last["stickiness"], 0))
        shell.chart(charts.active_users(au, shell.theme()), "active_users")
        shown = au["week_end"].iloc[-1]
        st.caption(f"Weeks whose per-account usage figures were computed in the warehouse "
                   f"({len(au)} of the 26 weeks up to {shown:%d %b %Y}"
                   + (", the latest computed on or before the as-of date" if shown != f.as_of
                      else "") + ").")
    st.stop()
b = data.behavior(token, f)
thresholds = data.settings(token)[1]["behavior"]
au, feats = b["active"], b["features"]

if len(au):
    last = au.iloc[-1]
    c1, c2, c3, c4 = st.columns(4, border=True)
    prev = au.iloc[-1 - COMPARE_WEEKS] if len(au) > COMPARE_WEEKS else None
    c1.metric("DAU (7-day mean)", f"{last['dau']:,.0f}",
              f"{last['dau'] / prev['dau'] - 1:+.0%} vs {COMPARE_WEEKS} weeks ago" if prev is not None and prev["dau"] else None)
    c2.metric("WAU", f"{last['wau']:,.0f}")
    c3.metric("MAU", f"{last['mau']:,.0f}")
    c4.metric("Stickiness (DAU/MAU)", percent(last["stickiness"], 0),
              shell.delta_pts(last["stickiness"], prev["stickiness"], 0) if prev is not None else None,
              help="Mean daily active users divided by monthly active users. An active user has "
                   "at least one event that day.")
    shell.chart(charts.active_users(au, shell.theme()), "active_users")

picked_feature = None
if len(feats):
    st.subheader("Feature adoption and errors")
    gaps = feats[feats["gap"]]
    if len(gaps):
        st.warning(f"Adoption gap (< {thresholds['adoption_gap']:.0%} of active accounts 30 days after release): "
                   + ", ".join(gaps["feature"]) + ".")
    left, right = st.columns(2)
    with left:
        ev = shell.chart(charts.adoption(feats, thresholds["adoption_gap"], shell.theme()),
                         "adoption",
                         select=True)
    with right:
        ev2 = shell.chart(charts.error_rates(feats, shell.theme()), "errors", select=True)
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
    ev3 = shell.chart(charts.cohort_heatmap(coh, shell.theme()), "cohorts", select=True)
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
st.caption("Events or session time over the last 14 days down more than "
           f"{thresholds['anomaly_drop']:.0%} against the 14 days "
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
