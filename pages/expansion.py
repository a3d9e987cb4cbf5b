"""Expansion pipeline: opportunities by stage with weighted pipeline and aging,
expansion signals not yet converted, and the propensity ranking."""

import streamlit as st

from app import actions_ui, data, lists, shell
from greendoor.charts import expansion as charts
from greendoor.labels import human, money
from greendoor.scoring import skill
from greendoor.text import md

status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
st.title("Expansion pipeline")
shell.missing_data_note(status, ["opportunities", "usage"], usage_rows=True)
x = data.expansion(token, f)
pipe, stages = x["pipeline"], x["stages"]

c1, c2, c3, c4 = st.columns(4, border=True)
c1.metric("Open expansion pipeline", money(pipe["amount"].sum()),
          help=f"{len(pipe)} open expansion opportunities created before the as-of date.")
c2.metric("Weighted pipeline", money(pipe["weighted"].sum()),
          help="Sum of each opportunity's amount × its probability of closing.")
sig = x["signals"]
c3.metric("Unconverted signals", f"{len(sig):,}", help="Accounts with an expansion signal and no "
          "open expansion opportunity.")
c4.metric("Their estimated value", money(sig["estimated_value"].sum()),
          help="Seat signals: seats needed to bring utilization back to 80 % × ARR per seat. "
          "Other signals: ARR × the segment's median won expansion uplift of the last year.")

picked_stage = None
if len(stages):
    left, right = st.columns([3, 2])
    with left:
        ev = shell.chart(charts.stage_funnel(stages, shell.theme()), "stage_funnel", select=True)
        pts = lists.clicked(ev)
        picked_stage = pts[-1][0] if pts else None
    with right:
        ev2 = shell.chart(charts.stage_aging(stages, shell.theme()), "stage_aging", select=True)
        pts = lists.clicked(ev2)
        picked_stage = pts[-1][0] if pts else picked_stage

    def _deals(deals) -> None:
        lists.account_list(
            deals.round({"amount": 0, "weighted": 0}), "deals",
            ["name", "opportunity", "stage", "amount", "probability", "weighted", "age_days",
             "close_date", "forecast_category", "csm_owner"],
            {"name": lists.name_col(), "opportunity": "Opportunity",
             "amount": lists.money_col("Amount ($)"), "probability": lists.pct_col("Probability"),
             "weighted": lists.money_col("Weighted ($)"),
             "age_days": st.column_config.NumberColumn("Age (days)", format="%d"),
             "close_date": st.column_config.DateColumn("Close", format="D MMM YYYY"),
             "forecast_category": "Category", "csm_owner": "CSM"}, height=360)

    if picked_stage:  # a click on a stage shows its deals here, not in a hidden tab
        deals = pipe[pipe["stage"] == picked_stage]
        st.info(f"Showing the {len(deals)} deals in stage **{md(human(picked_stage))}** (your "
                "click; click the chart's background to show every stage).")
        _deals(deals)
    else:
        tab_board, tab_list = st.tabs(["Board", "Deals"])
        with tab_board:
            cols = st.columns(len(stages))
            for col, s in zip(cols, stages.itertuples(), strict=True):
                with col:
                    st.markdown(f"**{md(human(s.stage))}**  \n"
                                f"{s.opportunities} deals · {money(s.amount)}")
                    for d in pipe[pipe["stage"] == s.stage].head(6).itertuples():
                        with st.container(border=True):
                            st.markdown(f"{md(shell.account_label(d.account_id, d.name))}  \n"
                                        f"{money(d.amount)} · {d.probability:.0%} · "
                                        f"{d.age_days:.0f} d old")
                    more = int(s.opportunities) - 6
                    if more > 0:
                        st.caption(f"and {more} more in the Deals tab")
        with tab_list:
            _deals(pipe)
else:
    st.info("No open expansion opportunity in the store for these filters.")

st.subheader(f"Expansion signals not yet converted ({len(sig):,})")
st.caption("Seat utilization above the threshold, usage up over 90 days, or 2+ features adopted "
           "in the last 30 days (thresholds on the Data & settings page), on accounts without an "
           "open expansion opportunity. Select one and click **New expansion**.")
if len(sig):
    lists.account_list(
        sig.round({"arr": 0, "estimated_value": 0}), "signals",
        ["name", "signal", "arr", "seat_utilization", "usage_growth_90d", "feature_list",
         "expansion_probability", "estimated_value", "basis", "csm_owner"],
        {"name": lists.name_col(), "signal": st.column_config.TextColumn("Signal", width="medium"),
         "arr": lists.money_col("ARR ($)"),
         "seat_utilization": lists.pct_col("Seat utilization"),
         "usage_growth_90d": lists.pct_col("Usage growth 90d"),
         "feature_list": "New features (30 d)",
         "expansion_probability": lists.pct_col("P(expansion 90d)"),
         "estimated_value": lists.money_col("Estimated value ($)"),
         "basis": st.column_config.TextColumn("How estimated", width="medium"), "csm_owner": "CSM"},
        height=380)
else:
    st.info("No unconverted expansion signal for these filters.")

st.subheader("Expansion propensity")
prop = x["propensity"]
g = data.gates(token)
if prop.empty:
    st.info("No propensity ranking: no expansion model with measured skill on this data. "
            "Work from the expansion signals above, which are rules.")
    st.caption(skill.status_sentence(g, "expansion"))
else:
    st.caption("P(expansion within 90 days) from the expansion model ("
               + ("calibrated" if g.calibrated["expansion"] else "not calibrated: ECE ≥ 0.05")
               + "); expected value = ARR × P × the segment's median won uplift. Drivers are "
               "the model's top reasons with measured importance. "
               + skill.status_sentence(g, "expansion"))
    lists.account_list(
        prop.round({"arr": 0, "expected_value": 0}), "propensity",
        ["name", "segment", "arr", "health_score", "expansion_probability", "expected_value",
         "drivers", "csm_owner"],
        {"name": lists.name_col(), "arr": lists.money_col("ARR ($)"),
         "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
         "expansion_probability": lists.pct_col("P(expansion 90d)"),
         "expected_value": lists.money_col("Expected value ($)"),
         "drivers": st.column_config.TextColumn("Top drivers (evidence)", width="large"),
         "csm_owner": "CSM"}, height=380)
