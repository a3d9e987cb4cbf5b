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
        """The field called ``name``; raises ``StopIteration`` when the table has none."""
        return next(f for f in self.fields if f.name == name)

    @property
    def names(self) -> list[str]:
        """Field names in contract order."""
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
                                      "testimonial", "speaking", "community",
                                      "advisory_board"),
    ("advocacy_activities", "status"): ("asked", "accepted", "completed", "declined"),
    ("success_plans", "status"): ("draft", "submitted", "approved", "rejected", "completed",
                                  "cancelled"),
    ("success_plans", "template"): SEGMENTS,
    ("milestones", "phase"): ("foundation", "integration", "realization"),
    ("milestones", "kind"): ("technical", "adoption", "value", "checkpoint"),
    ("stakeholders", "raci"): ("responsible", "accountable", "consulted", "informed"),
    ("stakeholders", "side"): ("customer", "vendor"),
    ("value_metrics", "direction"): ("increase", "decrease"),
}

#: Allowed ranges. Every number has an upper bound too: an ARR of 1e308 or seats of
#: 10^20 is a broken export, not a customer, and would overflow the store's types.
RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("accounts", "employees"): (0, 10_000_000),
    ("subscriptions", "arr"): (0, 1e10),
    ("subscriptions", "mrr"): (0, 1e9),
    ("subscriptions", "seats"): (0, 10_000_000),
    ("subscriptions", "term_months"): (1, 120),
    ("usage", "events"): (0, 1e9),
    ("usage", "duration_seconds"): (0, 1e9),
    ("usage", "errors"): (0, 1e9),
    ("tickets", "csat"): (1, 5),
    ("tickets", "first_response_minutes"): (0, 1e7),
    ("tickets", "resolution_hours"): (0, 1e6),
    ("survey_responses", "score"): (0, 10),  # per survey type: see SURVEY_SCORE_RANGES
    ("opportunities", "amount"): (0, 1e11),
    ("opportunities", "probability"): (0, 1),
    ("churn_events", "arr_lost"): (0, 1e10),
    ("churn_events", "refund_amount"): (0, 1e10),
    ("advocacy_activities", "value"): (0, 1e11),
    ("invoices", "amount"): (-1e11, 1e11),  # credit notes are negative
    ("mentions", "reach"): (0, 1e11),
    ("mentions", "engagement"): (0, 1e11),
    ("success_plans", "investment"): (0, 1e10),
    ("success_plans", "version"): (1, 1e6),
    ("value_metrics", "baseline"): (-1e12, 1e12),
    ("value_metrics", "target"): (-1e12, 1e12),
    ("value_metrics", "value_per_unit"): (0, 1e10),
    ("value_metrics", "value_per_unit_low"): (0, 1e10),
    ("value_metrics", "value_per_unit_high"): (0, 1e10),
    ("value_measurements", "value"): (-1e12, 1e12),
}

#: Longest text a cell may hold (characters): ids and short labels, and free text.
MAX_TEXT = 1_000
MAX_FREE_TEXT = 10_000
FREE_TEXT = {("survey_responses", "comment"), ("churn_events", "feedback"),
             ("tickets", "subject"), ("interactions", "note"), ("mentions", "text"),
             ("success_plans", "objectives"), ("success_plans", "decision_note")}


def max_text(table: str, column: str) -> int:
    """The longest text ``column`` of ``table`` may hold (characters)."""
    return MAX_FREE_TEXT if (table, column) in FREE_TEXT else MAX_TEXT


#: NPS 0-10, CSAT 1-5, CES 1-7 (SPEC.md metric definitions; CES on the common 7-point scale).
SURVEY_SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

#: Tables whose rows belong to a parent row of another table (not to an account):
#: ``table -> (column, parent table, parent key)``. The importer refuses an unknown parent.
PARENTS: dict[str, tuple[str, str, str]] = {
    "milestones": ("plan_id", "success_plans", "plan_id"),
    "stakeholders": ("plan_id", "success_plans", "plan_id"),
    "value_metrics": ("plan_id", "success_plans", "plan_id"),
    "value_measurements": ("metric_id", "value_metrics", "metric_id"),
}

#: Required columns beyond the schema's NOT NULL ones, and NOT NULL ones Greendoor derives.
DERIVED_WHEN_ABSENT = {
    ("subscriptions", "arr"): "12 x mrr",
    ("usage", "account_id"): "the account of subscription_id",
    ("churn_events", "churn_event_id"): "account_id|churn_date",
}

#: Columns of the store that imports never set.
INTERNAL_COLUMNS = {("usage", "source_key"), ("accounts", "segment_source")}


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
