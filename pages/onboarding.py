"""Onboarding: every account in its first 90 days or with an open success plan, its phase,
milestones, days behind and status; time to value against the segment's median; one
plan's timeline with its critical path, stakeholders and approval; a won deal closed into
a new plan (issue 20)."""

import streamlit as st

from app import actions_ui, data, lists, plans_ui, shell
from greendoor.charts import onboarding as charts
from greendoor.labels import money

status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
settings = data.settings(token)[1]
st.title("Onboarding")
v = data.onboarding(token, f)
if not v["available"]:
    st.info("Not in the store: **success plans** (success_plans, milestones, stakeholders; "
            "value_metrics and value_measurements for value). They would power this page: "
            "each new customer's 90-day plan in phases (Foundation, Integration, "
            "Realization), milestones completed by usage rules, stalled onboardings caught "
            "early, time to value against the segment, and the plan's approval. Import them "
            "on the Data page (columns in the README's data contract), or close a won deal "
            "below to start a plan here.", icon=":material/info:")
else:
    k, plans = v["kpis"], v["plans"]
    c1, c2, c3, c4, c5 = st.columns(5, border=True)
    c1.metric("In onboarding", f"{k['in_onboarding']:,}",
              help="Current customers in their plan's first 90 days, or with a plan of the "
                   "last year that is not complete.")
    c2.metric("Stuck", f"{k['stuck']:,}", help=f"{money(k['stuck_arr'])} ARR. "
              + v["rule"])
    c3.metric("Behind", f"{k['behind']:,}", help=v["rule"])
    c4.metric("Median time to value", "—" if k["median_ttv"] != k["median_ttv"] else
              f"{k['median_ttv']:.0f} days",
              help="Days from the plan's start to its first value milestone, over the plans "
                   f"that reached one (time to first value: {k['median_ttfv']:.0f} days, the "
                   "first adoption or value milestone).")
    c5.metric("Plans awaiting approval", f"{k['approvals_pending']:,}",
              delta=f"{k['approvals_overdue']} past the SLA" if k["approvals_overdue"] else None,
              delta_color="inverse",
              help=f"Approval is due {settings['onboarding']['approval_business_days']} "
                   "business days after submission.")
    st.caption(v["rule"])
    picked = None
    if len(plans):
        ev = shell.chart(charts.status_bars(plans, shell.theme()), "onb_status", select=True)
        pts = lists.clicked(ev)
        picked = pts[-1] if pts else None
    view = plans if picked is None else plans[(plans["status"] == picked[0])
                                              & (plans["phase"] == picked[1])]
    if picked is not None:
        st.info(f"Plans **{picked[0]}** in **{picked[1]}** ({len(view)}).")
    st.subheader("Accounts in onboarding")
    st.caption("Select stuck accounts to start a playbook or create tasks for all of them.")
    sel = lists.account_list(
        view, "onb_list",
        ["name", "segment", "csm_owner", "arr", "phase", "day", "done_share", "days_behind",
         "status", "next_milestone", "next_due", "time_to_value", "ttv_segment_median",
         "approval"],
        {"arr": lists.money_col("ARR ($)"),
         "phase": "Phase", "day": st.column_config.NumberColumn("Day", format="%d"),
         "done_share": st.column_config.ProgressColumn("Milestones done", format="percent",
                                                       min_value=0, max_value=1),
         "days_behind": st.column_config.NumberColumn("Days behind", format="%d"),
         "status": "Status", "next_milestone": "Next milestone",
         "next_due": st.column_config.DateColumn("Next due", format="D MMM YYYY"),
         "time_to_value": st.column_config.NumberColumn("Time to value (days)", format="%d"),
         "ttv_segment_median": st.column_config.NumberColumn("Segment median (days)",
                                                             format="%d"),
         "approval": "Plan"})
    if len(plans):
        st.subheader("One plan")
        ids = list(view["plan_id"]) or list(plans["plan_id"])
        new = st.session_state.pop(plans_ui.NEW_PLAN, None)
        if new in set(plans["plan_id"]):
            ids = [new, *[i for i in ids if i != new]]
            st.session_state["onb_plan"] = new
        elif sel is not None and sel.get("plan_id") in ids:
            st.session_state["onb_plan"] = sel["plan_id"]
        names = dict(zip(plans["plan_id"], plans["name"] + " · " + plans["status"],
                         strict=True))
        pid = st.selectbox("Plan", ids, format_func=names.get, key="onb_plan")
        plans_ui.plan_editor(token, pid, f.as_of, settings)

with st.expander("Close a won deal into a new success plan", icon=":material/handshake:"):
    st.caption("The plan comes from the segment's template: objectives, 90-day milestones "
               "with owners and due dates, stakeholders from the account's contacts "
               "(sponsor Accountable, champion and admin Responsible), as a draft to edit "
               "and submit.")
    plans_ui.close_deal_form(token, f)
