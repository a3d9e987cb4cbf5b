"""Store: schema migrations, idempotent init, bulk round trip, atomicity."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import config
from greendoor.store import meta, schema
from greendoor.store.bulk import BulkInsertError, bulk_insert
from greendoor.store.engine import current_revision, head_revision, init_store, make_engine


def test_migrations_match_schema(engine):
    """Every table and column of schema.py exists after `alembic upgrade head`."""
    insp = sa.inspect(engine)
    tables = set(insp.get_table_names()) - {"alembic_version"}
    assert tables == set(schema.metadata.tables)
    for name, table in schema.metadata.tables.items():
        cols = {c["name"] for c in insp.get_columns(name)}
        assert cols == set(table.c.keys()), name
    # money and scores are 8-byte floats (sa.Float would be a 4-byte REAL in DuckDB)
    cols = sa.table("columns", sa.column("table_name"), sa.column("column_name"),
                    sa.column("data_type"), schema="information_schema")
    with engine.connect() as conn:
        types = {(t, c): d.upper() for t, c, d in conn.execute(sa.select(cols))}
    doubles = [(t.name, c.name) for t in schema.metadata.sorted_tables for c in t.c
               if isinstance(c.type, sa.Double)]
    assert len(doubles) > 20
    for key in doubles:
        assert types[key].startswith("DOUBLE"), (key, types[key])


def test_init_is_idempotent_and_writes_default_settings(store_url):
    eng = make_engine(store_url)
    first = init_store(eng)
    second = init_store(eng)
    assert first == {"from": None, "to": head_revision()}
    assert second == {"from": head_revision(), "to": head_revision()}
    with eng.connect() as conn:
        rows = conn.execute(sa.select(schema.settings_versions)).mappings().all()
    assert len(rows) == 1 and rows[0]["version"] == 1
    assert pd.read_json(pd.io.common.StringIO(rows[0]["settings_json"]), typ="series")[
        "churn_horizon_days"] == config.DEFAULT_SETTINGS["churn_horizon_days"]


def test_current_revision_of_empty_store(store_url):
    assert current_revision(make_engine(store_url)) is None


def test_bulk_insert_round_trip(engine):
    frame = pd.DataFrame({
        "ticket_id": ["t1", "t2"],
        "account_id": ["A", "B"],
        "opened_at": pd.to_datetime(["2025-01-01 10:30:00", "2025-02-01 08:00:00"]),
        "closed_at": pd.to_datetime(["2025-01-02 09:00:00", None]),
        "priority": ["high", None],
        "csat": [4.0, float("nan")],
        "escalated": [True, False],
    })
    with engine.begin() as conn:
        assert bulk_insert(conn, schema.tickets, frame) == 2
    with engine.connect() as conn:
        back = pd.read_sql(sa.select(schema.tickets).order_by(schema.tickets.c.ticket_id), conn)
    assert back["ticket_id"].tolist() == ["t1", "t2"]
    assert back["opened_at"].iloc[0] == pd.Timestamp("2025-01-01 10:30:00")
    assert pd.isna(back["closed_at"].iloc[1]) and pd.isna(back["priority"].iloc[1])
    assert back["csat"].iloc[0] == 4.0 and pd.isna(back["csat"].iloc[1])
    assert back["escalated"].tolist() == [True, False]


def test_bulk_insert_rejects_unknown_columns(engine):
    with engine.begin() as conn, pytest.raises(KeyError, match="nope"):
        bulk_insert(conn, schema.accounts, pd.DataFrame({"account_id": ["a"], "nope": [1]}))


def test_failed_transaction_leaves_store_unchanged(engine):
    good = pd.DataFrame({"account_id": ["A"], "name": ["Alpha"],
                         "signup_date": [pd.Timestamp("2024-01-01")]})
    with engine.begin() as conn:
        bulk_insert(conn, schema.accounts, good)
    with pytest.raises(BulkInsertError, match="accounts"):
        with engine.begin() as conn:
            bulk_insert(conn, schema.accounts, good.assign(account_id="B"))
            # a duplicate primary key fails the whole transaction, B included
            bulk_insert(conn, schema.accounts, good)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.select(schema.accounts.c.account_id))]
    assert ids == ["A"]


def test_store_meta_set_and_get(engine):
    with engine.begin() as conn:
        meta.set_many(conn, {"a": "1", "b": "2"})
        meta.set_many(conn, {"a": "3"})
    with engine.connect() as conn:
        assert meta.get(conn, "a") == "3" and meta.get(conn, "b") == "2"
        assert meta.get(conn, "missing") is None


def test_default_url_is_embedded_duckdb(monkeypatch, tmp_path):
    monkeypatch.delenv(config.DB_URL_ENV, raising=False)
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path))
    assert config.db_url() == f"duckdb:///{tmp_path / 'greendoor.duckdb'}"
    monkeypatch.setenv(config.DB_URL_ENV, "postgresql+psycopg://u@localhost/gd")
    assert config.db_url() == "postgresql+psycopg://u@localhost/gd"


@pytest.mark.parametrize("arr, segment", [(50_000.01, "enterprise"), (50_000, "mid_market"),
                                          (10_000, "mid_market"), (9_999.99, "smb")])
def test_segment_from_arr(arr, segment):
    assert config.segment_from_arr(arr) == segment


def test_dates_survive_round_trip(engine):
    frame = pd.DataFrame({"account_id": ["A"], "name": ["x"],
                          "signup_date": [pd.Timestamp("2024-02-29")]})
    with engine.begin() as conn:
        bulk_insert(conn, schema.accounts, frame)
    with engine.connect() as conn:
        d = conn.execute(sa.select(schema.accounts.c.signup_date)).scalar()
    assert d == dt.date(2024, 2, 29)
