"""Model quality: how well every score and forecast has predicted what happened."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import data, shell
from greendoor.charts.portfolio import BAND_COLORS, FONT
from greendoor.quality import skill

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
st.dataframe(mq["success"], hide_index=True, key="success", column_config={
    "metric": st.column_config.TextColumn("Metric", width="large"),
    "target": st.column_config.TextColumn("Target", width="small"),
    "actual": st.column_config.TextColumn("Actual", width="large"),
    "met": st.column_config.CheckboxColumn("Met", width="small"),
    "source": st.column_config.TextColumn("Source", width="medium")})

st.subheader("Predictive models")
cols = st.columns(3, border=True)
for col, kind, title in zip(cols, ("churn", "expansion", "renewal"),
                            ("Churn in 90 days", "Expansion in 90 days",
                             "Churn at the next renewal"), strict=True):
    m = ev.get(kind) or {}
    with col:
        st.markdown(f"**{title}**")
        if m.get("status") != "ok":
            st.warning(f"Not available: {m.get('reason')}")
            continue
        t = m["test"]
        col.metric("ROC AUC", f"{t['auc']:.3f}", delta=skill(t["auc"]), delta_arrow="off",
                   delta_color="normal" if t["auc"] >= 0.7 else "inverse",
                   help="Chance a random positive outranks a random negative (0.5 = coin toss).")
        st.markdown(f"PR AUC {t['pr_auc']:.3f} · Brier {t['brier']:.4f} · top-decile lift "
                    f"{t['top_decile_lift']:.2f}")
        st.caption(f"{m['estimator'].replace('_', ' ')}; test n = {t['n']:,} with "
                   f"{t['positives']:,} positives (base rate {t['base_rate']:.1%}); trained on "
                   f"{m['n_train']:,}.")
        if t["auc"] < 0.6:
            st.error("No measurable skill on this data: treat these scores as base rates, "
                     "and lean on the rules and the health score's evidence instead.")

left, right = st.columns(2)
with left:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#999"),
                             name="perfect"))
    for kind, color in (("churn", "#c0392b"), ("expansion", "#1e8449"), ("renewal", "#1f4e79")):
        cal = pd.DataFrame((ev.get(kind) or {}).get("calibration", []))
        if len(cal):
            fig.add_trace(go.Scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers",
                                     name=kind, line=dict(color=color, width=3)))
    m = max(0.05, max((d["observed"] for k in ("churn", "expansion", "renewal")
                       for d in (ev.get(k) or {}).get("calibration", [])), default=0.05)) * 1.1
    fig.update_layout(title="Calibration: predicted vs observed rate (test set, deciles)",
                      height=420, font=FONT, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis=dict(title="predicted", range=[0, min(1, m)], tickformat=".0%"),
                      yaxis=dict(title="observed", range=[0, min(1, m)], tickformat=".0%"))
    st.plotly_chart(fig, key="calibration")
with right:
    h = ev["health"]
    rates = pd.DataFrame(h["churn_rate_by_band"])
    rates = rates[rates["group"].isin(["red", "yellow", "green"])]
    rates["order"] = rates["group"].map({"red": 0, "yellow": 1, "green": 2})
    rates = rates.sort_values("order")
    fig = go.Figure(go.Bar(x=rates["group"].str.capitalize(), y=rates["rate"],
                           marker_color=[BAND_COLORS[g] for g in rates["group"]],
                           text=[f"{r:.1%} (n={n:,})" for r, n in zip(rates["rate"], rates["n"], strict=True)],
                           textposition="outside"))
    fig.update_layout(title=f"Health bands: churn within {ev['horizon_days']} days "
                            f"(AUC of low health {h['auc_low_health']:.3f})",
                      height=420, font=FONT, margin=dict(l=10, r=10, t=50, b=10),
                      yaxis=dict(tickformat=".0%"))
    st.plotly_chart(fig, key="band_rates")

st.subheader("Forecasts vs baselines (portfolio, rolling-origin backtest)")
fb = mq["forecast"]
if fb.empty:
    st.info("No forecast yet: run `greendoor forecast`.")
else:
    st.dataframe(fb, hide_index=True, key="forecast_bt",
                 column_order=["series", "freq", "model", "chosen", "mape", "smape", "mase",
                               "coverage", "cutoffs", "status", "reason"],
                 column_config={"mape": st.column_config.NumberColumn("MAPE", format="percent"),
                                "smape": st.column_config.NumberColumn("sMAPE", format="percent"),
                                "mase": st.column_config.NumberColumn("MASE", format="%.3f"),
                                "coverage": st.column_config.NumberColumn("80 % interval coverage", format="percent"),
                                "chosen": st.column_config.CheckboxColumn("Used")})
    st.caption("MASE < 1 beats the seasonal-naive error; the model used for each series is the "
               "one with the lowest backtest MASE.")
ren = mq["renewal"]
if len(ren):
    st.subheader("Renewal forecast vs what renewed (forecast at each quarter's start)")
    st.dataframe(ren, hide_index=True, key="renewal_acc", column_config={
        "period_start": st.column_config.DateColumn("Quarter", format="MMM YYYY"),
        "expected": st.column_config.NumberColumn("Forecast ($)", format="localized"),
        "actual": st.column_config.NumberColumn("Renewed ($)", format="localized"),
        "arr_due": st.column_config.NumberColumn("Due ($)", format="localized"),
        "p10": st.column_config.NumberColumn("P10 ($)", format="localized"),
        "p90": st.column_config.NumberColumn("P90 ($)", format="localized"),
        "accuracy": st.column_config.NumberColumn("Accuracy", format="percent"),
        "inside": st.column_config.CheckboxColumn("Inside P10-P90")})
