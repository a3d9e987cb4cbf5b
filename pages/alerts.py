"""Alerts: every live alert across the book the user may see, grouped by rule with each
rule's measured lift and false-positive share, and acted on one by one or in bulk
(acknowledge, snooze, resolve, mark false positive, create a task, start a playbook)."""

import datetime as dt

import pandas as pd
import streamlit as st

from app import actions_ui, auth, data, lists, shell
from greendoor import actions as A
from greendoor import automation as AUT
from greendoor.actions import ActionError
from greendoor.analytics import alerts as IB
from greendoor.labels import human, money
from greendoor.playbooks import PLAYBOOKS
from greendoor.text import md

shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
today = dt.date.today()
user = auth.current()


def _inbox(alerts):
    """KPIs, the rules with their measured quality, and the filtered inbox; returns the
    selected alerts."""
    c = st.columns(4, border=True)
    past = alerts["alert_id"].isna().all()  # an earlier week: what its scoring raised
    c[0].metric("Alerts raised that week" if past else "Live alerts", f"{len(alerts):,}",
                help="Raised by the scoring of the week of the as-of date, as they stood then."
                if past else "Open or acknowledged, from the latest scoring on or before the "
                             "as-of date, plus snoozed alerts whose date has passed.")
    c[1].metric("Accounts", f"{alerts['account_id'].nunique():,}")
    c[2].metric("ARR behind them", money(alerts.drop_duplicates("account_id")["arr"].sum()),
                help="Each account counted once.")
    c[3].metric("Critical", f"{int((alerts['severity'] == 'critical').sum()):,}")

    # --------------------------------------------------------------------------- #
    st.subheader("By rule")
    quality = data.rule_quality(token, f)
    table = IB.by_rule(alerts).merge(
        quality[["rule", "outcome", "lift", "hit_rate", "base_rate", "fp_share", "lead_days"]],
        on="rule",
        how="left")
    table["flag"] = table["lift"].map(lambda x: "no better than chance" if x == x and x <= 1 else "")
    picked = lists.table(
        table, key="alert_rules", on_select="rerun", selection_mode="single-row",
        column_order=["rule_label", "alerts", "accounts", "arr", "oldest_days", "lift", "hit_rate",
                      "base_rate", "lead_days", "fp_share", "flag"],
        column_config={"rule_label": st.column_config.TextColumn("Rule", width="medium"),
                       "alerts": "Alerts", "accounts": "Accounts",
                       "arr": lists.money_col("ARR ($)"),
                       "oldest_days": st.column_config.NumberColumn("Oldest (days)", format="%d"),
                       "lift": st.column_config.NumberColumn(
                           "Lift", format="%.1f×",
                           help="How much likelier than other accounts an alerted account was to "
                                "have the rule's outcome (churn, or expansion for expansion "
                                "signals) within the horizon, measured on past weekly snapshots."),
                       "hit_rate": lists.pct_col("Followed by the outcome"),
                       "base_rate": lists.pct_col("All accounts"),
                       "lead_days": st.column_config.NumberColumn(
                           "Warning (days)", format="%d",
                           help="Median days from the alert to the churn that followed it: "
                                "how much time the rule gave (churn rules)."),
                       "fp_share": lists.pct_col("Marked false positive",
                                                 help="Of the alerts of this rule closed by users: "
                                                      "false positive / (resolved + false "
                                                      "positive)."),
                       "flag": st.column_config.TextColumn("Note", width="medium")})
    st.caption("Lift above 1: the rule finds accounts likelier than the rest to churn (or, for "
               "expansion signals, to expand) within the horizon. A rule at or below 1 is flagged: "
               "its alerts are noise on this data. A renewal reminder further out than the "
               "horizon cannot be followed by churn within it: it is a reminder to prepare, "
               "not a risk signal. Select a rule to keep its alerts.")
    rows = ((picked or {}).get("selection") or {}).get("rows", [])
    rule = table.iloc[rows[0]]["rule"] if rows and rows[0] < len(table) else None

    # --------------------------------------------------------------------------- #
    st.subheader("Inbox")
    c1, c2, c3 = st.columns(3)
    severities = c1.multiselect("Severity", ["critical", "warning", "info"],
                                default=["critical", "warning", "info"], key="alert_severity",
                                format_func=human)
    window = c2.segmented_control("Renewal", ["any", "in 30 days", "in 90 days", "in 120 days"],
                                  default="any", key="alert_window")
    min_age = c3.number_input("Raised at least (days ago)", min_value=0, value=0, step=1,
                              key="alert_min_age")
    view = alerts[alerts["severity"].isin(severities) & (alerts["age_days"] >= min_age)]
    if rule:
        view = view[view["rule"] == rule]
    if window and window != "any":
        days = int(window.split()[1])
        view = view[view["days_to_renewal"].between(0, days)]
    label = table.iloc[rows[0]]["rule_label"] if rule else ""
    st.caption(f"{len(view):,} alerts" + (f" of the rule **{md(label)}**" if rule else "")
               + ". Select rows (several at once) and act on them below; names open Account 360.")
    # a new key after each change: the grid then shows no ticked row where the closed
    # alerts were (the rows below them move up)
    gen = st.session_state.get("alert_inbox_gen", 0)
    sel = lists.table(
        shell.link_names(view), key="alert_inbox" + (f"_{gen}" if gen else ""),
        on_select="rerun", selection_mode="multi-row",
        height=420,
        column_order=["name", "severity", "title", "status", "assignee", "arr",
                      "days_to_renewal", "age_days", "segment", "csm_owner"],
        column_config={"name": shell.name_link_column(), "severity": "Severity",
                       "title": st.column_config.TextColumn("Alert", width="large"),
                       "status": "Status", "assignee": "Assigned to",
                       "arr": lists.money_col("ARR ($)"),
                       "days_to_renewal": st.column_config.NumberColumn("Renewal in (days)",
                                                                        format="%d"),
                       "age_days": st.column_config.NumberColumn("Age (days)", format="%d"),
                       "csm_owner": "CSM"})
    chosen = view.iloc[[r for r in ((sel or {}).get("selection") or {}).get("rows", [])
                        if r < len(view)]]

    # --------------------------------------------------------------------------- #
    return chosen

def _act(chosen) -> None:
    """The bulk action form for the selected alerts."""
    st.markdown(f"**{len(chosen)} selected**" if len(chosen) else "**Select alerts to act on.**")
    with st.form("alert_bulk", border=True):
        what = st.selectbox("Action", list(CHANGES), key="alert_action")
        f1, f2 = st.columns(2)
        note = f1.text_input("Outcome, reason or task title", key="alert_note",
                             help="Required to resolve (the outcome) and to mark a false "
                                  "positive (why it was wrong); the task's title for Create a "
                                  "task.")
        until = f2.date_input("Snooze until / task due", value=today + dt.timedelta(days=14),
                              min_value=today + dt.timedelta(days=1), key="alert_until")
        playbook = f1.selectbox("Playbook", list(PLAYBOOKS), key="alert_playbook",
                                format_func=lambda k: PLAYBOOKS[k].name)
        assignee = f2.selectbox("Assign to", data.store_status(token)["options"]["owners"],
                                index=None,
                                key="alert_assignee", accept_new_options=True,
                                placeholder="A CSM or colleague",
                                help="For Assign: who owns these alerts now.")
        go = st.form_submit_button(f"Apply to {len(chosen)} selected", type="primary",
                                   disabled=chosen.empty)
    if go and len(chosen):
        try:
            n = _apply(chosen, CHANGES[what], note, until, playbook, assignee)
        except ActionError as exc:
            st.error(f"Nothing was changed: {md(exc)}.")
        else:
            st.cache_data.clear()
            st.session_state["action_toast"] = f"{what}: {n} done"
            # the rows move up once these leave the inbox: a kept selection would point at
            # other alerts
            st.session_state["alert_inbox_gen"] = st.session_state.get("alert_inbox_gen", 0) + 1
            st.rerun()


def _apply(chosen, change: str, note: str, until, playbook: str, assignee: str | None) -> int:
    """Write one change for the selected alerts (or their accounts); returns how many."""
    if change in A.ALERT_CHANGES:
        quiet = data.settings(token)[1]["alert_quiet_days"]
        return A.update_alerts(data.engine(), chosen["alert_id"].tolist(), change, actor=user,
                               note=note or None, until=until, quiet_days=quiet, today=today,
                               assignee=assignee)
    accounts = chosen.drop_duplicates("account_id")
    ids = accounts["account_id"].tolist()
    if change == "task":  # one transaction for all of them, each owned by its CSM
        title = note or (f"Follow up: {accounts['title'].iloc[0]}" if len(accounts) == 1
                         else "Follow up on the alert")
        A.bulk_create_tasks(data.engine(), ids, title, until, actor=user)
    else:
        A.bulk_start_playbook(data.engine(), ids, playbook, actor=user)
    return len(accounts)


CHANGES = {"Acknowledge": "acknowledge", "Assign": "assign", "Snooze": "snooze",
           "Resolve": "resolve",
           "Mark false positive": "false_positive", "Create a task": "task",
           "Start a playbook": "playbook"}

st.title("Alerts")
alerts = data.alert_inbox(token, f, today)
if alerts.empty:
    st.info("No live alert for these filters: nothing open or acknowledged from the latest "
            "scoring (`greendoor score` raises them; snoozed and closed alerts are not shown).")
else:
    chosen = _inbox(alerts)
    if alerts["alert_id"].isna().all():
        st.caption("At a past as-of date the inbox shows the alerts that week's scoring raised, "
                   "as they stood then; act on alerts at the latest date.")
    elif not user.can("act"):
        st.caption(f"Read-only: the {user.role} role cannot act on alerts.")
    else:
        _act(chosen)


def _automation() -> None:
    """Automation rules: a condition on the scores and an action, run after each scoring
    (greendoor.automation); created, previewed, enabled and disabled by a manager or admin."""
    st.subheader("Automation rules")
    st.caption("Each rule runs after every scoring: the accounts that meet all its conditions "
               "get its task or playbook once per account and period, or its alert in the inbox "
               "for as long as they meet them (snoozed, resolved or false-positive alerts stay "
               "quiet like any other). Every edit is a new version in the audit log.")
    rules = data.automation_rules(token)
    if len(rules):
        edited = st.data_editor(rules, key="automation_table", hide_index=True, width="stretch",
                                disabled=[c for c in rules.columns if c != "enabled"],
                                column_config={"rule_id": None, "name": "Rule",
                                               "conditions": st.column_config.TextColumn(
                                                   "When", width="large"),
                                               "action": "Then", "period_days": "Once per (days)",
                                               "enabled": "On", "version": "Version"})
        flips = edited[edited["enabled"] != rules["enabled"]]
        if len(flips) and st.button(f"Save {len(flips)} on/off change(s)", key="automation_flip"):
            for r in flips.itertuples():
                _save_rule({**data.automation_rule(r.rule_id), "enabled": bool(r.enabled)})
    else:
        st.caption("No rule yet.")
    with st.expander("New rule", expanded=not len(rules)):
        name = st.text_input("Name", key="au_name", placeholder="Yellow, renewing, no playbook")
        conds = st.data_editor(
            AU_DEFAULT, key="au_conditions", num_rows="dynamic", hide_index=True,
            width="stretch", column_config={
                "field": st.column_config.SelectboxColumn("Field", options=list(AUT.FIELDS),
                                                          required=True),
                "op": st.column_config.SelectboxColumn("Is", options=list(AUT.OPS),
                                                       required=True),
                "value": st.column_config.TextColumn("Value", required=True)})
        c1, c2, c3 = st.columns(3)
        kind = c1.selectbox("Then", list(AUT.ACTIONS), key="au_kind",
                            format_func={"task": "Create a task", "playbook": "Start a playbook",
                                         "alert": "Raise an alert"}.get)
        if kind == "task":
            title = c2.text_input("Task title", key="au_title", value="Plan the renewal")
            due = c3.number_input("Due in (days)", 0, 365, 7, key="au_due")
            action = {"type": "task", "title": title, "due_days": int(due)}
        elif kind == "alert":
            title = c2.text_input("Alert", key="au_alert_title",
                                  value="Yellow and renewing without a playbook")
            sev = c3.selectbox("Severity", list(AUT.SEVERITIES), index=1, key="au_severity",
                               format_func=human)
            action = {"type": "alert", "title": title, "severity": sev}
        else:
            pb = c2.selectbox("Playbook", list(PLAYBOOKS), key="au_pb",
                              format_func=lambda k: PLAYBOOKS[k].name)
            action = {"type": "playbook", "playbook": pb}
        period = c3.number_input("Once per account every (days)", 1, 366, 90, key="au_period")
        rule = {"name": name, "conditions": conds.to_dict("records"), "action": action,
                "period_days": int(period)}
        b1, b2 = st.columns([1, 4])
        if b1.button("Preview", key="au_preview"):
            try:
                p = data.automation_preview(rule, f.as_of)
            except AUT.AutomationError as exc:
                st.error(md(str(exc)))
            else:
                then = (f"{p['then']:,} accounts on {p['then_date']:%d %b %Y}; "
                        f"{_pct(p['churn_rate'])} of them churned in the next "
                        f"{AUT.PREVIEW_DAYS} days, against {_pct(p['base_rate'])} of all "
                        "accounts") if p["then_date"] else "no scoring a quarter ago to test on"
                st.info(f"Matches {p['now']:,} accounts now. A quarter ago: {then}.")
        if b2.button("Save rule", key="au_save", type="primary"):
            _save_rule(rule)


AU_DEFAULT = pd.DataFrame(
    [{"field": "band", "op": "==", "value": "yellow"},
     {"field": "days_to_renewal", "op": "<=", "value": "120"},
     {"field": "has_open_playbook", "op": "==", "value": "false"}])


def _pct(v: float) -> str:
    return "—" if v != v else f"{v:.0%}"


def _save_rule(rule: dict) -> None:
    try:
        AUT.save(data.engine(), rule, user)
    except AUT.AutomationError as exc:
        st.error(md(str(exc)))
        return
    st.cache_data.clear()
    st.session_state["action_toast"] = f"Saved the rule {rule['name']!r}: it runs after the next scoring."
    st.rerun()


if user.can("reassign"):
    _automation()
