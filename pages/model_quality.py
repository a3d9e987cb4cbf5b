"""Model quality: how well every score and forecast has predicted what happened."""

import pandas as pd
import streamlit as st

from app import data, lists, shell
from greendoor.charts import quality as charts
from greendoor.labels import human
from greendoor.scoring import skill as SK
from greendoor.scoring.features import FEATURES, describe

shell.require_data()
token = data.data_token()
mq = data.model_quality(token)
ev = mq["evaluation"]
st.title("Model quality")
if not ev:
    st.info("No backtest yet: run `greendoor score` (or `greendoor evaluate`).")
    st.stop()
if ev.get("status") != "ok":
    st.warning(f"The backtest could not run: {ev.get('reason')}")
    st.stop()
st.caption(f"Time-ordered backtest stored {ev.get('created_at', '')[:16]}: trained on "
           f"{len(ev['train_dates'])} as-of dates up to {ev['train_dates'][-1]}, tested on "
           f"{len(ev['test_dates'])} dates from {ev['test_dates'][0]} (a {ev['horizon_days']}-day "
           "gap keeps training outcomes out of the test period). Outcome: churn or expansion "
           f"within {ev['horizon_days']} days.")

st.subheader("Success metrics: target vs actual")
lists.table(mq["success"], key="success", column_config={
    "metric": st.column_config.TextColumn("Metric", width="large"),
    "target": st.column_config.TextColumn("Target", width="small"),
    "actual": st.column_config.TextColumn("Actual", width="large"),
    "met": st.column_config.CheckboxColumn("Met", width="small"),
    "source": st.column_config.TextColumn("Source", width="medium")})

def _onboarding_effect(m: dict) -> str:
    """The success-plan features' measured effect (issue 20), as every feature's: the drop
    in test AUC when shuffled, with its interval."""
    names = [n for n, (group, _) in FEATURES.items() if group == "onboarding"]
    imp = {r["feature"]: r for r in m.get("importance", [])}
    parts = [f"{describe(n)}: {imp[n]['mean']:+.4f} AUC ({imp[n]['lo']:+.4f} to "
             f"{imp[n]['hi']:+.4f})" for n in names if n in imp]
    if not parts:
        return ""
    rest = [describe(n) for n in names if n not in imp]
    return ("Success-plan features, measured like every other (AUC lost when shuffled): "
            + "; ".join(parts) + (f". Not among the most influential at fit time: "
                                  f"{', '.join(rest)}." if rest else "."))


st.subheader("Predictive models against their baselines")
st.caption("Each model is tested on the same later dates as the simplest rules that could "
           "match it: the calendar alone (days to renewal, term, auto-renew), the health score "
           "alone, seat utilization alone. A model drives numbers on the other pages only when "
           "its ROC AUC lift over the best of them has a 90 % interval above 0 (accounts "
           "resampled); otherwise the rules do, and the pages say so. Its probabilities are "
           f"called calibrated only when the expected calibration error is below "
           f"{data.settings(token)[1]['models']['ece_calibrated']:.2f}.")
g = data.gates(token)
cols = st.columns(3, border=True)
for col, kind, title in zip(cols, ("churn", "renewal", "expansion"),
                            ("Churn in 90 days", "Churn at the next renewal",
                             "Expansion in 90 days"), strict=True):
    m = ev.get(kind) or {}
    with col:
        st.markdown(f"**{title}**")
        if "test" not in m or "lift" not in m:
            st.warning(f"Not measured: {m.get('reason')}" if "test" not in m else
                       "Measured by an older version of Greendoor, without baselines: run "
                       "`greendoor evaluate`. Until then the rules drive the numbers.")
            continue
        t, lift = m["test"], m["lift"]
        best = m["baselines"][m["best_baseline"]]
        bt = m.get("beyond_timing") or {}
        if kind == "churn" and bt.get("auc") is not None and not pd.isna(bt["auc"]):
            col.metric("Skill beyond timing (ROC AUC)", f"{bt['auc']:.3f}",
                       delta=f"timing alone {bt.get('timing_auc', float('nan')):.3f}",
                       delta_color="off", delta_arrow="off",
                       help="ROC AUC among the test rows whose renewal falls inside the "
                            "horizon, where the calendar cannot tell churners apart.")
        col.metric("ROC AUC vs best baseline", f"{t['auc']:.3f} vs {best['auc']:.3f}",
                   delta=f"lift {lift['lift']:+.3f} (90 %: {lift['lo']:+.3f} to {lift['hi']:+.3f})",
                   delta_color="normal" if m["status"] == "skill" else "inverse",
                   delta_arrow="off",
                   help=f"Best baseline: {best['description']}. 0.5 = a coin toss.")
        (st.success if m["status"] == "skill" else st.error)(SK.status_sentence(g, kind))
        st.markdown(f"PR AUC {t['pr_auc']:.3f} (baseline {best['pr_auc']:.3f}) · Brier "
                    f"{t['brier']:.4f} ({best['brier']:.4f}) · ECE {m['ece']:.3f}, "
                    f"{'calibrated' if m['calibrated'] else 'not calibrated'} · top-decile "
                    f"lift {t['top_decile_lift']:.2f}")
        imp = ", ".join(describe(f) for f in m.get("important_features", []))
        st.caption(f"{m['estimator'].replace('_', ' ')}; test n = {t['n']:,} with "
                   f"{t['positives']:,} positives (base rate {t['base_rate']:.1%}); trained on "
                   f"{m['n_train']:,}. Features with measured importance (the only possible "
                   f"drivers): {imp or 'none'}.")
        onb = _onboarding_effect(m)
        if onb:
            st.caption(onb)
rows = []
for kind in ("churn", "renewal", "expansion"):
    m = ev.get(kind) or {}
    if "test" not in m or "baselines" not in m:
        continue
    rows.append({"model": kind, "what": "model", **{k: m["test"][k] for k in
                                                    ("auc", "pr_auc", "brier", "ece",
                                                     "top_decile_lift")}})
    for b in m["baselines"].values():
        rows.append({"model": kind, "what": f"baseline: {b['description']}",
                     **{k: b[k] for k in ("auc", "pr_auc", "brier", "ece", "top_decile_lift")}})
with st.expander("Every model beside every baseline (same test rows)"):
    lists.table(pd.DataFrame(rows), key="baselines", column_config={
        "what": st.column_config.TextColumn("Scored by", width="large"),
        **{k: st.column_config.NumberColumn(label, format="%.3f") for k, label in
           (("auc", "ROC AUC"), ("pr_auc", "PR AUC"), ("brier", "Brier"), ("ece", "ECE"),
            ("top_decile_lift", "Top-decile lift"))}})

left, right = st.columns(2)
with left:
    shell.chart(charts.calibration({k: pd.DataFrame((ev.get(k) or {}).get("calibration", []))
                                    for k in ("churn", "expansion", "renewal")}, shell.theme()),
                "calibration")
with right:
    h = ev["health"]
    lo, hi = h.get("auc_interval", [float("nan")] * 2)
    shell.chart(charts.band_churn(pd.DataFrame(h["churn_rate_by_band"]), ev["horizon_days"],
                                  f"AUC of low health {h['auc_low_health']:.3f}, 90 %: "
                                  f"{lo:.3f}-{hi:.3f}", shell.theme()), "band_rates")

st.subheader("Forecasts vs baselines (portfolio, rolling-origin backtest)")
fb = mq["forecast"]
if fb.empty:
    st.info("No forecast yet: run `greendoor forecast`.")
else:
    lists.table(fb, key="forecast_bt",
                 column_order=["series", "freq", "model", "chosen", "mape", "smape", "mase",
                               "coverage", "coverage_calibrated", "cutoffs", "status", "reason"],
                 column_config={"mape": lists.pct_col("MAPE", decimals=1),
                                "smape": lists.pct_col("sMAPE", decimals=1),
                                "mase": st.column_config.NumberColumn("MASE", format="%.3f"),
                                "coverage": lists.pct_col("Own 80 % interval: coverage"),
                                "coverage_calibrated": lists.pct_col(
                                    "Calibrated 80 % interval: coverage"),
                                "chosen": st.column_config.CheckboxColumn("Used")})
    st.caption("MASE < 1 beats the seasonal-naive error; the model used for each series is the "
               "one with the lowest backtest MASE at the forecast's horizon. The intervals shown "
               "on the Renewal forecast page are calibrated on each model's backtest errors; "
               "their coverage here is measured with only the errors known at each cutoff.")
ren = mq["renewal"]
if len(ren):
    st.subheader("Renewal forecast vs what renewed (forecast at each quarter's start)")
    st.caption("Beside two constant baselines under the same point-in-time rules: the trailing "
               "four quarters' renewal rate, and the last quarter's, each times the ARR due.")
    lists.table(ren, key="renewal_acc", column_order=[
        "period_start", "renewals", "arr_due", "expected", "p10", "p90", "actual", "accuracy",
        "constant_accuracy", "last_quarter_accuracy", "inside", "reason"], column_config={
        "constant_accuracy": lists.pct_col("Constant rate: accuracy", decimals=1),
        "last_quarter_accuracy": lists.pct_col("Last quarter's rate: accuracy", decimals=1),
        "period_start": st.column_config.DateColumn("Quarter", format="MMM YYYY"),
        "expected": st.column_config.NumberColumn("Forecast ($)", format="localized"),
        "actual": st.column_config.NumberColumn("Renewed ($)", format="localized"),
        "arr_due": st.column_config.NumberColumn("Due ($)", format="localized"),
        "p10": st.column_config.NumberColumn("P10 ($)", format="localized"),
        "p90": st.column_config.NumberColumn("P90 ($)", format="localized"),
        "accuracy": lists.pct_col("Accuracy", decimals=1),
        "inside": st.column_config.CheckboxColumn("Inside P10-P90")})

rq = data.rule_quality(token, shell.current_filters())
st.subheader("Alert rules: do they tell what happens next?")
if rq.empty:
    st.info("No alert rule can be measured yet: its horizon has not passed since the first "
            "weekly scores.")
else:
    rq = rq.assign(rule_label=rq["rule"].map(human),
                   flag=rq["lift"].map(lambda x: "no better than chance" if x == x and x <= 1
                                       else ""))
    lists.table(rq, key="rule_quality_mq", column_order=[
        "rule_label", "outcome", "raised", "hit_rate", "base_rate", "lift", "lead_days",
        "false_positive", "fp_share", "flag"], column_config={
        "rule_label": st.column_config.TextColumn("Rule", width="medium"),
        "outcome": "Outcome", "raised": "Alerts measured",
        "hit_rate": lists.pct_col("Followed by the outcome"),
        "base_rate": lists.pct_col("All accounts (baseline)"),
        "lift": st.column_config.NumberColumn("Lift", format="%.1f×"),
        "lead_days": st.column_config.NumberColumn("Warning (days)", format="%d"),
        "false_positive": "Marked false positive",
        "fp_share": lists.pct_col("False-positive share"),
        "flag": st.column_config.TextColumn("Note", width="medium")})
    st.caption("Each rule's alerts on past weekly scores whose horizon has passed, against the "
               "base rate of every account scored the same days (the simplest baseline): lift "
               "= followed by the outcome / baseline. A rule at or below 1 is flagged. Warning "
               "= median days from the alert to the churn. False positives come from the "
               "users' own feedback on the Alerts page.")
