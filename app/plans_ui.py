"""Success plan widgets (issue 20): close a won deal into a plan, and one plan's editor
(stakeholders and RACI, objectives, milestones, approval with its SLA, value metrics and
measurements, downloads). Every write goes through :mod:`greendoor.success_plans` (one
transaction, audited, the plan's version raised)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app import auth, data, lists, shell
from greendoor import onboarding as OB
from greendoor import success_plans as SP
from greendoor.charts import onboarding as charts
from greendoor.labels import human, money
from greendoor.text import md

#: Session-state key of a plan just created, for the page to select it after the rerun.
NEW_PLAN = "onb_new_plan"


def _write(fn, message: str) -> None:
    """Run a write; on success clear the caches, toast ``message`` and rerun."""
    try:
        out = fn()
    except (SP.PlanError, PermissionError) as exc:
        st.error(md(str(exc)))
        return
    st.cache_data.clear()
    st.session_state["action_toast"] = message.format(out=out)
    st.rerun()


def close_deal_form(token: str, f) -> None:
    """Close an open new-business or expansion deal as won: its success plan is created
    from the segment's template in the same transaction."""
    user = auth.current()
    deals = data.open_deals(token, f)
    if deals.empty or not user.can("act"):
        st.caption("No open new-business or expansion deal in this book."
                   if deals.empty else f"Read-only: the {user.role} role cannot close deals.")
        return
    labels = {r.opportunity_id: f"{r.name} · {r.deal or human(r.type)} · {money(r.amount)}"
              for r in deals.itertuples()}
    pick = st.selectbox("Open deal", list(labels), format_func=labels.get, key="plan_deal")
    if st.button("Close as won and create its success plan", key="plan_close_won",
                 type="primary", icon=":material/handshake:"):
        # dated at the data's date (the demo's, or the day after the latest import), so the
        # new plan is in the book the page shows; never later than today
        on = min(data.store_status(token)["default_as_of"] or dt.date.today(),
                 dt.date.today())
        def close():
            pid = SP.close_deal(data.engine(), pick, won=True, actor=user, on=on)
            if pid:
                st.session_state[NEW_PLAN] = pid  # the page shows it after the rerun
            return pid
        _write(close, "Deal won; its success plan is a draft: edit and submit it below")


def _sla_words(plan: dict, cfg: dict) -> str:
    if plan.get("approval") != "submitted" or pd.isna(plan.get("submitted_at")):
        return ""
    s = OB.sla(pd.Timestamp(plan["submitted_at"]).to_pydatetime(), dt.datetime.now(),
               cfg["approval_business_days"])
    if s.overdue:
        return f"Approval overdue since {s.due:%-d %b %H:%M} ({cfg['approval_business_days']} " \
               "business days after submission)."
    return f"Approval due by {s.due:%-d %b %H:%M}: {s.business_days_left} business day(s) left."


def plan_editor(token: str, plan_id: str, as_of: dt.date, settings: dict) -> None:
    """One plan: timeline with its critical path, approval, stakeholders (RACI), objectives,
    milestones to complete by hand, and downloads."""
    detail = data.plan_detail(token, plan_id, as_of)
    if not detail:
        st.info("This plan did not exist yet at the as-of date.")
        return
    plan, ms = detail["plan"], detail["milestones"]
    user = auth.current()
    can = user.can("act")
    cfg = settings["onboarding"]
    st.markdown(f"**{md(plan['name'])}** · {human(plan['template'])} template · owner "
                f"{md(plan.get('owner') or '—')} · day 1 {pd.Timestamp(plan['start_date']):%-d %b %Y}"
                f" · version {plan.get('version') or 1} · **{human(plan['approval'])}**")
    st.caption(f"Required fields: {plan['filled']:.0%} filled"
               + (f" (missing: {', '.join(plan['missing'])})." if plan["missing"] else "."))
    words = _sla_words(plan, cfg)
    if words:
        (st.warning if "overdue" in words else st.caption)(words)
    shell.chart(charts.gantt(ms, as_of, shell.theme()), f"gantt_{plan_id}")
    st.caption("Critical path: the chain of dependent milestones whose durations add up to "
               "the longest time (" + " → ".join(ms.set_index("milestone_id").loc[
                   detail["critical_path"], "name"]) + ")." if detail["critical_path"] else
               "No dependencies between the milestones.")
    tabs = st.tabs(["Milestones", "Stakeholders (RACI)", "Plan and approval", "Download"])
    with tabs[0]:
        view = ms.assign(phase=ms["phase"].map(human), state=["done" if pd.notna(d) else "late" if late > 0 else "open"
                                for d, late in zip(ms["done_on"], ms["days_late"], strict=True)],
                         completed_by=[r if a else "by hand" for r, a in
                                       zip(ms["completion_rule"], ms["auto"], strict=True)])
        st.dataframe(view, hide_index=True, width=shell.table_width(),
                     placeholder=lists.MISSING,
                     column_order=["phase", "name", "owner", "due_date", "done_on", "days_late",
                                   "state", "completed_by"],
                     column_config={"phase": "Phase", "name": "Milestone", "owner": "Owner",
                                    "due_date": st.column_config.DateColumn("Due", format="D MMM YYYY"),
                                    "done_on": st.column_config.DateColumn("Done", format="D MMM YYYY"),
                                    "days_late": "Days late", "state": "State",
                                    "completed_by": "Completed by (usage rule)"})
        manual = ms[ms["done_on"].isna() & ~ms["auto"]]
        if can and len(manual):
            pick = st.selectbox("Mark a milestone done", list(manual["milestone_id"]),
                                format_func=dict(zip(manual["milestone_id"], manual["name"],
                                                     strict=True)).get, key=f"ms_pick_{plan_id}")
            on = st.date_input("Done on", value=min(as_of, dt.date.today()), key=f"ms_on_{plan_id}")
            if st.button("Mark done", key=f"ms_done_{plan_id}", icon=":material/check:"):
                _write(lambda: SP.complete_milestone(data.engine(), pick, on, actor=user),
                       "Milestone done (plan version {out})")
    with tabs[1]:
        people = detail["stakeholders"][["stakeholder_id", "name", "title", "side", "raci",
                                         "email", "contact_id"]]
        problems = OB.raci_problems(people)
        if problems:
            st.warning("The RACI does not cover the plan: " + "; ".join(problems) + ".")
        else:
            st.caption("RACI covered: at least one Accountable and one Responsible.")
        edited = st.data_editor(
            people, key=f"raci_{plan_id}", hide_index=True, num_rows="dynamic",
            width=shell.table_width(), disabled=not can,
            column_order=["name", "title", "side", "raci", "email"],
            column_config={
                "name": st.column_config.TextColumn("Name", required=True),
                "title": "Title",
                "side": st.column_config.SelectboxColumn("Side", options=["customer", "vendor"]),
                "raci": st.column_config.SelectboxColumn("RACI role", options=list(OB.RACI),
                                                         required=True),
                "email": "E-mail"})
        if can and st.button("Save stakeholders", key=f"raci_save_{plan_id}",
                             icon=":material/save:"):
            _write(lambda: SP.save_stakeholders(data.engine(), plan_id, edited, actor=user),
                   "Stakeholders saved (plan version {out})")
    with tabs[2]:
        _plan_form(plan, plan_id, user, can)
    with tabs[3]:
        st.download_button("Download as HTML", data.plan_file(plan_id, as_of, "html"),
                           file_name=f"success-plan-{plan_id}.html", mime="text/html",
                           key=f"plan_html_{plan_id}", icon=":material/download:")
        if st.button("Prepare the PDF", key=f"plan_pdf_make_{plan_id}"):
            st.session_state[f"plan_pdf_{plan_id}"] = data.plan_file(plan_id, as_of, "pdf")
        pdf = st.session_state.get(f"plan_pdf_{plan_id}")
        if pdf:
            st.download_button("Download the PDF", pdf, file_name=f"success-plan-{plan_id}.pdf",
                               mime="application/pdf", key=f"plan_pdf_{plan_id}_dl",
                               icon=":material/picture_as_pdf:")


def _plan_form(plan: dict, plan_id: str, user, can: bool) -> None:
    with st.form(f"plan_form_{plan_id}"):
        objectives = st.text_area("Objectives (one per line)", plan.get("objectives") or "",
                                  disabled=not can)
        c1, c2 = st.columns(2)
        owner = c1.text_input("Owner (CSM)", plan.get("owner") or "", disabled=not can)
        inv = plan.get("investment")
        investment = c2.number_input("One-off services fee (counts in the ROI's cost)",
                                     min_value=0.0, value=float(inv) if pd.notna(inv) else 0.0,
                                     step=1000.0, disabled=not can)
        saved = st.form_submit_button("Save the plan", disabled=not can)
    if saved:
        _write(lambda: SP.save_plan(data.engine(), plan_id, {
            "objectives": objectives, "owner": owner or None, "investment": investment},
            actor=user), "Plan saved (version {out}); an approved plan goes back to draft")
    status = plan.get("status")
    c1, c2, c3 = st.columns(3)
    if status in ("draft", "rejected") and can:
        if c1.button("Submit for approval", key=f"plan_submit_{plan_id}", type="primary"):
            _write(lambda: SP.submit(data.engine(), plan_id, actor=user),
                   "Submitted for approval (version {out})")
    if status == "submitted":
        if not user.can("approve"):
            c1.caption("Waiting for a manager's approval.")
        else:
            note = st.text_input("Decision note (needed to reject)", key=f"plan_note_{plan_id}")
            if c2.button("Approve", key=f"plan_approve_{plan_id}", type="primary"):
                _write(lambda: SP.decide(data.engine(), plan_id, True, note, actor=user),
                       "Plan approved (version {out})")
            if c3.button("Reject", key=f"plan_reject_{plan_id}"):
                _write(lambda: SP.decide(data.engine(), plan_id, False, note, actor=user),
                       "Plan rejected (version {out})")
    if plan.get("decision_note"):
        st.caption(f"Decision note: {md(plan['decision_note'])}")


def value_forms(detail: dict, plan_id: str, as_of: dt.date) -> None:
    """Add a value metric to a plan, and record a measurement of one."""
    user = auth.current()
    if not user.can("act"):
        return
    c1, c2 = st.columns(2)
    with c1.form(f"metric_form_{plan_id}"):
        st.markdown("**Add a value metric**")
        name = st.text_input("Metric", placeholder="e.g. Hours on reporting per month")
        a, b = st.columns(2)
        unit = a.text_input("Unit", placeholder="hours")
        direction = b.selectbox("Better when it", ["decrease", "increase"], format_func=human)
        baseline = a.number_input("Baseline", value=0.0)
        target = b.number_input("Target", value=0.0)
        vpu = a.number_input("Value of one unit a year ($)", min_value=0.0, value=0.0)
        target_date = b.date_input("Target date", value=pd.Timestamp(
            detail["plan"]["start_date"]).date() + dt.timedelta(days=89))
        lo = a.number_input("Low value of one unit ($)", min_value=0.0, value=0.0)
        hi = b.number_input("High value of one unit ($)", min_value=0.0, value=0.0)
        add = st.form_submit_button("Add the metric")
    if add:
        _write(lambda: SP.add_value_metric(data.engine(), plan_id, {
            "name": name, "unit": unit or None, "direction": direction, "baseline": baseline,
            "target": target, "target_date": target_date, "value_per_unit": vpu,
            "value_per_unit_low": lo or None, "value_per_unit_high": hi or None}, actor=user),
            "Value metric added")
    met = detail["metrics"]
    if met.empty:
        c2.caption("No value metric yet: add one with its baseline to measure ROI.")
        return
    with c2.form(f"measure_form_{plan_id}"):
        st.markdown("**Record a measurement**")
        pick = st.selectbox("Metric", list(met["metric_id"]),
                            format_func=dict(zip(met["metric_id"], met["name"], strict=True)).get)
        v = st.number_input("Value", value=0.0)
        on = st.date_input("Measured on", value=min(as_of, dt.date.today()))
        rec = st.form_submit_button("Record")
    if rec:
        _write(lambda: SP.record_measurement(data.engine(), pick, v, on, actor=user),
               "Measurement recorded")

