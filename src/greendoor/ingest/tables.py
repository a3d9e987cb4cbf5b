"""One table of an import: its text columns mapped onto the contract, and its checks.

Shared by the whole-file import (:mod:`greendoor.ingest`) and the sliced import of large
usage files (:mod:`greendoor.ingest.chunked`).
"""

from __future__ import annotations

import pandas as pd

from greendoor.ingest import validate as V
from greendoor.ingest.adapters import TableMap
from greendoor.ingest.contract import CONTRACT, DERIVED_WHEN_ABSENT
from greendoor.ingest.read import RawTable


def text_frame(raw: RawTable, tmap: TableMap, issues: V.Collector) -> tuple[pd.DataFrame, dict]:
    """Canonical-named text columns of a raw file, with value maps applied."""
    spec = CONTRACT[tmap.table]
    cols: dict[str, str] = {}
    present = set(raw.frame.columns)
    frame = pd.DataFrame(index=raw.frame.index)
    for canon, src in tmap.columns.items():
        if src in present:
            text = raw.frame[src]
            if canon in tmap.values:
                text = text.replace(tmap.values[canon])
            frame[canon] = text
            cols[canon] = src
    for f in spec.fields:
        if f.required and f.name not in frame and (tmap.table, f.name) not in DERIVED_WHEN_ABSENT:
            src = tmap.columns.get(f.name, f.name)
            issues.note(raw.name, f"required column {src} is missing", column=src)
    ignored = sorted(present - set(cols.values()))
    if ignored:
        issues.note(raw.name, "columns not in the contract, ignored: " + ", ".join(ignored),
                    severity="warning")
    return frame, cols


def map_usage_accounts(usage: pd.DataFrame, sub_to_acct: dict, raw: RawTable, cols: dict,
                        issues: V.Collector) -> None:
    """Fill usage ``account_id`` from ``subscription_id`` (this import's or the store's
    subscriptions); an unknown subscription is an error naming the line."""
    if "subscription_id" in usage:
        mapped = usage["subscription_id"].map(sub_to_acct)
        usage["account_id"] = usage["account_id"].fillna(mapped) if "account_id" in usage \
            else mapped
        unknown = usage["account_id"].isna() & usage["subscription_id"].notna()
        if unknown.any():
            issues.add(raw, V.positions(unknown), cols.get("subscription_id"),
                       usage["subscription_id"][unknown],
                       "unknown subscription (not in this import nor in the store)")
    elif "account_id" not in usage:
        issues.note(raw.name, "required column account_id (or subscription_id) "
                    "is missing", column="account_id")


def check_table(table: str, raw: RawTable, df: pd.DataFrame, cols: dict, known_accounts: set,
                 issues: V.Collector) -> pd.DataFrame:
    """The constraint, scale, order, reference and duplicate-key checks of one table."""
    spec = CONTRACT[table]
    original = raw.frame.rename(columns={v: k for k, v in cols.items()})
    original = original.reindex(columns=df.columns, fill_value="")
    V.check_constraints(raw, df, original, spec, cols, issues)
    if table == "survey_responses":
        V.check_survey_scales(raw, df, cols, issues)
    for first, second in (("start_date", "end_date"), ("opened_at", "closed_at"),
                          ("issued_at", "due_at"), ("start_date", "due_date")):
        V.check_order(raw, df, first, second, cols, issues)
    if table != "accounts" and "account_id" in spec.names:
        V.check_references(raw, df, "account_id", known_accounts, "account", cols, issues)
    if not spec.fact:
        df = V.check_duplicate_keys(raw, df, list(spec.key), cols, issues)
    return df
