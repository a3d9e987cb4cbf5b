"""Account lists with the action buttons, and chart-click helpers, shared by the
analytics pages (DESIGN.md "drill-down pattern": chart -> accounts -> Account 360)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import PAGES_DIR, actions_ui, shell
from greendoor.text import md

DEFAULT_LABELS = {"segment": "Segment", "csm_owner": "CSM", "band": "Band", "trend": "Trend",
                  "industry": "Industry"}


def clicked(event) -> list:
    """The ``customdata`` of every point selected in a Plotly chart event."""
    return [p["customdata"] for p in ((event or {}).get("selection") or {}).get("points", [])
            if p.get("customdata") is not None]


def account_list(df: pd.DataFrame, key: str, column_order: list[str], column_config: dict,
                 height: int | None = None, caption: str | None = None) -> pd.Series | None:
    """A table of accounts (one row each, with ``account_id`` and ``name``) with
    single-row selection. The selected account gets the action buttons and an
    "Open Account 360" button; returns the selected row (or ``None``)."""
    view = df.reset_index(drop=True)
    config = {**DEFAULT_LABELS, **column_config}
    ev = st.dataframe(shell.present(view), key=key, hide_index=True, on_select="rerun",
                      selection_mode="single-row", column_order=column_order,
                      column_config=config, height=height or "auto")
    if caption:
        st.caption(caption)
    rows = ((ev or {}).get("selection") or {}).get("rows", [])
    if not rows or rows[0] >= len(view):
        return None
    sel = view.iloc[rows[0]]
    st.markdown(f"**{md(shell.account_label(sel['account_id'], sel.get('name')))}**: act on it here, "
                "or open its Account 360.")
    actions_ui.action_buttons(sel["account_id"], key=key, owner=sel.get("csm_owner"))
    if st.button("Open Account 360", key=f"{key}_open", icon=":material/person_search:"):
        st.switch_page(PAGES_DIR / "account_360.py", query_params={"account": sel["account_id"]})
    return sel


def name_col(label: str = "Account") -> st.column_config.Column:
    return st.column_config.TextColumn(label, width="medium")


def money_col(label: str) -> st.column_config.Column:
    return st.column_config.NumberColumn(label, format="localized")


def pct_col(label: str, help: str | None = None) -> st.column_config.Column:
    return st.column_config.NumberColumn(label, format="percent", help=help)
