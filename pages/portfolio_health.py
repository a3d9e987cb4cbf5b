"""Portfolio health: KPIs, health and ARR by band, attention list, movers, accounts.

Every chart drills down: clicking a bar lists the accounts behind it; clicking an
account opens Account 360.
"""

import datetime as dt

import streamlit as st

from app import actions_ui, data, lists, shell
from greendoor.analytics import benchmarks
from greendoor.charts import portfolio as charts
from greendoor.labels import human, money, percent
from greendoor.periods import Filters
from greendoor.scoring import skill
from greendoor.text import md

COMPARE_DAYS = 90

status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
before = Filters(as_of=f.as_of - dt.timedelta(days=COMPARE_DAYS), segment=f.segment,
                 owner=f.owner)
k, k0 = data.kpis(token, f), data.kpis(token, before)
hk, hk0 = data.health_kpis(token, f), data.health_kpis(token, before)

st.title("Portfolio health")
scope = " · ".join([human(f.segment) if f.segment else "All segments",
                    f.owner or "All owners"])
scored = f" · scores of {hk['snapshot']:%d %b %Y}" if hk.get("snapshot") else ""
st.caption(f"As of {f.as_of:%d %b %Y} · {scope}{scored} · changes are against "
           f"{before.as_of:%d %b %Y} ({COMPARE_DAYS} days earlier)")
shell.missing_data_note(status, ["usage", "survey_responses", "tickets"])
shell.data_quality_note(token, f.as_of)


cols = st.columns(6, border=True)
cols[0].metric("ARR", money(k["arr"]),
               delta=money(k["arr"] - k0["arr"]) if k0["accounts"] else None,
               help="Annual recurring revenue of the subscriptions in force the day before "
                    "the as-of date.")
cols[1].metric("Accounts", f"{k['accounts']:,}", delta=k["accounts"] - k0["accounts"],
               help="Accounts with ARR > 0 as of the date.")
market = benchmarks.compare_kpis(data.benchmark_table(token), k,
                                 data.settings(token)[1]["currency"])
cols[2].metric("GRR (12 months)", percent(k["grr"]), delta=shell.delta_pts(k["grr"], k0["grr"]),
               help="Gross revenue retention = (start ARR − contraction − churned ARR) / start "
                    "ARR over the accounts active 12 months earlier, each capped at its start "
                    "ARR. " + market["grr"].words)
cols[3].metric("NRR (12 months)", percent(k["nrr"]), delta=shell.delta_pts(k["nrr"], k0["nrr"]),
               help="Net revenue retention = (start ARR + expansion − contraction − churned ARR) "
                    "/ start ARR over the accounts active 12 months earlier. "
                    + market["nrr"].words)
nps_text = "—" if k["nps_responses"] == 0 else f"{k['nps']:+.0f}"
nps_delta = (None if not (k["nps_responses"] and k0["nps_responses"])
             else f"{k['nps'] - k0['nps']:+.0f}")
cols[4].metric("NPS (12 months)", nps_text, delta=nps_delta,
               help="Net Promoter Score = % promoters (9–10) − % detractors (0–6) over the NPS "
                    f"answers of the last 12 months ({k['nps_responses']:,} answers).")
cols[5].metric("Logo churn (12 months)", percent(k["logo_churn"]),
               delta=shell.delta_pts(k["logo_churn"], k0["logo_churn"]), delta_color="inverse",
               help="Accounts lost in the last 12 months / accounts active 12 months earlier.")

if not hk.get("snapshot"):
    st.info("Health and risk are not scored yet: run `greendoor score`.")
else:
    prev = hk0 if hk0.get("snapshot") else {}
    c = st.columns(5, border=True)
    c[0].metric("Average health", f"{hk['avg_health']:.0f}",
                delta=f"{hk['avg_health'] - prev['avg_health']:+.1f}" if prev else None,
                help="Mean health score (0-100) of the scored accounts.")
    for i, (band, label) in enumerate((("green", "ARR green"), ("yellow", "ARR yellow"),
                                       ("red", "ARR red")), start=1):
        now = hk[f"share_{band}"]
        c[i].metric(label, percent(now),
                    delta=shell.delta_pts(now, prev[f"share_{band}"]) if prev else None,
                    delta_color="normal" if band == "green" else "inverse",
                    help=f"Share of ARR in {band} accounts (green 80+, yellow 50-79, red < 50).")
    basis = hk.get("arr_at_risk_basis")
    c[4].metric("ARR at risk (90 days)" if basis == "model" else
                f"ARR at risk (90 days, {basis} rule)", money(hk["arr_at_risk"]),
                delta=money(hk["arr_at_risk"] - prev["arr_at_risk"]) if prev else None,
                delta_color="inverse",
                help="Sum over accounts of ARR × the probability of churn within 90 days: the churn "
                     "model's when it beats its baselines in the backtest, else the "
                     "measured 90-day churn rate of each account's health band (or of all "
                     "accounts). " + skill.status_sentence(data.gates(token), "churn"))

sc = data.scores(token, f)
events = {}
if len(sc):
    left, right = st.columns(2)
    with left:
        events["hist"] = shell.chart(charts.health_histogram(sc, shell.theme()), "health_hist",
                                     select=True)
    with right:
        events["band_seg"] = shell.chart(charts.arr_by_band_segment(sc, shell.theme()),
                                         "band_seg", select=True)

    st.subheader("Attention list")
    g = data.gates(token)
    st.caption(skill.DEFINITIONS["expected_loss"] + " From the renewal and churn models when "
               "they beat their baselines in the backtest, else from the health-band rule"
               + ("" if g.uses("renewal") else f" (now: the {g.rule} rule)")
               + ". Click a row to open the account.")
    att = sc.sort_values("expected_loss", ascending=False).head(20).round(
        {"arr": 0, "expected_loss": 0})
    picked_att = lists.table(
        shell.link_names(att), key="attention", on_select="rerun", selection_mode="single-row",
        column_order=["name", "segment", "csm_owner", "arr", "health_score", "band", "trend",
                      *(["risk_index"] if g.uses("renewal") else []), "renewal_probability",
                      "days_to_renewal", "expected_loss"],
        column_config={
            "name": shell.name_link_column(),
            "csm_owner": "CSM", "arr": st.column_config.NumberColumn("ARR ($)", format="localized"),
            "health_score": st.column_config.ProgressColumn("Health", min_value=0, max_value=100, format="%.0f"),
            "risk_index": st.column_config.NumberColumn("Risk index", format="%.0f"),
            "renewal_probability": lists.pct_col(
                "P(renew)" if g.uses("renewal") else f"P(renew), {g.rule} rule",
                help=skill.DEFINITIONS["renewal_probability"]),
            "days_to_renewal": st.column_config.NumberColumn("Days to renewal", format="%d"),
            "expected_loss": st.column_config.NumberColumn("Expected loss ($)", format="localized")})
    rows = ((picked_att or {}).get("selection") or {}).get("rows", [])
    if rows:
        shell.open_account(att.iloc[rows[0]]["account_id"])

    mv = data.movers(token, f)
    if len(mv):
        st.subheader("Movers this week")
        m1, m2 = st.columns(2)
        cfg = {"name": shell.name_link_column(),
               "change": st.column_config.NumberColumn("Change (points)", format="%+.1f"),
               "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
               "arr": st.column_config.NumberColumn("ARR ($)", format="localized")}
        order = ["name", "health_score", "change", "band", "arr"]
        m1.caption("Biggest drops")
        mv = mv.round({"arr": 0})
        mv = shell.link_names(mv)
        with m1:
            lists.table(mv.head(8), key="movers_down", column_order=order, column_config=cfg)
        m2.caption("Biggest gains")
        with m2:
            lists.table(mv.tail(8).iloc[::-1], key="movers_up", column_order=order,
                        column_config=cfg)

left, right = st.columns([3, 2])
with left:
    shell.chart(charts.arr_trend_line(data.arr_trend(token, f), shell.theme()), "arr_trend")
seg = data.by_segment(token, f)
with right:
    events["seg_arr"] = shell.chart(charts.segment_bars(seg, "arr", "ARR by segment",
                                                        shell.theme(), money=True),
                                    "seg_arr", select=True)
    events["seg_accounts"] = shell.chart(charts.segment_bars(seg, "accounts",
                                                             "Accounts by segment", shell.theme()),
                                         "seg_accounts", select=True)

#: The bridge's periods: days back from the as-of date (year to date: since 1 January).
BRIDGE_PERIODS = {"12 months": 365, "6 months": 182, "3 months": 91,
                  "Year to date": (f.as_of - f.as_of.replace(month=1, day=1)).days}
st.subheader("Retention bridge")
period_name = st.segmented_control("Period", list(BRIDGE_PERIODS), default="12 months",
                                   key="bridge_period") or "12 months"
br = data.retention_bridge(token, f, max(BRIDGE_PERIODS[period_name], 1))
if br["bridge"] is None:
    st.info("No account held ARR at the start of this period.")
else:
    period = f"{br['start']:%d %b %Y} to {br['end']:%d %b %Y}"
    ev_bridge = shell.chart(charts.retention_bridge(br["bridge"], period, money, shell.theme()),
                            "bridge", select=True)
    st.caption("ARR as of the period's start, the new logos, the expansion, contraction and "
               "churn of the accounts that had ARR then, and the ARR at its end. GRR = (start − "
               "contraction − churn) / start and NRR = (start + expansion − contraction − churn) "
               "/ start are computed from these bars (new logos are outside both); over 12 "
               "months they are the KPIs above, over a shorter period they are not annualised. "
               "Click a bar to list its accounts.")
    if period_name == "12 months":  # the published medians are annual
        st.caption("**Against the market.** " + " ".join(md(c.words) for c in market.values()))
    moved = [cd[0] for cd in lists.clicked(ev_bridge) if cd and cd[0]]
    if moved:
        rows = br["accounts"][br["accounts"]["movement"] == moved[-1]]
        st.info(f"Showing the {len(rows):,} accounts behind **{human(moved[-1])}** "
                f"({money(rows['change'].abs().sum())}).")
        lists.account_list(rows, "bridge_accounts",
                           ["name", "segment", "csm_owner", "start_arr", "end_arr", "change"],
                           {"name": lists.name_col(), "start_arr": lists.money_col("Start ARR ($)"),
                            "end_arr": lists.money_col("End ARR ($)"),
                            "change": lists.money_col("Change ($)")}, height=300)


def clicked(name: str) -> list:
    ev = events.get(name) or {}
    return [p["customdata"] for p in (ev.get("selection") or {}).get("points", [])
            if p.get("customdata")]


table = data.account_table(token, f).assign(arr=lambda d: d["arr"].round(0))
if len(sc):
    table = table.merge(sc[["account_id", "health_score", "band", "trend"]], on="account_id",
                        how="left")
filters = []
for cd in clicked("seg_arr") + clicked("seg_accounts"):
    filters.append(("segment", cd[0]))
bin_range = None
for cd in clicked("hist"):  # [band, low, high]: the bar's own accounts
    filters.append(("band", cd[0]))
    bin_range = (float(cd[1]), float(cd[2]))
for cd in clicked("band_seg"):
    filters += [("band", cd[0]), ("segment", cd[1])]
st.subheader("Accounts")
if filters:
    for col, val in dict(filters).items():
        table = table[table[col] == val]
    what = ", ".join(f"{c} {human(v)}" for c, v in dict(filters).items())
    if bin_range:
        table = table[table["health_score"].between(bin_range[0], bin_range[1],
                                                    inclusive="left" if bin_range[1] < 100
                                                    else "both")]
        what += f", health {bin_range[0]:.0f}-{bin_range[1]:.0f}"
    st.info(f"Showing the {len(table):,} accounts behind your click ({what}). Click it again, "
            "or clear the chart selection, to see all.")
picked = lists.table(
    shell.link_names(table), key="accounts_table", height=520, on_select="rerun",
    selection_mode="single-row",
    column_order=["name", "segment", "csm_owner", "arr", "health_score", "band", "trend", "seats",
                  "seat_utilization", "renewal_date", "days_to_renewal", "latest_nps",
                  "open_tickets"],
    column_config={
        "name": shell.name_link_column(width="large"),
        "segment": st.column_config.TextColumn("Segment"),
        "csm_owner": st.column_config.TextColumn("CSM"),
        "arr": st.column_config.NumberColumn("ARR ($)", format="localized"),
        "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
        "seats": st.column_config.NumberColumn("Seats"),
        "seat_utilization": st.column_config.ProgressColumn(
            "Seat utilization", min_value=0.0, max_value=1.0, format="percent",
            help="Active users in the last 30 days / seats."),
        "renewal_date": st.column_config.DateColumn("Renewal", format="D MMM YYYY"),
        "days_to_renewal": st.column_config.NumberColumn("Days to renewal"),
        "latest_nps": st.column_config.NumberColumn("Latest NPS", format="%d"),
        "open_tickets": st.column_config.NumberColumn("Open tickets"),
    },
)
st.caption(f"{len(table):,} accounts, largest ARR first; click a row to open the account. "
           "Source: subscriptions, usage, survey responses, tickets and score snapshots before "
           "the as-of date.")
rows = ((picked or {}).get("selection") or {}).get("rows", [])
if rows:
    shell.open_account(table.iloc[rows[0]]["account_id"])
