"""Churn risk: the at-risk queue with drivers and evidence, risk drivers across the
portfolio, a retention what-if, and why customers left (reasons, trend, feedback)."""

import streamlit as st

from app import actions_ui, data, lists, shell
from greendoor.analytics import churn_risk
from greendoor.charts import risk as charts
from greendoor.labels import human, money
from greendoor.scoring import skill

#: Intervention strategies and their assumed save rates (share of the expected loss an
#: intervention prevents). Assumptions, shown as such and adjustable on the page.
STRATEGIES = {"14-day retention playbook": 0.30, "Executive sponsor outreach": 0.25,
              "Adoption workshop and success-plan refresh": 0.20,
              "Commercial concession at renewal": 0.35}

shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
st.title("Churn risk")
q = data.at_risk_queue(token, f)
if q.empty:
    st.info("No account is at risk, or the store is not scored yet (`greendoor score`).")
    st.stop()
g = data.gates(token)
st.caption("At risk = red, or yellow and declining, plus any account with a risk index of "
           "90 or more; ranked by expected ARR loss at the next renewal. "
           + " ".join(skill.DEFINITIONS[k] for k in ("risk_index", "churn_probability",
                                                      "expected_loss"))
           + " Select a row to act on it.")
for kind in ("churn", "renewal"):
    (st.caption if g.uses(kind) else st.warning)(skill.status_sentence(g, kind))

drv = churn_risk.risk_drivers(q)
left, right = st.columns([2, 3])
with left:
    ev = None
    if len(drv):
        ev = shell.chart(charts.driver_bars(drv, shell.theme()), "drivers_chart", select=True)
    else:
        st.subheader("What drives the risk")
        st.info("No drivers to show: " + (
            "the churn model has no measured skill on this data, so no feature is named as "
            "a driver. The queue is ranked by the " + g.rule + " rule." if not g.uses("churn")
            else "no queued account has a feature that raises its risk above typical."))
with right:
    st.subheader("Retention what-if")
    strategy = st.selectbox("Intervention", list(STRATEGIES), key="whatif_strategy")
    rate = st.slider("Assumed save rate", 0.0, 1.0, STRATEGIES[strategy], 0.05,
                     key="whatif_rate", help="An assumption: the share of the expected loss "
                     "this intervention prevents. Measured playbook uplift appears on Actions "
                     "& playbooks once runs have 30 days of outcome.")
    n = st.slider("Accounts covered (riskiest first)", 1, len(q), min(25, len(q)), key="whatif_n")
    w = churn_risk.retention_what_if(q, rate, n)
    c1, c2, c3 = st.columns(3, border=True)
    c1.metric("ARR covered", money(w["arr"]), help=f"{w['accounts']} accounts")
    c2.metric("Expected loss", money(w["expected_loss"]),
              help="Sum over accounts of ARR × the probability of losing the account at its next "
                   "renewal, or within 90 days.")
    c3.metric("Expected ARR saved", money(w["expected_saved"]),
              help="Expected loss × the assumed save rate.")

picked_driver = [p["customdata"][0] for p in ((ev or {}).get("selection") or {}).get("points", [])
                 if p.get("customdata")]
if picked_driver:
    q = q[q["driver_features"].map(lambda fs: picked_driver[-1] in fs)]
    st.info(f"Showing the {len(q)} accounts whose top drivers include "
            f"**{drv.set_index('feature').loc[picked_driver[-1], 'description']}**.")
st.subheader(f"At-risk queue ({len(q):,} accounts, {money(q['arr'].sum())} ARR)")
view = q.round({"arr": 0, "expected_loss": 0})
# a probability without measured skill is not shown: the rule's figures are, labelled
columns = ["name", "arr", "health_score", "band", "trend"]
columns += ["risk_index"] if g.uses("renewal") else []
columns += ["churn_probability"] if g.uses("churn") else ["rule_churn_probability"]
columns += ["loss_probability", "expected_loss", "days_to_renewal", "reading", "drivers",
            "csm_owner", "open_playbook"]
lists.account_list(
    view, "risk_queue", columns,
    {"name": st.column_config.TextColumn("Account", width="medium"),
     "arr": st.column_config.NumberColumn("ARR ($)", format="localized"),
     "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
     "risk_index": st.column_config.ProgressColumn("Risk index", min_value=0, max_value=100, format="%.0f"),
     "churn_probability": lists.pct_col("P(churn 90d)"),
     "rule_churn_probability": lists.pct_col(
         f"P(churn 90d), {g.rule} rule",
         help="The measured 90-day churn rate of accounts like this one "
              f"({g.rule}); no model has measured skill here."),
     "loss_probability": lists.pct_col("P(loss)", help=skill.DEFINITIONS["expected_loss"]),
     "expected_loss": st.column_config.NumberColumn("Expected loss ($)", format="localized"),
     "days_to_renewal": st.column_config.NumberColumn("Days to renewal", format="%d"),
     "reading": st.column_config.TextColumn("Why listed", width="medium"),
     "drivers": st.column_config.TextColumn("Top drivers (evidence)", width="large"),
     "csm_owner": "CSM", "open_playbook": "Open playbook"}, height=560)

st.subheader("Why customers left (two years to the as-of date)")
cr = data.churn_reasons(token, f)
if cr["events"].empty:
    st.info("No churn event in the two years before the as-of date for these filters "
            "(the export's churn_events table; reactivations are left out).")
else:
    left, right = st.columns(2)
    with left:
        ev_reason = shell.chart(charts.churn_reasons(cr["by_reason"], money, shell.theme()),
                                "churn_reasons", select=True)
    with right:
        ev_trend = shell.chart(charts.reason_trend(cr["by_quarter"], shell.theme()),
                               "reason_trend", select=True)
    reasons = [cd[0] for cd in lists.clicked(ev_reason) + lists.clicked(ev_trend)]
    query = st.text_input("Search what customers said", key="churn_feedback_search",
                          placeholder="e.g. competitor, support, budget",
                          help="Every word must appear in the feedback or the reason "
                               "(not case-sensitive).")
    events = cr["events"]
    if reasons:
        events = events[events["reason"] == reasons[-1]]
    events = churn_risk.search_feedback(events, query)
    shown = f"reason **{human(reasons[-1])}**" if reasons else "every reason"
    st.caption(f"{len(events):,} churns ({shown}{', matching your search' if query else ''}), "
               f"{money(events['arr_lost'].sum())} ARR lost; tenure = signup to churn. "
               "Click a bar to keep one reason.")
    lists.account_list(
        events, "churn_events",
        ["name", "churn_date", "reason", "arr_lost", "tenure_days", "segment", "feedback",
         "csm_owner", "source"],
        {"name": lists.name_col(), "reason": "Reason",
         "churn_date": st.column_config.DateColumn("Churned", format="D MMM YYYY"),
         "arr_lost": lists.money_col("ARR lost ($)"),
         "tenure_days": st.column_config.NumberColumn("Tenure (days)", format="%d"),
         "feedback": st.column_config.TextColumn("What they said", width="large"),
         "csm_owner": "CSM",
         "source": st.column_config.TextColumn(
             "Source", help="export: the churn_events table; close-out: a CSM's close-out in "
                            "Greendoor that no exported churn covers")}, height=360)
    pre = cr["precursors"]
    if pre.empty:
        st.caption(f"No churned account had a score {cr['lead_days']} days or more before it "
                   "left, so what preceded each reason cannot be shown yet.")
    else:
        shell.chart(charts.reason_precursors(pre, cr["lead_days"], shell.theme()),
                    "reason_precursors")
        st.caption(f"For each reason, the median of the churned accounts' latest scores "
                   f"{cr['lead_days']} days or more before they left (setting "
                   "churn_reason_lead_days), and in brackets its gap to the median of every "
                   "account scored that day: a reason whose health was already low gave a "
                   f"warning. {int(pre.groupby('reason')['events'].max().sum()):,} of "
                   f"{len(cr['events']):,} churns had a score that early (in brackets: churns "
                   "per reason).")
