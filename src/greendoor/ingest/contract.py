"""The canonical input contract (SPEC.md "Canonical data") as data.

Column names and types come from the store schema (:mod:`greendoor.store.schema`);
this module adds what the schema cannot say: which columns an import must
provide, allowed values (enums), ranges, and each table's natural key.
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from greendoor.config import SEGMENTS
from greendoor.store import schema

#: Kinds of value a column holds, as parsed from text.
KINDS = ("str", "int", "float", "bool", "date", "datetime")


@dataclasses.dataclass(frozen=True)
class Field:
    """One column of the contract."""

    name: str
    kind: str
    required: bool = False  # must be present and non-empty in every row
    enum: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """One table of the contract. ``key`` is its natural key (upsert target);
    ``fact`` tables (usage) are keyed by a computed ``source_key`` instead."""

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    fact: bool = False

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("accounts", "segment"): SEGMENTS,
    ("subscriptions", "billing_frequency"): ("monthly", "quarterly", "semiannual", "annual"),
    ("subscriptions", "status"): ("active", "ended", "churned", "trial", "cancelled"),
    ("tickets", "priority"): ("low", "medium", "high", "urgent"),
    ("survey_responses", "survey"): ("nps", "csat", "ces"),
    ("contacts", "role"): ("champion", "executive_sponsor", "decision_maker", "admin", "user"),
    ("interactions", "type"): ("meeting", "call", "email", "qbr", "ebr"),
    ("opportunities", "type"): ("expansion", "renewal", "new_business"),
    ("opportunities", "forecast_category"): ("commit", "best_case", "pipeline", "omitted"),
    ("opportunities", "status"): ("open", "won", "lost"),
    ("churn_events", "reason"): ("pricing", "budget", "competitor", "features", "support", "other"),
    ("advocacy_activities", "type"): ("reference_call", "case_study", "review", "referral",
                                      "testimonial", "speaking", "community"),
    ("advocacy_activities", "status"): ("asked", "accepted", "completed", "declined"),
}

RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("accounts", "employees"): (0, None),
    ("subscriptions", "arr"): (0, None),
    ("subscriptions", "mrr"): (0, None),
    ("subscriptions", "seats"): (0, None),
    ("usage", "events"): (0, None),
    ("usage", "duration_seconds"): (0, None),
    ("usage", "errors"): (0, None),
    ("tickets", "csat"): (1, 5),
    ("tickets", "first_response_minutes"): (0, None),
    ("tickets", "resolution_hours"): (0, None),
    ("survey_responses", "score"): (0, 10),  # per survey type: see SURVEY_SCORE_RANGES
    ("opportunities", "amount"): (0, None),
    ("opportunities", "probability"): (0, 1),
    ("churn_events", "arr_lost"): (0, None),
    ("churn_events", "refund_amount"): (0, None),
    ("advocacy_activities", "value"): (0, None),
}

#: NPS 0-10, CSAT 1-5, CES 1-7 (SPEC.md metric definitions; CES on the common 7-point scale).
SURVEY_SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

#: Required columns beyond the schema's NOT NULL ones, and NOT NULL ones Greendoor derives.
DERIVED_WHEN_ABSENT = {
    ("subscriptions", "arr"): "12 x mrr",
    ("usage", "account_id"): "the account of subscription_id",
    ("churn_events", "churn_event_id"): "account_id|churn_date",
}

#: Columns of the store that imports never set.
INTERNAL_COLUMNS = {("usage", "source_key")}


def _kind(col: sa.Column) -> str:
    t = col.type
    if isinstance(t, sa.Boolean):
        return "bool"
    if isinstance(t, sa.DateTime):
        return "datetime"
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, sa.Integer):
        return "int"
    if isinstance(t, (sa.Double, sa.Float)):
        return "float"
    return "str"


def _spec(table: sa.Table) -> TableSpec:
    fields = []
    for col in table.c:
        if (table.name, col.name) in INTERNAL_COLUMNS:
            continue
        lo, hi = RANGES.get((table.name, col.name), (None, None))
        fields.append(Field(
            name=col.name,
            kind=_kind(col),
            required=not col.nullable,
            enum=ENUMS.get((table.name, col.name)),
            min=lo,
            max=hi,
        ))
    fact = table.name == "usage"
    key = ("source_key",) if fact else tuple(c.name for c in table.primary_key.columns)
    return TableSpec(name=table.name, fields=tuple(fields), key=key, fact=fact)


#: The contract, one :class:`TableSpec` per canonical table, in load order.
CONTRACT: dict[str, TableSpec] = {t.name: _spec(t) for t in schema.CANONICAL_TABLES}
TABLES: dict[str, sa.Table] = {t.name: t for t in schema.CANONICAL_TABLES}
