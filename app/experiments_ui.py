"""The Experiments section of Actions & playbooks: randomized comparisons of playbooks
(greendoor.experiments), their findings with intervals, and the form that starts one."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from app import data, lists, shell
from greendoor import experiments as E
from greendoor.access import Principal
from greendoor.charts import experiments as CX
from greendoor.labels import human
from greendoor.periods import Filters
from greendoor.playbooks import PLAYBOOKS
from greendoor.text import md

ARM_CHOICES = [E.NONE, *PLAYBOOKS]


def _arm_words(key: str) -> str:
    return "No playbook" if key == E.NONE else PLAYBOOKS[key].name


def section(token: str, f: Filters, user: Principal, today: dt.date) -> None:
    """The experiments, the chosen one's finding, and (managers, admins) a new one."""
    st.subheader("Experiments")
    st.caption("Randomized: the accounts of an experiment are assigned to its arms at random "
               "(stratified by segment and health band, with a stored seed), so the arms "
               "differ only by chance and by the playbook. This is how to know that a "
               "playbook works; the comparison above is observational.")
    exps = data.experiments(token)
    exps = exps[exps["start_date"] <= f.as_of]  # at a past date: the ones started by then
    if exps.empty:
        st.caption("No experiment yet." + (" Start one below." if user.can("reassign") else
                                          " A manager or admin can start one."))
    else:
        _finding(token, f, exps, user)
    if user.can("reassign"):
        _new(token, f, user, today)


def _finding(token: str, f: Filters, exps, user: Principal) -> None:
    stage = ["stopped" if s == "stopped" else "outcome in" if end <= f.as_of else "measuring"
             for s, end in zip(exps["status"], exps["ends"], strict=True)]
    shown = exps.assign(arms=exps["arms"].map(lambda a: " vs ".join(x["name"] for x in a)),
                        stage=stage)
    lists.table(shown, key="experiments_table", column_order=[
        "name", "arms", "accounts", "start_date", "ends", "stage"], column_config={
        "name": "Experiment", "arms": st.column_config.TextColumn("Arms", width="medium"),
        "accounts": "Accounts",
        "start_date": st.column_config.DateColumn("Started", format="D MMM YYYY"),
        "ends": st.column_config.DateColumn("Outcome on", format="D MMM YYYY"),
        "stage": "Stage"})
    if st.session_state.get("experiment_new") in set(exps["experiment_id"]):
        st.session_state["experiment_pick"] = st.session_state.pop("experiment_new")
    eid = st.selectbox("Experiment", exps["experiment_id"].tolist(), key="experiment_pick",
                       format_func=dict(zip(exps["experiment_id"], exps["name"],
                                            strict=True)).get)
    res = data.experiment_results(token, eid, f.as_of)
    e = res["experiment"]
    if e["hypothesis"]:
        st.markdown(f"**Hypothesis.** {md(e['hypothesis'])}")
    for row in res["effects"].itertuples():
        say = st.success if row.conclusive and row.lo > 0 else \
            st.warning if row.conclusive and row.hi < 0 else st.info
        say(f"**{md(row.name)}** against {md(res['arms']['name'].iloc[0])}: "
            f"{md(row.verdict)}")
    arms = res["arms"]
    lists.table(arms, key="experiment_arms", column_order=[
        "name", "accounts", "retained", "retention", "health_change", "renewing",
        "renewal_rate"], column_config={
        "name": "Arm", "accounts": "Accounts", "retained": "Retained",
        "retention": lists.pct_col("Retention"),
        "health_change": st.column_config.NumberColumn("Health change (points)",
                                                       format="%+.1f"),
        "renewing": st.column_config.NumberColumn("Renewing in the window", format="%d"),
        "renewal_rate": lists.pct_col("Renewed")})
    eff = res["effects"]
    if not res["closed"]:
        st.caption("Counts so far. The effects and their intervals are shown once the outcome "
                   "window has closed: looking at them earlier and stopping when they look good "
                   "finds effects that are not there.")
    elif len(eff):
        shell.chart(CX.retention_effects(eff, e["min_effect"], shell.theme()),
                    key="experiment_effects")
        lists.table(eff.assign(**{c: eff[c] * 100 for c in (
            "retention_diff", "lo", "hi", "boot_lo", "boot_hi", "renewal_diff")}),
            key="experiment_effects_table", column_order=[
            "name", "retention_diff", "lo", "hi", "boot_lo", "boot_hi", "p_value",
            "health_diff", "health_lo", "health_hi", "renewal_diff", "needed_per_arm"],
            column_config={
            "name": "Arm", "retention_diff": _pts("Retention (points)"),
            "lo": _pts("Interval from"), "hi": _pts("to"),
            "boot_lo": _pts("Bootstrap from"), "boot_hi": _pts("to "),
            "p_value": st.column_config.NumberColumn("p", format="%.3f"),
            "health_diff": _pts("Health change (points)"),
            "health_lo": _pts("from"), "health_hi": _pts("to  "),
            "renewal_diff": _pts("Renewal (points)"),
            "needed_per_arm": st.column_config.NumberColumn("Needed per arm", format="%d")})
        st.caption(f"Interval: Newcombe's for a difference of two proportions "
                   f"({1 - e['alpha']:.0%}); bootstrap: {1 - e['alpha']:.0%} percentile "
                   "interval of resampled accounts. Retained: no churn from the start to the "
                   f"end of the {e['outcome_days']}-day window (or to the as-of date while it "
                   "runs). Shaded: differences smaller than the "
                   f"{e['min_effect'] * 100:.0f} points worth finding. Needed per arm: "
                   "accounts to detect "
                   f"{e['min_effect'] * 100:.0f} points with {e['power']:.0%} power at the "
                   "control's retention.")
    if e["status"] == "running" and user.can("reassign") and \
            st.button("Stop this experiment", key="experiment_stop",
                      help="Its accounts may then join another; its findings stay."):
        E.stop(data.engine(), e["experiment_id"], user)
        st.cache_data.clear()
        st.session_state["action_toast"] = f"Stopped {e['name']!r}."
        st.rerun()


def _pts(label: str):
    return st.column_config.NumberColumn(label, format="%+.1f")


def _new(token: str, f: Filters, user: Principal, today: dt.date) -> None:
    defaults = data.settings(token)[1]["experiments"]
    with st.expander("New experiment"):
        name = st.text_input("Name", key="ex_name",
                             placeholder="14-day retention playbook against none")
        hypothesis = st.text_input("Hypothesis", key="ex_hypothesis",
                                   placeholder="The playbook keeps more at-risk accounts")
        c1, c2 = st.columns(2)
        arms = c1.multiselect("Arms (the first is the control)", ARM_CHOICES,
                              default=[E.NONE, "retention_14d"], key="ex_arms",
                              format_func=_arm_words)
        segment = c2.selectbox("Accounts", [None, *data.store_status(token)["options"][
            "segments"]], key="ex_segment",
            format_func=lambda s: "Every account" if s is None else human(s))
        c3, c4 = st.columns(2)
        days = c3.number_input("Retention measured after (days)", 30, 730,
                               int(defaults["outcome_days"]), key="ex_days")
        mde = c4.number_input("Smallest effect worth finding (points)", 1.0, 50.0,
                              float(defaults["min_effect"]) * 100, 1.0, key="ex_mde")
        spec = {"name": name, "hypothesis": hypothesis, "arms": arms, "segment": segment,
                "outcome_days": int(days), "min_effect": mde / 100}
        b1, b2 = st.columns([1, 4])
        start = data.store_status(token)["default_as_of"]  # the latest scoring's date
        if b1.button("Check", key="ex_check"):
            try:
                p = data.experiment_plan(spec, start)
            except E.ExperimentError as exc:
                st.error(md(str(exc)))
            else:
                say = st.info if p["enough"] else st.warning
                say(f"{p['eligible']:,} eligible accounts, about {p['per_arm']:,} per arm. At "
                    f"the book's retention of {p['base_retention']:.0%} over {int(days)} days, "
                    f"{p['needed_per_arm']:,} per arm are needed to detect {mde:.0f} points"
                    + ("." if p["enough"] else ": this experiment would likely be "
                       "inconclusive. Widen it or look for a larger effect."))
        if b2.button("Start the experiment", key="ex_start", type="primary"):
            try:
                eid = E.create(data.engine(), spec, defaults, user, start=start,
                               runs_from=max(today, start))
            except E.ExperimentError as exc:
                st.error(md(str(exc)))
            else:
                st.cache_data.clear()
                st.session_state["experiment_new"] = eid  # shown on the next run
                st.session_state["action_toast"] = (f"Started {name!r}: its playbooks are in "
                                                    "the task inbox.")
                st.rerun()
