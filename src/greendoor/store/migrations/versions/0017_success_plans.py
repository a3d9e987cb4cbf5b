"""success plans, milestones, stakeholders, value metrics and measurements: optional
canonical tables (issue 20)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

S, D, T, F = sa.String(), sa.Date(), sa.DateTime(), sa.Double()


def _c(name, type_, nullable=True):
    return sa.Column(name, type_, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "success_plans", _c("plan_id", S, False), _c("account_id", S, False),
        _c("opportunity_id", S), _c("name", S), _c("template", S), _c("objectives", sa.Text()),
        _c("owner", S), _c("start_date", D, False), _c("status", S, False), _c("created_at", D),
        _c("submitted_at", T), _c("decided_at", T), _c("approver", S),
        _c("decision_note", sa.Text()), _c("investment", F), _c("version", sa.Integer()),
        sa.PrimaryKeyConstraint("plan_id"))
    op.create_table(
        "milestones", _c("milestone_id", S, False), _c("plan_id", S, False), _c("name", S, False),
        _c("phase", S, False), _c("kind", S), _c("owner", S), _c("start_date", D),
        _c("due_date", D, False), _c("completed_at", D), _c("completion_rule", S),
        _c("depends_on", S), sa.PrimaryKeyConstraint("milestone_id"))
    op.create_table(
        "stakeholders", _c("stakeholder_id", S, False), _c("plan_id", S, False),
        _c("contact_id", S), _c("name", S, False), _c("title", S), _c("side", S),
        _c("raci", S, False), _c("email", S), sa.PrimaryKeyConstraint("stakeholder_id"))
    op.create_table(
        "value_metrics", _c("metric_id", S, False), _c("plan_id", S, False), _c("name", S, False),
        _c("unit", S), _c("direction", S), _c("baseline", F, False), _c("target", F, False),
        _c("target_date", D), _c("value_per_unit", F, False), _c("value_per_unit_low", F),
        _c("value_per_unit_high", F), sa.PrimaryKeyConstraint("metric_id"))
    op.create_table(
        "value_measurements", _c("measurement_id", S, False), _c("metric_id", S, False),
        _c("measured_at", D, False), _c("value", F, False),
        sa.PrimaryKeyConstraint("measurement_id"))


def downgrade() -> None:
    for t in ("value_measurements", "value_metrics", "stakeholders", "milestones",
              "success_plans"):
        op.drop_table(t)
