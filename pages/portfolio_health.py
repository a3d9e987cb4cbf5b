"""Portfolio health: KPI strip, ARR over time, ARR and accounts by segment, account list."""

import datetime as dt

import streamlit as st

from app import PAGES_DIR, data, shell
from greendoor.charts import portfolio as charts
from greendoor.charts.portfolio import SEGMENT_LABELS
from greendoor.portfolio import Filters

COMPARE_DAYS = 90

status = shell.require_data()
f = shell.current_filters()
token = data.data_token()
before = Filters(as_of=f.as_of - dt.timedelta(days=COMPARE_DAYS), segment=f.segment,
                 owner=f.owner)
k, k0 = data.kpis(token, f), data.kpis(token, before)

st.title("Portfolio health")
scope = " · ".join(x for x in [
    SEGMENT_LABELS.get(f.segment, f.segment) if f.segment else "All segments",
    f.owner or "All owners"] if x)
st.caption(f"As of {f.as_of:%d %b %Y} · {scope} · changes are against "
           f"{before.as_of:%d %b %Y} ({COMPARE_DAYS} days earlier)")

shell.missing_data_note(status, ["usage", "survey_responses", "tickets"])
shell.data_quality_note(token, f.as_of)
cols = st.columns(6, border=True)
cols[0].metric("ARR", shell.fmt_money(k["arr"]),
               delta=shell.fmt_money(k["arr"] - k0["arr"]) if k0["accounts"] else None,
               help="Annual recurring revenue of the subscriptions in force the day before "
                    "the as-of date.")
cols[1].metric("Accounts", f"{k['accounts']:,}", delta=k["accounts"] - k0["accounts"],
               help="Accounts with ARR > 0 as of the date.")
cols[2].metric("GRR (12 months)", shell.fmt_pct(k["grr"]), delta=shell.delta_pts(k["grr"], k0["grr"]),
               help="Gross revenue retention = (start ARR − contraction − churned ARR) / start "
                    "ARR over the accounts active 12 months earlier, each capped at its start ARR.")
cols[3].metric("NRR (12 months)", shell.fmt_pct(k["nrr"]), delta=shell.delta_pts(k["nrr"], k0["nrr"]),
               help="Net revenue retention = (start ARR + expansion − contraction − churned ARR) "
                    "/ start ARR over the accounts active 12 months earlier.")
nps_text = "—" if k["nps_responses"] == 0 else f"{k['nps']:+.0f}"
nps_delta = (None if not (k["nps_responses"] and k0["nps_responses"])
             else f"{k['nps'] - k0['nps']:+.0f}")
cols[4].metric("NPS (12 months)", nps_text, delta=nps_delta,
               help="Net Promoter Score = % promoters (9–10) − % detractors (0–6) over the NPS "
                    f"answers of the last 12 months ({k['nps_responses']:,} answers)."
                    + ("" if k["nps_responses"] else " No NPS answers in the store: import "
                       "survey_responses to see it."))
cols[5].metric("Logo churn (12 months)", shell.fmt_pct(k["logo_churn"]),
               delta=shell.delta_pts(k["logo_churn"], k0["logo_churn"]), delta_color="inverse",
               help="Accounts lost in the last 12 months / accounts active 12 months earlier.")

left, right = st.columns([3, 2])
with left:
    trend = data.arr_trend(token, f)
    st.plotly_chart(charts.arr_trend_line(trend), key="arr_trend", config={"displaylogo": False})
seg = data.by_segment(token, f)
with right:
    ev_arr = st.plotly_chart(charts.segment_bars(seg, "arr", "ARR by segment", money=True),
                             key="seg_arr", on_select="rerun", selection_mode="points",
                             config={"displaylogo": False})
    ev_acc = st.plotly_chart(charts.segment_bars(seg, "accounts", "Accounts by segment"),
                             key="seg_accounts", on_select="rerun", selection_mode="points",
                             config={"displaylogo": False})

clicked = [p["customdata"][0] for ev in (ev_arr, ev_acc)
           for p in ((ev or {}).get("selection") or {}).get("points", []) if p.get("customdata")]
table = data.account_table(token, f).assign(arr=lambda d: d["arr"].round(0))
st.subheader("Accounts")
if clicked:
    drill = clicked[-1]
    table = table[table["segment"] == drill]
    st.info(f"Showing the {len(table):,} {SEGMENT_LABELS.get(drill, drill)} accounts behind "
            "the bar you clicked. Click the bar again, or clear the chart selection, to see all.")
picked = st.dataframe(
    table,
    key="accounts_table",
    hide_index=True,
    height=520,
    on_select="rerun",
    selection_mode="single-row",
    column_order=["name", "segment", "csm_owner", "arr", "seats", "seat_utilization",
                  "renewal_date", "days_to_renewal", "latest_nps", "open_tickets", "industry"],
    column_config={
        "name": st.column_config.TextColumn("Account", width="large"),
        "segment": st.column_config.TextColumn("Segment"),
        "csm_owner": st.column_config.TextColumn("CSM"),
        "arr": st.column_config.NumberColumn("ARR ($)", format="localized"),
        "seats": st.column_config.NumberColumn("Seats"),
        "seat_utilization": st.column_config.ProgressColumn(
            "Seat utilization", min_value=0.0, max_value=1.0, format="percent",
            help="Active users in the last 30 days / seats."),
        "renewal_date": st.column_config.DateColumn("Renewal", format="D MMM YYYY"),
        "days_to_renewal": st.column_config.NumberColumn("Days to renewal"),
        "latest_nps": st.column_config.NumberColumn("Latest NPS", format="%d"),
        "open_tickets": st.column_config.NumberColumn("Open tickets"),
        "industry": st.column_config.TextColumn("Industry"),
    },
)
st.caption(f"{len(table):,} accounts, largest ARR first; click a row to open the account. "
           "Source: subscriptions, usage, survey responses and tickets before the as-of date.")
rows = ((picked or {}).get("selection") or {}).get("rows", [])
if rows:
    st.switch_page(PAGES_DIR / "account_360.py",
                   query_params={"account": table.iloc[rows[0]]["account_id"]})
