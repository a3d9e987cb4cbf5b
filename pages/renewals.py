"""Renewal forecast: renewals due with probabilities, bottom-up expected renewed ARR
with P10-P90, forecast categories, renewal windows without a plan, the top-down
forecast with its backtest, and past quarters' forecast vs actual."""

import pandas as pd
import streamlit as st

from app import actions_ui, auth, data, lists, shell
from greendoor import actions as A
from greendoor.analytics.renewals import SERIES
from greendoor.charts import renewals as charts
from greendoor.forecast import calls as FC
from greendoor.labels import money, percent
from greendoor.text import md

CALL_LABELS = {"commit": "Commit", "best_case": "Best case", "at_risk": "At risk", "lost": "Lost"}


def calls_section() -> None:
    """The CSMs' calls on this and next quarter's renewals, beside the model, and this
    quarter's rollup; saved as new calls (never overwritten) with an audit row each."""
    st.subheader("Forecast calls")
    fc = data.forecast_calls(token, f)
    sheet, roll, qs = fc["sheet"], fc["rollup"], fc["quarter"]
    cols = st.columns(5, border=True)
    last = (pd.Timestamp(qs) + pd.offsets.QuarterEnd(0)).date()
    cols[0].metric(f"Due by {last:%d %b %Y}",
                   money(roll["due"]), help=f"{roll['renewals']:,} renewals; the forecasts "
                   "below are renewed ARR capped at the renewal value (GRR basis).")
    cols[1].metric("Model", money(roll["model"]) if roll["model"] == roll["model"] else "—",
                   help="Σ ARR × P(renew)." if roll["model"] == roll["model"] else
                   "No renewal model with measured skill: no model forecast.")
    cols[2].metric("CSM calls", money(roll["calls"]),
                   delta=f"{percent(roll['coverage'], 0)} of ARR called", delta_color="off",
                   delta_arrow="off", help="Σ the calls' amounts (capped at ARR due), and the "
                   "constant rate × ARR for renewals without a call.")
    cols[3].metric("Commit", money(roll["commit"]), help="Σ the amounts called commit.")
    cols[4].metric("Constant baseline", money(roll["constant"]),
                   help=f"The trailing four quarters' renewal rate ({percent(fc['rates']['grr'])}) "
                        "× ARR due: what any forecast must beat.")
    if sheet.empty:
        st.caption("No renewal is due this quarter or the next for these filters.")
        return
    present = status["default_as_of"] is None or f.as_of >= status["default_as_of"]
    may = auth.current().can("act") and present
    view = sheet[["account_id", "name", "csm_owner", "renewal_date", "arr", "renewal_probability",
                  "expected", "call", "amount", "note"]].copy()
    view[["call", "note"]] = view[["call", "note"]].astype("string")  # editable as text
    view = view.round({"arr": 0, "expected": 0, "amount": 0})
    view["renewal_probability"] = 100 * view["renewal_probability"]  # points, as pct_col shows
    edited = st.data_editor(
        view, key="forecast_calls_editor", hide_index=True, width="stretch", height=380,
        disabled=[c for c in view.columns if c not in ("call", "amount", "note")] if may
        else True,
        column_config={"account_id": None, "name": st.column_config.TextColumn("Account"),
                       "csm_owner": "CSM",
                       "renewal_date": st.column_config.DateColumn("Renewal", format="D MMM YYYY"),
                       "arr": lists.money_col("ARR due ($)"),
                       "renewal_probability": lists.pct_col("P(renew)"),
                       "expected": lists.money_col("Model ($)"),
                       "call": st.column_config.SelectboxColumn(
                           "Call", options=list(CALL_LABELS), format_func=CALL_LABELS.get),
                       "amount": st.column_config.NumberColumn(
                           "Expected amount ($)", min_value=0.0, format="localized",
                           help="The renewed ARR you expect, expansion included."),
                       "note": st.column_config.TextColumn("Note", max_chars=500)})
    st.caption("Calls in force " + ("now" if present else f"on {f.as_of:%d %b %Y} (read only at "
               "a past date)") + ". A saved call never replaces an earlier one: each week's "
               "forecast is read from the calls in force that week, and scored once the quarter "
               "closes (below).")
    if may and st.button("Save calls", key="forecast_calls_save", icon=":material/save:"):
        changed = FC.changed_calls(view, edited)
        try:
            n = A.record_forecast_calls(data.engine(), changed, actor=auth.current())
        except A.ActionError as exc:
            st.error(md(str(exc)))
        else:
            st.cache_data.clear()
            st.session_state["action_toast"] = f"Saved {n} forecast call(s)."
            st.rerun()
    acc = data.call_accuracy(token, f.as_of)
    _accuracy(acc)


def _accuracy(acc: dict) -> None:
    st.subheader("Forecast accuracy: calls, model and the constant baseline")
    summ = acc["summary"]
    if summ.empty:
        st.info("No quarter has closed with renewals due yet (a quarter is scored 14 days after "
                "it ends).")
        return
    labels = FC.METHODS
    view = summ.assign(method=summ["method"].map(labels), basis=summ["basis"].str.upper(),
                       beats=summ["beats_constant"].map({True: "yes", False: "no"}))
    lists.table(view, key="call_accuracy", column_order=[
        "basis", "method", "quarters", "accuracy", "bias", "mape", "within_5", "within_10",
        "coverage", "beats"], column_config={
        "basis": "Basis", "method": st.column_config.TextColumn("Forecast", width="medium"),
        "quarters": st.column_config.NumberColumn("Quarters", format="%d"),
        "accuracy": lists.pct_col("Day-1 accuracy"), "bias": lists.pct_col("Bias"),
        "mape": lists.pct_col("MAPE (4 quarters)"), "within_5": lists.pct_col("Quarters ±5 %"),
        "within_10": lists.pct_col("Quarters ±10 %"), "coverage": lists.pct_col("ARR called"),
        "beats": "Beats the constant"})
    st.caption("Accuracy = 1 − |forecast − actual| / actual of the forecast made on the "
               "quarter's first day; bias = (forecast − actual) / actual (positive: too high); "
               "MAPE over the trailing four closed quarters. GRR basis: renewed ARR capped at "
               "the renewal value; NRR basis: with expansion and contraction. A forecast beats "
               "the constant only with a lower MAPE and closer in most quarters. "
               "Portfolio-wide (filters do not apply).")
    weekly = acc["weekly"]
    quarters = sorted(weekly["quarter_start"].unique())
    pick = st.selectbox("Quarter", quarters, index=len(quarters) - 1, key="call_acc_quarter",
                        format_func=lambda q: f"{pd.Timestamp(q):%b %Y} quarter")
    basis = st.segmented_control("Basis", ["grr", "nrr"], default="grr", key="call_acc_basis",
                                 format_func=str.upper) or "grr"
    one = weekly[(weekly["quarter_start"] == pick) & (weekly["basis"] == basis)]
    if not (one["method"] == "calls").any() or not (one["coverage"].fillna(0) > 0).any():
        one = one[~one["method"].isin(["calls", "commit"])]
    shell.chart(charts.call_accuracy(one, labels, shell.theme()), "call_accuracy_weeks")


status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
st.title("Renewal forecast")
r = data.renewals(token, f)
due = r["due"]
if due.empty:
    st.info("No renewal is due in the next 12 months for these filters, or the store has no "
            "renewal dates (subscriptions.renewal_date). The top-down forecast below still works "
            "from ARR history.")
else:
    scored = due["renewal_probability"].notna()
    q = r["quarters"]
    cur = q.iloc[0] if len(q) else None
    c1, c2, c3, c4 = st.columns(4, border=True)
    c1.metric("ARR up for renewal (12 months)", money(due["arr"].sum()),
              help=f"{len(due):,} accounts with a renewal date in the next 12 months.")
    c2.metric("Expected renewed ARR", money(due["expected"].sum()),
              help="Bottom-up: the sum of ARR × the probability of renewing over the scored "
                   "renewals.")
    if cur is not None:
        c3.metric(f"This quarter (from {cur['period_start']:%b %Y})",
                  money(cur["expected"]),
                  help=f"P10 {money(cur['p10'])} to P90 {money(cur['p90'])} "
                       f"(10,000 simulated quarters of independent renewals).")
    c4.metric("Due in 120 days without a plan", f"{int(r['windows']['without_plan'].sum()):,}",
              help="No renewal playbook run started in the last 180 days.")
    if (~scored).any():
        st.warning(f"{(~scored).sum()} renewals have no renewal probability (not scored or no "
                   "renewal model); they are left out of the expected figures.")

    period = st.segmented_control("Period", ["quarter", "month"], default="quarter",
                                  key="renewal_period", format_func=str.capitalize)
    per = (r["quarters"] if period != "month" else r["months"]).copy()
    left, right = st.columns(2)
    with left:
        ev = shell.chart(charts.due_vs_expected(per, period or "quarter", shell.theme()),
                         "renewal_periods", select=True)
    with right:
        ev2 = shell.chart(charts.by_category(per, period or "quarter", shell.theme()),
                          "renewal_categories", select=True)

    st.subheader("Renewal windows")
    w = r["windows"]
    cols = st.columns(len(w), border=True)
    lows = [0, *[x + 1 for x in w["window"].tolist()[:-1]]]  # bands: 0-30, 31-60, ...
    for col, low, row in zip(cols, lows, w.itertuples(), strict=True):
        col.metric(f"In {low}-{row.window} days", f"{row.renewals} renewals",
                   f"{row.without_plan} without a plan" if row.without_plan else "all planned",
                   delta_color="red" if row.without_plan else "green", delta_arrow="off",
                   help=f"Renewal dates {low} to {row.window} days after the as-of date: "
                        f"{money(row.arr)} ARR; {money(row.arr_without_plan)} "
                        "of it without a renewal playbook.")
    only_no_plan = st.toggle("Only renewals without a plan", key="renewal_no_plan")

    view = due.copy()
    view["period"] = view["renewal_date"].dt.to_period("Q" if period != "month" else "M") \
        .dt.start_time.astype(str).str[:10]
    view["category"] = view["forecast_category"].fillna("no_opportunity")
    notes = []
    for cd in lists.clicked(ev):
        view = view[view["period"] == str(cd[0])[:10]]
        notes.append(f"due in the {period or 'quarter'} from {str(cd[0])[:10]}")
    for cd in lists.clicked(ev2):
        view = view[(view["period"] == str(cd[0])[:10]) & (view["category"] == cd[1])]
        notes.append(f"{cd[1].replace('_', ' ')} in the {period or 'quarter'} from {str(cd[0])[:10]}")
    if only_no_plan:
        view = view[~view["has_plan"]]
        notes.append("without a renewal plan")
    st.subheader(f"Renewals due ({len(view):,}, {money(view['arr'].sum())} ARR)")
    if notes:
        st.info("Showing renewals " + "; ".join(notes) + ".")
    view["plan"] = view["has_plan"].map({True: "yes", False: "no"})
    lists.account_list(
        view.round({"arr": 0, "expected": 0}), "renewals_due",
        ["name", "segment", "renewal_date", "days_to_renewal", "arr", "renewal_probability",
         "expected", "category", "plan", "csm_owner",
         *[c for c in ("value_realized", "realized_roi") if c in view]],
        {"name": lists.name_col(), "segment": "Segment", "renewal_date": st.column_config.DateColumn("Renewal", format="D MMM YYYY"),
         "days_to_renewal": st.column_config.NumberColumn("Days", format="%d"),
         "arr": lists.money_col("ARR ($)"), "renewal_probability": lists.pct_col("P(renew)"),
         "expected": lists.money_col("Expected ($)"), "category": "Forecast category",
         "plan": "Renewal plan", "csm_owner": "CSM",
         "value_realized": lists.money_col("Value realized a year ($)"),
         "realized_roi": lists.pct_col("Realized ROI")}, height=400,
        caption="Start the renewal playbook from here: select a row, then **Start playbook**.")

calls_section()

st.subheader("Top-down forecast")
seg = f.segment or "all"
series = st.selectbox("Series", list(SERIES), format_func=SERIES.get, key="td_series")
td = data.top_down(token, series, seg)
s = td["series"]
if s.empty:
    st.info(f"No forecast of {SERIES[series]} for {'the portfolio' if seg == 'all' else seg}: "
            "run `greendoor forecast` (needs at least a year of monthly history).")
else:
    act, fc = s[s["kind"] == "actual"], s[s["kind"] == "forecast"]
    shell.chart(charts.history_and_forecast(act, fc, f"{SERIES[series]}: history and forecast",
                                            series in ("grr", "nrr"), shell.theme()), "top_down")
    if td["verdict"]:
        st.markdown(f"**Which model won:** {td['verdict']}")
    cmp = td["comparison"]
    if len(cmp):
        lists.table(cmp, key="td_backtest",
                     column_order=["model", "status", "mape", "smape", "mase", "vs_best",
                                   "coverage", "cutoffs", "horizon", "chosen", "reason"],
                     column_config={"mape": lists.pct_col("MAPE"), "smape": lists.pct_col("sMAPE"),
                                    "mase": st.column_config.NumberColumn("MASE", format="%.3f",
                                            help="Mean absolute scaled error: < 1 beats the "
                                                 "in-sample seasonal naive."),
                                    "vs_best": st.column_config.NumberColumn("× best MASE", format="%.2f"),
                                    "coverage": lists.pct_col("P10-P90 coverage"),
                                    "horizon": st.column_config.NumberColumn("Horizon (months)")})

past = data.model_quality(token)["renewal"]
st.subheader("Past quarters: forecast vs actual")
if past.empty:
    st.info("No past quarter could be forecast yet: `greendoor forecast` needs a year of renewals.")
else:
    shell.chart(charts.past_quarters(past, shell.theme()), "past_quarters")
    acc = past["accuracy"].dropna()
    if len(acc):
        st.caption(f"Accuracy (1 − |forecast − actual| / actual): {acc.mean():.1%} on average over "
                   f"{len(acc)} quarters; each forecast used only what was known at the quarter's "
                   "start. Portfolio-wide (filters do not apply).")
