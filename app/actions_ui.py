"""The action buttons and their dialogs, shared by every page that shows an account.

Pattern (DESIGN.md): a button sets ``st.session_state["action_dialog"]``; the
dialog opens from that flag on the next line of the script, collects the fields,
and "Confirm" writes through :mod:`greendoor.actions` (one transaction with its
audit row), clears the cached loaders and shows a toast.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from app import auth, data
from greendoor import actions as A
from greendoor.labels import human, money
from greendoor.playbooks import PLAYBOOKS
from greendoor.text import md

LABELS = ("Create task", "Start playbook", "Escalate", "Log interaction",
          "New expansion", "Invite to advocacy", "Snooze alert", "Close out")
FLAG = "action_dialog"


def action_buttons(account_id: str, key: str, alerts: list[dict] | None = None,
                   renewal_date: dt.date | None = None, owner: str | None = None) -> None:
    """One row of action buttons for ``account_id``; the dialog follows a click.
    A role that cannot act (viewer) gets a note instead."""
    if not (user := auth.current()).can("act"):
        st.caption(f"Read-only: the {user.role} role cannot act on accounts.")
        return
    cols = st.columns(len(LABELS))
    for col, label in zip(cols, LABELS, strict=True):
        disabled = label == "Snooze alert" and not alerts
        if col.button(label, key=f"{key}_{label}", disabled=disabled, width="stretch",
                      help="No open alert on this account" if disabled else None):
            st.session_state[FLAG] = {"kind": label, "account_id": account_id, "alerts": alerts or [],
                                      "renewal_date": renewal_date, "owner": owner}
    if st.session_state.get(FLAG, {}).get("account_id") == account_id:
        _dialog()


def _done(message: str) -> None:
    st.session_state.pop(FLAG, None)
    st.cache_data.clear()
    st.session_state["action_toast"] = message
    st.rerun()


def show_toast() -> None:
    """Show the confirmation of the last action (after the rerun it triggered)."""
    msg = st.session_state.pop("action_toast", None)
    if msg:
        st.toast(msg, icon=":material/check_circle:")


def _confirm() -> bool:
    return st.button("Confirm", type="primary", key="dlg_confirm")


def _task_form(req: dict, eng, today: dt.date, owner: str) -> None:
    task_type = st.selectbox("Type", A.TASK_TYPES, key="dlg_task_type", format_func=human)
    title = st.text_input("Title", value=human(task_type), key="dlg_title")
    owner = st.text_input("Owner", value=owner, key="dlg_owner")
    due = st.date_input("Due", value=today + dt.timedelta(days=7), key="dlg_due")
    note = st.text_area("Note", key="dlg_note")
    if _confirm():
        A.create_task(eng, req["account_id"], title, owner, due, task_type, note,
                      actor=auth.current())
        _done(f"Task created: {title}")


def _playbook_form(req: dict, eng, today: dt.date, owner: str) -> None:
    pb = st.selectbox("Playbook", list(PLAYBOOKS), key="dlg_playbook",
                      format_func=lambda k: PLAYBOOKS[k].name)
    st.caption(PLAYBOOKS[pb].purpose)
    st.dataframe([{"day": s.offset_days, "owner": s.owner_role, "step": s.title}
                  for s in PLAYBOOKS[pb].steps], hide_index=True)
    owner = st.text_input("Owner", value=owner, key="dlg_owner")
    renewal = req.get("renewal_date")
    if PLAYBOOKS[pb].relative_to == "renewal":
        renewal = st.date_input("Renewal date", value=renewal or today + dt.timedelta(days=120),
                                key="dlg_renewal")
    if _confirm():
        A.start_playbook(eng, req["account_id"], pb, owner, start=today, renewal_date=renewal,
                         actor=auth.current())
        _done(f"Playbook started: {PLAYBOOKS[pb].name}")


def _escalate_form(req: dict, eng, today: dt.date, owner: str) -> None:
    owner = st.text_input("Escalate to", value="CS director", key="dlg_owner")
    due = st.date_input("Respond by", value=today + dt.timedelta(days=3), key="dlg_due")
    reason = st.text_area("Reason", key="dlg_note")
    if _confirm():
        A.escalate(eng, req["account_id"], owner, due, reason, actor=auth.current())
        _done("Escalated")


def _interaction_form(req: dict, eng, today: dt.date, owner: str) -> None:
    itype = st.selectbox("Type", A.INTERACTION_TYPES, key="dlg_itype", format_func=human)
    when = st.date_input("Date", value=today, key="dlg_due")
    attended = st.checkbox("The customer attended", value=True, key="dlg_attended")
    note = st.text_area("Note", key="dlg_note")
    if _confirm():
        A.log_interaction(eng, req["account_id"], itype, when, attended, note,
                          owner=auth.current().display, actor=auth.current())
        _done(f"Logged {human(itype).lower()}")


def _expansion_form(req: dict, eng, today: dt.date, owner: str) -> None:
    amount = st.number_input("Amount (ARR, USD)", min_value=0.0, value=10_000.0, step=1000.0,
                             key="dlg_amount")
    close = st.date_input("Expected close", value=today + dt.timedelta(days=60), key="dlg_due")
    stage = st.selectbox("Stage", ["discovery", "qualification", "proposal"], key="dlg_stage",
                         format_func=human)
    note = st.text_area("Note", key="dlg_note")
    if _confirm():
        A.create_expansion_opportunity(eng, req["account_id"], amount, close, stage, note,
                                       actor=auth.current())
        _done(f"Expansion opportunity created: ${amount:,.0f}")


def _advocacy_form(req: dict, eng, today: dt.date, owner: str) -> None:
    atype = st.selectbox("Ask", A.ADVOCACY_TYPES, key="dlg_atype", format_func=human)
    note = st.text_area("Note", key="dlg_note")
    if _confirm():
        A.invite_to_advocacy(eng, req["account_id"], atype, note=note, actor=auth.current())
        _done("Advocacy ask recorded")


def _snooze_form(req: dict, eng, today: dt.date, owner: str) -> None:
    options = {a["alert_id"]: a["title"] for a in req.get("alerts", [])}
    alert_id = st.selectbox("Alert", list(options), key="dlg_alert",
                            format_func=lambda k: options[k])
    dismiss = st.checkbox("Dismiss instead of snoozing", key="dlg_dismiss")
    until = st.date_input("Snooze until", value=today + dt.timedelta(days=14), key="dlg_due",
                          disabled=dismiss)
    reason = st.text_area("Reason", key="dlg_note")
    if _confirm():
        A.snooze_alert(eng, alert_id, until, reason, dismiss=dismiss, actor=auth.current())
        _done("Alert dismissed" if dismiss else f"Alert snoozed until {until:%d %b}")


def _close_out_form(req: dict, eng, today: dt.date, owner: str) -> None:
    st.caption("The account is lost: record when, why and what the customer said. The churn "
               "reasons on Churn risk read it; the next import still decides the ARR.")
    when = st.date_input("Churned on", value=today, max_value=today, key="dlg_due")
    reason = st.selectbox("Reason", A.CHURN_REASONS, key="dlg_reason", format_func=human)
    note = st.text_area("What the customer said", key="dlg_note")
    if _confirm():
        A.record_close_out(eng, req["account_id"], when, reason, note, actor=auth.current(),
                           today=today)
        _done(f"Closed out: {human(reason)}")


#: The dialog's form for each action button.
FORMS = {"Create task": _task_form, "Start playbook": _playbook_form,
         "Escalate": _escalate_form, "Log interaction": _interaction_form,
         "New expansion": _expansion_form,
         "Invite to advocacy": _advocacy_form, "Snooze alert": _snooze_form,
         "Close out": _close_out_form}


@st.dialog("Action", width="large")
def _dialog() -> None:
    req = st.session_state[FLAG]
    st.subheader(req["kind"])
    try:
        FORMS[req["kind"]](req, data.engine(), dt.date.today(),
                           req.get("owner") or auth.current().display)
    except A.ActionError as exc:
        st.error(md(exc))
    if st.button("Cancel", key="dlg_cancel"):
        st.session_state.pop(FLAG, None)
        st.rerun()


#: What can be done to many selected accounts at once.
BULK = ("Start playbook", "Create task", "Reassign owner")


def bulk_bar(selected, key: str) -> None:
    """Act on several selected accounts at once (``selected``: rows with ``account_id``,
    ``name``, optionally ``arr`` and ``renewal_date``): start a playbook, create a task or
    reassign the owner, in one transaction with an audit row per account
    (:func:`greendoor.actions.bulk_start_playbook`, ``bulk_create_tasks``,
    ``reassign_owners``), within the signed-in user's rights."""
    user = auth.current()
    n = len(selected)
    if not user.can("act"):
        st.caption(f"Read-only: the {user.role} role cannot act on accounts.")
        return
    arr = f", {money(selected['arr'].sum())} ARR" if "arr" in selected else ""
    st.markdown(f"**{n} accounts selected**{arr}: act on all of them at once.")
    kinds = [k for k in BULK if k != "Reassign owner" or user.can("reassign")]
    kind = st.segmented_control("Bulk action", kinds, default=kinds[0], key=f"{key}_bulk_kind")
    ids = list(selected["account_id"])
    today = dt.date.today()
    with st.form(f"{key}_bulk_form", border=True):
        if kind == "Start playbook":
            pb = st.selectbox("Playbook", list(PLAYBOOKS), key=f"{key}_bulk_pb",
                              format_func=lambda k: PLAYBOOKS[k].name)
            st.caption("Owned by each account's CSM; the renewal playbook counts back from "
                       "each account's next renewal.")
        elif kind == "Create task":
            task_type = st.selectbox("Type", A.TASK_TYPES, key=f"{key}_bulk_type",
                                     format_func=human)
            title = st.text_input("Title", key=f"{key}_bulk_title",
                                  placeholder="e.g. Check in before the price change")
            due = st.date_input("Due", value=today + dt.timedelta(days=7), key=f"{key}_bulk_due")
        else:
            new_owner = st.text_input("New CSM owner", key=f"{key}_bulk_owner")
            reason = st.text_input("Why", key=f"{key}_bulk_reason")
        go = st.form_submit_button(f"Apply to {n} accounts", type="primary")
    if not go:
        return
    try:
        if kind == "Start playbook":
            renewals = ({a: r for a, r in zip(selected["account_id"], selected["renewal_date"],
                                               strict=True) if r == r and r is not None}
                        if "renewal_date" in selected else None)
            A.bulk_start_playbook(data.engine(), ids, pb, start=today, renewal_dates=renewals,
                                  actor=user)
            message = f"Started {PLAYBOOKS[pb].name} on {n} accounts"
        elif kind == "Create task":
            A.bulk_create_tasks(data.engine(), ids, title or human(task_type), due, task_type,
                                actor=user)
            message = f"Created {n} tasks"
        else:
            A.reassign_owners(data.engine(), [(a, new_owner) for a in ids], reason, actor=user)
            message = f"Reassigned {n} accounts to {new_owner}"
    except A.ActionError as exc:
        st.error(md(str(exc)))
        return
    st.cache_data.clear()
    st.session_state["action_toast"] = message
    st.rerun()


def promote_button(sel) -> None:
    """"Promote": ask one selected advocate (a row of the advocacy ladder) for the next
    rung; refused past the quarterly ask limit, with the reason."""
    if sel is None or not isinstance(sel.get("next_ask"), str) or not auth.current().can("act"):
        return
    rung = str(sel["next_rung"])
    if st.button(f"Promote to {rung}", key="adv_promote", icon=":material/trending_up:",
                 type="primary", help=f"Asks the account for the next rung ({rung}): an "
                                      "advocacy ask, counted against the quarterly limit."):
        try:
            A.invite_to_advocacy(data.engine(), sel["account_id"], sel["next_ask"],
                                 note="Promotion on the advocacy ladder", actor=auth.current())
        except A.ActionError as exc:
            st.error(md(str(exc)))
            return
        _done(f"Asked to move up to {rung}")


def asset_use_form(library) -> None:
    """Record where an asset of the library was used (greendoor.actions.record_asset_use)."""
    if not auth.current().can("act"):
        return
    labels = {r.activity_id: f"{r.name} · {human(r.type)} ({r.occurred_at:%b %Y})"
              for r in library.itertuples()}
    with st.form("asset_use", border=True):
        c1, c2 = st.columns(2)
        asset = c1.selectbox("Asset", list(labels), format_func=labels.get, key="asset_pick")
        used_for = c2.text_input("Used for", key="asset_used_for",
                                 placeholder="Acme Corp deal, security review")
        go = st.form_submit_button("Record use")
    if go:
        try:
            A.record_asset_use(data.engine(), asset, used_for, actor=auth.current())
        except A.ActionError as exc:
            st.error(md(str(exc)))
            return
        _done("Asset use recorded")
