"""This week: the meeting agenda of what changed since a chosen date; each line opens the account."""

import datetime as dt

import streamlit as st

from app import actions_ui, data, lists, shell
from greendoor.analytics.this_week import SECTIONS

shell.require_data()
actions_ui.show_toast()
f = shell.current_filters()
token = data.data_token()

st.title("This week")
pick, _, pdf, page = st.columns([1, 2, 1, 1], vertical_alignment="bottom")
since = pick.date_input("Changes since", value=f.as_of - dt.timedelta(days=7), max_value=f.as_of,
                      key="since", bind="query-params")
no_browser = data.reports_available()
stem = f"greendoor-weekly-{f.as_of:%Y-%m-%d}"
for col, fmt, mime in ((pdf, "pdf", "application/pdf"), (page, "html", "text/html")):
    col.download_button(
        f"Digest ({fmt.upper()})", icon=":material/download:", file_name=f"{stem}.{fmt}",
        mime=mime, key=f"digest_{fmt}", on_click="ignore", width="stretch",
        disabled=since >= f.as_of or bool(no_browser),
        data=data.report_file("weekly", f=f, fmt=fmt, since=since, mask=data.masking()),
        help=no_browser or "The week's KPIs, ARR bridge, what changed, top risks with their "
                           "drivers, renewals in the windows and the decisions taken, as a "
                           "file to send" + (" (names masked)" if data.masking() else ""))
st.caption(f"From {since:%d %b %Y} to {f.as_of:%d %b %Y}: score snapshots compared, and the "
           "events dated in between. Click a line to open the account.")
ag = data.agenda(token, f, since)
counts = ag["section"].value_counts()
cols = st.columns(len(SECTIONS), border=True)
for col, section in zip(cols, SECTIONS, strict=True):
    col.metric(section, int(counts.get(section, 0)))

for i, section in enumerate(SECTIONS):
    items = ag[ag["section"] == section].reset_index(drop=True)
    st.subheader(f"{i + 1}. {section} ({len(items)})")
    if items.empty:
        st.caption("Nothing this time.")
        continue
    picked = lists.table(shell.link_names(items.round({"arr": 0})), key=f"agenda_{i}",
                          on_select="rerun", selection_mode="single-row",
                          column_order=["name", "detail", "arr"],
                          column_config={"name": shell.name_link_column(),
                                         "detail": st.column_config.TextColumn("What changed", width="large"),
                                         "arr": st.column_config.NumberColumn("ARR ($)", format="localized")})
    rows = ((picked or {}).get("selection") or {}).get("rows", [])
    if rows:
        shell.open_account(items.iloc[rows[0]]["account_id"])
