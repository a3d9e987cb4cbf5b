"""Data & settings: freshness of each table, import with a validation report, import
history; the versioned settings editor and Rescore."""

import re
import tempfile
from pathlib import Path

import streamlit as st

from app import actions_ui, auth, data, lists, settings_ui, shell
from greendoor import access
from greendoor.ingest import ImportRefused, import_path
from greendoor.ingest.adapters import ADAPTERS
from greendoor.text import md

access.require(auth.current(), "admin")  # import and settings also check in the library
st.title("Data & settings")
actions_ui.show_toast()
token = data.data_token()
status = data.store_status(token)

tab_data, tab_settings, tab_users = st.tabs(["Data", "Settings", "Users"])
with tab_settings:
    settings_ui.editor()
with tab_users:
    from greendoor import users as U

    mode = U.auth_mode()
    st.markdown(f"**Sign-in mode:** `{mode}` (environment variable `GREENDOOR_AUTH`: none, "
                "password or oidc).")
    if mode == "none":
        st.caption("Everyone who reaches the app is the single local admin. Use `password` or "
                   "`oidc` for a shared deployment.")
    lists.table(data.users(token, auth.current()), key="users_table",
                 column_config={"username": "User", "role": "Role", "book": "Book (CSM owner)",
                                "display_name": "Name", "has_password": "Password",
                                "failed_logins": "Failed sign-ins",
                                "locked_until": st.column_config.DatetimeColumn("Locked until"),
                                "last_login_at": st.column_config.DatetimeColumn("Last sign-in"),
                                "created_at": st.column_config.DatetimeColumn("Added")})
    st.caption("Manage users on the server: `greendoor users add NAME --role "
               "viewer|csm|manager|admin [--book OWNER]`, `greendoor users set-role`, "
               "`greendoor users remove`, `greendoor users set-password` (also clears a lockout). "
               "Every change is in the audit log.")

with tab_data:
    st.subheader("What the store holds")
    fresh = data.freshness(token)
    lists.table(
        fresh, key="freshness", height=35 * (len(fresh) + 1) + 3,
        column_config={
            "table": st.column_config.TextColumn("Table"),
            "rows": st.column_config.NumberColumn("Rows", format="localized"),
            "first": st.column_config.DateColumn("From", format="D MMM YYYY"),
            "last": st.column_config.DateColumn("To", format="D MMM YYYY"),
            "last_load": st.column_config.DatetimeColumn("Last loaded", format="D MMM YYYY, HH:mm"),
        },
    )
    st.caption(f"Dataset: {status['dataset'] or 'empty'}. Dates are each table's main date "
               "(signup, start, usage day, ticket opened, ...).")
    if status["accounts"]:
        shell.missing_data_note(status, list(shell.POWERS))
        if status["default_as_of"]:
            shell.data_quality_note(token, status["default_as_of"])

    st.subheader("Import files")
    fmt = st.radio("Format", list(ADAPTERS), horizontal=True, key="import_format",
                   format_func=lambda a: {"canonical": "Canonical (data contract)",
                                          "ravenstack": "RavenStack export"}.get(a, a))
    st.caption(ADAPTERS[fmt].description)
    uploads = st.file_uploader("Files: one per table, CSV or Parquet", type=["csv", "parquet"],
                               accept_multiple_files=True, key="import_files")
    date_format = st.text_input("Date format of non-ISO dates (optional)",
                                key="import_date_format", placeholder="%d/%m/%Y",
                                help="Needed only when a date column is ambiguous, e.g. 1/2/2024.")
    demo = status["dataset"] == "demo" and status["accounts"] > 0


    def _run(dry_run: bool, replace: bool):
        with tempfile.TemporaryDirectory() as tmp:
            for up in uploads:
                safe = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(up.name).name)
                (Path(tmp) / safe).write_bytes(up.getvalue())
            bar = st.progress(0.0, text="Validating")
            try:
                report = import_path(data.engine(), tmp, fmt, date_format=date_format or None,
                                     dry_run=dry_run, replace=replace, actor=auth.current(),
                                     progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
            except ImportRefused as exc:
                bar.empty()
                st.error(str(exc))
                return None
            bar.empty()
        report.source = ", ".join(up.name for up in uploads)
        return report


    def _keep(report) -> None:
        if report is None:
            return
        st.session_state["import_report"] = report
        if report.status == "ok":  # reload every cached figure from the new data
            st.cache_data.clear()
            st.session_state["import_toast"] = f"Imported {report.rows_read:,} rows"
            st.rerun()


    st.markdown("**1. Validate.** Checks every file and counts what an import would insert "
                "and update. Nothing is written.")
    if st.button("Validate (dry run)", key="import_validate", disabled=not uploads,
                 icon=":material/fact_check:"):
        _keep(_run(dry_run=True, replace=False))
    st.markdown("**2. Import.** Writes the files into the store in one transaction; actions, "
                "the audit log and settings are kept.")
    replace = st.checkbox("Replace the data in the store", key="import_replace", value=demo,
                          disabled=demo,
                          help="Empties the imported tables first. Always on over the demo "
                               "portfolio, so that your data is not mixed with it.")
    if st.button("Import…", key="import_run", type="primary", disabled=not uploads,
                 icon=":material/upload:"):
        st.session_state["import_confirm"] = True
    if st.session_state.get("import_confirm") and uploads:
        with st.container(border=True):
            names = ", ".join(up.name for up in uploads)
            st.warning(f"Import {len(uploads)} file(s) ({md(names, 200)}) into the store"
                       + (", **replacing its data**" if replace else "") + "?",
                       icon=":material/warning:")
            y, n = st.columns([1, 4])
            if y.button("Yes, import", key="import_confirm_yes", type="primary"):
                st.session_state.pop("import_confirm", None)
                _keep(_run(dry_run=False, replace=replace or demo))
            if n.button("Cancel", key="import_confirm_no"):
                st.session_state.pop("import_confirm", None)
                st.rerun()
    if "import_toast" in st.session_state:
        st.toast(st.session_state.pop("import_toast"), icon=":material/check:")
    report = st.session_state.get("import_report")
    if report is not None:
        if report.errors:
            st.error(f"{len(report.errors):,} problem(s) found; nothing was written. Fix them in "
                     "the files and validate again.")
        elif report.status == "dry_run":
            st.success("Valid. Nothing was written yet: the counts show what Import would do.")
        else:
            st.success(f"Imported in {report.seconds:.1f} s.")
        lists.table(report.tables_frame(), key="import_tables")
        issues = report.issues_frame()
        if len(issues):
            lists.table(issues, key="import_issues",
                         column_config={"line": st.column_config.NumberColumn("Line", format="%d")})

    st.subheader("Import history")
    hist = data.import_history(token)
    if hist.empty:
        st.caption("No imports yet.")
    else:
        lists.table(hist, key="import_history")
