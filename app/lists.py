"""Account lists with the action buttons, and chart-click helpers, shared by the
analytics pages (DESIGN.md "drill-down pattern": chart -> accounts -> Account 360)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import actions_ui, shell
from greendoor.labels import human
from greendoor.text import md

#: Columns holding codes shown in words (:func:`greendoor.labels.human`): "mid_market"
#: as "Mid-market", "no_opportunity" as "No renewal opportunity".
CODE_COLUMNS = ("segment", "stage", "forecast_category", "category", "advocacy_type", "type",
                "activity_type", "rule_segment", "plan", "group", "action", "component",
                "reason")

#: What a table shows for a missing value, text or number (Streamlit's default is "None",
#: which reads as a value to a CS director).
MISSING = "—"

DEFAULT_LABELS = {"component": "Component", "segment": "Segment", "csm_owner": "CSM", "band": "Band", "trend": "Trend",
                  "industry": "Industry"}


def clicked(event) -> list:
    """The ``customdata`` of every point selected in a Plotly chart event."""
    return [p["customdata"] for p in ((event or {}).get("selection") or {}).get("points", [])
            if p.get("customdata") is not None]


def shown(frame: pd.DataFrame, column_order: list[str] | None) -> pd.DataFrame:
    """``frame`` cut to the columns of ``column_order`` that it has, in its own order:
    ``st.dataframe`` sends every column of its frame to the browser, shown or not (at
    1,500 accounts Segmentation's list was 790 KB with its hidden driver columns, 219 KB
    without). Unchanged without a ``column_order``."""
    if not column_order:
        return frame
    keep = set(column_order)
    return frame[[c for c in frame.columns if c in keep]]


def account_list(df: pd.DataFrame, key: str, column_order: list[str], column_config: dict,
                 height: int | None = None, caption: str | None = None) -> pd.Series | None:
    """A table of accounts (one row each, with ``account_id`` and ``name``) with row
    selection; each name links to the account's Account 360. One selected account gets
    the action buttons and an "Open Account 360" button, and is returned; several get the
    bulk actions (:func:`app.actions_ui.bulk_bar`) and ``None`` is returned, as it is
    with nothing selected."""
    view = df.reset_index(drop=True)
    config = {**DEFAULT_LABELS, **column_config}
    if "name" in view and "account_id" in view:
        given = config.get("name")
        label = given if isinstance(given, str) else (given or {}).get("label")
        config["name"] = shell.name_link_column(label or "Account")
    sent = shown(shell.link_names(view), column_order)
    ev = st.dataframe(percent_points(humanize(sent), config), key=key, hide_index=True,
                      placeholder=MISSING, on_select="rerun",
                      selection_mode="multi-row", column_order=column_order,
                      column_config=config, height=height or "auto", width=shell.table_width())
    if caption:
        st.caption(caption)
    rows = [r for r in ((ev or {}).get("selection") or {}).get("rows", []) if r < len(view)]
    if len(rows) > 1:
        actions_ui.bulk_bar(view.iloc[rows], key)
        return None
    if not rows:
        return None
    sel = view.iloc[rows[0]]
    st.markdown(f"**{md(shell.account_label(sel['account_id'], sel.get('name')))}**: act on it here, "
                "or open its Account 360.")
    actions_ui.action_buttons(sel["account_id"], key=key, owner=sel.get("csm_owner"))
    if st.button("Open Account 360", key=f"{key}_open", icon=":material/person_search:"):
        shell.open_account(sel["account_id"])
    return sel


def name_col(label: str = "Account") -> st.column_config.Column:
    """The account-name column: a link to Account 360 (:func:`app.shell.name_link_column`)."""
    return shell.name_link_column(label)


def money_col(label: str) -> st.column_config.Column:
    return st.column_config.NumberColumn(label, format="localized")


def pct_col(label: str, help: str | None = None, decimals: int = 0) -> st.column_config.Column:
    """A share shown as a percentage with ``decimals`` places ("27 %", not "27.27%").
    The frame holds fractions (0.27); :func:`table` and :func:`account_list` scale them
    to points for display, as Streamlit's printf formats do not multiply."""
    return st.column_config.NumberColumn(label, format=f"%.{decimals}f%%", help=help)


def humanize(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` for display: the codes of :data:`CODE_COLUMNS` in words, missing text
    as "—", and columns with no value at all left out (a column of blanks says nothing)."""
    text = [c for c in frame.columns if pd.api.types.infer_dtype(frame[c], skipna=True)
            in ("string", "empty") and frame[c].dtype != float]
    empty = [c for c in frame.columns if len(frame) and frame[c].isna().all()
             and c not in ("name", "account_id")]
    if not text and not empty:
        return frame
    out = frame.drop(columns=empty)
    for c in text:
        if c in out:
            out[c] = out[c].map(human) if c in CODE_COLUMNS else out[c].astype(object).where(
                out[c].notna(), MISSING)
    return out


def percent_points(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """``frame`` with each column configured by :func:`pct_col` multiplied by 100, and
    each :func:`money_col` rounded to whole dollars (no "34,339,645.1")."""
    def fmt(cfg) -> str:
        return str((cfg.get("type_config") or {}).get("format") or "") \
            if isinstance(cfg, dict) else ""
    pct = [c for c, cfg in config.items() if c in frame and fmt(cfg).endswith("f%%")]
    dollars = [c for c, cfg in config.items() if c in frame and fmt(cfg) == "localized"
               and pd.api.types.is_float_dtype(frame[c])]
    if not pct and not dollars:
        return frame
    out = frame.copy()
    for c in pct:
        out[c] = pd.to_numeric(out[c], errors="coerce") * 100
    for c in dollars:
        out[c] = out[c].round(0)
    return out


def table(frame: pd.DataFrame, key: str | None = None, column_config: dict | None = None,
          **kwargs):
    """``st.dataframe`` as every page shows one: no index, the usual column labels
    (:data:`DEFAULT_LABELS`), :func:`pct_col` columns scaled to points, and in
    presentation mode as wide as its columns (:func:`app.shell.table_width`)."""
    config = {**{c: v for c, v in DEFAULT_LABELS.items() if c in frame}, **(column_config or {})}
    kwargs.setdefault("width", shell.table_width())
    kwargs.setdefault("placeholder", MISSING)
    frame = shown(frame, kwargs.get("column_order"))
    return st.dataframe(percent_points(humanize(frame), config), key=key, hide_index=True,
                        column_config=config, **kwargs)
