"""Greendoor entrypoint: page config, sidebar filters, navigation. Nothing else."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `app` and `pages` live beside src/, not inside it
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import PAGES_DIR, auth, shell  # noqa: E402

st.set_page_config(page_title="Greendoor", page_icon=":material/monitor_heart:", layout="wide")

PAGES = {
    "Portfolio": [
        st.Page(PAGES_DIR / "portfolio_health.py", title="Portfolio health",
                icon=":material/monitor_heart:", url_path="portfolio", default=True),
        st.Page(PAGES_DIR / "this_week.py", title="This week", icon=":material/event_upcoming:",
                url_path="this-week"),
        st.Page(PAGES_DIR / "churn_risk.py", title="Churn risk", icon=":material/warning:",
                url_path="churn-risk"),
        st.Page(PAGES_DIR / "account_360.py", title="Account 360", icon=":material/person_search:",
                url_path="account"),
        st.Page(PAGES_DIR / "actions.py", title="Actions & playbooks", icon=":material/task_alt:",
                url_path="actions"),
    ],
    "Analytics": [
        st.Page(PAGES_DIR / "expansion.py", title="Expansion pipeline", icon=":material/trending_up:",
                url_path="expansion"),
        st.Page(PAGES_DIR / "renewals.py", title="Renewal forecast", icon=":material/event_repeat:",
                url_path="renewals"),
        st.Page(PAGES_DIR / "advocacy.py", title="Advocacy", icon=":material/campaign:",
                url_path="advocacy"),
        st.Page(PAGES_DIR / "segmentation.py", title="Segmentation", icon=":material/donut_small:",
                url_path="segmentation"),
        st.Page(PAGES_DIR / "behavior.py", title="Behavior", icon=":material/insights:",
                url_path="behavior"),
        st.Page(PAGES_DIR / "model_quality.py", title="Model quality", icon=":material/verified:",
                url_path="model-quality"),
    ],
    "Settings": [
        st.Page(PAGES_DIR / "data.py", title="Data & settings", icon=":material/database:",
                url_path="data"),
        st.Page(PAGES_DIR / "audit.py", title="Audit log", icon=":material/history:",
                url_path="audit"),
    ],
}

import sqlalchemy as sa  # noqa: E402

from greendoor import config  # noqa: E402
from greendoor.access import AccessDenied  # noqa: E402
from greendoor.store.engine import StoreBusy  # noqa: E402
from greendoor.text import md  # noqa: E402

try:
    user = auth.signed_in()  # None until someone signs in (modes password and oidc)
    # Import, settings, users and the audit log are for admins; the library refuses
    # them to anyone else too, this only keeps the menu honest.
    # Signed out, every page is declared (hidden) so that a deep link to any page,
    # an admin page included, opens once signed in; the page itself checks the role.
    pages = PAGES if user is None or user.can("admin") else {
        k: v for k, v in PAGES.items() if k != "Settings"}
    # Navigation is declared before the sign-in screen so that a deep link
    # (/account?account=...) still opens its page once signed in.
    nav = st.navigation(pages, position="sidebar" if user else "hidden")
    if user is None:
        auth.sign_in_screen()
        st.stop()
    auth.sidebar(user)
    st.session_state["filters"] = shell.sidebar_filters()
    shell.presentation_toggle()
    nav.run()
except AccessDenied as exc:  # e.g. a csm editing ?account= or ?owner= in the URL
    st.error(f"Not allowed: {md(exc)}.", icon=":material/block:")
except StoreBusy as exc:  # another process held the embedded store for the whole timeout
    st.warning(f"The store is busy: {md(exc)}. Nothing was lost; reload the page in a moment.",
               icon=":material/hourglass_top:")
except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:  # store unreachable
    shown = sa.make_url(config.db_url()).render_as_string(hide_password=True)
    st.error(f"Greendoor cannot reach its store at `{shown}`.", icon=":material/cloud_off:")
    st.markdown(
        f"**Why:** {md(str(getattr(exc, 'orig', exc)).splitlines()[0], 300)}\n\n"
        "**What still works:** nothing on these pages needs anything but the store, and "
        "nothing was written. Every action you confirm is one transaction, so none is "
        "half-done.\n\n"
        "**What to do:** check that the database server is running and that "
        "`GREENDOOR_DB_URL` is right, then reload the page. The command line says the same: "
        "`greendoor info`.")
