"""Segmentation: rule segments (tier x industry x lifecycle) and behavioral
clusters with personas, per-segment benchmarks, an account vs its segment, and
how long customers stay by segment (Kaplan-Meier), and segment migration between two
dates (Sankey)."""

import datetime as dt

import streamlit as st

from app import actions_ui, data, lists, shell
from greendoor.analytics import segments as SG
from greendoor.analytics.segments import flows
from greendoor.charts import segmentation as charts
from greendoor.labels import human, money
from greendoor.scoring.features import describe
from greendoor.text import md

DIMS = {"segment": "Tier (segment)", "industry": "Industry", "lifecycle": "Lifecycle"}

status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
st.title("Segmentation")
dims = st.multiselect("Rule segments by", list(DIMS), default=["segment", "lifecycle"],
                      format_func=DIMS.get, key="seg_dims",
                      help="Lifecycle from tenure: onboarding < 90 days, adopting < 1 year, "
                           "established 1 year or more.") or ["segment"]
g = data.segmentation(token, f, tuple(dims))
acc, cl = g["accounts"], g["clustering"]

BENCH_CFG = {"group": st.column_config.TextColumn("Segment", width="medium"),
             "accounts": "Accounts", "arr": lists.money_col("ARR ($)"),
             "health": st.column_config.NumberColumn("Mean health", format="%.0f"),
             "accounts_then": st.column_config.NumberColumn("Accounts a year ago"),
             "logo_churn": lists.pct_col("Logo churn (12 m)"), "grr": lists.pct_col("GRR"),
             "nrr": lists.pct_col("NRR"), "nps": st.column_config.NumberColumn("NPS", format="%+.0f"),
             "seat_utilization": lists.pct_col("Seat utilization"),
             "feature_breadth": st.column_config.NumberColumn("Features used", format="%.1f")}
BENCH_NOTE = ("Health, NPS and adoption describe today's accounts; logo churn, GRR and NRR follow "
              "the accounts that were in the segment a year ago, so churned "
              "accounts count. Click a bar to list the accounts.")

tab_rule, tab_cluster = st.tabs(["Rule segments", "Behavioral clusters"])
picked = None
with tab_rule:
    b = g["rule_benchmarks"]
    ev = shell.chart(charts.retention_bars(b, shell.theme()), "rule_bars", select=True)
    pts = lists.clicked(ev)
    if pts:
        picked = ("rule_segment", pts[-1][0])
    lists.table(b, key="rule_bench", column_config=BENCH_CFG)
    st.caption(BENCH_NOTE)

with tab_cluster:
    if cl.model is None:
        st.info(f"No behavioral clusters: {cl.reason}.")
    else:
        best = cl.silhouette[cl.k]
        st.markdown(
            f"**{cl.k} clusters** (KMeans on {len(cl.centroids.columns)} standardized measures). "
            f"k was chosen by the highest silhouette score among k = "
            f"{min(cl.silhouette)}..{max(cl.silhouette)}: "
            + ", ".join(f"k={k}: {s:.3f}" for k, s in cl.silhouette.items())
            + f". A silhouette of {best:.2f} means the groups "
            + ("are well separated." if best >= data.settings(token)[1]["models"][
                "silhouette_separated"] else "overlap: read them as tendencies, not hard types."))
        pb = g["persona_benchmarks"]
        left, right = st.columns([2, 3])
        with left:
            ev2 = shell.chart(charts.persona_bars(pb, money, shell.theme()),
                              "persona_bars", select=True)
            pts = lists.clicked(ev2)
            if pts:
                picked = ("persona", pts[-1][0])
        with right:
            cent = cl.centroids.rename(index=cl.personas)
            shell.chart(charts.persona_heatmap(cent, describe, shell.theme()), "persona_heatmap")
            st.caption("Measures: " + "; ".join(describe(c) for c in cent.columns)
                       + ". Each persona is named after its two most distinctive measures.")
        lists.table(pb, key="persona_bench", column_config=BENCH_CFG)
        st.caption(BENCH_NOTE + " For personas, a year ago means the persona the account's "
                   "behavior then matched, under today's clusters.")

st.subheader("Accounts")
view = acc.reset_index().rename(columns={"index": "account_id"})
if picked:
    view = view[view[picked[0]] == picked[1]]
    st.info(f"Showing the {len(view)} accounts in **{md(picked[1])}** (your click).")
sel = lists.account_list(
    view.sort_values("arr", ascending=False).round({"arr": 0}), "seg_accounts",
    ["name", "rule_segment", "persona", "arr", "health_score", "band", "seat_utilization",
     "feature_breadth_30d", "latest_nps", "csm_owner"],
    {"name": lists.name_col(), "rule_segment": "Rule segment", "persona": "Persona",
     "arr": lists.money_col("ARR ($)"),
     "health_score": st.column_config.NumberColumn("Health", format="%.0f"), "band": "Band",
     "seat_utilization": lists.pct_col("Seat utilization"),
     "feature_breadth_30d": st.column_config.NumberColumn("Features (30 d)"),
     "latest_nps": st.column_config.NumberColumn("Latest NPS"), "csm_owner": "CSM"}, height=360)
if sel is not None:
    from greendoor.analytics.segments import vs_segment

    cmp = vs_segment(acc, sel["account_id"], by="rule_segment" if "rule_segment" in acc else "segment")
    cmp["measure"] = cmp["measure"].map(lambda m: "health score" if m == "health_score" else describe(m))
    st.markdown(f"**Against its segment ({md(sel['rule_segment'])})**: the account's value, the "
                "segment median, and where it ranks (share of the segment at or below it).")
    lists.table(cmp, key="vs_segment",
                 column_config={"measure": st.column_config.TextColumn("Measure", width="large"),
                                "account": st.column_config.NumberColumn("Account", format="%.2f"),
                                "segment_median": st.column_config.NumberColumn("Segment median", format="%.2f"),
                                "percentile": st.column_config.ProgressColumn("Percentile", min_value=0.0,
                                                                              max_value=1.0, format="percent")})

st.subheader("How long customers stay")
curves = data.survival(token, f)
if curves.empty:
    st.info("Not enough churn yet to draw survival curves (a segment needs 20 accounts and "
            "at least one churn).")
else:
    shell.chart(charts.survival_curves(curves, shell.theme()), "survival")
    at = {m: SG.survival_at(curves, m).set_index("segment") for m in (12,)}
    st.caption(
        "Kaplan-Meier estimate: the share of customers still with us after each month since "
        "their first contract (a customer leaves when its last subscription ends; those "
        "still with us at the as-of date count until then), with its pointwise 95 % "
        "interval. After 12 months: " + "; ".join(
            f"{human(seg)} {r.survival:.0%} ({r.lower:.0%}-{r.upper:.0%})"
            for seg, r in at[12].iterrows()) + ".")

st.subheader("Retention by signup cohort")
cohorts = data.revenue_cohorts(token, f)
if cohorts.empty:
    st.info("No signup cohort of 10 or more accounts started in the last 24 months.")
else:
    measure = st.segmented_control(
        "Measure", ["revenue_retention", "logo_retention"], default="revenue_retention",
        key="cohort_measure", format_func={"revenue_retention": "Revenue (ARR kept)",
                                           "logo_retention": "Logos (accounts kept)"}.get)
    shell.chart(charts.cohort_curves(cohorts, measure or "revenue_retention", shell.theme()),
                "cohort_curves")
    st.caption("Each line follows the accounts that signed up in one quarter, from the first "
               "month they held ARR: the share of their starting ARR they hold each month "
               "after (expansion included, so it can pass 100 %) or the share of them still "
               "customers. A month shows once every account of the cohort has reached it, "
               "from month-start ARR before the as-of date.")

st.subheader("Segment migration")
c1, c2 = st.columns(2)
kinds = {"band": "Health band"}
if cl.model is not None:
    kinds["persona"] = "Behavioral persona"
kind = c1.radio("Migration of", list(kinds), format_func=kinds.get, horizontal=True, key="mig_kind")
before = c2.date_input("From", value=f.as_of - dt.timedelta(days=90), max_value=f.as_of,
                       key="mig_from", help="Compared with the as-of date.")
per_account = data.migration(token, f, before, kind)
mig = flows(per_account)
if mig.empty:
    st.info("No score snapshot at that date to compare with.")
else:
    shell.chart(charts.migration_sankey(mig, f"{kinds[kind]} on {before:%d %b %Y} → "
                                              f"{f.as_of:%d %b %Y}", shell.theme()), "migration")
    moved = mig[mig["source"] != mig["target"]].sort_values("accounts", ascending=False)
    st.caption(f"{int(moved['accounts'].sum()):,} of {int(mig['accounts'].sum()):,} accounts moved. "
               "'new' = not scored at the earlier date; 'gone' = no longer active.")
    options = [f"{r.source} → {r.target}" for r in moved.itertuples()]
    flow = st.selectbox("Accounts that moved", [None, *options], key="mig_flow",
                        format_func=lambda o: "Pick a flow to list its accounts" if o is None
                        else f"{o} ({int(moved.iloc[options.index(o)]['accounts'])} accounts)")
    if flow:
        src, tgt = flow.split(" → ")
        ids = per_account[(per_account["source"] == src) & (per_account["target"] == tgt)]
        rows = acc.reset_index().rename(columns={"index": "account_id"})
        rows = ids[["account_id", "source", "target"]].merge(
            rows[["account_id", "name", "arr", "health_score", "band", "csm_owner"]],
            on="account_id", how="left")
        rows["name"] = rows["name"].fillna(rows["account_id"].map(data.account_names(token)))
        lists.account_list(rows.sort_values("arr", ascending=False).round({"arr": 0}), "mig_accounts",
                           ["name", "source", "target", "arr", "health_score", "csm_owner"],
                           {"name": lists.name_col(), "source": "Then", "target": "Now",
                            "arr": lists.money_col("ARR ($)"),
                            "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
                            "csm_owner": "CSM"}, height=300)
