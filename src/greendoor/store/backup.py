"""Backup and restore of the embedded DuckDB store, with verification.

* :func:`backup` copies the whole store (every table, the Alembic version included)
  into a new DuckDB file in one transaction, so the copy is a consistent snapshot even
  while the app serves the store (the app's short connections wait a moment; see
  docs/concurrency.md). It then opens the copy and checks every table's row count
  and content checksum (``bit_xor(hash(row))``) against the source, and writes them
  to a manifest (``PATH.manifest.json``).
* :func:`restore` checks the backup against its manifest first, then replaces the
  content of every table of the live store with the backup's in one transaction, and
  verifies the result. A failed check changes nothing. The audit log is append-only:
  entries written after the backup are kept, and the restore itself is logged.

PostgreSQL: use ``pg_dump -Fc`` and ``pg_restore --clean`` (README, "Backup and restore").
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
from sqlalchemy.engine import Engine

#: The audit log is append-only: a restore keeps its later entries (and logs itself).
AUDIT = "audit_log"


class BackupError(RuntimeError):
    """A backup or restore failed its verification; the message says which table."""


def _duckdb_path(engine: Engine) -> Path:
    if engine.dialect.name != "duckdb" or not engine.url.database:
        raise BackupError("greendoor backup/restore handle the embedded DuckDB store; for "
                          "PostgreSQL use pg_dump / pg_restore (README)")
    return Path(engine.url.database)


def _tables(con, catalog: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
        "AND table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name",
        [catalog]).fetchall()]


def checksums(con, catalog: str) -> dict[str, list]:
    """``{table: [rows, checksum]}`` of every table in ``catalog`` (an attached name)."""
    out = {}
    for t in _tables(con, catalog):
        n, h = con.execute(f'SELECT count(*), bit_xor(hash(x)) FROM "{catalog}".main."{t}" AS x'
                           ).fetchone()
        out[t] = [int(n), str(h)]
    return out


def _compare(expected: dict, got: dict, what: str) -> None:
    if set(expected) != set(got):
        raise BackupError(f"{what}: tables differ: missing {sorted(set(expected) - set(got))}, "
                          f"extra {sorted(set(got) - set(expected))}")
    for t, v in expected.items():
        if got[t] != v:
            raise BackupError(f"{what}: table {t} differs: {got[t][0]} rows vs {v[0]} expected")


def backup(engine: Engine, path: str | Path) -> dict:
    """Write a verified snapshot of the store to ``path`` (a new file). Returns the
    manifest: ``created_at, source, tables {name: [rows, checksum]}``. Raises
    :class:`BackupError` if ``path`` exists or the copy does not verify."""
    _duckdb_path(engine)
    path = Path(path).resolve()
    if path.exists():
        raise BackupError(f"{path} exists: choose a new file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:  # waits for the file lock like every connection
        con = conn.connection.driver_connection
        src = con.execute("SELECT current_database()").fetchone()[0]
        con.execute("BEGIN TRANSACTION")
        try:
            expected = checksums(con, src)
            con.execute(f"ATTACH '{path}' AS greendoor_backup")
            con.execute(f'COPY FROM DATABASE "{src}" TO greendoor_backup')
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        finally:
            try:
                con.execute("DETACH greendoor_backup")
            except duckdb.Error:
                pass
    check = duckdb.connect(str(path), read_only=True)
    try:
        got = checksums(check, check.execute("SELECT current_database()").fetchone()[0])
    finally:
        check.close()
    _compare(expected, got, f"backup {path}")
    manifest = {"created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "source": str(_duckdb_path(engine)), "tables": expected}
    Path(f"{path}.manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def verify(path: str | Path) -> dict:
    """Check a backup file against its manifest; returns the manifest."""
    path = Path(path).resolve()
    mf = Path(f"{path}.manifest.json")
    if not path.exists() or not mf.exists():
        raise BackupError(f"{path} or its manifest {mf.name} is missing")
    manifest = json.loads(mf.read_text())
    con = duckdb.connect(str(path), read_only=True)
    try:
        got = checksums(con, con.execute("SELECT current_database()").fetchone()[0])
    finally:
        con.close()
    _compare(manifest["tables"], got, f"backup {path}")
    return manifest


def restore(engine: Engine, path: str | Path) -> dict:
    """Replace the live store's content with a verified backup, in one transaction,
    and verify the result. Returns the manifest."""
    _duckdb_path(engine)
    manifest = verify(path)
    path = Path(path).resolve()
    with engine.connect() as conn:
        con = conn.connection.driver_connection
        live = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f"ATTACH '{path}' AS greendoor_restore (READ_ONLY)")
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                live_tables = set(_tables(con, live))
                missing = set(manifest["tables"]) - live_tables
                if missing:
                    raise BackupError(f"the live store lacks tables {sorted(missing)}: run "
                                      "`greendoor init` with the version that made the backup")
                for t in manifest["tables"]:
                    if t == AUDIT:  # append-only: keep later entries, add back the rest
                        con.execute(f'INSERT INTO "{live}".main."{t}" SELECT * FROM '
                                    f'greendoor_restore.main."{t}" WHERE audit_id NOT IN '
                                    f'(SELECT audit_id FROM "{live}".main."{t}")')
                        continue
                    con.execute(f'DELETE FROM "{live}".main."{t}"')
                    con.execute(f'INSERT INTO "{live}".main."{t}" '
                                f'SELECT * FROM greendoor_restore.main."{t}"')
                got = {t: v for t, v in checksums(con, live).items()
                       if t in manifest["tables"] and t != AUDIT}
                _compare({t: v for t, v in manifest["tables"].items() if t != AUDIT}, got,
                         "restored store")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        finally:
            con.execute("DETACH greendoor_restore")
    with engine.begin() as c:
        from greendoor.store import schema
        from greendoor.store.engine import new_id

        c.execute(schema.audit_log.insert().values(
            audit_id=new_id(), occurred_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            actor="cli", action="store.restore", entity="store", entity_id=str(path),
            after_json=json.dumps({"backup_created_at": manifest["created_at"]})))
    return manifest


