"""Shared widgets: global filters bound to the URL, empty-store onboarding, KPI strip."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import streamlit as st

from app import PAGES_DIR, auth, data
from greendoor import access
from greendoor.charts.theme import CONFIG, Theme
from greendoor.labels import human
from greendoor.periods import Filters
from greendoor.text import md

ALL = "all"


def require_data() -> dict:
    """Status of the store; on an empty store show onboarding and stop the page."""
    status = data.store_status(data.data_token())
    if status["accounts"] == 0:
        onboarding()
        st.stop()
    return status


def onboarding() -> None:
    """Empty store: offer the demo portfolio (with progress) or point to the data contract."""
    st.title("Welcome to Greendoor")
    st.write(
        "The store is empty. Load the demo portfolio to explore Greendoor, or load "
        "your own CRM, product-usage, support and survey exports."
    )
    left, right = st.columns(2, border=True)
    with left:
        st.subheader("Load the demo portfolio")
        st.caption(
            "A realistic B2B SaaS portfolio: enterprise, mid-market and SMB accounts with "
            "contracts, daily product usage, tickets, surveys, CSM touches and pipeline, "
            "ending today, then scored (health, churn, expansion, renewal). The default "
            "size takes about a minute."
        )
        n = st.number_input("Accounts", min_value=10, max_value=20_000, value=1500, step=100,
                            key="onboard_accounts")
        months = st.number_input("Months of history", min_value=3, max_value=60, value=24,
                                 key="onboard_months")
        admin = auth.current().can("admin")
        if not admin:
            st.caption("Loading data needs an admin.")
        if st.button("Load demo portfolio", type="primary", key="onboard_load", disabled=not admin):
            from greendoor.demo import DemoParams, load_demo
            from greendoor.scoring.run import score

            bar = st.progress(0.0, text="Starting")
            load_demo(data.engine(), DemoParams(n_accounts=int(n), months=int(months)),
                      actor=auth.current(), progress=lambda f, msg: bar.progress(min(f, 1.0) * 0.3, text=msg))
            score(data.engine(),
                  progress=lambda f, msg: bar.progress(0.3 + 0.7 * min(f, 1.0), text=msg))
            st.cache_data.clear()
            st.rerun()
    with right:
        st.subheader("Use your own data")
        st.markdown(
            "Greendoor reads one CSV or Parquet file per table (accounts, subscriptions, "
            "usage, tickets, surveys, ...) and validates everything before writing. The "
            "columns are listed in the README under **Data contract**; the RavenStack "
            "export is understood as it is."
        )
        st.page_link(PAGES_DIR / "data.py", label="Import files on the Data page",
                     icon=":material/upload:")


def sidebar_filters() -> Filters | None:
    """As-of date, segment and CSM owner in the sidebar, bound to query parameters.

    Returns the current :class:`Filters`, scoped to the signed-in user
    (:func:`greendoor.access.scope`), or ``None`` when the store is empty. The entrypoint
    keeps them in ``st.session_state["filters"]`` for the page (:func:`current_filters`).
    """
    status = data.store_status(data.data_token())
    if status["accounts"] == 0:
        return None
    default = status["default_as_of"] or dt.date.today()
    opts = status["options"]
    with st.sidebar:
        st.header("Filters")
        as_of = st.date_input(
            "As-of date", value=default, min_value=default - dt.timedelta(days=3 * 365),
            max_value=default, key="as_of", bind="query-params",
            help="Every figure uses only data from before this date.",
        )
        segment = st.selectbox(
            "Segment", [ALL, *opts["segments"]], key="segment", bind="query-params",
            format_func=lambda s: "All segments" if s == ALL else human(s),
        )
        user = auth.current()
        if user.can("all_accounts"):
            owner = st.selectbox(
                "CSM owner", [ALL, *opts["owners"]], key="owner", bind="query-params",
                format_func=lambda s: "All owners" if s == ALL else s,
            )
        else:  # a csm sees their own book; another owner in the URL is refused below
            owner = st.query_params.get("owner", ALL)
            st.caption(f"Book of business: **{md(user.book)}**")
        ds = status["dataset"] or "imported data"
        st.caption(f"Store: {md(ds)}, {status['accounts']:,} accounts.")
    return access.scope(user, Filters(as_of=as_of, segment=None if segment == ALL else segment,
                                       owner=None if owner == ALL else owner))


def current_filters() -> Filters:
    """The sidebar's filters of this run, already scoped to the signed-in user by
    :func:`sidebar_filters`; a page run on its own (tests) gets the store's defaults,
    scoped the same way."""
    f = st.session_state.get("filters")
    if f is not None:
        return f
    status = data.store_status(data.data_token())
    return access.scope(auth.current(), Filters(as_of=status["default_as_of"] or dt.date.today()))


def fmt_money(v: float) -> str:
    """$1.2M, $35K, $900; negative as -$35K (so a metric's arrow points down)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    sign, v = ("-" if v < 0 else ""), abs(v)
    if v >= 1e6:
        return f"{sign}${v / 1e6:,.1f}M"
    if v >= 1e3:
        return f"{sign}${v / 1e3:,.0f}K"
    return f"{sign}${v:,.0f}"


def fmt_pct(v: float, digits: int = 1) -> str:
    return "—" if v is None or math.isnan(v) else f"{100 * v:.{digits}f}%"


def delta_pts(now: float, before: float, digits: int = 1) -> str | None:
    """Change in percentage points, or None when either side is missing."""
    if now is None or before is None or math.isnan(now) or math.isnan(before):
        return None
    change = 100 * (now - before)
    if round(change, digits) == 0:  # no change: no arrow, no colour
        return None
    return f"{change:+.{digits}f} pts"


#: What each optional canonical table powers, for "what is missing" notes.
POWERS = {
    "usage": "seat utilization, activity and adoption",
    "tickets": "support load, CSAT and escalations",
    "survey_responses": "NPS and survey CSAT",
    "contacts": "champions and sponsors",
    "interactions": "CSM touches and meeting attendance",
    "opportunities": "expansion and renewal pipeline",
    "churn_events": "churn reasons",
    "advocacy_activities": "the advocacy pipeline",
    "invoices": "late payments",
}


def missing_data_note(status: dict, tables: list[str]) -> None:
    """Say which of ``tables`` the store lacks and what they would show."""
    missing = [t for t in tables if status["counts"].get(t, 0) == 0]
    if missing:
        items = "; ".join(f"**{t}** ({POWERS.get(t, t)})" for t in missing)
        st.info(f"Not in the store: {items}. These figures are left out rather than shown as "
                "zero. Import them on the Data page (columns in the README's data contract).",
                icon=":material/info:")


def data_quality_note(token: str, as_of: dt.date) -> None:
    """Warn about contradictions in the data that distort the figures."""
    for f in data.data_quality(token, as_of):
        (st.warning if f["severity"] == "warning" else st.info)(
            f["finding"], icon=":material/warning:" if f["severity"] == "warning" else None)


# --------------------------------------------------------------------------- #
# presentation mode: larger type, account and contact names masked
# --------------------------------------------------------------------------- #
PRESENT_CSS = """<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 20px; }
[data-testid="stMetricValue"] { font-size: 2.6rem; }
</style>"""


def presentation_toggle() -> bool:
    """Sidebar toggle, also switched on by ``?present=1`` in the URL."""
    url_on = st.query_params.get("present") in ("1", "true", "yes")
    if "present_toggle" not in st.session_state:
        st.session_state["present_toggle"] = url_on

    def sync():
        if st.session_state["present_toggle"]:
            st.query_params["present"] = "1"
        elif "present" in st.query_params:
            del st.query_params["present"]

    on = st.sidebar.toggle("Presentation mode", key="present_toggle", on_change=sync,
                           help="Larger type for a shared screen; account and contact names "
                                "and emails masked.")
    if on:
        st.html(PRESENT_CSS)
    return on


def presenting() -> bool:
    """Whether names are masked: presentation mode, or a role that masks PII (viewer)."""
    return bool(st.session_state.get("present_toggle")) or auth.current().masks_pii


def pseudonyms(names: dict[str, str] | None = None) -> dict[str, str]:
    """Account id -> stable pseudonym ("Account 0421", by the rank of the id)."""
    names = names if names is not None else data.account_names(data.data_token())
    return {a: access.pseudonym_label(i + 1) for i, a in enumerate(sorted(names))}


def masked_label(account_id: str) -> str:
    """The pseudonym of one account (see :func:`pseudonyms`)."""
    return pseudonyms().get(account_id, access.pseudonym_label(0))


def account_label(account_id: str, name: str | None) -> str:
    return masked_label(account_id) if presenting() else (name or account_id)


def present(df, id_col: str = "account_id"):
    """A copy of ``df`` with account names, contact names and emails masked when
    presenting; the frame itself otherwise. Text columns that embed the row's
    account name (titles, details) are masked too."""
    if not presenting() or df is None or len(df) == 0:
        return df
    out = df.copy()
    names = data.account_names(data.data_token())
    if id_col in out:
        labels = out[id_col].map(pseudonyms(names)).fillna(access.pseudonym_label(0))
        real = out[id_col].map(names)
        # every text column: hidden columns are sent to the browser too
        for col in out.columns:
            if col == id_col or not (out[col].dtype == object
                                     or pd.api.types.is_string_dtype(out[col])):
                continue
            out[col] = [t.replace(r, lab) if isinstance(t, str) and isinstance(r, str) and r in t
                        else t for t, r, lab in zip(out[col], real, labels, strict=True)]
        for col in ("name", "account_name"):
            if col in out:
                out[col] = labels
    if "contact_id" in out:  # a contacts frame: names, e-mails and phones
        out = access.mask_contacts(out)
    elif "email" in out:
        out["email"] = "hidden"
    return out


def theme() -> Theme:
    """The figures' theme: presentation scale when presenting, and the health bands of
    the settings in force."""
    _, settings = data.settings(data.data_token())
    bands = settings["health"]["bands"]
    return Theme(present=bool(st.session_state.get("present_toggle")),
                 green=float(bands["green"]), yellow=float(bands["yellow"]))


def chart(fig, key: str, select: bool = False):
    """Show a figure of :mod:`greendoor.charts` (one Plotly config everywhere); with
    ``select`` a click on a mark reruns the page and the event is returned."""
    if select:
        return st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points",
                               config=CONFIG)
    return st.plotly_chart(fig, key=key, config=CONFIG)


def provenance(token: str, f: Filters, forecast: bool = False) -> None:
    """Caption: which score snapshot and settings version the page's numbers come
    from (and the forecast run), with a note when the settings changed since."""
    p = data.provenance(token, f.as_of)
    s = p["scored"]
    if s is None:
        st.caption(f"Not scored yet. Current settings: version {p['current']}.")
        return
    text = (f"Scores as of {s['as_of']:%d %b %Y}, computed with **settings version "
            f"{s['settings_version']}** on {s['scored_at']:%d %b %Y %H:%M} UTC.")
    if s["settings_version"] != p["current"]:
        text += (f" Settings version {p['current']} is newer: rescore on the Data & settings "
                 "page to apply it.")
    if forecast and p["forecast_as_of"]:
        text += f" Forecast run as of {p['forecast_as_of']:%d %b %Y}."
    st.caption(text)
