"""Import: RavenStack, canonical round trip, idempotence, refusal of bad files."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greendoor.demo import DemoParams, generate, load_demo
from greendoor.ingest import ImportRefused, import_path
from greendoor.ingest.contract import CONTRACT
from greendoor.ingest.validate import detect_date_format
from greendoor.store import meta, schema
from greendoor.store.engine import init_store, make_engine

RAVENSTACK = Path(os.environ.get(
    "GREENDOOR_RAVENSTACK_DIR",
    Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ravenstack"))
needs_ravenstack = pytest.mark.skipif(not RAVENSTACK.is_dir(),
                                      reason=f"RavenStack dataset not found at {RAVENSTACK}")


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def file_digest(engine) -> str:
    """DuckDB: sha256 of the store file. PostgreSQL: sha256 of every table's rows."""
    if engine.dialect.name == "duckdb":
        engine.dispose()
        return hashlib.sha256(Path(engine.url.database).read_bytes()).hexdigest()
    from greendoor.store import schema

    h = hashlib.sha256()
    with engine.connect() as conn:
        for t in schema.metadata.sorted_tables:
            rows = conn.execute(sa.select(t).order_by(*t.columns)).all()
            h.update(f"{t.name}:{rows!r}".encode())
    return h.hexdigest()


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def canonical_dir(tmp_path):
    """A small valid canonical export: 3 accounts, subscriptions, surveys, usage."""
    d = tmp_path / "export"
    d.mkdir()
    write_csv(d / "accounts.csv", [
        {"account_id": "A1", "name": "Alpha", "segment": "smb", "signup_date": "2024-01-05"},
        {"account_id": "A2", "name": "Beta", "segment": "", "signup_date": "2024-02-10"},
        {"account_id": "A3", "name": "Gamma", "segment": "enterprise", "signup_date": "2024-03-15"},
    ])
    write_csv(d / "subscriptions.csv", [
        {"subscription_id": "S1", "account_id": "A1", "start_date": "2024-01-05", "end_date": "",
         "arr": "6000", "mrr": "", "seats": "5", "billing_frequency": "annual", "auto_renew": "true"},
        {"subscription_id": "S2", "account_id": "A2", "start_date": "2024-02-10", "end_date": "",
         "arr": "", "mrr": "2500", "seats": "20", "billing_frequency": "monthly", "auto_renew": "no"},
        {"subscription_id": "S3", "account_id": "A3", "start_date": "2024-03-15", "end_date": "",
         "arr": "120000", "mrr": "", "seats": "90", "billing_frequency": "annual", "auto_renew": "1"},
    ])
    write_csv(d / "survey_responses.csv", [
        {"response_id": "R1", "account_id": "A1", "responded_at": "2024-05-01", "survey": "nps",
         "score": "9"},
        {"response_id": "R2", "account_id": "A3", "responded_at": "2024-05-02", "survey": "csat",
         "score": "4"},
    ])
    write_csv(d / "usage.csv", [
        {"account_id": "A1", "date": "2024-05-01", "user_id": "u1", "feature": "reports", "events": 3},
        {"account_id": "A1", "date": "2024-05-01", "user_id": "u1", "feature": "reports", "events": 3},
        {"account_id": "A3", "date": "2024-05-02", "user_id": "u9", "feature": "api", "events": 7},
    ])
    return d


# --------------------------------------------------------------------------- #
@needs_ravenstack
def test_ravenstack_import_loads_everything_and_is_idempotent(engine):
    report = import_path(engine, RAVENSTACK, "ravenstack")
    assert report.ok, report.summary()
    expected = {"accounts": 500, "subscriptions": 5000, "usage": 25000, "tickets": 2000,
                "churn_events": 600}
    for name, n in expected.items():
        assert report.tables[name].inserted == n
        assert count(engine, getattr(schema, name)) == n
    with engine.connect() as conn:
        events = conn.execute(sa.select(sa.func.sum(schema.usage.c.events))).scalar()
        ids = conn.execute(sa.select(sa.func.count(sa.distinct(schema.usage.c.usage_id)))).scalar()
        signup = conn.execute(sa.select(schema.accounts.c.signup_date)
                              .where(schema.accounts.c.account_id == "A-2e4581")).scalar()
        unknown = conn.execute(sa.select(sa.func.count()).select_from(schema.churn_events)
                               .where(schema.churn_events.c.reason == "other")).scalar()
        assert meta.get(conn, "dataset") == "ravenstack"
    assert events == 250_525
    assert ids == 24_979  # 21 usage_id values are shared by two different rows: both kept
    assert str(signup) == "2024-10-16"  # 16/10/2024, detected as day-first
    assert unknown > 0  # reason_code "unknown" maps to "other"
    again = import_path(engine, RAVENSTACK, "ravenstack")
    assert again.ok
    assert all(t.inserted == 0 and t.updated == 0 for t in again.tables.values())
    assert count(engine, schema.usage) == 25_000
    assert count(engine, schema.import_log) == 2


@needs_ravenstack
def test_one_bad_cell_refuses_the_import_and_leaves_the_store_byte_for_byte(engine, tmp_path):
    assert import_path(engine, RAVENSTACK, "ravenstack").ok
    bad = tmp_path / "bad"
    shutil.copytree(RAVENSTACK, bad)
    path = bad / "ravenstack_subscriptions.csv"
    rows = list(csv.reader(path.open()))
    col = rows[0].index("arr_amount")
    rows[41][col] = "-12"  # line 42 of the file
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    before = file_digest(engine)
    report = import_path(engine, bad, "ravenstack")
    assert not report.ok and report.status == "failed"
    [err] = report.errors
    assert (err.file, err.line, err.column, err.value) == (
        "ravenstack_subscriptions.csv", 42, "arr_amount", "-12")
    assert "between 0 and" in err.rule
    assert file_digest(engine) == before


def export_demo(folder: Path, **params) -> tuple[Path, dict[str, pd.DataFrame]]:
    """The demo's tables of the data contract (``DemoParams(**params)``, as of 2026-03-31;
    not its CSM history, which is app data) as canonical CSV files in
    ``folder/demo_export``: (that folder, the frames)."""
    frames = {k: v for k, v in generate(DemoParams(as_of=pd.Timestamp("2026-03-31").date(),
                                                   **params)).items() if k in CONTRACT}
    d = folder / "demo_export"
    d.mkdir()
    for name, df in frames.items():
        df.to_csv(d / f"{name}.csv", index=False)
    return d, frames


def test_canonical_import_of_the_demo_round_trips(tmp_path):
    """The demo's own tables satisfy the contract and load back identically."""
    d, frames = export_demo(tmp_path, n_accounts=40, months=4, seed=5)
    eng = make_engine(f"duckdb:///{tmp_path / 'x.duckdb'}")
    init_store(eng)
    report = import_path(eng, d, "canonical")
    assert report.ok, report.summary()
    for name, df in frames.items():
        assert count(eng, getattr(schema, name)) == len(df), name
    with eng.connect() as conn:
        arr = conn.execute(sa.select(sa.func.sum(schema.subscriptions.c.arr))).scalar()
    assert arr == pytest.approx(frames["subscriptions"]["arr"].sum())
    again = import_path(eng, d, "canonical")
    assert all(t.inserted == 0 and t.updated == 0 for t in again.tables.values())


def test_changed_rows_are_updated_on_their_key(engine, canonical_dir):
    assert import_path(engine, canonical_dir, "canonical").ok
    acc = pd.read_csv(canonical_dir / "accounts.csv", dtype=str, keep_default_na=False)
    acc.loc[acc["account_id"] == "A1", "name"] = "Alpha Renamed"
    acc.to_csv(canonical_dir / "accounts.csv", index=False)
    report = import_path(engine, canonical_dir, "canonical")
    assert report.tables["accounts"].updated == 1 and report.tables["accounts"].inserted == 0
    with engine.connect() as conn:
        name = conn.execute(sa.select(schema.accounts.c.name)
                            .where(schema.accounts.c.account_id == "A1")).scalar()
    assert name == "Alpha Renamed"


def test_derivations_mrr_segment_region_and_usage_facts(engine, canonical_dir):
    report = import_path(engine, canonical_dir, "canonical")
    assert report.ok, report.summary()
    with engine.connect() as conn:
        arr = dict(conn.execute(sa.select(schema.subscriptions.c.subscription_id,
                                          schema.subscriptions.c.arr)).all())
        seg = dict(conn.execute(sa.select(schema.accounts.c.account_id,
                                          schema.accounts.c.segment)).all())
    assert arr["S2"] == pytest.approx(30_000.0)  # 12 x MRR 2,500
    assert seg == {"A1": "smb", "A2": "mid_market", "A3": "enterprise"}  # A2 from its ARR
    # two identical usage rows are two facts: never merged
    assert count(engine, schema.usage) == 3


def test_duplicate_entity_keys_name_both_lines(engine, canonical_dir):
    rows = pd.read_csv(canonical_dir / "accounts.csv", dtype=str, keep_default_na=False)
    dup_same = rows.iloc[[0]]
    dup_diff = rows.iloc[[1]].assign(name="Beta Two")
    pd.concat([rows, dup_same, dup_diff]).to_csv(canonical_dir / "accounts.csv", index=False)
    report = import_path(engine, canonical_dir, "canonical")
    [err] = report.errors
    assert err.file == "accounts.csv" and err.column == "account_id" and err.value == "A2"
    assert "lines 3 and 6" in err.rule
    assert any("exact duplicate" in w.rule for w in report.warnings)
    assert count(engine, schema.accounts) == 0


def test_unknown_account_is_refused(engine, canonical_dir):
    write_csv(canonical_dir / "tickets.csv", [
        {"ticket_id": "T1", "account_id": "A1", "opened_at": "2024-06-01 10:00:00"},
        {"ticket_id": "T2", "account_id": "ZZZ", "opened_at": "2024-06-01 11:00:00"},
    ])
    report = import_path(engine, canonical_dir, "canonical")
    [err] = report.errors
    assert (err.file, err.line, err.column, err.value) == ("tickets.csv", 3, "account_id", "ZZZ")
    assert "unknown account" in err.rule


def test_references_to_accounts_already_in_the_store_are_valid(engine, canonical_dir):
    assert import_path(engine, canonical_dir / "accounts.csv", "canonical").ok
    assert import_path(engine, canonical_dir / "subscriptions.csv", "canonical").ok
    assert count(engine, schema.subscriptions) == 3


def test_missing_required_column(engine, canonical_dir):
    acc = pd.read_csv(canonical_dir / "accounts.csv").drop(columns=["signup_date"])
    acc.to_csv(canonical_dir / "accounts.csv", index=False)
    report = import_path(engine, canonical_dir, "canonical")
    assert any(e.column == "signup_date" and "required column" in e.rule for e in report.errors)


def test_line_numbers_count_quoted_newlines(engine, tmp_path):
    d = tmp_path / "q"
    d.mkdir()
    (d / "accounts.csv").write_text(
        'account_id,name,signup_date\nA1,"Alpha\nHoldings",2024-01-01\nA2,Beta,not-a-date\n')
    report = import_path(engine, d, "canonical")
    [err] = report.errors
    assert err.line == 4 and err.column == "signup_date"


def test_parquet_import(engine, tmp_path):
    d = tmp_path / "pq"
    d.mkdir()
    pd.DataFrame({"account_id": ["P1"], "name": ["Parquet Co"],
                  "signup_date": pd.to_datetime(["2024-04-01"])}).to_parquet(d / "accounts.parquet")
    report = import_path(engine, d, "canonical")
    assert report.ok, report.summary()
    assert count(engine, schema.accounts) == 1


def test_dry_run_reports_counts_and_writes_nothing(engine, canonical_dir):
    before = file_digest(engine)
    report = import_path(engine, canonical_dir, "canonical", dry_run=True)
    assert report.status == "dry_run" and report.tables["accounts"].inserted == 3
    assert file_digest(engine) == before
    assert count(engine, schema.accounts) == 0


def test_demo_store_is_protected(engine, canonical_dir):
    load_demo(engine, DemoParams(n_accounts=20, months=3, seed=1,
                                 as_of=pd.Timestamp("2026-01-31").date()))
    with pytest.raises(ImportRefused):
        import_path(engine, canonical_dir, "canonical")
    before = file_digest(engine)  # a dry run needs no --replace: it counts a replace
    dry = import_path(engine, canonical_dir, "canonical", dry_run=True)
    assert dry.status == "dry_run" and dry.tables["accounts"].inserted == 3
    assert file_digest(engine) == before and count(engine, schema.accounts) == 20
    report = import_path(engine, canonical_dir, "canonical", replace=True)
    assert report.ok and count(engine, schema.accounts) == 3


# --------------------------------------------------------------------------- #
# dates
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("values, expected", [
    (["2024-01-05", "2024-12-31"], "ISO8601"),
    (["2024-01-05 10:00:00", "2024-12-31T08:30:00Z"], "ISO8601"),
    (["16/10/2024", "1/2/2024"], "%d/%m/%Y"),
    (["10/16/2024", "1/2/2024"], "%m/%d/%Y"),
    (["16.10.24", "01.02.24"], "%d.%m.%y"),
    (["16/10/2024 13:45", "1/2/2024 08:00"], "%d/%m/%Y %H:%M"),
])
def test_detect_date_format(values, expected):
    assert detect_date_format(pd.Series(values)) == (expected, None)


def test_ambiguous_dates_are_refused_with_the_option_to_pass():
    fmt, why = detect_date_format(pd.Series(["1/2/2024", "3/4/2024"]))
    assert fmt is None and "--date-format %d/%m/%Y" in why and "%m/%d/%Y" in why
    fmt, why = detect_date_format(pd.Series(["13/2/2024", "3/14/2024"]))
    assert fmt is None and "mixes" in why
    assert detect_date_format(pd.Series(["1/2/2024"]), "%m/%d/%Y") == ("%m/%d/%Y", None)


def test_ambiguous_column_blocks_the_import_until_the_option_is_given(engine, tmp_path):
    d = tmp_path / "amb"
    d.mkdir()
    write_csv(d / "accounts.csv", [{"account_id": "A", "name": "a", "signup_date": "1/2/2024"}])
    report = import_path(engine, d, "canonical")
    assert report.errors and "ambiguous" in report.errors[0].rule
    report = import_path(engine, d, "canonical", date_format="%d/%m/%Y")
    assert report.ok
    with engine.connect() as conn:
        assert str(conn.execute(sa.select(schema.accounts.c.signup_date)).scalar()) == "2024-02-01"


# --------------------------------------------------------------------------- #
# property-based: any single malformed cell is reported where it is
# --------------------------------------------------------------------------- #
BAD_CELLS = {
    ("accounts.csv", "signup_date"): st.sampled_from(["2024-13-01", "2024-02-30", "yesterday",
                                                      "2024/99/99"]),
    ("accounts.csv", "name"): st.just(""),
    ("accounts.csv", "segment"): st.text(min_size=1, max_size=12).filter(
        lambda s: s.strip() and s.strip().lower().replace(" ", "_").replace("-", "_")
        not in {"smb", "mid_market", "enterprise"}),
    ("subscriptions.csv", "arr"): st.one_of(
        st.floats(max_value=-0.01, allow_nan=False, allow_infinity=False).map(repr),
        st.text(alphabet="abcxyz$%#", min_size=1, max_size=6)),
    ("subscriptions.csv", "seats"): st.sampled_from(["2.5", "many", "-3"]),
    ("subscriptions.csv", "auto_renew"): st.sampled_from(["maybe", "2", "yes please"]),
    ("subscriptions.csv", "billing_frequency"): st.sampled_from(["weekly", "daily", "biennial"]),
    ("subscriptions.csv", "account_id"): st.sampled_from(["NOPE", "A9", "a1"]),
    ("survey_responses.csv", "score"): st.one_of(st.integers(11, 1000).map(str),
                                                 st.integers(-100, -1).map(str)),
    ("survey_responses.csv", "survey"): st.sampled_from(["nps2", "rating", "csat!"]),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_malformed_cell_is_reported_at_its_line_and_column(engine, canonical_dir, data):
    (fname, column), strategy = data.draw(st.sampled_from(sorted(BAD_CELLS.items())))
    bad_value = data.draw(strategy)
    src = canonical_dir / fname
    original = src.read_bytes()
    frame = pd.read_csv(src, dtype=str, keep_default_na=False)
    row = data.draw(st.integers(0, len(frame) - 1))
    frame.loc[row, column] = bad_value
    try:
        frame.to_csv(src, index=False)
        report = import_path(engine, canonical_dir, "canonical")
    finally:
        src.write_bytes(original)
    assert not report.ok
    want_line = row + 2 if "\n" not in bad_value else None
    hits = [e for e in report.errors if e.file == fname and e.column == column
            and (want_line is None or e.line == want_line)]
    if "\r" in bad_value and "\n" not in bad_value:
        # pandas writes a lone carriage return unquoted: the file itself breaks that row in
        # two there, and the import reports the broken row (its next columns are missing)
        hits = [e for e in report.errors if e.file == fname and e.line in (row + 2, row + 3)]
    assert hits, (fname, column, bad_value, [str(e) for e in report.errors])
    assert count(engine, schema.accounts) == 0


@pytest.fixture
def demo_export(tmp_path):
    """The demo's tables as canonical CSV files (60 accounts, 6 months)."""
    return export_demo(tmp_path, n_accounts=60, months=6, seed=11)


def _usage_rows(eng) -> pd.DataFrame:
    with eng.connect() as conn:
        u = pd.read_sql(sa.select(schema.usage), conn)
    return u.sort_values("source_key", ignore_index=True)


def test_a_large_usage_file_is_imported_in_slices_with_the_same_rows_and_keys(
        tmp_path, demo_export, monkeypatch):
    """Sliced import (every usage file counts as large; 5,000-row slices) gives the same
    usage rows and keys as the whole-file import, including a row repeated in another
    slice (the same identity counted across slices), and is idempotent."""
    from greendoor.ingest import chunked

    d, frames = demo_export
    usage = pd.read_csv(d / "usage.csv", dtype=str, keep_default_na=False)
    assert len(usage) > 20_000  # several slices
    # the first three rows again at the end: same identity, in the last slice
    pd.concat([usage, usage.head(3)]).to_csv(d / "usage.csv", index=False)
    whole = make_engine(f"duckdb:///{tmp_path / 'whole.duckdb'}")
    init_store(whole)
    assert import_path(whole, d, "canonical").ok
    monkeypatch.setattr(chunked, "LARGE_FILE_BYTES", 0)
    monkeypatch.setattr(chunked, "CHUNK_ROWS", 5_000)
    folders = []
    mkdtemp = chunked.tempfile.mkdtemp
    monkeypatch.setattr(chunked.tempfile, "mkdtemp",
                        lambda **kw: folders.append(mkdtemp(**kw)) or folders[-1])
    sliced = make_engine(f"duckdb:///{tmp_path / 'sliced.duckdb'}")
    init_store(sliced)
    report = import_path(sliced, d, "canonical")
    assert report.ok, report.summary()
    assert report.tables["usage"].rows_read == len(usage) + 3
    assert report.tables["usage"].inserted == len(usage) + 3
    a, b = _usage_rows(whole), _usage_rows(sliced)
    assert len(b) == len(usage) + 3 and b["source_key"].is_unique
    pd.testing.assert_frame_equal(a, b)
    again = import_path(sliced, d, "canonical")  # the upsert path: nothing changes
    assert (again.tables["usage"].inserted, again.tables["usage"].updated) == (0, 0)
    assert again.tables["usage"].unchanged == len(usage) + 3
    assert count(sliced, schema.usage) == len(usage) + 3
    assert len(folders) == 2 and not any(Path(f).exists() for f in folders)  # spills removed
    with sliced.connect() as conn:  # and the staging tables
        assert not [t for t in sa.inspect(conn).get_table_names() if t.startswith("greendoor_stage")]


def test_a_bad_cell_in_a_later_slice_names_its_line_and_nothing_is_written(
        tmp_path, demo_export, monkeypatch):
    from greendoor.ingest import chunked

    d, _ = demo_export
    monkeypatch.setattr(chunked, "LARGE_FILE_BYTES", 0)
    monkeypatch.setattr(chunked, "CHUNK_ROWS", 5_000)
    eng = make_engine(f"duckdb:///{tmp_path / 'x.duckdb'}")
    init_store(eng)
    path = d / "usage.csv"
    rows = list(csv.reader(path.open()))
    rows[12_345][rows[0].index("events")] = "-3"  # line 12,346, in the third slice
    rows[17_000][rows[0].index("account_id")] = "ACC-NOPE"
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    before = file_digest(eng)
    report = import_path(eng, d, "canonical")
    assert report.status == "failed"
    got = {(e.file, e.line, e.column, e.value) for e in report.errors}
    assert got == {("usage.csv", 12_346, "events", "-3"),
                   ("usage.csv", 17_001, "account_id", "ACC-NOPE")}
    assert file_digest(eng) == before


def test_a_bad_cell_in_row_3_000_001_names_its_line_and_column_and_changes_nothing(
        tmp_path, demo_export):
    """Issue 23: a 3,000,005-row usage file (the demo's usage repeated, about 200 MB,
    read as a user's file is, without forcing slices) whose data row 3,000,001 (line
    3,000,002, after the header) holds "many" as its events is refused with that file,
    line, column and value, and the store, loaded before, is byte for byte unchanged."""
    import duckdb

    d, _ = demo_export
    eng = make_engine(f"duckdb:///{tmp_path / 'x.duckdb'}")
    init_store(eng)
    assert import_path(eng, d, "canonical").ok
    big = tmp_path / "daily"
    big.mkdir()
    src, out = d / "usage.csv", big / "usage.csv"
    con = duckdb.connect()
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_csv('{src}', "
                                      "all_varchar=true)").fetchall()]
    picked = ", ".join("CASE WHEN rn = 3000001 THEN 'many' ELSE events END AS events"
                       if c == "events" else f'"{c}"' for c in cols)
    con.execute(f"""COPY (SELECT {picked} FROM (
        SELECT u.*, row_number() OVER () AS rn
        FROM range(CAST(ceil(3000005 / (SELECT count(*) FROM read_csv('{src}')))
                        AS BIGINT)) AS r(k),
             read_csv('{src}', all_varchar=true) AS u) WHERE rn <= 3000005 ORDER BY rn)
        TO '{out}' (HEADER, DELIMITER ',')""")
    con.close()
    with out.open() as fh:  # the file holds what the test says
        head = fh.readline().rstrip("\n").split(",")
    assert sum(1 for _ in out.open()) == 3_000_006
    before = file_digest(eng)
    report = import_path(eng, big, "canonical")
    assert report.status == "failed"
    assert {(e.file, e.line, e.column, e.value) for e in report.errors} == {
        ("usage.csv", 3_000_002, "events", "many")}
    assert "events" in head
    assert file_digest(eng) == before


def test_mentions_import_like_the_other_tables(engine, canonical_dir):
    """Issue 25: a mentions file is validated like every table (a negative reach and an
    empty text are named by line, column, value and rule; nothing is written), and a valid
    one loads, an author without an account included."""
    rows = [{"mention_id": "M1", "account_id": "A1", "source": "x", "author": "Ann",
             "text": "Great tool", "occurred_at": "2024-06-01", "reach": "100",
             "engagement": "3"},
            {"mention_id": "M2", "account_id": "", "source": "reddit", "author": "@anon",
             "text": "Meh", "occurred_at": "2024-06-02", "reach": "-5", "engagement": ""},
            {"mention_id": "M3", "account_id": "A2", "source": "g2", "author": "Bo",
             "text": "", "occurred_at": "2024-06-03", "reach": "", "engagement": ""}]
    write_csv(canonical_dir / "mentions.csv", rows)
    report = import_path(engine, canonical_dir, "canonical")
    bad = {(e.file, e.line, e.column) for e in report.errors}
    assert ("mentions.csv", 3, "reach") in bad and ("mentions.csv", 4, "text") in bad
    assert count(engine, schema.mentions) == 0 and count(engine, schema.accounts) == 0
    rows[1]["reach"], rows[2]["text"] = "5", "Fine"
    write_csv(canonical_dir / "mentions.csv", rows)
    report = import_path(engine, canonical_dir, "canonical")
    assert report.ok, report.summary()
    assert count(engine, schema.mentions) == 3


def test_the_fast_number_reader_agrees_with_pandas():
    """Arrow's cast reads a column of numbers; one value it cannot read sends the whole
    column to pandas' coercion, so both paths give pandas' answer (issue 23)."""
    from greendoor.ingest.validate import _to_float

    fast = pd.Series(["+5", "5.", ".5", "1E5", "-2.25", None, "nan", "inf"])
    slow = pd.concat([fast, pd.Series([" 5", "0x10", "1_000"])], ignore_index=True)
    for s in (fast, slow):
        want = pd.to_numeric(s, errors="coerce").astype("float64")
        pd.testing.assert_series_equal(_to_float(s), want)
