"""GRR and NRR against published medians by contract size (issue 21).

The benchmarks are a data table (:data:`greendoor.store.schema.benchmarks`: metric,
annual-contract-value bucket, currency, value, statistic, source, year), seeded with SaaS
Capital's 2023 survey and editable by an admin. A book is compared with the bucket of its
average contract value, ACV = ARR / accounts with ARR as of the date (SaaS Capital buckets
companies by their average ACV). It is *not* compared, and the words say why, when the
store's currency (setting ``currency``) differs from the table's, when the ACV falls in no
bucket, or when the book's ARR is below the smallest company the survey counted.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.labels import money, percent
from greendoor.store import schema

METRICS = {"grr": "GRR", "nrr": "NRR"}


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One metric against its benchmark: ``value`` (the book's, fraction), ``benchmark``
    (the table's, fraction; ``None`` when not compared), ``reason`` (why not compared),
    ``source``, ``year``, ``statistic``, ``bucket`` (the ACV bucket in words) and ``acv``
    (the book's average contract value)."""

    metric: str
    value: float
    acv: float
    benchmark: float | None = None
    bucket: str = ""
    source: str = ""
    year: int | None = None
    statistic: str = "median"
    reason: str = ""

    @property
    def words(self) -> str:
        """One sentence for a tooltip or caption."""
        name = METRICS[self.metric]
        if self.benchmark is None:
            return f"{name} is not compared with a benchmark: {self.reason}."
        gap = 100 * (self.value - self.benchmark)
        side = "above" if gap > 0.05 else "below" if gap < -0.05 else "at"
        return (f"{name} {percent(self.value)} is {abs(gap):.1f} points {side} the "
                f"{self.statistic} of {percent(self.benchmark, 0)} for companies with an "
                f"average contract of {self.bucket} ({self.source}, {self.year}); this book's "
                f"average contract is {money(self.acv)}.") if side != "at" else (
            f"{name} {percent(self.value)} is at the {self.statistic} of "
            f"{percent(self.benchmark, 0)} for an average contract of {self.bucket} "
            f"({self.source}, {self.year}).")


def table(conn: Connection) -> pd.DataFrame:
    """The benchmark rows: every column of the table, by metric and bucket."""
    b = schema.benchmarks
    return pd.read_sql(sa.select(b).order_by(b.c.metric, b.c.source, b.c.acv_min), conn)


def bucket_words(acv_min: float, acv_max: float | None) -> str:
    """"$50K to $100K", "less than $12K", "more than $250K"."""
    if acv_max is None or pd.isna(acv_max):
        return f"more than {money(acv_min)}"
    if not acv_min:
        return f"less than {money(acv_max)}"
    return f"{money(acv_min)} to {money(acv_max)}"


def compare(bench: pd.DataFrame, metric: str, value: float, arr: float, accounts: int,
            currency: str) -> Comparison:
    """``value`` (the book's ``metric``, a fraction) against ``bench`` (:func:`table`),
    for a book of ``arr`` over ``accounts`` in ``currency``: the most recent source's row
    whose bucket holds the book's ACV (see the module docstring for when it is not
    compared)."""
    acv = arr / accounts if accounts else float("nan")
    rows = bench[bench["metric"] == metric]
    base = Comparison(metric=metric, value=value, acv=acv)
    if rows.empty:
        return dataclasses.replace(base, reason=f"the benchmark table has no {METRICS[metric]}")
    if value != value or acv != acv:
        return dataclasses.replace(base, reason="the book has no retention figure yet")
    same = rows[rows["currency"] == currency]
    if same.empty:
        return dataclasses.replace(base, reason=(
            f"the benchmarks are in {', '.join(sorted(set(rows['currency'])))} and this store's "
            f"money is {currency} (setting currency)"))
    hit = same[(same["acv_min"] <= acv) & (same["acv_max"].isna() | (acv < same["acv_max"]))]
    if hit.empty:
        return dataclasses.replace(base, reason=(
            f"the book's average contract of {money(acv)} is outside the table's buckets "
            f"({bucket_words(same['acv_min'].min(), None if same['acv_max'].isna().any() else same['acv_max'].max())})"))
    row = hit.sort_values("year").iloc[-1]
    floor = row["min_company_arr"]
    if pd.notna(floor) and arr < floor:
        return dataclasses.replace(base, reason=(
            f"the book's ARR of {money(arr)} is below the {money(floor)} the survey's "
            f"companies had at least ({row['source']}, {row['year']})"))
    return dataclasses.replace(base, benchmark=float(row["value"]),
                               bucket=bucket_words(row["acv_min"], row["acv_max"]),
                               source=str(row["source"]), year=int(row["year"]),
                               statistic=str(row["statistic"]).replace("_", " "))


def compare_kpis(bench: pd.DataFrame, kpis: dict, currency: str) -> dict[str, Comparison]:
    """GRR and NRR of :func:`greendoor.analytics.portfolio_health.kpis` (``grr``, ``nrr``,
    ``arr``, ``accounts``) against ``bench``: ``{"grr": Comparison, "nrr": Comparison}``."""
    return {m: compare(bench, m, kpis[m], kpis["arr"], kpis["accounts"], currency)
            for m in METRICS}
