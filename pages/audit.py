"""Audit log: every write (actions, settings, imports, demo loads, restores, erasures)
with who, when, what, before and after; filters and CSV export."""

import datetime as dt

import streamlit as st

from app import auth, data, lists, shell
from greendoor import access
from greendoor.text import safe_csv

access.require(auth.current(), "admin")  # the library refuses too (audit.entries)
shell.require_data()
token = data.data_token()
user = auth.current()
st.title("Audit log")
st.caption("Append-only: Greendoor never updates or deletes these rows. Each write and its "
           "audit row commit in one transaction.")
fac = data.audit_facets(token, user)
c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
today = dt.date.today()
days = c1.date_input("Between", value=(today - dt.timedelta(days=90), today), key="audit_days")
actors = c2.multiselect("Who", fac["actors"], key="audit_actors")
actions = c3.multiselect("What", fac["actions"], key="audit_actions")
entity = c4.text_input("Entity id (exact)", key="audit_entity", max_chars=200)
start, end = (days if isinstance(days, tuple) and len(days) == 2 else (days, days)) \
    if days else (None, None)
log = data.audit(token, start, end, tuple(actors), tuple(actions), entity.strip() or None, user)
st.subheader(f"{len(log):,} entries")
lists.table(log, key="audit_table", height=min(560, 35 * (len(log) + 1) + 3),
             column_order=["occurred_at", "actor", "action", "entity", "entity_id", "before_json",
                           "after_json"],
             column_config={"occurred_at": st.column_config.DatetimeColumn("When (UTC)",
                                                                           format="D MMM YYYY, HH:mm:ss"),
                            "actor": "Who", "action": "What", "entity": "Entity",
                            "entity_id": "Entity id",
                            "before_json": st.column_config.TextColumn("Before", width="medium"),
                            "after_json": st.column_config.TextColumn("After", width="large")})
st.download_button("Export CSV", safe_csv(log),
                   file_name=f"greendoor-audit-{today.isoformat()}.csv", mime="text/csv",
                   key="audit_csv", icon=":material/download:",
                   disabled=shell.presenting(),
                   help="Disabled in presentation mode (the export holds names).")
