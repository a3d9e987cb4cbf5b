"""Greendoor entrypoint: page config, sidebar filters, navigation. Nothing else."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `app` and `pages` live beside src/, not inside it
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import PAGES_DIR, auth, data, shell, warmup  # noqa: E402

st.set_page_config(page_title="Greendoor", page_icon=str(ROOT / "app" / "favicon.png"),
                   layout="wide")


def _page(script: str, title: str, icon: str, url_path: str, **kw) -> st.Page:
    return st.Page(PAGES_DIR / script, title=title, icon=f":material/{icon}:",
                   url_path=url_path, **kw)


def _portfolio_alias() -> None:
    """``/portfolio`` and ``/portfolio-health``: the landing page under its own name
    (the default page is served at ``/``; Streamlit ignores its own ``url_path``)."""
    st.switch_page(PAGES_DIR / "portfolio_health.py", query_params=shell.carried_params())


#: Grouped for the weekly meeting, the analyst's work and the admin; every page shows
#: (the navigation is expanded) and has its own URL.
PAGES = {
    "Weekly meeting": [
        _page("portfolio_health.py", "Portfolio health", "monitor_heart", "home", default=True),
        _page("this_week.py", "This week", "event_upcoming", "this-week"),
        _page("churn_risk.py", "Churn risk", "warning", "churn-risk"),
        _page("alerts.py", "Alerts", "notifications", "alerts"),
        _page("renewals.py", "Renewal forecast", "event_repeat", "renewals"),
        _page("expansion.py", "Expansion pipeline", "trending_up", "expansion"),
        *(st.Page(_portfolio_alias, title="Portfolio health", url_path=path, visibility="hidden")
          for path in ("portfolio", "portfolio-health")),
    ],
    "Accounts and analysis": [
        _page("account_360.py", "Account 360", "person_search", "account"),
        _page("actions.py", "Actions & playbooks", "task_alt", "actions"),
        _page("team.py", "Team", "groups", "team"),
        _page("onboarding.py", "Onboarding", "rocket_launch", "onboarding"),
        _page("value.py", "Value realization", "savings", "value"),
        _page("advocacy.py", "Advocacy", "campaign", "advocacy"),
        _page("segmentation.py", "Segmentation", "donut_small", "segmentation"),
        _page("behavior.py", "Behavior", "insights", "behavior"),
        _page("model_quality.py", "Model quality", "verified", "model-quality"),
    ],
    "Admin": [
        _page("data.py", "Data & settings", "database", "data"),
        _page("audit.py", "Audit log", "history", "audit"),
    ],
}

#: Pages whose footer also names the forecast run their numbers come from.
FORECAST_PAGES = ("renewals", "model-quality")

import sqlalchemy as sa  # noqa: E402

from greendoor import config  # noqa: E402
from greendoor.access import AccessDenied  # noqa: E402
from greendoor.store.engine import StoreBusy  # noqa: E402
from greendoor.text import md  # noqa: E402

warmup.run_started()  # the served app's warm-up gives way while visitors run (app/warmup.py)
with data.script_run():  # one store connection for the loaders of this run
    try:
        user = auth.signed_in()  # None until someone signs in (modes password and oidc)
        # Import, settings, users and the audit log are for admins; the library refuses
        # them to anyone else too, this only keeps the menu honest.
        # Signed out, every page is declared (hidden) so that a deep link to any page,
        # an admin page included, opens once signed in; the page itself checks the role.
        pages = PAGES if user is None or user.can("admin") else {
            k: v for k, v in PAGES.items() if k != "Admin"}
        # Navigation is declared before the sign-in screen so that a deep link
        # (/account?account=...) still opens its page once signed in.
        nav = st.navigation(pages, position="sidebar" if user else "hidden", expanded=True)
        if user is None:
            auth.sign_in_screen()
            st.stop()
        auth.sidebar(user)
        st.session_state["filters"] = shell.sidebar_filters()
        shell.presentation_toggle()
        nav.run()
        if st.session_state["filters"] is not None:  # one provenance footer for every page
            st.divider()
            shell.provenance(data.data_token(), st.session_state["filters"],
                             forecast=nav.url_path in FORECAST_PAGES)
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
    finally:
        warmup.run_ended()
