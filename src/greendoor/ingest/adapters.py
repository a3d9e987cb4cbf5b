"""Adapters: declarative mappings from an export's files onto the canonical tables.

An adapter lists, per canonical table, the file it comes from, which source
column feeds each canonical column, value maps (source value -> canonical
value) and named derivations applied after parsing. Columns not named are
ignored (and reported). The mappings are documented in ``docs/import.md``.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from greendoor.ingest.contract import CONTRACT

#: ISO 3166 alpha-2 country -> sales region (used when ``region`` is absent).
COUNTRY_REGION = {
    **dict.fromkeys(["US", "CA"], "North America"),
    **dict.fromkeys(["MX", "BR", "AR", "CL", "CO", "PE"], "LATAM"),
    **dict.fromkeys(["GB", "IE", "DE", "FR", "NL", "BE", "LU", "ES", "PT", "IT", "CH", "AT",
                     "SE", "NO", "DK", "FI", "PL", "CZ", "IL", "AE", "SA", "ZA", "NG", "KE",
                     "EG", "TR", "GR", "RO", "HU"], "EMEA"),
    **dict.fromkeys(["AU", "NZ", "IN", "JP", "SG", "CN", "HK", "KR", "TW", "ID", "MY", "PH",
                     "TH", "VN"], "APAC"),
}


@dataclasses.dataclass(frozen=True)
class TableMap:
    """How one canonical ``table`` is read from ``file`` (a file name stem).

    ``columns`` maps canonical column -> source column. ``values`` maps canonical
    column -> {source value: canonical value}. ``derive`` names functions of
    :data:`DERIVATIONS` applied to the parsed frame, in order.
    """

    table: str
    file: str
    columns: dict[str, str]
    values: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    derive: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Adapter:
    """An import format: its ``name`` (the CLI's ``--format``), a description, and how each of
    its files maps onto a contract table (:class:`TableMap`)."""
    name: str
    description: str
    tables: tuple[TableMap, ...]

    def for_file(self, stem: str) -> TableMap | None:
        """The table map for the file named ``stem`` (no suffix), or ``None`` if the format has
        no such file."""
        return next((t for t in self.tables if t.file == stem), None)


def _identity(table: str) -> TableMap:
    return TableMap(table=table, file=table, columns={c: c for c in CONTRACT[table].names})


CANONICAL = Adapter(
    name="canonical",
    description="One file per canonical table, named after it (accounts.csv, usage.parquet, ...), "
                "with the columns of the data contract.",
    tables=tuple(_identity(t) for t in CONTRACT),
)

RAVENSTACK = Adapter(
    name="ravenstack",
    description="The RavenStack 'SaaS Subscription & Churn Analytics' export "
                "(ravenstack_accounts.csv, ravenstack_subscriptions.csv, "
                "ravenstack_feature_usage.csv, ravenstack_support_tickets.csv, "
                "ravenstack_churn_events.csv).",
    tables=(
        TableMap(
            table="accounts", file="ravenstack_accounts",
            columns={"account_id": "account_id", "name": "account_name", "industry": "industry",
                     "country": "country", "signup_date": "signup_date", "plan": "plan_tier"},
            values={"country": {"UK": "GB"}},
        ),
        TableMap(
            table="subscriptions", file="ravenstack_subscriptions",
            columns={"subscription_id": "subscription_id", "account_id": "account_id",
                     "start_date": "start_date", "end_date": "end_date", "plan": "plan_tier",
                     "seats": "seats", "arr": "arr_amount", "mrr": "mrr_amount",
                     "billing_frequency": "billing_frequency", "auto_renew": "auto_renew_flag",
                     "status": "churn_flag"},
            values={"status": {"True": "churned", "TRUE": "churned", "true": "churned",
                               "False": "", "FALSE": "", "false": ""}},
            derive=("status_from_end_date",),
        ),
        TableMap(
            table="usage", file="ravenstack_feature_usage",
            columns={"usage_id": "usage_id", "subscription_id": "subscription_id",
                     "date": "usage_date", "feature": "feature_name", "events": "usage_count",
                     "duration_seconds": "usage_duration_secs", "errors": "error_count"},
        ),
        TableMap(
            table="tickets", file="ravenstack_support_tickets",
            columns={"ticket_id": "ticket_id", "account_id": "account_id",
                     "opened_at": "submitted_at", "closed_at": "closed_at",
                     "resolution_hours": "resolution_time_hours", "priority": "priority",
                     "first_response_minutes": "first_response_time_minutes",
                     "csat": "satisfaction_score", "escalated": "escalation_flag"},
        ),
        TableMap(
            table="churn_events", file="ravenstack_churn_events",
            columns={"churn_event_id": "churn_event_id", "account_id": "account_id",
                     "churn_date": "churn_date", "reason": "reason_code",
                     "refund_amount": "refund_amount_usd", "is_reactivation": "is_reactivation",
                     "feedback": "feedback_text"},
            values={"reason": {"unknown": "other"}},
        ),
    ),
)

ADAPTERS: dict[str, Adapter] = {a.name: a for a in (CANONICAL, RAVENSTACK)}


# --------------------------------------------------------------------------- #
# derivations: frame (canonical columns, parsed) -> frame
# --------------------------------------------------------------------------- #
def status_from_end_date(df: pd.DataFrame) -> pd.DataFrame:
    """Subscription status when the source has only a churn flag: churned as given,
    else ended when an end date is set, else active."""
    status = df["status"].where(df["status"].notna() & (df["status"] != ""), None)
    ended = df["end_date"].notna()
    df["status"] = status.fillna(pd.Series(["ended" if e else "active" for e in ended],
                                           index=df.index))
    return df


DERIVATIONS = {"status_from_end_date": status_from_end_date}
