"""Usage keys (greendoor.store.usage_keys): no row is lost or duplicated by a re-import,
whatever pandas or engine the user runs.

Issue 26: under pandas 3, usage rows without ``usage_id`` and with an empty grain
column shared one key, so importing ``u1 = 5`` and then the same day with rows 5, 7 and
a second user kept u1 = 7 and lost the 5, while the report said "inserted 1, updated 1,
unchanged 1". These tests run on DuckDB and PostgreSQL, and CI runs this file under
the lowest and the highest pandas the project allows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor.ingest import import_path
from greendoor.store import schema, usage_keys
from greendoor.store.engine import init_store, make_engine


def _enc(v: str | None) -> str:
    return "~" if v is None else f"{len(v)}:{v}"


def expected_key(account, sub, date: str, user, feature, usage_id=None, occurrence=0) -> str:
    """The key as the module docstring defines it, computed here without the engine."""
    if usage_id is not None:
        ident = "i" + _enc(usage_id)
    else:
        days = (dt.date.fromisoformat(date) - dt.date(1970, 1, 1)).days
        ident = "g" + "".join(_enc(v) for v in (account, sub, str(days), user, feature))
    return hashlib.md5(f"{ident}#{occurrence}".encode()).hexdigest()


def _accounts(d: Path, ids=("A1", "A2")) -> None:
    pd.DataFrame({"account_id": list(ids), "name": [f"Co {i}" for i in ids],
                  "signup_date": "2025-01-01"}).to_csv(d / "accounts.csv", index=False)


def _export(root: Path, name: str, usage_csv: str) -> Path:
    d = root / name
    d.mkdir()
    _accounts(d)
    (d / "usage.csv").write_text(usage_csv)
    return d


def stored(engine) -> pd.DataFrame:
    u = schema.usage
    with engine.connect() as conn:
        df = pd.read_sql(sa.select(u.c.account_id, u.c.date, u.c.user_id, u.c.feature,
                                   u.c.events, u.c.usage_id, u.c.source_key), conn)
    df["date"] = pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d")
    return df


def usage_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.usage)).scalar_one()


def test_keys_are_the_documented_md5_on_every_engine(engine, tmp_path):
    """Pinned values: a change of pandas, DuckDB or PostgreSQL that would change a stored
    key fails here (the same 32 hex characters on both engines)."""
    d = _export(tmp_path, "e", "account_id,subscription_id,date,user_id,feature,events,usage_id\n"
                "A1,,2026-01-05,u1,reports,5,\n"
                "A1,,2026-01-05,u1,reports,7,\n"
                "A1,,2026-01-05,,reports,1,\n"
                "A2,,2026-01-06,u:1,,2,\n"
                "A2,,2026-01-06,u,:1,2,\n"
                "A2,,2026-01-07,x,y,4,ID-9\n"
                "A1,,2026-01-08,x,y,4,ID-9\n")
    report = import_path(engine, d, "canonical")
    assert report.ok, report.summary()
    got: dict[tuple, set] = {}
    for r in stored(engine).itertuples():
        got.setdefault((r.account_id, r.date, r.events), set()).add(r.source_key)
    want = {
        ("A1", "2026-01-05", 5): expected_key("A1", None, "2026-01-05", "u1", "reports"),
        ("A1", "2026-01-05", 7): expected_key("A1", None, "2026-01-05", "u1", "reports",
                                              occurrence=1),
        ("A1", "2026-01-05", 1): expected_key("A1", None, "2026-01-05", None, "reports"),
        ("A2", "2026-01-06", 2): None,  # two rows; checked below
        ("A2", "2026-01-07", 4): expected_key(None, None, "", None, None, usage_id="ID-9"),
        ("A1", "2026-01-08", 4): expected_key(None, None, "", None, None, usage_id="ID-9",
                                              occurrence=1),
    }
    for k, v in want.items():
        if v is not None:
            assert got[k] == {v}, k
    # "u:1" + no feature and "u" + feature ":1" are different rows with different keys
    assert got[("A2", "2026-01-06", 2)] == {expected_key("A2", None, "2026-01-06", "u:1", None),
                   expected_key("A2", None, "2026-01-06", "u", ":1")}
    # the literal values, so that the oracle above cannot drift with the code
    assert expected_key("A1", None, "2026-01-05", "u1", "reports") == \
        "32be3979505acbbc3960a6153986928b"


def test_the_reported_collision_keeps_every_row_and_reimport_changes_nothing(engine, tmp_path):
    header = "account_id,subscription_id,date,user_id,feature,events\n"
    first = _export(tmp_path, "a", header + "A1,,2026-01-05,u1,reports,5\n")
    second = _export(tmp_path, "b", header + "A1,,2026-01-05,u1,reports,5\n"
                     "A1,,2026-01-05,u1,reports,7\nA1,,2026-01-05,u2,reports,3\n")
    r1 = import_path(engine, first, "canonical")
    assert (r1.tables["usage"].inserted, usage_count(engine)) == (1, 1)
    r2 = import_path(engine, second, "canonical")
    u = r2.tables["usage"]
    # the stored u1 = 5 is the first occurrence of the second file: unchanged
    assert (u.inserted, u.updated, u.unchanged) == (2, 0, 1)
    rows = stored(engine).sort_values(["user_id", "events"])
    assert list(zip(rows["user_id"], rows["events"], strict=True)) == \
        [("u1", 5), ("u1", 7), ("u2", 3)]
    for _ in range(2):
        again = import_path(engine, second, "canonical").tables["usage"]
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
        assert usage_count(engine) == 3


def _random_usage(n: int, seed: int, start: str = "2026-01-01", days: int = 20) -> pd.DataFrame:
    """``n`` usage rows with many empty user/feature/subscription cells and repeats."""
    rng = np.random.default_rng(seed)
    dates = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n), unit="D")
    df = pd.DataFrame({
        "account_id": rng.choice(["A1", "A2"], n),
        "subscription_id": "",
        "date": dates.strftime("%Y-%m-%d"),
        "user_id": np.where(rng.random(n) < 0.4, "", rng.choice(["u1", "u2", "u3"], n)),
        "feature": np.where(rng.random(n) < 0.4, "", rng.choice(["api", "reports"], n)),
        "events": rng.integers(0, 50, n),
    })
    return df


def _multiset(df: pd.DataFrame) -> list[tuple]:
    cols = ["account_id", "date", "user_id", "feature", "events"]
    out = df[cols].astype(object).where(df[cols].notna(), "")
    return sorted(map(tuple, out.astype(str).to_numpy().tolist()))


def test_ten_thousand_rows_with_empty_grain_round_trip_exactly_twice(engine, tmp_path):
    usage = _random_usage(10_000, seed=1)
    d = tmp_path / "x"
    d.mkdir()
    _accounts(d)
    usage.to_csv(d / "usage.csv", index=False)
    for i in range(2):
        report = import_path(engine, d, "canonical")
        u = report.tables["usage"]
        assert report.ok and (u.inserted, u.updated) == ((10_000, 0) if i == 0 else (0, 0))
        got = stored(engine)
        assert len(got) == 10_000 and got["source_key"].is_unique
        assert _multiset(got) == _multiset(usage)


def test_an_overlapping_second_export_leaves_exactly_the_union(engine, tmp_path):
    """Export 1 covers days 1-20, export 2 days 11-30; both hold the same rows for days
    11-20 (in another order), so the store must hold export 1 plus export 2's new days."""
    full = _random_usage(6_000, seed=2, days=30)
    days = pd.to_datetime(full["date"]).dt.day
    one = full[days <= 20]
    # another row order: repeated identities then pair up differently, but each
    # identity has as many rows in both exports, so the stored multiset is the same
    two = full[days > 10].sample(frac=1.0, random_state=3)
    for name, part in (("one", one), ("two", two)):
        d = tmp_path / name
        d.mkdir()
        _accounts(d)
        part.to_csv(d / "usage.csv", index=False)
        assert import_path(engine, d, "canonical").ok
    got = stored(engine)
    assert _multiset(got) == _multiset(full)


def test_import_counts_match_the_store(engine, tmp_path):
    """The report's inserted rows are the rows the store gained (import checks it)."""
    usage = _random_usage(500, seed=4)
    d = tmp_path / "c"
    d.mkdir()
    _accounts(d)
    usage.to_csv(d / "usage.csv", index=False)
    before = usage_count(engine)
    report = import_path(engine, d, "canonical")
    assert usage_count(engine) - before == report.tables["usage"].inserted == 500


@pytest.mark.parametrize("legacy", ["duckdb", "postgresql"])
def test_migration_rekeys_a_store_written_with_the_old_keys(legacy, tmp_path):
    """A store at revision 0007 whose imported rows carry pandas-era keys (duplicates
    included, as pandas 3 wrote them) gets the new keys; a re-import then matches every
    row and adds nothing."""
    from alembic import command

    from greendoor.store.engine import alembic_config

    if legacy == "postgresql":
        from tests.conftest import pg_database
        ctx = pg_database()
        url = ctx.__enter__()
    else:
        ctx, url = None, f"duckdb:///{tmp_path / 'legacy.duckdb'}"
    try:
        eng = make_engine(url)
        cfg = alembic_config()
        with eng.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0007")
        header = "account_id,subscription_id,date,user_id,feature,events\n"
        rows = ["A1,,2026-01-05,u1,reports,5", "A1,,2026-01-05,u1,reports,7",
                "A2,,2026-01-06,,,3"]
        with eng.begin() as conn:
            conn.execute(schema.accounts.insert(), [
                {"account_id": a, "name": a, "signup_date": dt.date(2025, 1, 1)}
                for a in ("A1", "A2")])
            conn.execute(schema.usage.insert(), [
                {"account_id": "A1", "date": dt.date(2026, 1, 5), "user_id": "u1",
                 "feature": "reports", "events": 5, "source_key": "dup"},
                {"account_id": "A1", "date": dt.date(2026, 1, 5), "user_id": "u1",
                 "feature": "reports", "events": 7, "source_key": "dup"},
                {"account_id": "A2", "date": dt.date(2026, 1, 6), "user_id": None,
                 "feature": None, "events": 3, "source_key": "old"},
                {"account_id": "A2", "date": dt.date(2026, 1, 6), "user_id": None,
                 "feature": None, "events": 9, "source_key": None},  # a demo row: no key
            ])
        init_store(eng)
        keys = stored(eng).sort_values("events")["source_key"].tolist()
        assert keys[:3] == [expected_key("A2", None, "2026-01-06", None, None),
                            expected_key("A1", None, "2026-01-05", "u1", "reports"),
                            expected_key("A1", None, "2026-01-05", "u1", "reports", None, 1)]
        assert pd.isna(keys[3])
        d = _export(tmp_path, "again", header + "\n".join(rows) + "\n")
        u = import_path(eng, d, "canonical").tables["usage"]
        assert (u.inserted, u.updated, u.unchanged) == (0, 0, 3)
        eng.dispose()
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)


def test_keys_do_not_depend_on_pandas_string_handling():
    """The key is computed by the engine from typed columns: pandas only carries the
    values. Run a tiny import in a subprocess with pandas' future string inference both
    on and off; the keys must match the pinned value."""
    code = (
        "import pandas as pd, tempfile, pathlib, sqlalchemy as sa\n"
        "pd.set_option('future.infer_string', {flag})\n"
        "from greendoor.store.engine import make_engine, init_store\n"
        "from greendoor.ingest import import_path\n"
        "d = pathlib.Path(tempfile.mkdtemp())\n"
        "(d/'accounts.csv').write_text('account_id,name,signup_date\\nA1,x,2025-01-01\\n')\n"
        "(d/'usage.csv').write_text('account_id,date,user_id,feature,events\\n"
        "A1,2026-01-05,u1,reports,5\\n')\n"
        "e = make_engine(f'duckdb:///{{d}}/s.duckdb'); init_store(e)\n"
        "assert import_path(e, d).ok\n"
        "with e.connect() as c: print(c.execute(sa.text('select source_key from usage'))"
        ".scalar())\n")
    for flag in (True, False):
        out = subprocess.run([sys.executable, "-c", code.format(flag=flag)],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out == expected_key("A1", None, "2026-01-05", "u1", "reports")


def test_keyed_select_numbers_repeats_in_file_order(engine):
    """Unit check of the SQL itself on a staging table: three equal rows get
    occurrences 0, 1, 2 in the order of their file positions, not of insertion."""
    stage = usage_keys.stage_table()
    with engine.begin() as conn:
        stage.create(conn)
        frame = pd.DataFrame({"account_id": ["A"] * 3, "date": [dt.date(2026, 1, 5)] * 3,
                              "events": [1, 2, 3]})
        conn.execute(stage.insert(), [
            {**r, usage_keys.ORD: o} for r, o in zip(frame.to_dict("records"), [2, 0, 1],
                                                      strict=True)])
        out = conn.execute(usage_keys.keyed_select(stage)).mappings().all()
        stage.drop(conn)
    by_events = {r["events"]: r["source_key"] for r in out}
    assert by_events == {e: expected_key("A", None, "2026-01-05", None, None, occurrence=o)
                         for e, o in ((2, 0), (3, 1), (1, 2))}
