"""Shared widgets: global filters bound to the URL, empty-store onboarding, KPI strip."""

from __future__ import annotations

import datetime as dt
import math
from urllib.parse import quote, urlencode

import pandas as pd
import streamlit as st

from app import PAGES_DIR, auth, data
from greendoor import access
from greendoor.charts.theme import CONFIG, Theme
from greendoor.config import SEGMENT_ARR_THRESHOLDS
from greendoor.labels import human
from greendoor.periods import Filters
from greendoor.text import md

ALL = "all"
_T = SEGMENT_ARR_THRESHOLDS
#: The sidebar's segment filter, in words (the thresholds of greendoor.config).
SEGMENT_HELP = (  # (markdown: a bare "$" would open a formula)
    "The accounts in this segment at the as-of date. A segment derived from ARR (none "
    f"given in the import) follows the ARR in force then: above {_T['enterprise']:,.0f} "
    f"USD enterprise, {_T['mid_market']:,.0f}-{_T['enterprise']:,.0f} USD mid-market, "
    f"below {_T['mid_market']:,.0f} USD SMB.")


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
            help=SEGMENT_HELP,
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
    "mentions": "community and social sentiment, influencers, share of voice and "
                "negative-mention alerts",
    "success_plans": "onboarding plans, phases, time to value and approvals",
    "milestones": "onboarding progress and stalled onboardings",
    "value_metrics": "realized value and ROI",
}


def missing_data_note(status: dict, tables: list[str], usage_rows: bool = False) -> None:
    """Say which of ``tables`` the store lacks and what they would show. Usage kept in
    the warehouse (a features-only sync) is not missing: its per-account figures are in
    the store; with ``usage_rows`` (the page shows the usage rows themselves) the note
    says that this detail stays in the warehouse."""
    synced = status.get("usage_in_warehouse")
    missing = [t for t in tables if status["counts"].get(t, 0) == 0
               and not (t == "usage" and synced)]
    if missing:
        items = "; ".join(f"**{t}** ({POWERS.get(t, t)})" for t in missing)
        st.info(f"Not in the store: {items}. These figures are left out rather than shown as "
                "zero. Import them on the Data page (columns in the README's data contract).",
                icon=":material/info:")
    if synced and usage_rows and "usage" in tables:
        st.info(f"Usage stays in your data warehouse (synced up to {synced}): health "
                "scores, churn probabilities and alerts use the per-account usage figures "
                "computed there. The usage detail on this page (daily activity, feature "
                "adoption, usage signals) needs the usage rows themselves, which this store "
                "does not keep; an admin can sync them with `usage_mode: rows` "
                "(docs/warehouse.md).", icon=":material/cloud:")


def data_quality_note(token: str, as_of: dt.date) -> None:
    """Warn about contradictions in the data that distort the figures."""
    for f in data.data_quality(token, as_of):
        (st.warning if f["severity"] == "warning" else st.info)(
            f["finding"], icon=":material/warning:" if f["severity"] == "warning" else None)


# --------------------------------------------------------------------------- #
# presentation mode: larger type, account and contact names masked
# --------------------------------------------------------------------------- #
#: Presentation type scale for a projected 1920x1080 screen. Streamlit sizes its tables
#: (a canvas) in rem of the root font size, read when a table is drawn: a 21 px root
#: gives table text 0.875 x 21 = 18.4 px, chart ticks are set by the figures' Theme.
#: Always: KPI labels and button labels wrap instead of ending in "…".
BASE_CSS = """<style>
[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] div,
[data-testid^="stBaseButton"] p, [data-testid^="stBaseButton"] div {
  white-space: normal; overflow: visible; text-overflow: clip; }
</style>"""

#: Presentation mode: type for a projected 1920×1080 screen. The main area is zoomed
#: (tables are drawn on a canvas whose font Streamlit fixes at 14 px, so only a zoom
#: reaches them: 14 px × 1.3 ≈ 18 px), and captions are dark. Charts are zoomed back
#: (1 / 1.3): Streamlit sizes them from the zoomed container, and their type is scaled
#: by the chart theme instead (:class:`greendoor.charts.theme.Theme`).
PRESENT_CSS = """<style>
[data-testid="stMainBlockContainer"] { zoom: 1.3; }
[data-testid="stMetricValue"] { font-size: 1.75rem; }
[data-testid="stMainBlockContainer"] [data-testid="stPlotlyChart"] { zoom: 0.7692; }
[data-testid="stMainBlockContainer"] [data-testid="stDataFrame"] { width: 100%; }
[data-testid="stMainBlockContainer"] [data-testid="stDataFrameResizable"],
[data-testid="stMainBlockContainer"] .stDataFrameGlideDataEditor { max-width: 100% !important; }
[data-testid="stCaptionContainer"] { color: #31333f; }
</style>"""

#: Query parameters every link the app makes carries along (the sidebar filters and
#: presentation mode), so a drill-down or a copied link opens the same view.
CARRIED = ("as_of", "segment", "owner", "present")


def presentation_toggle() -> bool:
    """Presentation mode, a property of the session: switched on by the sidebar toggle
    or ``?present=1``, then kept across pages, drill-downs and reruns (and written back
    into the URL on every run, so a copied link presents too) until someone switches
    the toggle off."""
    if data.PRESENT_KEY not in st.session_state:
        st.session_state[data.PRESENT_KEY] = \
            st.query_params.get("present") in ("1", "true", "yes")

    def switched():
        if not st.session_state[data.PRESENT_KEY] and "present" in st.query_params:
            del st.query_params["present"]

    on = st.sidebar.toggle("Presentation mode", key=data.PRESENT_KEY, on_change=switched,
                           help="Larger type for a shared screen; account and contact names "
                                "and e-mails replaced by pseudonyms everywhere.")
    if on:
        if st.query_params.get("present") != "1":
            st.query_params["present"] = "1"
    st.html(BASE_CSS + (PRESENT_CSS if on else ""))
    return on


def table_width() -> str:
    """``st.dataframe``'s width: its columns' own in presentation mode (a table stretched
    to the zoomed main area would be laid out 1.3× too wide, :data:`PRESENT_CSS`),
    else the container's."""
    return "content" if st.session_state.get(data.PRESENT_KEY) else "stretch"


def presenting() -> bool:
    """Whether names are masked: presentation mode, or a role that masks PII (viewer)."""
    return data.masking()


def carried_params() -> dict[str, str]:
    """The current view's :data:`CARRIED` query parameters (``present=1`` when
    presentation mode is on)."""
    out = {k: st.query_params[k] for k in CARRIED if k in st.query_params}
    if st.session_state.get(data.PRESENT_KEY):
        out["present"] = "1"
    return out


def open_account(account_id: str) -> None:
    """Go to Account 360 for ``account_id``, keeping the filters and presentation mode."""
    st.switch_page(PAGES_DIR / "account_360.py",
                   query_params={**carried_params(), "account": str(account_id)})


def account_url(account_id: str, name: str | None = None,
                carried: dict[str, str] | None = None) -> str:
    """A relative link to Account 360 for ``account_id`` with the current filters
    (``carried``: :func:`carried_params`, read once by a caller making many links); the
    (already masked) ``name`` last, for :func:`name_link_column` to show."""
    params = {**(carried_params() if carried is None else carried), "account": str(account_id)}
    if name:
        params["name"] = str(name)
    return "account?" + urlencode(params, quote_via=quote)


def link_names(df: pd.DataFrame, name_col: str = "name",
               id_col: str = "account_id") -> pd.DataFrame:
    """A copy of ``df`` whose ``name_col`` holds a link to each row's Account 360 (show
    it with :func:`name_link_column`); unchanged without both columns."""
    if df is None or len(df) == 0 or name_col not in df or id_col not in df:
        return df
    carried = carried_params()  # the query parameters once, not once per row
    return df.assign(**{name_col: [account_url(a, n if isinstance(n, str) else a, carried)
                                   for a, n in zip(df[id_col], df[name_col], strict=True)]})


def name_link_column(label: str = "Account", width: str = "medium"):
    """Column config showing :func:`link_names` links as the account's name."""
    return st.column_config.LinkColumn(label, display_text=r"[?&]name=([^&]*)$", width=width,
                                       help="Opens Account 360 in a new tab")


def account_label(account_id: str, name: str | None) -> str:
    """How to name an account on screen: its pseudonym when names are masked."""
    return account_labels({account_id: name})[account_id]


def account_labels(names: dict[str, str | None]) -> dict[str, str]:
    """How to name each ``{account_id: name}`` on screen (the pseudonym of
    :mod:`greendoor.masking` when names are masked, else the name or the id), with one
    masker look-up for pickers of thousands of accounts; in the order shown: by label."""
    if presenting():
        pseudonyms = data.masker(data.data_token()).accounts
        out = {k: pseudonyms.get(k, access.pseudonym_label(0)) for k in names}
    else:
        out = {k: v or k for k, v in names.items()}
    return dict(sorted(out.items(), key=lambda kv: kv[1].lower()))


def theme() -> Theme:
    """The figures' theme: presentation scale when presenting, and the health bands of
    the settings in force."""
    _, settings = data.settings(data.data_token())
    return Theme.of(settings, present=bool(st.session_state.get(data.PRESENT_KEY)))


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
