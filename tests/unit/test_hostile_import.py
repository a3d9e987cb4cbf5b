"""Hostile and broken import files are refused with their location, and change
nothing (issue 26: ``arr=inf`` and ``1e308`` imported with exit 0; a 50 MB account
name was stored; a NUL byte failed PostgreSQL's load after validation passed; seats of
10^20 and employees of 2^63 ended in a TypeError; a Latin-1 file named only a byte
position; a semicolon file said "required column missing"; an empty file named only
the file; a tiny Parquet file of millions of rows was read with no cap)."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor.cli import main
from greendoor.ingest import chunked, import_path
from greendoor.ingest import read as RD
from greendoor.store import schema

ACCOUNTS = "account_id,name,signup_date,employees\nA1,Acme,2025-01-01,10\n"
SUBS = ("subscription_id,account_id,start_date,arr,seats\n"
        "S1,A1,2025-01-01,{arr},{seats}\n")


def state(engine) -> str:
    """A digest of every canonical table's rows (the store 'as it was')."""
    h = hashlib.sha256()
    with engine.connect() as conn:
        for t in schema.CANONICAL_TABLES:
            rows = conn.execute(sa.select(t).order_by(*t.columns)).all()
            h.update(f"{t.name}:{rows!r}".encode())
    return h.hexdigest()


def export(tmp_path, name="x", accounts=ACCOUNTS, arr="1000", seats="5"):
    d = tmp_path / name
    d.mkdir()
    (d / "accounts.csv").write_text(accounts, encoding="utf-8")
    (d / "subscriptions.csv").write_text(SUBS.format(arr=arr, seats=seats), encoding="utf-8")
    return d


@pytest.fixture
def loaded(engine, tmp_path):
    """A store holding one valid import, to show that a refused import changes nothing."""
    assert import_path(engine, export(tmp_path, "ok"), "canonical").ok
    return engine


@pytest.mark.parametrize("arr, seats, column, value, rule", [
    ("inf", "5", "arr", "inf", "not a finite number"),
    ("-Infinity", "5", "arr", "-Infinity", "not a finite number"),
    ("1e308", "5", "arr", "1e308", "between 0 and 1e+10"),
    ("1000", "99999999999999999999", "seats", "99999999999999999999", "between 0 and 1e+07"),
    ("1000", "9223372036854775808", "seats", "9223372036854775808", "between 0 and 1e+07"),
    ("1000", "12000000", "seats", "12000000", "between 0 and 1e+07"),
])
def test_numbers_must_be_finite_and_in_range(loaded, tmp_path, arr, seats, column, value, rule):
    before = state(loaded)
    report = import_path(loaded, export(tmp_path, arr=arr, seats=seats), "canonical")
    assert report.status == "failed"
    hits = [e for e in report.errors if e.column == column]
    assert hits and hits[0].file == "subscriptions.csv" and hits[0].line == 2
    assert hits[0].value == value and rule in hits[0].rule
    assert state(loaded) == before


def test_employees_of_two_to_the_63_is_refused(loaded, tmp_path):
    before = state(loaded)
    accounts = f"account_id,name,signup_date,employees\nA1,Acme,2025-01-01,{2**63}\n"
    report = import_path(loaded, export(tmp_path, accounts=accounts), "canonical")
    assert [(e.file, e.line, e.column) for e in report.errors] == \
        [("accounts.csv", 2, "employees")]
    assert state(loaded) == before


def test_text_longer_than_the_limit_and_nul_bytes_are_refused(loaded, tmp_path):
    before = state(loaded)
    long_name = "N" * 1_001
    accounts = ("account_id,name,signup_date\n"
                f"A1,{long_name},2025-01-01\nA2,Bad\x00Name,2025-01-01\n")
    report = import_path(loaded, export(tmp_path, accounts=accounts), "canonical")
    # the NUL byte is found in the file's bytes, before any CSV reader can cut the cell
    assert [(e.file, e.line, e.column, e.rule) for e in report.errors] == \
        [("accounts.csv", 3, "name", "contains a NUL byte")]
    long_only = "account_id,name,signup_date\n" f"A1,{long_name},2025-01-01\n"
    report = import_path(loaded, export(tmp_path, "y", accounts=long_only), "canonical")
    assert [(e.line, e.column, e.rule) for e in report.errors] == \
        [(2, "name", "longer than 1,000 characters")]
    parquet = tmp_path / "z"
    parquet.mkdir()
    pd.DataFrame({"account_id": ["A1"], "name": ["Bad\x00Name"], "signup_date": ["2025-01-01"]}
                 ).to_parquet(parquet / "accounts.parquet")
    report = import_path(loaded, parquet, "canonical")
    assert [(e.file, e.line, e.column, e.rule) for e in report.errors] == \
        [("accounts.parquet", 1, "name", "contains a NUL byte")]
    assert state(loaded) == before


def test_latin1_file_names_the_line_and_byte(loaded, tmp_path):
    d = export(tmp_path)
    (d / "accounts.csv").write_bytes(
        b"account_id,name,signup_date\nA1,Acme,2025-01-01\nA2,Caf\xe9 Bleu,2025-01-01\n")
    before = state(loaded)
    report = import_path(loaded, d, "canonical")
    [err] = report.errors
    assert (err.file, err.line) == ("accounts.csv", 3)
    assert err.rule.startswith("byte 0xE9 at position 7 is not UTF-8 text")
    assert state(loaded) == before


def test_semicolon_and_tab_separated_files_are_read(engine, tmp_path):
    d = export(tmp_path)
    (d / "accounts.csv").write_text("account_id;name;signup_date\nA1;Acme, Inc.;2025-01-01\n")
    (d / "subscriptions.csv").write_text(
        "subscription_id\taccount_id\tstart_date\tarr\nS1\tA1\t2025-01-01\t1000\n")
    report = import_path(engine, d, "canonical")
    assert report.ok, report.summary()
    notes = [w.rule for w in report.warnings]
    assert "read as semicolon-separated (from its header line)" in notes
    assert "read as tab-separated (from its header line)" in notes
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.accounts.c.name)).scalar() == "Acme, Inc."


def test_excel_byte_order_mark_is_not_part_of_the_first_column(engine, tmp_path):
    d = export(tmp_path)
    (d / "accounts.csv").write_bytes(b"\xef\xbb\xbf" + ACCOUNTS.encode())
    assert import_path(engine, d, "canonical").ok


def test_an_empty_file_says_what_it_should_hold(loaded, tmp_path):
    d = export(tmp_path)
    (d / "accounts.csv").write_text("")
    report = import_path(loaded, d, "canonical")
    [err] = report.errors
    assert err.file == "accounts.csv" and "the file is empty; expected a header line" in err.rule


def test_file_size_and_row_limits_are_checked_before_reading(loaded, tmp_path, monkeypatch):
    d = export(tmp_path)
    usage = pd.DataFrame({"account_id": ["A1"] * 3_000, "date": "2026-01-05",
                          "events": range(3_000)})
    usage.to_parquet(d / "usage.parquet", compression="zstd")
    before = state(loaded)
    monkeypatch.setenv(RD.MAX_ROWS_ENV, "2000")
    report = import_path(loaded, d, "canonical")
    [err] = report.errors
    assert err.file == "usage.parquet" and "3,000 rows is more than the import's limit" in err.rule
    monkeypatch.setenv(RD.MAX_ROWS_ENV, "1e9")
    monkeypatch.setenv(RD.MAX_FILE_BYTES_ENV, "10")
    report = import_path(loaded, d, "canonical")
    assert {e.file for e in report.errors} == {"accounts.csv", "subscriptions.csv",
                                               "usage.parquet"}
    assert all("more than the import's limit" in e.rule for e in report.errors)
    assert state(loaded) == before


def test_a_parquet_usage_file_of_many_rows_is_read_in_slices(engine, tmp_path, monkeypatch):
    """Row count from the footer decides; the slices give the same rows and lines."""
    d = export(tmp_path)
    usage = pd.DataFrame({"account_id": ["A1"] * 2_500, "date": "2026-01-05",
                          "user_id": [f"u{i % 7}" for i in range(2_500)], "events": 1})
    usage.loc[2_100, "events"] = -1  # row 2,101 of the file, in the third slice
    usage.to_parquet(d / "usage.parquet")
    monkeypatch.setattr(chunked, "CHUNK_ROWS", 1_000)
    report = import_path(engine, d, "canonical")
    assert [(e.file, e.line, e.column) for e in report.errors] == \
        [("usage.parquet", 2_101, "events")]
    usage.loc[2_100, "events"] = 1
    usage.to_parquet(d / "usage.parquet")
    report = import_path(engine, d, "canonical")
    assert report.ok and report.tables["usage"].inserted == 2_500


def test_the_cli_reports_refusals_without_a_traceback(loaded, tmp_path, capsys):
    url = loaded.url.render_as_string(hide_password=False)
    code = main(["--db-url", url, "import", str(export(tmp_path, arr="inf")),
                 "--format", "canonical"])
    out = capsys.readouterr()
    assert code == 2  # the CLI's exit status for a refused import
    assert "subscriptions.csv, line 2, column arr, value 'inf': not a finite number" in out.out
    assert "Traceback" not in out.out + out.err
