"""Team: each CSM's book, risk, renewals and open work, their load against capacity from
the hours model in the settings, and reassignments that balance it."""

import streamlit as st

from app import actions_ui, auth, data, lists, shell
from greendoor import actions as A
from greendoor.charts import team as charts
from greendoor.labels import money
from greendoor.text import md

shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
user = auth.current()
cap = data.settings(token)[1]["capacity"]
st.title("Team")
t = data.team(token, f)
summary, accounts = t["summary"], t["accounts"]
if summary.empty:
    st.info("No scored account in these filters: run `greendoor score` first.")
else:
    over = summary[summary["status"] == "overloaded"]
    cols = st.columns(5, border=True)
    cols[0].metric("CSMs", f"{len(summary):,}")
    cols[1].metric("Accounts", f"{int(summary['accounts'].sum()):,}")
    cols[2].metric("Overloaded", f"{len(over):,}",
                   help=f"Above {cap['overloaded']:.0%} of {cap['csm_hours_month']:.0f} hours "
                        "a month.")
    cols[3].metric("Overdue tasks", f"{int(summary['overdue_tasks'].sum()):,}")
    cols[4].metric("Team load", f"{summary['load_hours'].sum() / (len(summary) * cap['csm_hours_month']):.0%}",
                   help="Σ load / Σ hours of the CSMs shown.")
    ev = shell.chart(charts.utilisation(summary, cap["overloaded"], cap["underloaded"],
                                        shell.theme()), "team_load", select=True)
    hours = cap["hours_per_account_month"]
    st.caption(
        "Load a month = the segment's hours per account (" + ", ".join(
            f"{k.replace('_', '-')} {v:g} h" for k, v in hours.items())
        + f") + {cap['onboarding_hours']:g} h of onboarding spread over the first "
        f"{cap['onboarding_days']} days of each new account + {cap['renewal_prep_hours']:g} h "
        f"preparing each renewal in its last {cap['renewal_window_days']} days, against "
        f"{cap['csm_hours_month']:g} hours a month per CSM (settings: capacity). Click a bar to "
        "list that CSM's accounts.")
    lists.table(summary, key="team_table", column_order=[
        "csm_owner", "accounts", "arr", "avg_health", "arr_at_risk", "renewals_90",
        "renewal_arr", "onboarding", "open_tasks", "overdue_tasks", "load_hours",
        "utilisation", "status"], column_config={
        "csm_owner": "CSM", "accounts": "Accounts", "arr": lists.money_col("ARR ($)"),
        "avg_health": st.column_config.NumberColumn("Avg health", format="%.0f"),
        "arr_at_risk": lists.money_col("ARR at risk ($)"),
        "renewals_90": st.column_config.NumberColumn(f"Renewals ≤ {cap['renewal_window_days']} d"),
        "renewal_arr": lists.money_col("Renewal ARR ($)"),
        "onboarding": "Onboarding", "open_tasks": "Open tasks", "overdue_tasks": "Overdue",
        "load_hours": st.column_config.NumberColumn("Load (h/month)", format="%.0f"),
        "utilisation": lists.pct_col("Of capacity"), "status": "Status"})
    picked = [cd[0] for cd in lists.clicked(ev) if cd]
    if picked:
        mine = accounts[accounts["csm_owner"] == picked[-1]].sort_values("hours", ascending=False)
        st.info(f"**{md(picked[-1])}**: {len(mine):,} accounts, {money(mine['arr'].sum())} ARR.")
        lists.account_list(mine, "team_accounts",
                           ["name", "segment", "arr", "health_score", "onboarding", "renewing",
                            "hours"],
                           {"name": lists.name_col(), "arr": lists.money_col("ARR ($)"),
                            "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
                            "hours": st.column_config.NumberColumn("Hours a month", format="%.1f")},
                           height=320)

    status = data.store_status(token)
    present = status["default_as_of"] is None or f.as_of >= status["default_as_of"]
    if user.can("reassign") and not present:
        st.caption("Rebalancing is offered at the data's latest date: a past date shows the "
                   "books as they are owned today, with the loads of that date.")
    elif user.can("reassign"):
        st.subheader("Rebalance")
        sug = t["suggestions"]
        if sug.empty:
            st.caption("Nobody is overloaded, or nobody with the same segment has room: no "
                       "reassignment to suggest.")
        else:
            st.caption("The smallest accounts of each overloaded CSM that are neither "
                       "onboarding nor renewing, each to the least loaded CSM who already "
                       "looks after that segment, until the CSM is back under the line. "
                       "Select the moves to make.")
            picked = lists.table(sug, key="team_moves", on_select="rerun",
                                 selection_mode="multi-row", column_order=[
                                     "name", "segment", "arr", "hours", "from_csm", "to_csm",
                                     "from_after", "to_after"], column_config={
                                     "name": "Account", "arr": lists.money_col("ARR ($)"),
                                     "hours": st.column_config.NumberColumn("Hours", format="%.1f"),
                                     "from_csm": "From", "to_csm": "To",
                                     "from_after": lists.pct_col("From, after"),
                                     "to_after": lists.pct_col("To, after")})
            rows = ((picked or {}).get("selection") or {}).get("rows", [])
            if st.button(f"Reassign {len(rows)} account(s)", key="team_apply",
                         disabled=not rows, icon=":material/swap_horiz:"):
                moves = [(sug.iloc[i]["account_id"], sug.iloc[i]["to_csm"]) for i in rows]
                try:
                    A.reassign_owners(data.engine(), moves, "team view: rebalance load",
                                      actor=user)
                except A.ActionError as exc:
                    st.error(md(str(exc)))
                else:
                    st.cache_data.clear()
                    st.session_state["action_toast"] = f"Reassigned {len(moves)} account(s)."
                    st.rerun()
