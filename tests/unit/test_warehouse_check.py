"""`greendoor source check` validates a warehouse mapping where the data lives, on
embedded DuckDB and on PostgreSQL (issue 24): a good mapping passes; a missing column,
a string where a date should be, a missing required value, a duplicated key and an
orphan account are each named with the table, column and a failing key; nothing is
written to the source or to Greendoor's store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from greendoor.cli import main
from greendoor.warehouse.check import check_source
from greendoor.warehouse.mapping import MappingError, load_mapping
from tests.conftest import pg_database

WAREHOUSE = [
    "CREATE SCHEMA crm", "CREATE SCHEMA billing", "CREATE SCHEMA product",
    "CREATE TABLE crm.accounts (id VARCHAR(20), account_name VARCHAR(100), created VARCHAR(30),"
    " tier VARCHAR(20))",
    "INSERT INTO crm.accounts VALUES ('A1', 'Acme', '2024-01-15', 'pro'), "
    "('A2', 'Globex', '2024-03-01', 'basic'), ('A3', 'Initech', '2024-06-30', 'pro')",
    "CREATE TABLE billing.subs (sub_id VARCHAR(20), acct VARCHAR(20), start_day DATE, "
    "arr_usd DOUBLE PRECISION)",
    "INSERT INTO billing.subs VALUES ('S1', 'A1', DATE '2024-01-15', 12000), "
    "('S2', 'A2', DATE '2024-03-01', 6000), ('S3', 'A3', DATE '2024-06-30', 24000)",
    "CREATE TABLE product.daily_usage (acct VARCHAR(20), day DATE, feature VARCHAR(40), "
    "n_events BIGINT)",
    "INSERT INTO product.daily_usage VALUES ('A1', DATE '2024-07-01', 'reports', 12), "
    "('A2', DATE '2024-07-01', 'reports', 3), ('A3', DATE '2024-07-02', 'api', 40)",
]

MAPPING = {
    "version": 1,
    "url": None,  # set per backend
    "tables": {
        "accounts": {"from": "crm.accounts",
                     "columns": {"account_id": "id", "name": "account_name",
                                 "signup_date": "created", "plan": "tier"}},
        "subscriptions": {"from": "billing.subs",
                          "columns": {"subscription_id": "sub_id", "account_id": "acct",
                                      "start_date": "start_day", "arr": "arr_usd"}},
        "usage": {"from": "product.daily_usage",
                  "columns": {"account_id": "acct", "date": "day", "events": "n_events"}},
    },
}


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request, tmp_path):
    """(URL, engine) of a small warehouse with the tables of :data:`WAREHOUSE`."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        eng = sa.create_engine(url)
        _build(eng)
        yield url, eng
        eng.dispose()
        return
    with pg_database() as url:
        eng = sa.create_engine(url)
        _build(eng)
        yield url, eng
        eng.dispose()


def _build(eng) -> None:
    with eng.begin() as conn:
        for stmt in WAREHOUSE:
            conn.exec_driver_sql(stmt)


def _write(tmp_path: Path, url: str, **changes) -> Path:
    mapping = yaml.safe_load(yaml.safe_dump(MAPPING))
    mapping["url"] = url
    for table, cols in changes.items():
        mapping["tables"][table]["columns"].update(cols)
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping))
    return path


def _content(eng) -> dict:
    with eng.connect() as conn:
        return {t: sorted(map(repr, conn.exec_driver_sql(f"SELECT * FROM {t}").all()))
                for t in ("crm.accounts", "billing.subs", "product.daily_usage")}


def test_a_good_mapping_passes_and_counts_the_rows(warehouse, tmp_path):
    url, eng = warehouse
    eng.dispose()  # the DuckDB file is opened read-only by the check
    report = check_source(load_mapping(_write(tmp_path, url)))
    assert report.ok, report.summary()
    assert report.rows == {"accounts": 3, "subscriptions": 3, "usage": 3}
    assert "mapping OK" in report.summary()


def test_a_broken_mapping_names_table_column_and_key_and_writes_nothing(
        warehouse, tmp_path, monkeypatch, capsys):
    url, eng = warehouse
    with eng.begin() as conn:
        conn.exec_driver_sql("UPDATE crm.accounts SET created = '03/15/2024' WHERE id = 'A2'")
        conn.exec_driver_sql("INSERT INTO product.daily_usage VALUES "
                             "('ZZ9', DATE '2024-07-03', 'api', 1)")
        conn.exec_driver_sql("INSERT INTO billing.subs VALUES ('S3', 'A3', NULL, 100)")
    before = _content(eng)
    eng.dispose()
    db_file = url.removeprefix("duckdb:///") if url.startswith("duckdb") else None
    digest = hashlib.sha256(Path(db_file).read_bytes()).hexdigest() if db_file else None
    report = check_source(load_mapping(_write(tmp_path, url)))
    by_rule = {(i.table, i.column, i.rule.split(" (")[0]): i for i in report.issues}

    date = by_rule[("accounts", "signup_date", "not a date")]
    assert date.count == 1 and date.keys == ("account_id=A2",)
    assert date.values == ("03/15/2024",) and date.source == "crm.accounts.created"
    orphan = by_rule[("usage", "account_id", "no such account in crm.accounts.id")]
    assert orphan.count == 1 and orphan.values == ("ZZ9",)
    assert orphan.keys == ("account_id=ZZ9, date=2024-07-03, feature=api",)
    missing = by_rule[("subscriptions", "start_date", "a value is required")]
    assert missing.count == 1 and missing.keys == ("subscription_id=S3",)
    dup = by_rule[("subscriptions", "subscription_id",
                   "the key is not unique")]
    assert dup.count == 1 and dup.keys == ("subscription_id=S3",)
    assert len(report.issues) == 4, report.summary()
    # the command line says the same, exits 1, and opens no store
    store = tmp_path / "store.duckdb"
    monkeypatch.setenv("GREENDOOR_DB_URL", f"duckdb:///{store}")
    assert main(["source", "check", str(_write(tmp_path, url))]) == 1
    out = capsys.readouterr().out
    assert ("accounts, column signup_date (source crm.accounts.created): not a date "
            "(YYYY-MM-DD); 1 row, first: account_id=A2 value '03/15/2024'") in out
    assert "nothing was written" in out and not store.exists()
    eng2 = sa.create_engine(url)
    assert _content(eng2) == before
    eng2.dispose()
    if db_file:
        assert hashlib.sha256(Path(db_file).read_bytes()).hexdigest() == digest


def test_a_mapped_column_the_source_lacks_is_named_with_what_it_has(warehouse, tmp_path):
    url, eng = warehouse
    eng.dispose()
    report = check_source(load_mapping(_write(tmp_path, url,
                                              accounts={"signup_date": "created_on"})))
    [issue] = report.issues
    assert (issue.table, issue.column, issue.source) == (
        "accounts", "signup_date", "crm.accounts.created_on")
    assert "no column 'created_on' (it has id, account_name, created, tier)" in issue.rule
    # the accounts table is not scanned, the others are
    assert set(report.rows) == {"subscriptions", "usage"}


def test_a_type_that_cannot_hold_the_value_is_refused_without_a_scan(warehouse, tmp_path):
    url, eng = warehouse
    eng.dispose()
    # events from a text column holding words, a date from a number
    report = check_source(load_mapping(_write(tmp_path, url,
                                              usage={"events": "feature", "date": "n_events"})))
    rules = {(i.column, i.rule) for i in report.issues}
    assert ("date", "is BIGINT in the source; a date is needed (a DATE/TIMESTAMP column, or "
            "text in ISO 8601 YYYY-MM-DD)") in rules
    events = next(i for i in report.issues if i.column == "events")
    assert events.rule == "not a whole number" and events.count == 3


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["tables"].pop("usage"), "the mapping must provide usage"),
    (lambda m: m["tables"].update(acounts=m["tables"]["accounts"]),
     "unknown canonical table(s) acounts"),
    (lambda m: m["tables"]["accounts"]["columns"].update(arr="x"),
     "tables.accounts.columns: arr not in the contract's accounts columns"),
    (lambda m: m.update(version=2), "version: Input should be 1"),
    (lambda m: m["tables"]["usage"].update({"from": "a.b.c"}),
     "tables.usage.from: Value error, 'a.b.c' is not a [schema.]table name"),
    (lambda m: m.update(url="postgresql://u:${GD_UNSET_PASSWORD}@h/db"),
     "url uses ${GD_UNSET_PASSWORD}, which is not set"),
])
def test_a_mapping_file_that_cannot_be_used_names_the_entry(tmp_path, edit, message):
    mapping = yaml.safe_load(yaml.safe_dump(MAPPING))
    mapping["url"] = "duckdb:///:memory:"
    edit(mapping)
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(mapping))
    with pytest.raises(MappingError) as exc:
        load_mapping(path)
    assert str(exc.value).startswith(f"{path}: ") and message in str(exc.value)


# --------------------------------------------------------------------------- #
# Apache Spark in local mode, over Parquet files of the same warehouse
# --------------------------------------------------------------------------- #

def _parquet_warehouse(tmp_path: Path, *changes: str) -> dict:
    """The warehouse (plus ``changes``) written as Parquet; Spark views -> paths."""
    tmp_path.mkdir()
    eng = sa.create_engine("duckdb:///:memory:")
    views = {}
    with eng.begin() as conn:
        for stmt in (*WAREHOUSE, *changes):
            conn.exec_driver_sql(stmt)
        for table in ("crm.accounts", "billing.subs", "product.daily_usage"):
            path = tmp_path / f"{table.split('.')[1]}.parquet"
            conn.exec_driver_sql(f"COPY {table} TO '{path}' (FORMAT parquet)")
            views[table.split(".")[1]] = str(path)
    eng.dispose()
    return views


def _spark_mapping(views: dict, **changes):
    mapping = yaml.safe_load(yaml.safe_dump(MAPPING))
    del mapping["url"]
    mapping["spark"] = {"master": "local[1]", "views": views}
    for ts in mapping["tables"].values():
        ts["from"] = ts["from"].split(".")[1]
    for table, cols in changes.items():
        mapping["tables"][table]["columns"].update(cols)
    from greendoor.warehouse.mapping import SourceMapping

    return SourceMapping.model_validate(mapping)


def test_spark_checks_the_same_rules_as_the_sql_engines(spark, tmp_path):
    good = check_source(_spark_mapping(_parquet_warehouse(tmp_path / "good")), spark=spark)
    assert good.ok, good.summary()
    assert good.rows == {"accounts": 3, "subscriptions": 3, "usage": 3}
    views = _parquet_warehouse(
        tmp_path / "broken",
        "UPDATE crm.accounts SET created = '03/15/2024' WHERE id = 'A2'",
        "INSERT INTO product.daily_usage VALUES ('ZZ9', DATE '2024-07-03', 'api', 1)",
        "INSERT INTO billing.subs VALUES ('S3', 'A3', NULL, 100)")
    report = check_source(_spark_mapping(views), spark=spark)
    got = sorted((i.table, i.column, i.rule, i.count, i.keys, i.values) for i in report.issues)
    assert got == [
        ("accounts", "signup_date", "not a date (YYYY-MM-DD)", 1, ("account_id=A2",),
         ("03/15/2024",)),
        ("subscriptions", "start_date", "a value is required", 1, ("subscription_id=S3",),
         ("",)),
        ("subscriptions", "subscription_id",
         "the key is not unique (keys held by more than one row)", 1,
         ("subscription_id=S3",), ()),
        ("usage", "account_id", "no such account in accounts.id", 1,
         ("account_id=ZZ9, date=2024-07-03, feature=api",), ("ZZ9",)),
    ]
    missing_col = check_source(_spark_mapping(views, accounts={"signup_date": "created_on"}),
                               spark=spark)
    assert [(i.table, i.column, i.source) for i in missing_col.issues][0] == (
        "accounts", "signup_date", "accounts.created_on")
