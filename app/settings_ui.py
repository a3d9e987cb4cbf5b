"""The settings editor of the Data & settings page: health weights per segment, bands,
trend, rule thresholds and renewal windows, saved as a new version, then "Rescore"."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import streamlit as st

from app import auth, data
from greendoor import config
from greendoor import rules as R
from greendoor import settings as S
from greendoor.labels import human
from greendoor.text import md

ROW_LABELS = {"default": "Default (all segments)", "enterprise": "Enterprise",
              "mid_market": "Mid-market", "smb": "SMB"}


def weights_frame(h: dict) -> pd.DataFrame:
    """Rows default + each segment; a segment row's blank cell uses the default."""
    rows = [{"applies_to": "default", **h["weights"]}]
    for seg in config.SEGMENTS:
        over = h.get("segment_weights", {}).get(seg, {})
        rows.append({"applies_to": seg, **{c: over.get(c) for c in S.COMPONENTS}})
    return pd.DataFrame(rows)


def settings_table(cur: dict, paths) -> pd.DataFrame:
    """``setting, value, unit, meaning`` of the scalar settings at ``paths``, help and
    unit from the typed model (:func:`greendoor.config.setting_info`)."""
    rows = []
    for path in paths:
        info = config.setting_info(path)
        rows.append({"setting": path, "value": float(config.get_path(cur, path)),
                     "unit": info["unit"], "meaning": info["help"]})
    return pd.DataFrame(rows)


def _typed(path: str, value: float):
    """A whole number for a setting the model declares as one."""
    model: Any = config.Settings
    for part in path.split("."):
        ann = model.model_fields[part].annotation
        model = ann
    return int(value) if ann is int else float(value)


def settings_from_form(base: dict, weights: pd.DataFrame, bands: dict, trend: dict,
                       rules: pd.DataFrame, windows: str,
                       others: pd.DataFrame | None = None, currency: str | None = None) -> dict:
    """The edited settings (raises :class:`greendoor.settings.SettingsError` with the
    field named when a value cannot be read)."""
    out = copy.deepcopy(base)
    h = out["health"]
    d = weights[weights["applies_to"] == "default"].iloc[0]
    h["weights"] = {c: float(d[c]) if pd.notna(d[c]) else 0.0 for c in S.COMPONENTS}
    h["segment_weights"] = {}
    for r in weights[weights["applies_to"] != "default"].itertuples():
        over = {c: float(getattr(r, c)) for c in S.COMPONENTS if pd.notna(getattr(r, c))}
        if over:
            h["segment_weights"][r.applies_to] = over
    h["bands"] = {"green": float(bands["green"]), "yellow": float(bands["yellow"])}
    h["trend_window_days"] = int(trend["window"])
    h["trend_threshold"] = float(trend["threshold"])
    out["rules"] = {r.setting: _typed(f"rules.{r.setting}", r.value) for r in rules.itertuples()}
    for r in (others.itertuples() if others is not None else []):
        config.set_path(out, r.setting, _typed(r.setting, r.value))
    try:
        out["renewal_windows_days"] = sorted({int(x.strip()) for x in windows.split(",") if x.strip()},
                                             reverse=True)
    except ValueError as exc:
        raise S.SettingsError(f"renewal_windows_days: not a list of whole days: {windows!r}") from exc
    if currency is not None:
        out["currency"] = currency.strip().upper()
    return out


def segment_rules_frame(cur: dict, segment: str) -> pd.DataFrame:
    """``setting, default, value, own, unit, meaning``: every threshold a segment may set
    (:func:`greendoor.rules.segment_thresholds`), the default in force, the value that
    applies to the segment (its own, else the default) and whether it is its own."""
    own = (cur.get("rules_by_segment") or {}).get(segment, {})
    return pd.DataFrame([{"setting": t.name, "default": float(cur["rules"][t.name]),
                          "value": float(own.get(t.name, cur["rules"][t.name])),
                          "own": "own value" if t.name in own else "default",
                          "unit": t.unit, "meaning": t.help}
                         for t in R.segment_thresholds()])


def with_segment_rules(cur: dict, segment: str, edited: pd.DataFrame) -> dict:
    """``cur`` with ``segment``'s thresholds from an edited :func:`segment_rules_frame`
    (a value equal to the default, or an emptied cell, sets nothing)."""
    out = copy.deepcopy(cur)
    own = {r.setting: _typed(f"rules.{r.setting}", r.value) for r in edited.itertuples()
           if pd.notna(r.value) and float(r.value) != float(cur["rules"][r.setting])}
    by_segment = dict(out.get("rules_by_segment") or {})
    if own:
        by_segment[segment] = own
    else:
        by_segment.pop(segment, None)
    out["rules_by_segment"] = by_segment
    return out


def editor() -> None:
    """The Settings section of the Data page: the form that saves a new version, the
    rescore button and the version history."""
    token = data.data_token()
    version, cur = data.settings(token)
    st.markdown(f"Current settings: **version {version}**. Saving writes a new version (who, when, "
                "what changed) and never overwrites an old one; scores record the version they "
                "were computed with.")
    _form(cur)
    _segment_rules(cur, token)
    _rescore(token, version)
    _history(token)
    _notifications(cur)
    _share_of_voice(cur)
    _benchmarks(token)


def _form(cur: dict) -> None:
    """The settings form; on save, a new version (or the error, in words)."""
    h = cur["health"]
    with st.form("settings_form", border=True):
        st.markdown("**Health weights** (engagement / sentiment / growth): the health score is the "
                    "weighted mean of the three components, so weights need not add up to 1. "
                    "Leave a segment's cell empty to use the default.")
        wf = st.data_editor(weights_frame(h), key="settings_weights", hide_index=True,
                            disabled=["applies_to"], width="stretch",
                            column_config={"applies_to": st.column_config.TextColumn("Applies to"),
                                           **{c: st.column_config.NumberColumn(c.capitalize(), min_value=0.0,
                                                                               max_value=10.0, step=0.05)
                                              for c in S.COMPONENTS}})
        c1, c2, c3, c4 = st.columns(4)
        green = c1.number_input("Green from (score)", 1.0, 100.0, float(h["bands"]["green"]), 1.0,
                                key="settings_green")
        yellow = c2.number_input("Yellow from (score)", 1.0, 100.0, float(h["bands"]["yellow"]), 1.0,
                                 key="settings_yellow", help="Below this is red.")
        window = c3.number_input("Trend window (days)", 7, 180, int(h["trend_window_days"]), 1,
                                 key="settings_trend_window")
        threshold = c4.number_input("Trend threshold (points)", 0.5, 50.0, float(h["trend_threshold"]),
                                    0.5, key="settings_trend_threshold")
        st.markdown("**Rule thresholds**")
        table_cfg = {"value": st.column_config.NumberColumn("Value"),
                     "unit": st.column_config.TextColumn("Unit", width="small"),
                     "meaning": st.column_config.TextColumn("Meaning", width="large")}
        rules = settings_table(cur, [f"rules.{k}" for k in cur["rules"]])
        rules["setting"] = rules["setting"].str.removeprefix("rules.")
        rf = st.data_editor(rules, key="settings_rules", hide_index=True,
                            disabled=["setting", "unit", "meaning"], width="stretch",
                            column_config=table_cfg)
        st.markdown("**Models, pages and windows**")
        of = st.data_editor(settings_table(cur, config.SCALAR_SETTINGS), key="settings_others",
                            hide_index=True, disabled=["setting", "unit", "meaning"],
                            width="stretch", column_config=table_cfg)
        windows = st.text_input("Renewal windows (days before renewal, comma-separated)",
                                ", ".join(str(w) for w in cur["renewal_windows_days"]),
                                key="settings_windows")
        currency = st.text_input("Currency of the store's money (ISO 4217)", cur["currency"],
                                 max_chars=3, key="settings_currency",
                                 help="Published benchmarks in another currency are not compared.")
        note = st.text_input("Why this change (recorded with the version)", key="settings_note",
                             max_chars=500)
        saved = st.form_submit_button("Save as a new version", type="primary")
    if saved:
        try:
            new = settings_from_form(cur, wf, {"green": green, "yellow": yellow},
                                     {"window": window, "threshold": threshold}, rf, windows, of,
                                     currency)
            v = S.save(data.engine(), new, actor=auth.current(), note=note)
        except S.SettingsError as exc:
            st.error(str(exc))
        except ValueError as exc:
            st.info(str(exc))
        else:
            st.cache_data.clear()
            st.session_state["action_toast"] = (f"Saved settings version {v}. Rescore to apply it "
                                                "to the scores.")
            st.rerun()


def _segment_rules(cur: dict, token: str) -> None:
    """A segment's own rule thresholds, previewed (accounts raised today and backtested
    lift, in force against proposed) and saved as a new settings version."""
    st.markdown("**Rule thresholds per segment**")
    segments = data.store_status(token)["options"]["segments"]
    if not segments:
        st.caption("The store has no segments.")
        return
    st.caption("A segment may set its own value for any account rule's threshold; a value "
               "equal to the default (or an emptied cell) uses the default above. Each account is judged by its segment as of the "
               "date scored. Preview before saving: how many of the segment's accounts each "
               "changed rule raises today, and its lift on past scorings (the share of its "
               "alerts followed by churn, or expansion for expansion signals, within 90 days, "
               "over the segment's rate), in force and proposed.")
    seg = st.selectbox("Segment", segments, key="seg_rules_segment", format_func=human)
    edited = st.data_editor(
        segment_rules_frame(cur, seg), key=f"seg_rules_{seg}", hide_index=True, width="stretch",
        disabled=["setting", "default", "own", "unit", "meaning"],
        column_config={"setting": "Threshold", "default": st.column_config.NumberColumn("Default"),
                       "value": st.column_config.NumberColumn(human(seg)),
                       "own": st.column_config.TextColumn("Set by", width="small"),
                       "unit": st.column_config.TextColumn("Unit", width="small"),
                       "meaning": st.column_config.TextColumn("Meaning", width="large")})
    try:
        proposed = with_segment_rules(cur, seg, edited)
        S.validate(proposed)
    except (S.SettingsError, ValueError) as exc:
        st.error(md(str(exc)))
        return
    b1, b2 = st.columns([1, 4])
    if b1.button("Preview", key="seg_rules_preview"):
        with st.spinner("Re-running the rules on past scorings"):
            p = data.threshold_preview(cur, proposed, seg,
                                       data.store_status(token)["default_as_of"])
        if p.empty:
            st.info("No threshold of this segment changes: nothing to preview.")
        else:
            p["rule"] = p["rule"].map(human)
            p["verdict"] = [("no better than chance" if lift <= 1 else "finds risk")
                            if lift == lift else "not measured" for lift in p["lift_candidate"]]
            st.dataframe(p, hide_index=True, key="seg_rules_preview_table", column_config={
                "rule": "Rule", "now_current": "Raised today (in force)",
                "now_candidate": "Raised today (proposed)",
                "raised_current": "Past alerts (in force)",
                "raised_candidate": "Past alerts (proposed)",
                "lift_current": st.column_config.NumberColumn("Lift (in force)", format="%.1f×"),
                "lift_candidate": st.column_config.NumberColumn("Lift (proposed)", format="%.1f×"),
                "base_rate": st.column_config.NumberColumn("Segment's rate", format="percent"),
                "dates": "Past scorings",
                "verdict": st.column_config.TextColumn("Proposed, measured", width="medium")})
            st.caption("Lift at or below 1: the rule's alerts in this segment were no likelier "
                       "than its other accounts to have the outcome (noise). Empty: no past "
                       "scoring 90 days back, or no alert to measure.")
    if b2.button("Save as a new version", key="seg_rules_save", type="primary"):
        _write(lambda: S.save(data.engine(), proposed, actor=auth.current(),
                              note=f"rule thresholds for {seg}"),
               "Saved settings version {} " + f"(rule thresholds for {human(seg)}).")


def _rescore(token: str, version: int) -> None:
    """Rescore the latest date (optionally the weekly history) with the current settings."""
    st.markdown("**Rescore**")
    prov = data.provenance(token, None)
    scored = prov["scored"]
    if scored:
        st.caption(f"The latest scores ({scored['as_of']:%d %b %Y}) use settings version "
                   f"{scored['settings_version']}.")
    history = st.checkbox("Also rebuild the weekly history (52 weeks; about a minute at 1,500 "
                          "accounts)", key="rescore_history",
                          help="Without it only the latest date is rescored; trends still "
                               "compare with the earlier date under the new settings.")
    if st.button("Rescore", key="rescore", icon=":material/refresh:",
                 disabled=data.store_status(token)["accounts"] == 0):
        # imported on use, not for cycles: the model libraries add about 1 s to a first page
        from greendoor.scoring.run import score

        bar = st.progress(0.0, text="Starting")
        try:
            rep = score(data.engine(), backfill_weeks=52 if history else 0,
                        actor=auth.current(), progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
        except ValueError as exc:
            bar.empty()
            st.error(str(exc))
        else:
            st.cache_data.clear()
            st.session_state["action_toast"] = (f"Rescored {rep.accounts:,} accounts with settings "
                                                f"version {version}.")
            st.rerun()



def _history(token: str) -> None:
    """Every settings version: when, who, why and what changed."""
    st.markdown("**Version history**")
    st.dataframe(data.settings_history(token), hide_index=True, key="settings_history",
                 column_config={"created_at": st.column_config.DatetimeColumn("When", format="D MMM YYYY, HH:mm"),
                                "created_by": "Who", "note": "Why",
                                "changes": st.column_config.TextColumn("What changed", width="large")})


def _benchmarks(token: str) -> None:
    """The published GRR/NRR benchmarks Portfolio health compares with: edited as a table,
    saved in one audited transaction (greendoor.settings.save_benchmarks)."""
    st.markdown("**Retention benchmarks**")
    st.caption("Published GRR and NRR by average contract value (ACV = ARR / accounts), in "
               "fractions (0.93 = 93 %). Portfolio health and the weekly digest compare the book "
               "with the bucket of its ACV, in the store's currency, when its ARR is at least "
               "the source's smallest company. Add a row for another source or year; the most "
               "recent year wins.")
    with st.form("benchmarks_form", border=True):
        edited = st.data_editor(
            data.benchmark_table(token), key="benchmarks_editor", num_rows="dynamic",
            hide_index=True, width="stretch",
            column_config={"benchmark_id": st.column_config.TextColumn("ID", required=True),
                           "metric": st.column_config.SelectboxColumn("Metric", options=["grr", "nrr"],
                                                                      required=True),
                           "acv_min": st.column_config.NumberColumn("ACV from", format="localized"),
                           "acv_max": st.column_config.NumberColumn("ACV below", format="localized"),
                           "value": st.column_config.NumberColumn("Value", format="%.3f"),
                           "currency": st.column_config.TextColumn("Currency"),
                           "statistic": st.column_config.TextColumn("Statistic"),
                           "url": st.column_config.TextColumn("Link (https)"),
                           "min_company_arr": st.column_config.NumberColumn(
                               "Companies from ARR", format="localized"),
                           "source": st.column_config.TextColumn("Source", width="large"),
                           "year": st.column_config.NumberColumn("Year", format="%d")})
        saved = st.form_submit_button("Save benchmarks")
    if saved:
        _write(lambda: S.save_benchmarks(data.engine(), edited, auth.current()),
               "Saved {} benchmark rows.")


def _notifications(cur: dict) -> None:
    """The daily digest's channels (greendoor notify): saved as a new settings version."""
    st.markdown("**Notifications** (the daily digest sent by `greendoor notify`)")
    n = cur["notifications"]
    with st.form("notifications_form", border=True):
        c1, c2 = st.columns(2)
        with c1:
            email_on = st.checkbox("Send by e-mail", n["email_enabled"], key="nt_email")
            host = st.text_input("SMTP host", n["smtp_host"], key="nt_host")
            port = st.number_input("SMTP port", 1, 65535, int(n["smtp_port"]), key="nt_port")
            tls = st.checkbox("STARTTLS", n["smtp_starttls"], key="nt_tls")
            user = st.text_input("SMTP login (password: $GREENDOOR_SMTP_PASSWORD)",
                                 n["smtp_user"], key="nt_user")
        with c2:
            sender = st.text_input("From", n["email_from"], key="nt_from")
            team = st.text_input("Team address (the whole book's digest)", n["team_email"],
                                 key="nt_team")
            hook_on = st.checkbox("Post to a chat webhook", n["webhook_enabled"], key="nt_hook")
            url = st.text_input("Webhook URL (Slack-compatible)", n["webhook_url"], key="nt_url")
        st.caption("Users whose user name is an e-mail address get their own digest (a csm: "
                   "their book). Schedule `greendoor notify` daily; a failed delivery is "
                   "retried on the next run.")
        saved = st.form_submit_button("Save notifications")
    if saved:
        new = copy.deepcopy(cur)
        new["notifications"].update(
            email_enabled=email_on, smtp_host=host.strip(), smtp_port=int(port),
            smtp_starttls=tls, smtp_user=user.strip(), email_from=sender.strip(),
            team_email=team.strip(), webhook_enabled=hook_on, webhook_url=url.strip())
        _write(lambda: S.save(data.engine(), new, actor=auth.current(), note="notifications"),
               "Saved settings version {} (notifications).")


def competitors_text(competitors: dict[str, list[str]]) -> str:
    """One competitor a line: ``Name: word, word``."""
    return "\n".join(f"{name}: {', '.join(words)}" for name, words in competitors.items())


def parse_competitors(text: str) -> dict[str, list[str]]:
    """The competitors of :func:`competitors_text`'s format; a line without words names
    the competitor by its name. Raises :class:`greendoor.settings.SettingsError` naming
    the line that cannot be read."""
    out: dict[str, list[str]] = {}
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, words = line.partition(":")
        name = name.strip()
        if not name:
            raise S.SettingsError(f"competitors, line {i}: {line!r} has no name before ':'")
        out[name] = [w.strip() for w in words.split(",") if w.strip()] or [name]
    return out


def _share_of_voice(cur: dict) -> None:
    """The words that name the product and its competitors in mentions (share of voice)."""
    st.markdown("**Share of voice** (community and social mentions)")
    m = cur["mentions"]
    with st.form("sov_form", border=True):
        brand = st.text_input("Words naming the product (comma-separated)",
                              ", ".join(m["brand_keywords"]), key="sov_brand")
        rivals = st.text_area("Competitors, one a line: Name: word, word",
                              competitors_text(m["competitors"]), key="sov_competitors")
        saved = st.form_submit_button("Save share of voice")
    if saved:
        def save():
            new = copy.deepcopy(cur)
            new["mentions"]["brand_keywords"] = [w.strip() for w in brand.split(",") if w.strip()]
            new["mentions"]["competitors"] = parse_competitors(rivals)
            return S.save(data.engine(), new, actor=auth.current(), note="share of voice")
        _write(save, "Saved settings version {} (share of voice).")


def _write(save, toast: str) -> None:
    """Run ``save`` (a settings write); on success clear the caches, show ``toast`` with
    its result and rerun; a refused write shows why (invalid: an error, unchanged: a note)."""
    try:
        result = save()
    except S.SettingsError as exc:
        st.error(md(str(exc)))
    except ValueError as exc:
        st.info(md(str(exc)))
    else:
        st.cache_data.clear()
        st.session_state["action_toast"] = toast.format(result)
        st.rerun()
