"""Value realization: each plan's realized value against its planned trajectory, ROI
with a Monte Carlo interval, quarterly and annual projections, and the plans whose value
is behind (issue 20)."""

import streamlit as st

from app import actions_ui, data, lists, plans_ui, shell
from greendoor.charts import onboarding as charts
from greendoor.labels import money

status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
settings = data.settings(token)[1]
cfg = settings["onboarding"]
st.title("Value realization")
v = data.value(token, f)


def page(k: dict, acc) -> None:
    """The KPIs, the ROI chart, the plans' table and one plan's value."""
    c1, c2, c3, c4 = st.columns(4, border=True)
    c1.metric("Realized value a year", money(k["benefit"]),
              help=f"At the latest measurements of {k['measured']:,} plans: units gained on each "
                   "baseline x the value of a unit a year.")
    c2.metric("Planned by now", money(k["planned"]),
              help="The plans' trajectories at the as-of date: linear from the baseline at day 1 "
                   "to the target by the target date.")
    c3.metric("ROI (first year)", f"{k['roi']:.0%}",
              help="(realized value − cost) / cost, cost = ARR in force + one-off services fees.")
    c4.metric("Value behind plan", f"{k['value_risk']:,}",
              help=f"{money(k['value_risk_arr'])} ARR. Realized value "
                   f"{cfg['value_risk_margin']:.0%} or more below the trajectory after day "
                   f"{cfg['value_risk_min_days']}: raised as an alert at the next scoring.")
    ev = shell.chart(charts.roi_ranges(acc, shell.theme()), "value_roi", select=True)
    pts = lists.clicked(ev)
    if pts:
        shell.open_account(pts[-1])
    st.caption(f"Each point is an account's ROI at its realized value; the bar spans the "
               f"{cfg['roi_level']:.0%} interval of {cfg['roi_draws']:,} draws of each metric's "
               "value per unit between its low and high (triangular). Projections assume the "
               "realized run rate holds.")
    st.subheader("Plans with value metrics")
    sel = lists.account_list(
        acc, "value_list",
        ["name", "segment", "arr", "cost", "benefit", "planned_benefit", "realization", "roi",
         "roi_low", "roi_high", "quarter_benefit", "annual_benefit", "value_risk", "next_renewal"],
        {"arr": lists.money_col("ARR ($)"),
         "cost": lists.money_col("First-year cost ($)"),
         "benefit": lists.money_col("Realized a year ($)"),
         "planned_benefit": lists.money_col("Planned by now ($)"),
         "realization": lists.pct_col("Realized / planned"),
         "roi": lists.pct_col("ROI"),
         "roi_low": lists.pct_col("ROI low"),
         "roi_high": lists.pct_col("ROI high"),
         "quarter_benefit": lists.money_col("Next quarter ($)"),
         "annual_benefit": lists.money_col("Next year ($)"),
         "value_risk": st.column_config.CheckboxColumn("Behind plan"),
         "next_renewal": st.column_config.DateColumn("Renewal", format="D MMM YYYY")})
    st.subheader("One plan's value")
    names = dict(zip(acc["plan_id"], acc["name"], strict=True))
    if sel is not None and sel.get("plan_id") in names:
        st.session_state["value_plan"] = sel["plan_id"]
    pid = st.selectbox("Plan", list(names), format_func=names.get, key="value_plan")
    detail = data.plan_detail(token, pid, f.as_of)
    if detail and len(detail["trajectory"]):
        shell.chart(charts.value_trajectory(detail["trajectory"], shell.theme()), f"traj_{pid}")
        st.dataframe(detail["metrics"].round({"benefit": 0}), hide_index=True, width=shell.table_width(),
                     column_order=["name", "unit", "direction", "baseline", "target", "latest",
                                   "measured_at", "gain", "planned_gain", "benefit"],
                     column_config={"name": "Metric", "unit": "Unit", "direction": "Better when",
                                    "baseline": "Baseline", "target": "Target", "latest": "Latest",
                                    "measured_at": st.column_config.DateColumn("Measured", format="D MMM YYYY"),
                                    "gain": st.column_config.NumberColumn("Gained", format="%.1f"),
                                    "planned_gain": st.column_config.NumberColumn(
                                        "Planned gain", format="%.1f"),
                                    "benefit": lists.money_col("Value a year ($)")})
    if detail:
        plans_ui.value_forms(detail, pid, f.as_of)


if not v["available"]:
    st.info("Not in the store: **value metrics** (success_plans, value_metrics, "
            "value_measurements). They would power this page: each customer's baseline, the "
            "value realized against the plan, ROI with its interval, and an early alert when "
            "value falls behind. Import them on the Data page (columns in the README's data "
            "contract), or add metrics to a plan on the Onboarding page.",
            icon=":material/info:")
elif not v["kpis"]:
    st.info("No current customer has a success plan with value metrics at this date.")
else:
    page(v["kpis"], v["accounts"])
