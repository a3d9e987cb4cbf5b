"""GRR and NRR against published medians by contract size (issue 21): the seeded table,
the bucket a book falls in, the cases that are not compared, and the audited editor."""

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import settings as S
from greendoor.access import AccessDenied, Principal
from greendoor.analytics import benchmarks as B
from greendoor.store import schema
from greendoor.store.engine import init_store, make_engine


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    eng = make_engine(f"duckdb:///{tmp_path_factory.mktemp('bench') / 'b.duckdb'}")
    init_store(eng)
    with eng.connect() as conn:
        yield B.table(conn)
    eng.dispose()


def test_migration_seeds_saas_capital_2023_by_acv(seeded):
    assert len(seeded) == 12 and set(seeded["year"]) == {2023}
    assert set(seeded["currency"]) == {"USD"} and set(seeded["statistic"]) == {"median"}
    assert seeded["source"].str.startswith("SaaS Capital").all()
    nrr = seeded[seeded["metric"] == "nrr"].sort_values("acv_min")["value"].tolist()
    grr = seeded[seeded["metric"] == "grr"].sort_values("acv_min")["value"].tolist()
    # the survey's Figure 1: NRR rises with ACV, GRR flattens at 93 %
    assert nrr == [1.00, 1.02, 1.03, 1.05, 1.07, 1.10]
    assert grr == [0.90, 0.90, 0.92, 0.93, 0.93, 0.93]


def test_book_is_compared_with_the_bucket_of_its_average_contract(seeded):
    # ARR $53.6M over 1,202 accounts: ACV = 44,592 -> the $25K-$50K bucket (GRR 92 %)
    c = B.compare(seeded, "grr", 0.903, 53_600_000, 1202, "USD")
    assert c.acv == pytest.approx(44_592.35, abs=0.01)
    assert c.benchmark == 0.92 and c.bucket == "$25K to $50K" and c.year == 2023
    # 90.3 % - 92 % = -1.7 points
    assert "1.7 points below the median of 92%" in c.words
    # a bucket's lower bound belongs to it: ACV exactly $50,000 -> $50K-$100K (NRR 105 %)
    n = B.compare(seeded, "nrr", 1.10, 5_000_000, 100, "USD")
    assert n.benchmark == 1.05 and "5.0 points above" in n.words
    # the top bucket has no upper bound
    assert B.compare(seeded, "nrr", 1.0, 3_000_000, 2, "USD").benchmark == 1.10


@pytest.mark.parametrize("args, reason", [
    (("grr", 0.9, 50_000_000, 1000, "EUR"), "the benchmarks are in USD and this store's money is EUR"),
    (("grr", 0.9, 900_000, 30, "USD"), "below the $1.0M the survey's companies had at least"),
    (("grr", float("nan"), 50_000_000, 1000, "USD"), "no retention figure yet"),
    (("grr", 0.9, 0.0, 0, "USD"), "no retention figure yet"),
])
def test_book_outside_the_table_says_so_instead_of_comparing(seeded, args, reason):
    c = B.compare(seeded, *args)
    assert c.benchmark is None and reason in c.words and "not compared" in c.words


def test_contract_size_beyond_every_bucket_is_not_compared(seeded):
    capped = seeded[seeded["acv_max"].notna()]  # a table without an open top bucket
    c = B.compare(capped, "nrr", 1.1, 30_000_000, 100, "USD")  # ACV $300K
    assert c.benchmark is None and "outside the table's buckets" in c.words


def _engine(tmp_path):
    eng = make_engine(f"duckdb:///{tmp_path / 's.duckdb'}")
    init_store(eng)
    return eng


def test_benchmarks_are_edited_in_one_audited_transaction(tmp_path):
    eng = _engine(tmp_path)
    with eng.connect() as conn:
        before = B.table(conn)
    edited = before.copy()
    edited.loc[edited["benchmark_id"] == "saascapital-2023-grr-25000", "value"] = 0.91
    assert S.save_benchmarks(eng, edited, "admin") == 12
    with eng.connect() as conn:
        after = B.table(conn)
        audit = conn.execute(sa.select(schema.audit_log.c.before_json,
                                       schema.audit_log.c.after_json).where(
            schema.audit_log.c.action == "benchmarks.update")).all()
    assert after.set_index("benchmark_id").loc["saascapital-2023-grr-25000", "value"] == 0.91
    assert len(audit) == 1 and "0.92" in audit[0][0] and "0.91" in audit[0][1]
    with pytest.raises(ValueError, match="nothing changed"):
        S.save_benchmarks(eng, after, "admin")


def test_bad_benchmarks_are_refused_naming_row_column_and_value(tmp_path):
    eng = _engine(tmp_path)
    with eng.connect() as conn:
        before = B.table(conn)
    bad = before.copy()
    bad.loc[0, "value"] = 1.4  # a GRR above 100 %
    bad.loc[1, "currency"] = "usd"
    bad.loc[2, "acv_max"] = 1.0  # below its acv_min of 25,000
    with pytest.raises(S.SettingsError) as err:
        S.save_benchmarks(eng, bad, "admin")
    text = str(err.value)
    assert "row 1 (saascapital-2023-grr-0)" in text and "cannot exceed 100 %" in text
    assert "row 2 (saascapital-2023-grr-12000), currency" in text and "'usd'" in text
    assert "must be above acv_min 25000" in text
    overlap = before.copy()
    overlap.loc[overlap["benchmark_id"] == "saascapital-2023-nrr-0", "acv_max"] = 20_000.0
    with pytest.raises(ValueError, match="overlap in contract size"):
        S.save_benchmarks(eng, overlap, "admin")
    with pytest.raises(AccessDenied):
        S.save_benchmarks(eng, before.head(3), Principal("vic", "viewer"))
    with eng.connect() as conn:  # nothing was written by any refused save
        pd.testing.assert_frame_equal(B.table(conn), before)
