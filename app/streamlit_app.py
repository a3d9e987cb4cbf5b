"""Greendoor entrypoint: page config, sidebar filters, navigation. Nothing else."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `app` and `pages` live beside src/, not inside it
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import PAGES_DIR, shell  # noqa: E402

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
    ],
}

from greendoor.store.engine import StoreBusy  # noqa: E402

try:
    shell.sidebar_filters()
    shell.presentation_toggle()
    st.navigation(PAGES).run()
except StoreBusy as exc:  # another process held the embedded store for the whole timeout
    st.warning(f"The store is busy: {exc}. Nothing was lost; reload the page in a moment.",
               icon=":material/hourglass_top:")
