"""Advocacy: NPS and CSAT trends, promoters/passives/detractors, advocacy candidates,
the advocacy pipeline, referrals, and advocates vs non-advocates retention."""

import streamlit as st

from app import actions_ui, data, lists, shell
from greendoor import labels
from greendoor.analytics import advocacy as AD
from greendoor.charts import advocacy as charts
from greendoor.labels import money

status = shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()
st.title("Advocacy")
shell.missing_data_note(status, ["survey_responses", "advocacy_activities", "contacts"])
v = data.advocacy(token, f)
trend, latest = v["trend"], v["latest"]

resp = int(trend["responses"].sum()) if len(trend) else 0
c1, c2, c3, c4 = st.columns(4, border=True)
if resp:
    pro, det = int(trend["promoters"].sum()), int(trend["detractors"].sum())
    c1.metric("NPS (12 months)", f"{100 * (pro - det) / resp:+.0f}",
              help=f"% promoters (9-10) − % detractors (0-6) over {resp:,} answers.")
else:
    c1.metric("NPS (12 months)", "—", help="No NPS answer in the last 12 months.")
csat_n = int(trend["csat_responses"].sum()) if len(trend) else 0
if csat_n:
    w = trend["csat"].fillna(0) * trend["csat_responses"]
    sat = trend["csat_satisfied"].fillna(0) * trend["csat_responses"]
    c2.metric("CSAT (12 months)", f"{w.sum() / csat_n:.2f} / 5",
              help=f"Mean of {csat_n:,} answers; {sat.sum() / csat_n:.0%} answered 4-5.")
else:
    c2.metric("CSAT (12 months)", "—")
cand = v["candidates"]
n_cand = int(cand["candidate"].sum()) if len(cand) else 0
c3.metric("Advocacy candidates", f"{n_cand:,}",
          help="Promoter (NPS 9-10), green health and no advocacy ask in the last 90 days.")
c4.metric("Referrals (12 months)", f"{v['referrals']['referrals']:,}",
          help=f"Referral value {money(v['referrals']['referral_value'])}; new-business "
               f"won at referring accounts {money(v['referrals']['new_business_won'])}, "
               f"open {money(v['referrals']['new_business_open'])}.")

picked_cat = None
if resp:
    left, right = st.columns([3, 2])
    with left:
        ev = shell.chart(charts.nps_mix(trend, shell.theme()), "nps_mix", select=True)
        pts = lists.clicked(ev)
        picked_cat = pts[-1][0] if pts else None
    with right:
        shell.chart(charts.csat_trend(trend, shell.theme()), "csat_trend")
    if picked_cat:
        sel = latest[latest["category"] == picked_cat].sort_values("score")
        st.info(f"Accounts whose latest NPS answer (12 months) makes them a **{picked_cat}** "
                f"({len(sel)}).")
        lists.account_list(sel, "nps_accounts", ["name", "segment", "score", "responded_at",
                                                 "csm_owner"],
                           {"name": lists.name_col(), "score": st.column_config.NumberColumn("NPS answer"),
                            "responded_at": st.column_config.DatetimeColumn("Answered", format="D MMM YYYY"),
                            "csm_owner": "CSM"}, height=300)

st.subheader("Advocacy candidates")
if cand.empty:
    st.info("Not scored yet: advocacy readiness comes from the scores (`greendoor score`).")
else:
    only = st.toggle("Only candidates (promoter, green health, no ask in 90 days)", value=True,
                     key="adv_only")
    view = cand[cand["candidate"]] if only else cand.head(100)
    st.caption("Readiness 0-100: 25 points each for promoter, green health, an active champion and "
               "no ask in the last 90 days. Select an account and click **Invite to advocacy**.")
    lists.account_list(
        view.round({"arr": 0}), "adv_candidates",
        ["name", "segment", "arr", "health_score", "advocacy_readiness", "promoter", "green",
         "champion_active", "no_recent_ask", "csm_owner"],
        {"name": lists.name_col(), "arr": lists.money_col("ARR ($)"),
         "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
         "advocacy_readiness": st.column_config.ProgressColumn("Readiness", min_value=0,
                                                               max_value=100, format="%.0f"),
         "promoter": "Promoter", "green": "Green", "champion_active": "Champion",
         "no_recent_ask": "No ask in 90 d", "csm_owner": "CSM"}, height=360)

st.subheader("Advocacy ladder")
lad = v["ladder"]
if lad.empty:
    st.info("Not scored yet: the ladder's readiness comes from the scores (`greendoor score`).")
else:
    roi = v["roi"]
    r1, r2, r3, r4 = st.columns(4, border=True)
    r1.metric("Referral conversion (12 months)",
              "—" if roi["referral_conversion"] != roi["referral_conversion"]
              else f"{roi['referral_conversion']:.0%}",
              help=f"{roi['referrals_completed']:,} referrals made of "
                   f"{roi['referrals_asked']:,} asked.")
    r2.metric("Referral pipeline", money(roi["referral_pipeline"]),
              help="The deal value recorded on the completed referrals (the referred deal's "
                   "amount). Revenue won from referrals needs the referred deal's id, which "
                   "the data contract does not carry.")
    r3.metric("Reference calls", f"{roi['references']:,}")
    r4.metric("Deals influenced by references", money(roi["influenced_revenue"]),
              help=f"{roi['influenced_deals']:,} new-business deals won within "
                   f"{roi['influence_days']} days after a completed reference call (a "
                   "time-window rule: influence, not cause; each deal counted once).")
    left, right = st.columns(2)
    with left:
        counts = AD.ladder_counts(lad)
        ev = shell.chart(charts.ladder(counts, shell.theme()), "adv_ladder", select=True)
        pts = lists.clicked(ev)
    with right:
        level = pts[-1][0] if pts else None
        ready = lad[lad["ready"]] if level is None else lad[lad["level"] == level]
        st.caption(("Ready to move up: promoter, green health, no declined ask in 90 days and "
                    f"fewer than {v['max_asks']} asks in 90 days (the setting "
                    "`advocacy.max_asks_per_quarter`: asking more wears advocates out). ")
                   if level is None else f"Accounts on the rung **{counts.set_index('level').at[level, 'rung']}**. ")
        picked = lists.account_list(
            ready.round({"arr": 0}), "adv_ladder_accounts",
            ["name", "rung", "next_rung", "advocacy_readiness", "asks_90d", "arr", "csm_owner"],
            {"name": lists.name_col(), "rung": "Rung", "next_rung": "Next",
             "advocacy_readiness": st.column_config.ProgressColumn(
                 "Readiness", min_value=0, max_value=100, format="%.0f"),
             "asks_90d": st.column_config.NumberColumn("Asks in 90 days", format="%d"),
             "arr": lists.money_col("ARR ($)"), "csm_owner": "CSM"}, height=300)
        actions_ui.promote_button(picked)

st.subheader("Evangelism pipeline")
ev_df = v["evangelism"]
if ev_df.empty:
    st.info("No account is in the evangelism pipeline yet (it needs scores and advocacy "
            "activities).")
else:
    funnel = AD.evangelism_funnel(ev_df)
    left, right = st.columns(2)
    with left:
        ev_click = shell.chart(charts.evangelism_funnel(funnel, shell.theme()), "adv_evangelism",
                               select=True)
        stage_pts = lists.clicked(ev_click)
    with right:
        stage = stage_pts[-1][0] if stage_pts else None
        shown = ev_df if stage is None else ev_df[ev_df["stage"] == stage]
        st.caption("Score 0-100: 25 each for a promoter, green health, an active champion and "
                   "a completed public activity (community, speaking, review, case study, "
                   "testimonial) in the year. Stages: identified (score 75+), invited (an "
                   "ask in 90 days not yet answered), engaged (an accepted or completed "
                   "activity in the year), active evangelist (two or more completed, one of "
                   "them public)." + (f" Showing **{stage}**." if stage else ""))
        lists.account_list(
            shown.round({"arr": 0}), "adv_evangelists",
            ["name", "stage", "evangelism_score", "completed_12m", "referral_value_12m", "rung",
             "csm_owner"],
            {"name": lists.name_col(), "stage": "Stage",
             "evangelism_score": st.column_config.ProgressColumn(
                 "Score", min_value=0, max_value=100, format="%.0f"),
             "completed_12m": st.column_config.NumberColumn("Done in 12 months", format="%d"),
             "referral_value_12m": lists.money_col("Referred ($)"), "rung": "Rung",
             "csm_owner": "CSM"}, height=300)

st.subheader("Asset library")
lib = v["assets"]
if lib.empty:
    st.info("No completed case study, testimonial or review yet: each one becomes an asset here.")
else:
    st.caption("Every completed case study, testimonial and review, and where it was used "
               "(a deal, a campaign, a web page). Record a use below: it shows on the "
               "account's timeline.")
    lists.table(lib.rename(columns={"occurred_at": "made"}), key="adv_assets", height=300,
                column_order=["name", "type", "made", "uses", "last_used", "used_for"],
                column_config={"name": "Account", "type": "Asset",
                               "made": st.column_config.DateColumn("Made", format="D MMM YYYY"),
                               "uses": st.column_config.NumberColumn("Uses", format="%d"),
                               "last_used": st.column_config.DatetimeColumn("Last used",
                                                                            format="D MMM YYYY"),
                               "used_for": st.column_config.TextColumn("Last used for",
                                                                       width="large")})
    actions_ui.asset_use_form(lib)

st.subheader("Community and social")
if status["counts"].get("mentions", 0) == 0:
    shell.missing_data_note(status, ["mentions"])
else:
    mv = data.mentions(token, f)
    rec, share = mv["recent"], mv["share"].set_index("name")
    n = len(rec)
    m1, m2, m3, m4 = st.columns(4, border=True)
    m1.metric("Mentions (90 days)", f"{n:,}")
    net = ((rec["tone"] == "positive").sum() - (rec["tone"] == "negative").sum()) / n if n else None
    m2.metric("Net sentiment (90 days)", "—" if net is None else f"{net * 100:+.0f}",
              help="% positive − % negative mentions (VADER compound at or above +0.05 / at or "
                   "below −0.05: the settings mentions.positive_above / negative_below).")
    us = share.at["us", "share"] if "us" in share.index else float("nan")
    m3.metric("Share of voice (90 days)", "—" if us != us else f"{us:.0%}",
              help="Mentions naming the product over mentions naming it or a competitor "
                   "(the keyword lists in the settings); "
                   + ", ".join(f"{k}: {r.mentions:,}" for k, r in share.iterrows()) + ".")
    neg = rec[(rec["tone"] == "negative") & rec["account_id"].notna()]
    m4.metric("Negative, by customers' people (90 days)", f"{len(neg):,}",
              help="Each raises an alert on its account at the next scoring.")
    left, right = st.columns(2)
    with left:
        shell.chart(charts.mentions_monthly(mv["monthly"], shell.theme()), "adv_mentions")
    with right:
        st.markdown("**Most influential authors** (12 months)")
        st.caption("Influence of a mention = log10(1 + reach) + log10(1 + reactions): ten "
                   "times the audience adds one point; an author's is the sum of theirs.")
        lists.table(mv["influencers"], key="adv_influencers", height=300,
                    column_order=["author", "name", "mentions", "influence", "sentiment",
                                  "negative"],
                    column_config={"author": "Author", "name": "Account",
                                   "mentions": "Mentions",
                                   "influence": st.column_config.NumberColumn(
                                       "Influence", format="%.1f"),
                                   "sentiment": st.column_config.NumberColumn(
                                       "Mean sentiment", format="%+.2f"),
                                   "negative": "Negative"})
    if len(neg):
        st.markdown("**Negative mentions by customers' people** (90 days): act on the account")
        lists.account_list(
            neg.rename(columns={"occurred_at": "posted"}), "adv_negative_mentions",
            ["name", "posted", "source", "author", "text", "sentiment"],
            {"name": lists.name_col(),
             "posted": st.column_config.DateColumn("Posted", format="D MMM YYYY"),
             "source": "Source", "author": "Author",
             "text": st.column_config.TextColumn("Said", width="large"),
             "sentiment": st.column_config.NumberColumn("Sentiment", format="%+.2f")},
            height=260)

pipe = v["pipeline"]
st.subheader("Advocacy pipeline (12 months)")
if pipe.empty:
    st.info("No advocacy activity in the last 12 months.")
else:
    left, right = st.columns([3, 2])
    with left:
        ev = shell.chart(charts.ask_pipeline(pipe, shell.theme(), labels.advocacy_type),
                         "adv_pipeline", select=True)
    with right:
        av = v["advocates"]
        st.markdown("**Advocates vs other accounts** (trailing 12 months)")
        lists.table(av, key="adv_vs",
                     column_config={"group": "Group", "accounts": "Accounts a year ago",
                                    "logo_churn": lists.pct_col("Logo churn"),
                                    "grr": lists.pct_col("GRR"), "nrr": lists.pct_col("NRR")})
        st.caption("An advocate completed an advocacy activity in the year before the period "
                   "(grouping uses only what was known then). Correlation, not proof: happy "
                   "customers both advocate and stay.")
    acts = v["activities"]
    sel = lists.clicked(ev)
    if sel:
        t, stt = sel[-1]
        acts = acts[(acts["type"] == t) & (acts["status"] == stt)]
        st.info(f"Showing {len(acts)} **{t.replace('_', ' ')}** activities with status **{stt}**.")
    lists.account_list(
        acts.sort_values("occurred_at", ascending=False), "adv_acts",
        ["name", "type", "status", "occurred_at", "value", "csm_owner"],
        {"name": lists.name_col(), "type": "Activity", "status": "Status",
         "occurred_at": st.column_config.DateColumn("Date", format="D MMM YYYY"),
         "value": lists.money_col("Value ($)"), "csm_owner": "CSM"}, height=300)
