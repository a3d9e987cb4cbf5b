"""Customer-success metrics (SPEC.md "Metric definitions").

``greendoor.metrics.core``: pure functions on numbers (hand-checkable).
``greendoor.metrics.sql``: the same formulas aggregated in the store.
"""

from greendoor.metrics.core import (
    annualize_churn,
    arr_at_risk,
    csat,
    grr,
    logo_churn_rate,
    nps,
    nrr,
    seat_utilization,
    stickiness,
)

__all__ = [
    "annualize_churn",
    "arr_at_risk",
    "csat",
    "grr",
    "logo_churn_rate",
    "nps",
    "nrr",
    "seat_utilization",
    "stickiness",
]
