"""benchmarks: published GRR and NRR medians by contract size, seeded with SaaS Capital's
2023 B2B SaaS retention survey

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: SaaS Capital, "2023 B2B SaaS Retention Benchmarks" (Research Brief 28), Figure 1:
#: median net and gross revenue retention by annual contract value, from its 12th annual
#: survey (Q1 2023, more than 1,500 private B2B SaaS companies; companies with less than
#: $1M ARR excluded). Buckets in USD: less than $12K, $12-25K, $25-50K, $50-100K,
#: $100-250K, more than $250K.
SOURCE = "SaaS Capital, B2B SaaS Retention Benchmarks, Figure 1"
BUCKETS = ((0, 12_000), (12_000, 25_000), (25_000, 50_000), (50_000, 100_000),
           (100_000, 250_000), (250_000, None))
NRR = (1.00, 1.02, 1.03, 1.05, 1.07, 1.10)
GRR = (0.90, 0.90, 0.92, 0.93, 0.93, 0.93)


def upgrade() -> None:
    table = op.create_table(
        "benchmarks",
        sa.Column("benchmark_id", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("acv_min", sa.Double(), nullable=False),
        sa.Column("acv_max", sa.Double(), nullable=True),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("statistic", sa.String(), nullable=False),
        sa.Column("min_company_arr", sa.Double(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("benchmark_id"),
    )
    rows = []
    for metric, values in (("nrr", NRR), ("grr", GRR)):
        for (lo, hi), v in zip(BUCKETS, values, strict=True):
            rows.append({"benchmark_id": f"saascapital-2023-{metric}-{lo}", "metric": metric,
                         "acv_min": float(lo), "acv_max": None if hi is None else float(hi),
                         "currency": "USD", "value": v, "statistic": "median",
                         "min_company_arr": 1_000_000.0, "source": SOURCE, "year": 2023,
                         "url": None})
    op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("benchmarks")
