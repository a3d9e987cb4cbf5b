"""SQLAlchemy Core tables of the Greendoor store.

Two groups (SPEC.md "Canonical data"):

* **Canonical tables** — the input contract, filled by ``greendoor import`` or
  ``greendoor demo``: :data:`CANONICAL_TABLES`.
* **Tables Greendoor writes** — score snapshots, alerts, actions, the append-only
  audit log, settings versions, the import log and store metadata.

Types are portable (DuckDB and PostgreSQL run the same DDL): ids are strings,
money is double precision in the account's currency, dates are ``DATE`` and
instants are naive UTC ``TIMESTAMP``. Referential integrity between canonical
tables is checked by the importer before anything is written, not by database
foreign keys (DuckDB cannot update rows referenced by a foreign key, which an
upsert needs). A few columns extend the contract; each is nullable and marked
"extension" below.

Changing a table here needs an Alembic revision in ``store/migrations``; the test
``tests/unit/test_store.py::test_migrations_match_schema`` fails until it exists.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

Str = sa.String
Money = sa.Double  # double precision (sa.Double is 4-byte REAL in DuckDB), account currency


def _id(name: str) -> sa.Column:
    return sa.Column(name, Str, primary_key=True)


def _ref(name: str = "account_id", nullable: bool = False) -> sa.Column:
    return sa.Column(name, Str, nullable=nullable)


# --------------------------------------------------------------------------- #
# Canonical tables (input contract)
# --------------------------------------------------------------------------- #
accounts = sa.Table(
    "accounts",
    metadata,
    _id("account_id"),
    sa.Column("name", Str, nullable=False),
    sa.Column("industry", Str),
    sa.Column("country", Str),
    sa.Column("region", Str),
    sa.Column("segment", Str),  # enterprise | mid_market | smb
    # "source" when the import gave the segment; "derived" when Greendoor derived it from
    # ARR (then features take the segment of the ARR in force at each as-of date)
    sa.Column("segment_source", Str),
    sa.Column("plan", Str),
    sa.Column("csm_owner", Str),
    sa.Column("signup_date", sa.Date, nullable=False),
    sa.Column("employees", sa.Integer),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    _id("subscription_id"),
    _ref(),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),  # NULL = active
    sa.Column("renewal_date", sa.Date),  # as exported: may be overwritten later
    # extension: contract term in months (1 = month-to-month, 12, 24, 36 ...); renewals
    # fall on start_date + k x term_months (greendoor.scoring.renewal_dates)
    sa.Column("term_months", sa.Integer),
    sa.Column("plan", Str),
    sa.Column("seats", sa.Integer),
    sa.Column("arr", Money, nullable=False),
    sa.Column("mrr", Money),
    sa.Column("billing_frequency", Str),  # monthly | quarterly | annual
    sa.Column("auto_renew", sa.Boolean),
    sa.Column("status", Str),  # active | ended | churned
)

usage = sa.Table(
    "usage",
    metadata,
    # Daily grain. No primary key: fact rows are never merged (issue 3).
    _ref(),
    sa.Column("subscription_id", Str),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("user_id", Str),
    sa.Column("feature", Str),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("duration_seconds", sa.Double),
    sa.Column("errors", sa.Integer),
    sa.Column("usage_id", Str),  # extension: the source system's row id, not unique
    # Natural key of an imported row (see greendoor.ingest): hash of its source id or
    # daily grain plus its occurrence number. NULL for demo rows.
    sa.Column("source_key", Str),
)

tickets = sa.Table(
    "tickets",
    metadata,
    _id("ticket_id"),
    _ref(),
    sa.Column("opened_at", sa.DateTime, nullable=False),
    sa.Column("closed_at", sa.DateTime),
    sa.Column("priority", Str),  # low | medium | high | urgent
    sa.Column("category", Str),
    sa.Column("subject", Str),
    sa.Column("csat", sa.Double),  # 1-5
    sa.Column("first_response_minutes", sa.Double),
    sa.Column("resolution_hours", sa.Double),  # extension
    sa.Column("escalated", sa.Boolean),
)

survey_responses = sa.Table(
    "survey_responses",
    metadata,
    _id("response_id"),
    _ref(),
    sa.Column("contact_id", Str),
    sa.Column("responded_at", sa.DateTime, nullable=False),
    sa.Column("survey", Str, nullable=False),  # nps | csat | ces
    sa.Column("score", sa.Double, nullable=False),
    sa.Column("comment", sa.Text),
)

contacts = sa.Table(
    "contacts",
    metadata,
    _id("contact_id"),
    _ref(),
    sa.Column("name", Str),
    sa.Column("email", Str),
    sa.Column("title", Str),
    sa.Column("role", Str),  # champion | executive_sponsor | decision_maker | admin | user
    sa.Column("active", sa.Boolean),
    sa.Column("last_engaged_at", sa.DateTime),
    sa.Column("started_at", sa.Date),  # extension: first day in the role (point-in-time)
    sa.Column("ended_at", sa.Date),  # extension: day the contact left or changed role
)

interactions = sa.Table(
    "interactions",
    metadata,
    _id("interaction_id"),
    _ref(),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("type", Str),  # meeting | call | email | qbr | ebr
    sa.Column("attended", sa.Boolean),
    sa.Column("owner", Str),  # extension: the CSM who logged it
    sa.Column("note", sa.Text),  # extension
)

opportunities = sa.Table(
    "opportunities",
    metadata,
    _id("opportunity_id"),
    _ref(),
    sa.Column("type", Str, nullable=False),  # expansion | renewal | new_business
    sa.Column("stage", Str),
    sa.Column("amount", Money, nullable=False),
    sa.Column("probability", sa.Double),  # 0-1
    sa.Column("forecast_category", Str),  # commit | best_case | pipeline | omitted
    sa.Column("close_date", sa.Date, nullable=False),
    sa.Column("status", Str, nullable=False),  # open | won | lost
    sa.Column("created_at", sa.Date),
    sa.Column("name", Str),  # extension
)

opportunity_history = sa.Table(
    "opportunity_history",
    metadata,
    # What was known of an opportunity from ``valid_from`` on (stage, forecast category,
    # probability, status, amount, close date): written when an import or an action
    # brings a new or changed opportunity, with the data's as-of date. A CRM export
    # holds only the final values; this history is what point-in-time reads use.
    sa.Column("opportunity_id", Str, primary_key=True),
    sa.Column("valid_from", sa.Date, primary_key=True),
    sa.Column("stage", Str),
    sa.Column("forecast_category", Str),
    sa.Column("probability", sa.Double),
    sa.Column("status", Str),
    sa.Column("amount", Money),
    sa.Column("close_date", sa.Date),
    sa.Column("source", Str),  # import | demo | action
)

churn_events = sa.Table(
    "churn_events",
    metadata,
    _id("churn_event_id"),  # extension: generated as account_id|churn_date when absent
    _ref(),
    sa.Column("churn_date", sa.Date, nullable=False),
    sa.Column("reason", Str),  # pricing | budget | competitor | features | support | other
    sa.Column("arr_lost", Money),
    sa.Column("feedback", sa.Text),
    sa.Column("refund_amount", Money),  # extension
    sa.Column("is_reactivation", sa.Boolean),  # extension
)

advocacy_activities = sa.Table(
    "advocacy_activities",
    metadata,
    _id("activity_id"),
    _ref(),
    sa.Column("contact_id", Str),
    sa.Column("type", Str, nullable=False),
    sa.Column("status", Str, nullable=False),  # asked | accepted | completed | declined
    sa.Column("occurred_at", sa.Date, nullable=False),
    sa.Column("value", Money),
)

invoices = sa.Table(
    "invoices",
    metadata,
    _id("invoice_id"),
    _ref(),
    sa.Column("issued_at", sa.Date, nullable=False),
    sa.Column("due_at", sa.Date, nullable=False),
    sa.Column("paid_at", sa.Date),
    sa.Column("amount", Money, nullable=False),
)

mentions = sa.Table(
    "mentions",
    metadata,
    # Community and social mentions (issue 25; optional): a post, review or comment that
    # names the product or a competitor, by an author who may be one of an account's people.
    _id("mention_id"),
    _ref(nullable=True),  # the account, when the author is known to belong to one
    sa.Column("source", Str, nullable=False),  # community | linkedin | x | g2 | reddit | blog ...
    sa.Column("author", Str),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.Date, nullable=False),
    sa.Column("reach", sa.Double),  # audience: followers or views
    sa.Column("engagement", sa.Double),  # likes + comments + shares
    sa.Column("url", Str),
)

success_plans = sa.Table(
    "success_plans",
    metadata,
    # Success plans (issue 20; optional): a customer's plan from a closed-won deal to the
    # value it bought, a 90-day onboarding in phases (greendoor.onboarding). The approval
    # workflow's instants say what was known at a past date: a plan is visible from
    # ``created_at``, submitted from ``submitted_at``, approved or rejected from ``decided_at``.
    _id("plan_id"),
    _ref(),
    sa.Column("opportunity_id", Str),  # the closed-won deal it came from
    sa.Column("name", Str),
    sa.Column("template", Str),  # the segment template it was made from
    sa.Column("objectives", sa.Text),  # one objective per line
    sa.Column("owner", Str),  # the CSM
    sa.Column("start_date", sa.Date, nullable=False),  # kickoff: day 1 of the 90 days
    sa.Column("status", Str, nullable=False),  # draft | submitted | approved | rejected | ...
    sa.Column("created_at", sa.Date),
    sa.Column("submitted_at", sa.DateTime),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("approver", Str),
    sa.Column("decision_note", sa.Text),
    sa.Column("investment", Money),  # one-off services fee (ROI cost beside the ARR)
    sa.Column("version", sa.Integer),  # 1 at creation, +1 at each edit (audited)
)

milestones = sa.Table(
    "milestones",
    metadata,
    # A plan's milestones: phase, due date, and either a completion rule evaluated on the
    # usage (``active_users>=5``, ``feature_users:reports>=3``) or a manual completion.
    _id("milestone_id"),
    sa.Column("plan_id", Str, nullable=False),
    sa.Column("name", Str, nullable=False),
    sa.Column("phase", Str, nullable=False),  # foundation | integration | realization
    sa.Column("kind", Str),  # technical | adoption | value | checkpoint
    sa.Column("owner", Str),
    sa.Column("start_date", sa.Date),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("completed_at", sa.Date),  # manual completion (a rule's is computed)
    sa.Column("completion_rule", Str),
    sa.Column("depends_on", Str),  # milestone ids of the same plan, separated by commas
)

stakeholders = sa.Table(
    "stakeholders",
    metadata,
    # A plan's people with their RACI role (responsible | accountable | consulted | informed).
    _id("stakeholder_id"),
    sa.Column("plan_id", Str, nullable=False),
    sa.Column("contact_id", Str),
    sa.Column("name", Str, nullable=False),
    sa.Column("title", Str),
    sa.Column("side", Str),  # customer | vendor
    sa.Column("raci", Str, nullable=False),
    sa.Column("email", Str),
)

value_metrics = sa.Table(
    "value_metrics",
    metadata,
    # What the customer bought, measured: a baseline, a target by a date, and the money one
    # unit of improvement is worth per year (with a low-high range for the ROI interval).
    _id("metric_id"),
    sa.Column("plan_id", Str, nullable=False),
    sa.Column("name", Str, nullable=False),
    sa.Column("unit", Str),
    sa.Column("direction", Str),  # increase | decrease (which way is better)
    sa.Column("baseline", sa.Double, nullable=False),
    sa.Column("target", sa.Double, nullable=False),
    sa.Column("target_date", sa.Date),
    sa.Column("value_per_unit", Money, nullable=False),  # per unit of improvement, per year
    sa.Column("value_per_unit_low", Money),
    sa.Column("value_per_unit_high", Money),
)

value_measurements = sa.Table(
    "value_measurements",
    metadata,
    _id("measurement_id"),
    sa.Column("metric_id", Str, nullable=False),
    sa.Column("measured_at", sa.Date, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
)

#: Canonical tables in load order (accounts first).
CANONICAL_TABLES: tuple[sa.Table, ...] = (
    accounts,
    subscriptions,
    usage,
    tickets,
    survey_responses,
    contacts,
    interactions,
    opportunities,
    churn_events,
    advocacy_activities,
    invoices,
    mentions,
    success_plans,
    milestones,
    stakeholders,
    value_metrics,
    value_measurements,
)

#: The date of each row of the canonical tables that only record events: a row dated
#: ``d`` is known from ``d`` on, and nothing Greendoor computes as of an earlier date (a
#: feature, a label whose window ends before ``d``) reads it. Rows of the other tables
#: (accounts, contracts, tickets with their closing, opportunities, ...) are state that
#: a later export may overwrite for any date. A digest of what an earlier date's
#: results depend on (:func:`greendoor.scoring.run.evaluation_fingerprint`) reads these
#: tables up to that date and the others whole.
EVENT_DATES: dict[str, str] = {
    "usage": "date",
    "survey_responses": "responded_at",
    "interactions": "occurred_at",
    "churn_events": "churn_date",
    "advocacy_activities": "occurred_at",
    "mentions": "occurred_at",
    "value_measurements": "measured_at",
    "usage_features": "as_of",
}

# --------------------------------------------------------------------------- #
# Tables Greendoor writes
# --------------------------------------------------------------------------- #
score_snapshots = sa.Table(
    "score_snapshots",
    metadata,
    sa.Column("account_id", Str, primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("settings_version", sa.Integer, nullable=False),
    sa.Column("health_score", sa.Double),  # 0-100
    sa.Column("band", Str),  # green | yellow | red
    sa.Column("confidence", sa.Double),  # 0-1, share of weight present
    sa.Column("engagement", sa.Double),
    sa.Column("sentiment", sa.Double),
    sa.Column("growth", sa.Double),
    sa.Column("trend", Str),  # improving | stable | declining
    sa.Column("churn_probability", sa.Double),  # calibrated, 0-1, horizon in settings
    sa.Column("risk_index", sa.Double),  # 0-100
    sa.Column("expansion_probability", sa.Double),
    sa.Column("renewal_probability", sa.Double),
    sa.Column("advocacy_readiness", sa.Double),
    sa.Column("arr", Money),
    sa.Column("days_to_renewal", sa.Double),  # to the next renewal in force at as_of
    # The risk Greendoor acts on (greendoor.scoring.skill): the model's when it has
    # measured skill, else the rule's (the churn rate of the account's health band, or
    # the portfolio's base rate) with that rule's measured skill.
    sa.Column("rule_churn_probability", sa.Double),  # 90-day churn rate of the rule
    sa.Column("loss_probability", sa.Double),  # of losing the account at its next renewal
    sa.Column("risk_basis", Str),  # model | health band | base rate
    sa.Column("details_json", sa.Text),  # why-panel measures and drivers
    sa.Column("scored_at", sa.DateTime, nullable=False),
)

feature_snapshots = sa.Table(
    "feature_snapshots",
    metadata,
    # The features each score snapshot date was scored on (greendoor.scoring.
    # feature_snapshots): written by the run that wrote that date's score snapshots, with
    # its ``scored_at``; pages that show features beside the health (Segmentation, the
    # alert precision) read them instead of recomputing them (issue 23). One row per
    # date: the frame of greendoor.scoring.features.features_as_of as Arrow IPC bytes.
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("scored_at", sa.DateTime, nullable=False),
    sa.Column("accounts", sa.Integer, nullable=False),
    sa.Column("frame", sa.LargeBinary, nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    _id("alert_id"),
    _ref(),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("rule", Str, nullable=False),
    sa.Column("severity", Str, nullable=False),  # info | warning | critical
    sa.Column("title", Str, nullable=False),
    sa.Column("evidence_json", sa.Text),
    sa.Column("status", Str, nullable=False),  # open | snoozed | dismissed | resolved
    sa.Column("snoozed_until", sa.Date),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # who the alert is assigned to (the inbox's "Assign"); kept when a scoring raises it again
    sa.Column("assignee", Str),
)

benchmarks = sa.Table(
    "benchmarks",
    metadata,
    # Published retention medians that GRR and NRR are compared with (issue 21): one row per
    # metric and contract-size bucket of a source; seeded by migration 0010 with SaaS
    # Capital's 2023 survey, editable by an admin (actions.save_benchmarks, audited).
    _id("benchmark_id"),
    sa.Column("metric", Str, nullable=False),  # grr | nrr
    sa.Column("acv_min", Money, nullable=False),  # annual contract value bucket, >=
    sa.Column("acv_max", Money),  # < ; NULL = no upper bound
    sa.Column("currency", Str, nullable=False),  # ISO 4217
    sa.Column("value", sa.Double, nullable=False),  # fraction: 0.93 = 93 %
    sa.Column("statistic", Str, nullable=False),  # median | top_quartile ...
    sa.Column("min_company_arr", Money),  # the survey left out companies below this ARR
    sa.Column("source", Str, nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("url", Str),
)

forecast_calls = sa.Table(
    "forecast_calls",
    metadata,
    # The CSM's call on a renewal (issue 21), append-only: a new call is a new row, so the
    # calls in force at any past week are known (the weekly forecast snapshot of the calls
    # and the commit is read from here, as of that week). Written by
    # actions.record_forecast_calls with an audit row each.
    _id("call_id"),
    _ref(),
    sa.Column("renewal_date", sa.Date, nullable=False),  # the renewal the call is about
    sa.Column("call", Str, nullable=False),  # commit | best_case | at_risk | lost
    sa.Column("amount", Money, nullable=False),  # expected renewed ARR, expansion included
    sa.Column("note", sa.Text),
    sa.Column("created_by", Str, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

notifications = sa.Table(
    "notifications",
    metadata,
    # The daily digests of `greendoor notify` (issue 19): one row per recipient, channel
    # and day, kept until delivered; a failed delivery stays "failed" with its error and
    # is retried on the next run.
    _id("notification_id"),
    sa.Column("day", sa.Date, nullable=False),  # the as-of date of the digest
    sa.Column("recipient", Str, nullable=False),  # e-mail address, or "webhook"
    sa.Column("channel", Str, nullable=False),  # email | webhook
    sa.Column("subject", Str, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", Str, nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.UniqueConstraint("day", "recipient", "channel", name="uq_notifications_day"),
)

automation_rules = sa.Table(
    "automation_rules",
    metadata,
    # Automation rules as data (issue 19): a condition on the scores and an action, run
    # after each scoring by greendoor.automation; versioned (every edit +1, audited).
    _id("rule_id"),
    sa.Column("name", Str, nullable=False),
    sa.Column("conditions_json", sa.Text, nullable=False),  # [{field, op, value}, ...]
    sa.Column("action_json", sa.Text, nullable=False),  # {type: task|playbook, ...}
    sa.Column("period_days", sa.Integer, nullable=False),  # one firing per account and period
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_by", Str, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

automation_firings = sa.Table(
    "automation_firings",
    metadata,
    # One row per rule, account and period: a second scoring in the same period finds it
    # and creates nothing (idempotent).
    sa.Column("rule_id", Str, primary_key=True),
    sa.Column("account_id", Str, primary_key=True),
    sa.Column("period", sa.Integer, primary_key=True),
    sa.Column("rule_version", sa.Integer, nullable=False),
    sa.Column("action_id", Str, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("fired_at", sa.DateTime, nullable=False),
)

experiments = sa.Table(
    "experiments",
    metadata,
    # A controlled experiment of playbooks (issue 25; greendoor.experiments): its arms (the
    # first is the control), the accounts it draws from, the seed of the random assignment
    # and what it must be able to detect.
    _id("experiment_id"),
    sa.Column("name", Str, nullable=False),
    sa.Column("hypothesis", sa.Text),
    sa.Column("arms_json", sa.Text, nullable=False),  # [{"name", "playbook" | null}, ...]
    sa.Column("scope_json", sa.Text, nullable=False),  # {"segment", "accounts"}
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("outcome_days", sa.Integer, nullable=False),
    sa.Column("min_effect", sa.Float, nullable=False),  # retention points, 0-1
    sa.Column("alpha", sa.Float, nullable=False),
    sa.Column("power", sa.Float, nullable=False),
    sa.Column("status", Str, nullable=False),  # running | stopped
    sa.Column("created_by", Str, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

experiment_assignments = sa.Table(
    "experiment_assignments",
    metadata,
    sa.Column("experiment_id", Str, primary_key=True),
    sa.Column("account_id", Str, primary_key=True),
    sa.Column("arm", Str, nullable=False),
    sa.Column("stratum", Str, nullable=False),  # segment · health band at the start
    sa.Column("action_id", Str),  # the playbook run it started (none for a control)
)

actions = sa.Table(
    "actions",
    metadata,
    _id("action_id"),
    _ref(),
    # task | escalation | playbook_run | playbook_step | interaction | opportunity
    # | advocacy_invite | alert_snooze | reassign
    sa.Column("type", Str, nullable=False),
    sa.Column("title", Str, nullable=False),
    sa.Column("owner", Str),
    sa.Column("due_date", sa.Date),
    sa.Column("status", Str, nullable=False),  # open | done | cancelled
    sa.Column("playbook", Str),
    sa.Column("parent_action_id", Str),  # a playbook step points to its run
    sa.Column("note", sa.Text),
    sa.Column("payload_json", sa.Text),
    sa.Column("created_by", Str, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime),
    sa.Column("completed_at", sa.DateTime),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    # Append-only: the library never updates or deletes rows here.
    _id("audit_id"),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("actor", Str, nullable=False),
    sa.Column("action", Str, nullable=False),  # e.g. action.create, settings.update, import
    sa.Column("entity", Str),
    sa.Column("entity_id", Str),
    sa.Column("before_json", sa.Text),
    sa.Column("after_json", sa.Text),
)

usage_user_days = sa.Table(
    "usage_user_days",
    metadata,
    # Derived: usage summed per account, user and day (rows with events > 0), kept by
    # greendoor.store.rollups after every import and demo load. Features read it
    # instead of the raw rows when it is fresh (docs/benchmarks.md).
    _ref(),
    sa.Column("user_id", Str),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("errors", sa.BigInteger),
    sa.Column("seconds", sa.Double),
    # the user's previous active day (NULL for the first): a user is active in a window
    # [c, d) iff exactly one of their rows there has prev_date < c, so active users are
    # a filtered count per account, not a count of distinct users
    sa.Column("prev_date", sa.Date),
)

usage_account_days = sa.Table(
    "usage_account_days",
    metadata,
    # Derived: usage summed per account and day (rows with events > 0); ``users`` is
    # the number of user-days (rows of usage_user_days) of that account and day. Kept
    # with usage_user_days by greendoor.store.rollups.
    _ref(),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("users", sa.BigInteger, nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("errors", sa.BigInteger),
    sa.Column("seconds", sa.Double),
)

#: The per-account usage aggregates of :func:`greendoor.scoring.features.usage_selects`
#: (its two statements' columns after ``account_id``), kept per as-of date in
#: :data:`usage_features` when the usage stays in the warehouse.
USAGE_AGGREGATES: tuple[str, ...] = (
    "events_30d", "events_prior_60d", "events_prior_30d", "events_30d_90ago",
    "user_days_30d", "user_days_prior_30d", "user_days_prior_60d", "seconds_30d",
    "seconds_prior_60d", "errors_30d", "active_days_7d", "active_days_30d",
    "active_days_90d", "active_users_7d", "active_users_30d", "active_users_90d",
    "active_users_30d_90ago", "feature_breadth_30d",
)

usage_features = sa.Table(
    "usage_features",
    metadata,
    # Pushed down (issue 24): with a warehouse source synced with ``usage_mode:
    # features`` the usage rows stay in the warehouse; ``greendoor sync`` computes these
    # aggregates there (the store's own statements) for each as-of date scoring needs
    # and only these per-account rows come back (greendoor.store.usage_features).
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("account_id", Str, primary_key=True),
    *(sa.Column(c, sa.Double) for c in USAGE_AGGREGATES),
)

usage_first_uses = sa.Table(
    "usage_first_uses",
    metadata,
    # Pushed down with usage_features: per success plan, user and feature, the first
    # day of use on or after the plan's start (up to the source's last usage day),
    # computed on the warehouse by the sync; the success plans' usage rules read it
    # (a rule met by d: ``first <= d``).
    sa.Column("plan_id", Str, nullable=False),
    sa.Column("user_id", Str, nullable=False),
    sa.Column("feature", Str),  # NULL: usage rows without a feature
    sa.Column("first", sa.Date, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    # Local users and their roles (greendoor.users; `greendoor users add/remove/set-role`).
    # ``username`` is lower-case; for single sign-on it is the e-mail address the
    # identity provider returns. ``book`` is the ``accounts.csm_owner`` value whose
    # accounts a csm may read and act on. ``password_hash`` is an argon2id hash (NULL
    # for single-sign-on-only users).
    _id("username"),
    sa.Column("role", Str, nullable=False),
    sa.Column("book", Str),
    sa.Column("display_name", Str),
    sa.Column("password_hash", Str),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime),
    sa.Column("last_login_at", sa.DateTime),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime),
)

settings_versions = sa.Table(
    "settings_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", Str, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("settings_json", sa.Text, nullable=False),
)

import_log = sa.Table(
    "import_log",
    metadata,
    _id("import_id"),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("actor", Str, nullable=False),
    sa.Column("source", Str, nullable=False),  # path, "demo", upload name
    sa.Column("format", Str, nullable=False),  # canonical | ravenstack | demo
    sa.Column("status", Str, nullable=False),  # ok | failed | dry_run
    sa.Column("rows_inserted", sa.Integer),
    sa.Column("rows_updated", sa.Integer),
    sa.Column("duration_seconds", sa.Double),
    sa.Column("detail_json", sa.Text),  # per-table counts, errors
)

model_runs = sa.Table(
    "model_runs",
    metadata,
    _id("run_id"),
    sa.Column("kind", Str, nullable=False),  # churn | expansion | evaluation
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),  # the scoring date it served
    sa.Column("trained_through", sa.Date),  # latest as-of date with a known label
    sa.Column("settings_version", sa.Integer),
    sa.Column("status", Str, nullable=False),  # ok | skipped (with the reason in metrics)
    sa.Column("estimator", Str),
    sa.Column("metrics_json", sa.Text),  # backtest metrics, sample sizes, reasons
    sa.Column("artifact", sa.LargeBinary),  # pickled fitted model (joblib)
)

forecast_runs = sa.Table(
    "forecast_runs",
    metadata,
    _id("run_id"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("seconds", sa.Double),
    sa.Column("detail_json", sa.Text),
)

forecasts = sa.Table(
    "forecasts",
    metadata,
    # kind "actual" rows hold the history (y); kind "forecast" rows the model's yhat
    # with its 80 % interval (P10-P90). segment "all" = the portfolio.
    sa.Column("run_id", Str, primary_key=True),
    sa.Column("series", Str, primary_key=True),  # arr, renewed_arr, churned_arr, ...
    sa.Column("segment", Str, primary_key=True),
    sa.Column("freq", Str, primary_key=True),  # MS (monthly) | W (weekly)
    sa.Column("ds", sa.Date, primary_key=True),
    sa.Column("kind", Str, primary_key=True),  # actual | forecast
    sa.Column("y", sa.Double),
    sa.Column("yhat", sa.Double),
    sa.Column("yhat_lower", sa.Double),
    sa.Column("yhat_upper", sa.Double),
    sa.Column("model", Str),
)

forecast_backtests = sa.Table(
    "forecast_backtests",
    metadata,
    sa.Column("run_id", Str, primary_key=True),
    sa.Column("series", Str, primary_key=True),
    sa.Column("segment", Str, primary_key=True),
    sa.Column("freq", Str, primary_key=True),
    sa.Column("model", Str, primary_key=True),
    sa.Column("status", Str, nullable=False),  # ok | skipped
    sa.Column("reason", sa.Text),
    sa.Column("horizon", sa.Integer),
    sa.Column("cutoffs", sa.Integer),
    sa.Column("mape", sa.Double),
    sa.Column("smape", sa.Double),
    sa.Column("mase", sa.Double),
    sa.Column("coverage", sa.Double),  # inside the model's own 80 % interval
    sa.Column("coverage_calibrated", sa.Double),  # inside the calibrated interval
    sa.Column("chosen", sa.Boolean),
)

renewal_forecasts = sa.Table(
    "renewal_forecasts",
    metadata,
    sa.Column("run_id", Str, primary_key=True),
    sa.Column("kind", Str, primary_key=True),  # upcoming | past
    sa.Column("period", Str, primary_key=True),  # month | quarter
    sa.Column("period_start", sa.Date, primary_key=True),
    sa.Column("renewals", sa.Integer),
    sa.Column("arr_due", sa.Double),
    sa.Column("expected", sa.Double),  # Σ ARR x P(renew), USD
    sa.Column("p10", sa.Double),
    sa.Column("p50", sa.Double),
    sa.Column("p90", sa.Double),
    sa.Column("actual", sa.Double),  # past quarters: ARR that renewed
    sa.Column("accuracy", sa.Double),  # 1 - |forecast - actual| / actual
    sa.Column("detail_json", sa.Text),  # forecast categories, model, reasons
)

store_meta = sa.Table(
    "store_meta",
    metadata,
    # Key/value facts about the store, e.g. dataset=demo and its parameters.
    sa.Column("key", Str, primary_key=True),
    sa.Column("value", sa.Text),
)

WRITTEN_TABLES: tuple[sa.Table, ...] = (
    score_snapshots,
    feature_snapshots,
    alerts,
    actions,
    audit_log,
    settings_versions,
    import_log,
    model_runs,
    forecast_runs,
    forecasts,
    forecast_backtests,
    renewal_forecasts,
    store_meta,
    forecast_calls,
    benchmarks,
    notifications,
    automation_rules,
    automation_firings,
    experiments,
    experiment_assignments,
    users,
)
