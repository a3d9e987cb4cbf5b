"""Actions & playbooks: the task inbox, playbook runs with progress, and whether playbooks work."""

import datetime as dt

import pandas as pd
import streamlit as st

from app import actions_ui, auth, data, experiments_ui, lists, shell
from greendoor import actions as A
from greendoor.playbooks import PLAYBOOKS

shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
today = dt.date.today()

st.title("Actions & playbooks")
c1, c2, c3 = st.columns(3)
scope = c1.segmented_control("Inbox", ["Mine", "Team"], default="Team", key="inbox_scope",
                             help="Mine = the CSM chosen in the sidebar filter.")
status = c2.segmented_control("Status", ["open", "done", "cancelled", "all"], default="open",
                              key="inbox_status")
due = c3.segmented_control("Due", ["overdue", "this week", "any"], default="any", key="inbox_due")
owner = f.owner if scope == "Mine" else None
if scope == "Mine" and not owner:
    st.info("Choose yourself in the sidebar's CSM owner filter to see your own inbox.")
acts = data.actions_list(token, owner, None if status in (None, "all") else status,
                         auth.current())
acts = acts[acts["type"] != "playbook_run"]
d = pd.to_datetime(acts["due_date"])
if due == "overdue":
    acts = acts[(d < pd.Timestamp(today)) & (acts["status"] == "open")]
elif due == "this week":
    acts = acts[(d >= pd.Timestamp(today)) & (d < pd.Timestamp(today) + pd.Timedelta(days=7))]

st.subheader(f"Tasks ({len(acts):,})")
if acts.empty:
    st.caption("Nothing here. Actions created on Account 360 or any account list appear at once.")
else:
    view = acts.assign(overdue=(pd.to_datetime(acts["due_date"]) < pd.Timestamp(today))
                       & (acts["status"] == "open"),
                       playbook=acts["playbook"].map(lambda k: PLAYBOOKS[k].name if k in PLAYBOOKS else k),
                       type=acts["type"].str.replace("_", " "))
    picked = lists.table(
        shell.link_names(view, "account_name"), key="inbox", on_select="rerun", selection_mode="single-row",
        column_order=["due_date", "overdue", "title", "account_name", "owner", "type", "playbook",
                      "status", "created_by"],
        column_config={"due_date": st.column_config.DateColumn("Due", format="D MMM YYYY"),
                       "overdue": st.column_config.CheckboxColumn("Overdue"),
                       "title": st.column_config.TextColumn("Task", width="large"),
                       "account_name": shell.name_link_column(), "owner": "Owner", "type": "Type",
                       "playbook": "Playbook", "status": "Status", "created_by": "Created by"})
    rows = ((picked or {}).get("selection") or {}).get("rows", [])
    if rows:
        sel = view.iloc[rows[0]]
        b1, b2, b3 = st.columns([1, 1, 4])
        if b1.button("Mark done", key="inbox_done", type="primary",
                     disabled=sel["status"] == "done" or not auth.current().can("act")):
            A.set_status(data.engine(), sel["action_id"], "done", actor=auth.current())
            st.cache_data.clear()
            st.session_state["action_toast"] = f"Done: {sel['title']}"
            st.rerun()
        if b2.button("Open account", key="inbox_open"):
            shell.open_account(sel["account_id"])

st.subheader("Playbook runs")
runs = data.playbook_runs(token, auth.current())
if runs.empty:
    st.caption("No playbook started yet. Start one from an account (Start playbook).")
else:
    lists.table(shell.link_names(runs, "account_name").assign(playbook=runs["playbook"].map(lambda k: PLAYBOOKS[k].name if k in PLAYBOOKS else k)),
                 key="runs",
                 column_order=["started", "account_name", "playbook", "owner", "progress", "steps",
                               "done", "overdue"],
                 column_config={"started": st.column_config.DatetimeColumn("Started", format="D MMM YYYY"),
                                "account_name": shell.name_link_column(), "playbook": "Playbook", "owner": "Owner",
                                "steps": "Steps", "done": "Done",
                                "progress": st.column_config.ProgressColumn("Progress", min_value=0, max_value=1, format="percent"),
                                "overdue": st.column_config.NumberColumn("Overdue steps")})

st.subheader("Do playbooks work?")
st.caption("Observational: accounts a CSM chose for a playbook against comparable accounts "
           "that got none. Who was chosen, and why, can explain a difference as well as the "
           "playbook; the experiments below settle it.")
eff = data.playbook_effectiveness(token)
if eff.empty:
    st.caption("No playbook run has 30 days of outcome yet. For each playbook this will show the "
               "health change in the 30 days after its runs started, against comparable accounts "
               "(same band at the start, no run) over the same weeks.")
else:
    # rounded first, so that a change of -0.04 points shows as 0.0, not "-0.0"
    eff = eff.assign(**{c: eff[c].round(1) + 0.0 for c in
                        ("health_change", "comparable_change", "uplift") if c in eff})
    eff = eff.assign(playbook=eff["playbook"].map(lambda k: PLAYBOOKS[k].name
                                                  if k in PLAYBOOKS else k))
    lists.table(eff, key="effectiveness", column_config={
        "playbook": "Playbook", "runs": st.column_config.NumberColumn("Runs"),
        "health_change": st.column_config.NumberColumn("Health change (points)", format="%+.1f"),
        "comparable_change": st.column_config.NumberColumn("Comparable accounts", format="%+.1f"),
        "uplift": st.column_config.NumberColumn("Uplift", format="%+.1f"),
        "retained": lists.pct_col("Retained after 90 days"),
        "comparable_retained": lists.pct_col("Comparable retained")})

experiments_ui.section(token, f, auth.current(), today)
