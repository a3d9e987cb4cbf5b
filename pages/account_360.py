"""Account 360: one account, everything about it, and the actions (shareable: ?account=ID)."""

import pandas as pd
import streamlit as st

from app import actions_ui, auth, data, lists, shell
from greendoor import account360
from greendoor.analytics import churn_risk
from greendoor.charts import account as charts
from greendoor.labels import human, money, percent
from greendoor.scoring import skill
from greendoor.scoring.features import describe
from greendoor.text import md

status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
user = auth.current()
names = data.visible_accounts(token, user)  # a csm: their own book
account_id = st.query_params.get("account")
# The library checks the account against the user's scope: another owner's account
# in the URL raises AccessDenied (shown as "Not allowed" by the entrypoint).
acc = data.account360(token, account_id, f.as_of, user) if account_id else None
if acc is None:
    st.title("Account 360")
    if account_id:
        st.warning(f"No account with id {md(account_id, 80)}.")
    labels = shell.account_labels(names)
    choice = st.selectbox("Account", list(labels), index=None, key="a360_pick",
                          format_func=labels.get,
                          placeholder="Search by name")
    if choice:
        st.query_params["account"] = choice
        st.rerun()
    st.stop()

a, snap, det = acc.account, acc.snapshot or {}, acc.details
head, deck = st.columns([5, 1], vertical_alignment="bottom")
head.title(md(shell.account_label(account_id, a["name"])))
renewal = det.get("renewal", {}).get("days_to_renewal")
sub_info = [human(a["segment"]) if a.get("segment") else "no segment", a.get("industry") or "", f"CSM {a.get('csm_owner') or '—'}"]
head.caption(" · ".join(md(x) for x in sub_info if x) + f" · as of {f.as_of:%d %b %Y}")
no_browser = data.reports_available()
deck.download_button(
    "QBR deck", icon=":material/slideshow:", key="qbr_deck", on_click="ignore",
    file_name=f"greendoor-qbr-{account_id}-{f.as_of:%Y-%m-%d}.pptx", width="stretch",
    mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
    data=data.report_file("qbr", account_id=account_id, as_of=f.as_of, mask=data.masking(),
                          principal=user), disabled=bool(no_browser),
    help=no_browser or "PowerPoint for the quarterly business review: health and its why, "
                       "usage, value, voice of the customer, renewal and open actions, as "
                       f"of {f.as_of:%d %b %Y}" + (" (names masked)" if data.masking() else ""))

band = snap.get("band")
cols = st.columns(6, border=True)
cols[0].metric("ARR", money(acc.arr))
hs = snap.get("health_score")
h = acc.history
base = h[pd.to_datetime(h["as_of"]) == pd.Timestamp(snap["as_of"]) - pd.Timedelta(days=28)] \
    if snap else h.iloc[0:0]
change = None if hs is None or base.empty else hs - float(base["health_score"].iloc[0])
cols[1].metric(f"Health ({band})" if band else "Health", "—" if hs is None else f"{hs:.0f}",
               delta=None if change is None else f"{change:+.0f} pts, {snap.get('trend')}",
               help="0-100, green 80+, yellow 50-79, red below 50; change over 4 weeks "
                    "(±5 points or more = improving / declining).")
g = data.gates(token)
renewal = snap.get("days_to_renewal", renewal) if snap else renewal
renewal = None if renewal is None or pd.isna(renewal) else renewal


def _gated(label: str, kind: str, value, rule_value=None) -> None:
    """A model's figure only when the model has measured skill; else the words, and the
    rule's figure where there is one."""
    col = cols[{"renewal": 2, "churn": 3, "expansion": 5}[kind]]
    if g.uses(kind):
        col.metric(label, value, help=skill.DEFINITIONS.get(
            {"renewal": "risk_index", "churn": "churn_probability"}.get(kind, ""), "")
            + " " + skill.status_sentence(g, kind))
    else:
        col.metric(label, "—", delta="no measurable skill", delta_color="off",
                   delta_arrow="off", help=skill.status_sentence(g, kind)
                   + (f" The rule's figure: {rule_value}." if rule_value else ""))


_gated("Churn risk index", "renewal",
       "—" if snap.get("risk_index") is None else f"{snap['risk_index']:.0f}")
rule = snap.get("rule_churn_probability")
_gated("P(churn, 90 days)", "churn", percent(snap.get("churn_probability") or float("nan")),
       None if rule is None else f"{g.rule} rule: {rule:.0%}")
p_renew = snap.get("renewal_probability")
cols[4].metric("Renewal in (days)", "—" if renewal is None else f"{renewal:.0f}",
               delta=None if p_renew is None or pd.isna(p_renew) else
               f"P(renew) {p_renew:.0%}" + ("" if g.uses("renewal") else ", rule"),
               delta_color="off", delta_arrow="off", help=skill.DEFINITIONS["renewal_probability"])
_gated("P(expansion, 90 days)", "expansion",
       percent(snap.get("expansion_probability") or float("nan")))
story = churn_risk.risk_reading(pd.DataFrame([snap]), data.settings(token)[1]).iloc[0] \
    if snap else ""
if story:
    st.caption(f"Reading the risk figures: {md(story)}.")
if not snap:
    st.info("This account has no score yet: run `greendoor score` (or rescore on the Data page).")

plan_value = data.account_value(token, account_id, f.as_of)
if plan_value:
    pg, val = plan_value["progress"], plan_value["value"]
    line = (f"**Success plan** ({human(plan_value['plan']['approval'])}): day {int(pg['day'])}, "
            f"{pg['phase']}, {int(pg['done'])} of {int(pg['milestones'])} milestones "
            f"done, **{pg['status']}**")
    if pg["days_behind"]:
        line += f" ({int(pg['days_behind'])} days behind)"
    if pd.notna(pg["time_to_value"]):
        line += f"; time to value {pg['time_to_value']:.0f} days"
    if val and pd.notna(val["benefit"]):
        line += (f". **Value realized** {money(val['benefit'])} a year against "
                 f"{money(val['planned_benefit'])} planned; ROI {val['roi']:.0%} "
                 f"({val['roi_low']:.0%} to {val['roi_high']:.0%})"
                 + (" — behind plan" if val["value_risk"] else ""))
    st.markdown(line + ". See Onboarding and Value realization.")

alerts = acc.alerts.to_dict("records")
renewal_date = (pd.Timestamp(f.as_of) + pd.Timedelta(days=renewal)).date() if renewal is not None else None
actions_ui.action_buttons(account_id, key="a360", alerts=alerts, renewal_date=renewal_date,
                          owner=a.get("csm_owner"))

left, right = st.columns([3, 2])
with left:
    st.subheader("Why this health score")
    why = account360.why_frame(det)
    if not len(why) and snap:  # an earlier week: the components, without the panel
        comp = pd.DataFrame({"component": ["engagement", "sentiment", "growth"],
                             "score": [snap.get(c) for c in ("engagement", "sentiment", "growth")]})
        shell.chart(charts.health_components(comp, shell.theme()), "a360_components")
        best = det.get("best_improvement")
        st.caption("Health by component at this date. The measure-by-measure panel is kept "
                   "for the latest scoring; move the as-of date there to see it."
                   + (f" Biggest lever then: {describe(best)}." if best else ""))
    if len(why):
        best = det.get("best_improvement")
        why["label"] = why["measure"].map(describe)
        if best:
            gain = why.set_index("measure").loc[best, "gain"]
            label = describe(best)
            st.info(f"Biggest lever: **{label}**, worth up to {gain:.1f} points.")
        lists.table(why[["component", "label", "value", "scaled", "weight", "contribution"]],
                    key="why_health", height=460, column_config={
                         "label": st.column_config.TextColumn("Measure", width="large"),
                         "value": st.column_config.NumberColumn("Value", format="%.2f"),
                         "scaled": st.column_config.ProgressColumn("Score", min_value=0, max_value=100, format="%.0f"),
                         "weight": lists.pct_col("Weight"),
                         "contribution": st.column_config.NumberColumn("Points", format="%.1f")})
with right:
    st.subheader("Risk drivers")
    drivers = det.get("churn_drivers", [])
    if drivers:
        for d in drivers:
            st.markdown(f"- {md(d['evidence'])}")
    elif not g.uses("churn"):
        st.caption("No churn model with measured skill: no drivers are shown ("
                   + skill.status_sentence(g, "churn") + ")")
    elif det.get("drivers_computed") is False:
        st.caption("Lower churn risk: not at risk and not in the at-risk queue at this date "
                   "(and, at the latest date, in the lower half of the book by combined "
                   "risk). Drivers are computed for the accounts the queue lists and the "
                   "riskier half, to keep scoring fast.")
    else:
        st.caption("No driver raises this account's risk above typical.")
    past = bool(alerts) and all(al.get("status") == "raised" for al in alerts)
    st.subheader("Alerts raised that week" if past else "Open alerts")
    if alerts:
        for al in alerts:
            st.markdown(f"- **{md(human(al['severity']))}** · {md(al['title'])}")
    else:
        st.caption("No alert.")

if len(h):
    shell.chart(charts.health_history(h, shell.theme()), "a360_history")
u = acc.usage_weekly
if len(u):
    shell.chart(charts.weekly_usage(u, shell.theme()), "a360_usage")
elif status.get("usage_in_warehouse"):
    st.caption(f"Weekly usage: the usage rows stay in your data warehouse (synced up to "
               f"{status['usage_in_warehouse']}); the health score uses the per-account "
               "figures computed there.")

t1, t2, t3, t4 = st.tabs(["Timeline", "Contacts", "Subscriptions", "Opportunities"])
with t1:
    lists.table(acc.timeline.head(200),
                 column_order=["when", "kind", "what", "flag"], column_config={
        "when": st.column_config.DatetimeColumn("When", format="D MMM YYYY"),
        "flag": st.column_config.CheckboxColumn("Escalated")})
with t2:
    lists.table(acc.contacts,
                 column_order=[c for c in acc.contacts.columns if c != "account_id"])
with t3:
    lists.table(acc.subscriptions)
with t4:
    lists.table(acc.opportunities,
                 column_order=list(acc.opportunities.columns))
