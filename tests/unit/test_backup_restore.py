"""Recovery in one command (issue 26): ``greendoor backup`` then ``greendoor restore``
onto a new, empty store, on DuckDB and on PostgreSQL; later audit rows are kept; a
damaged backup is refused with a clear message and leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from greendoor import actions as A
from greendoor.cli import main
from greendoor.demo import DemoParams, load_demo
from greendoor.store import backup as BK
from greendoor.store import schema
from greendoor.store.engine import current_revision, head_revision, init_store, make_engine
from tests.conftest import pg_database

SMALL = DemoParams(n_accounts=30, months=6, seed=3, as_of=dt.date(2026, 6, 30))


def content(engine) -> str:
    """A digest of every canonical table's rows, in a fixed order."""
    h = hashlib.sha256()
    with engine.connect() as conn:
        for t in schema.CANONICAL_TABLES:
            rows = conn.execute(sa.select(t).order_by(*[c for c in t.c
                                                        if not isinstance(c.type, sa.Double)]))
            h.update(f"{t.name}:{sorted(map(repr, rows.all()))}".encode())
    return h.hexdigest()


def audit_actions(engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(schema.audit_log.c.action))]


@pytest.fixture
def demo_on(store_url):
    """(url, engine) of a small demo store on each backend."""
    eng = make_engine(store_url)
    init_store(eng)
    load_demo(eng, SMALL)
    yield store_url, eng
    eng.dispose()


def _new_url(kind: str, tmp_path: Path, stack):
    if kind == "duckdb":
        return f"duckdb:///{tmp_path / 'new-machine' / 'greendoor.duckdb'}"
    return stack.enter_context(pg_database())


def test_backup_then_restore_onto_a_new_store_in_one_command(demo_on, tmp_path):
    import contextlib

    url, eng = demo_on
    kind = eng.dialect.name
    target = tmp_path / "it's a backup.duckdb"  # a quote in the path is bound, not formatted
    assert main(["--db-url", url, "backup", str(target)]) == 0
    manifest = json.loads(Path(f"{target}.manifest.json").read_text())
    assert manifest["revision"] == head_revision() and manifest["dialect"] == kind
    with contextlib.ExitStack() as stack:
        new_url = _new_url(kind, tmp_path, stack)
        assert main(["--db-url", new_url, "restore", str(target)]) == 0
        new = make_engine(new_url)
        assert current_revision(new) == head_revision()
        assert content(new) == content(eng)
        assert "store.restore" in audit_actions(new)
        new.dispose()


def test_restore_keeps_audit_rows_written_after_the_backup(demo_on, tmp_path):
    url, eng = demo_on
    before = content(eng)
    target = tmp_path / "snap.duckdb"
    BK.backup(eng, target)
    with eng.connect() as conn:
        acc = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
    A.create_task(eng, acc, "after the backup", owner="x", due_date=SMALL.as_of)
    with eng.begin() as conn:
        conn.execute(schema.tickets.delete())
    assert content(eng) != before
    BK.restore(eng, target)
    assert content(eng) == before
    acts = audit_actions(eng)
    assert "action.task" in acts and "store.restore" in acts  # the later entry is kept


@pytest.mark.duckdb_only
@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest"])
def test_a_damaged_backup_is_refused_clearly_and_leaves_nothing(demo_on, tmp_path, capsys,
                                                                damage):
    url, eng = demo_on
    target = tmp_path / "snap.duckdb"
    BK.backup(eng, target)
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 3])
    elif damage == "flip":
        i = len(data) // 2
        target.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    else:
        Path(f"{target}.manifest.json").write_text("{not json")
    new_path = tmp_path / "fresh" / "store.duckdb"
    code = main(["--db-url", f"duckdb:///{new_path}", "restore", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
    assert not new_path.exists() and not Path(f"{new_path}.wal").exists()
