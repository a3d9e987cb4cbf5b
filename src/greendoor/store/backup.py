"""Backup and restore of the store (DuckDB or PostgreSQL), verified, in one command.

A backup is one DuckDB file holding every table of the store (the Alembic version
included) and a manifest beside it (``PATH.manifest.json``) with the file's SHA-256 and
each table's row count and content checksum (DuckDB's ``bit_xor(hash(row))``).

* :func:`backup` of an embedded store copies the whole database in one transaction
  (``COPY FROM DATABASE``), so the copy is a consistent snapshot even while the app
  serves the store; of a PostgreSQL store it reads every table inside one
  ``REPEATABLE READ`` transaction (one snapshot) and writes them to the file. Either
  way the copy is then compared with the source (checksums on DuckDB; a portable
  :func:`fingerprint` of every column on PostgreSQL) before the manifest is written.
  The file is written under a temporary name and renamed when verified.
* :func:`verify` checks a backup file against its manifest. A damaged, truncated or
  foreign file is a :class:`BackupError`, never a traceback.
* :func:`restore` verifies the backup, then replaces the content of every table of the
  live store in one transaction and compares each table's :func:`fingerprint` with the
  backup's before committing. A store that does not exist yet, or holds no schema (a
  new machine), first gets the schema at the backup's revision; afterwards the store is
  upgraded to the current revision. A failed restore changes nothing, and leaves no new
  file behind. The audit log is append-only: entries written after the backup are kept,
  and the restore itself is logged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
from pathlib import Path

import duckdb
import pandas as pd
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection, Engine

from greendoor import audit
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert
from greendoor.store.engine import alembic_config, current_revision, init_store

#: The audit log is append-only: a restore keeps its later entries (and logs itself).
AUDIT = "audit_log"
VERSION_TABLE = "alembic_version"
#: Rows read from one table at a time when copying between engines.
CHUNK_ROWS = 200_000


class BackupError(RuntimeError):
    """A backup or restore failed; the message says why (and which table)."""


def _tables(con, catalog: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
        "AND table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name",
        [catalog]).fetchall()]


def checksums(con, catalog: str) -> dict[str, list]:
    """``{table: [rows, checksum]}`` of every table in DuckDB ``catalog`` (an attached
    name). Table names come from the catalog, never from user input."""
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


# --------------------------------------------------------------------------- #
# portable fingerprints
# --------------------------------------------------------------------------- #
def fingerprint(conn: Connection, table: sa.Table,
                where: sa.ColumnElement[bool] | None = None) -> list:
    """A portable summary of ``table``'s content (of its rows meeting ``where``, if
    given), equal on DuckDB and PostgreSQL for the same rows: the row count and, per
    column, the count of values and their sum (numbers; booleans as 0/1), total length
    (text, bytes) or earliest and latest value (dates)."""
    exprs: list[sa.ColumnElement] = [sa.func.count()]
    for col in table.c:
        exprs.append(sa.func.count(col))
        t = col.type
        if isinstance(t, sa.Boolean):
            exprs.append(sa.func.sum(sa.case((col.is_(True), 1), else_=0)))
        elif isinstance(t, (sa.Integer, sa.Float, sa.Numeric)):
            exprs.append(sa.func.sum(sa.cast(col, sa.Double)))
        elif isinstance(t, (sa.Date, sa.DateTime)):
            exprs += [sa.func.min(col), sa.func.max(col)]
        elif isinstance(t, sa.LargeBinary):
            exprs.append(sa.func.sum(sa.func.octet_length(col)))
        else:
            exprs.append(sa.func.sum(sa.func.length(col)))
    q = sa.select(*exprs).select_from(table)
    row = conn.execute(q if where is None else q.where(where)).one()
    return [v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v for v in row]


def content_digest(conn: Connection, tables: tuple[sa.Table, ...] = schema.CANONICAL_TABLES,
                   through: dt.date | None = None) -> str:
    """SHA-256 (hex) of the :func:`fingerprint` of each of ``tables`` (default: the
    canonical data), sums rounded to 9 significant digits (their last digits depend on
    the order of addition): equal for equal content, different after any row is added,
    removed or changed in a counted or summed column. One aggregate query per table.

    With ``through``, the event tables (:data:`greendoor.store.schema.EVENT_DATES`)
    count only their rows dated on or before it: the digest of what was known through
    that date, unchanged by a later day's events."""
    return digest_of(table_prints(conn, tables, through))


def table_prints(conn: Connection, tables, through: dt.date | None = None) -> dict[str, list]:
    """``{table name: fingerprint}`` of ``tables`` as :func:`content_digest` digests them
    (sums rounded to 9 significant digits; ``through`` as there), in ``tables``' order."""
    def norm(v):
        return float(f"{v:.9g}") if isinstance(v, float) else v

    def where(t: sa.Table):
        col = schema.EVENT_DATES.get(t.name)
        # (before the next day: a timestamp column counts the whole of ``through``)
        return None if through is None or col is None else \
            t.c[col] < through + dt.timedelta(days=1)
    return {t.name: [norm(v) for v in fingerprint(conn, t, where(t))] for t in tables}


def digest_of(prints: dict[str, list]) -> str:
    """SHA-256 (hex) of :func:`table_prints`' output: :func:`content_digest` of the same
    tables in the same order."""
    return hashlib.sha256(json.dumps(prints, default=str).encode()).hexdigest()


def _same(a: list, b: list) -> bool:
    """Equal fingerprints: numbers to 1e-9 (sums depend on the order of addition)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        try:
            if not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-6):
                return False
        except (TypeError, ValueError):
            return False
    return True


def _fingerprints(conn: Connection, tables: list[sa.Table]) -> dict[str, list]:
    return {t.name: fingerprint(conn, t) for t in tables}


def _compare_fingerprints(expected: dict, got: dict, what: str) -> None:
    for name, fp in expected.items():
        if not _same(fp, got.get(name, [])):
            raise BackupError(f"{what}: table {name} differs ({got.get(name, [None])[0]} rows "
                              f"vs {fp[0]} in the backup)")


# --------------------------------------------------------------------------- #
# backup
# --------------------------------------------------------------------------- #
def _store_tables(conn: Connection) -> list[sa.Table]:
    """The store's tables Greendoor knows, in dependency order (parents first)."""
    present = set(sa.inspect(conn).get_table_names())
    return [t for t in schema.metadata.sorted_tables if t.name in present]


def _backup_engine(path: Path) -> Engine:
    return sa.create_engine(f"duckdb:///{path}", poolclass=sa.pool.NullPool)


@contextlib.contextmanager
def _new_file(path: Path):
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block
    succeeds, remove it (and DuckDB's write-ahead log) when it fails."""
    tmp = path.with_name(path.name + ".partial")
    for p in (tmp, Path(f"{tmp}.wal")):
        p.unlink(missing_ok=True)
    try:
        yield tmp
    except BaseException:
        for p in (tmp, Path(f"{tmp}.wal")):
            p.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def backup(engine: Engine, path: str | Path) -> dict:
    """Write a verified snapshot of the store to ``path`` (a new DuckDB file). Returns
    the manifest: ``created_at, source, dialect, revision, tables {name: [rows,
    checksum]}``. Raises :class:`BackupError` if ``path`` exists or the copy does not
    verify (nothing is left at ``path`` then)."""
    path = Path(path).resolve()
    if path.exists():
        raise BackupError(f"{path} exists: choose a new file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _new_file(path) as tmp:
        if engine.dialect.name == "duckdb":
            source = _backup_duckdb(engine, tmp)
        else:
            source = _backup_portable(engine, tmp)
        con = duckdb.connect(str(tmp), read_only=True)
        try:
            got = checksums(con, con.execute("SELECT current_database()").fetchone()[0])
            revision = _revision(con)
        finally:
            con.close()
    manifest = {"created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "source": source, "dialect": engine.dialect.name, "revision": revision,
                "sha256": _sha256(path), "tables": got}
    Path(f"{path}.manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _backup_duckdb(engine: Engine, tmp: Path) -> str:
    with engine.connect() as conn:  # waits for the file lock like every connection
        con = conn.connection.driver_connection
        src = con.execute("SELECT current_database()").fetchone()[0]
        con.execute("BEGIN TRANSACTION")
        try:
            expected = checksums(con, src)
            con.execute("ATTACH ? AS greendoor_backup", [str(tmp)])
            con.execute(f'COPY FROM DATABASE "{src}" TO greendoor_backup')
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        finally:
            with contextlib.suppress(duckdb.Error):
                con.execute("DETACH greendoor_backup")
    check = duckdb.connect(str(tmp), read_only=True)
    try:
        got = checksums(check, check.execute("SELECT current_database()").fetchone()[0])
    finally:
        check.close()
    _compare(expected, got, "backup")
    return str(engine.url.database)


def _backup_portable(engine: Engine, tmp: Path) -> str:
    """Every table of a (PostgreSQL) store into a DuckDB file, from one snapshot."""
    bk = _backup_engine(tmp)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
                conn.begin():
            tables = _store_tables(conn)
            expected = _fingerprints(conn, tables)
            version = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            with bk.begin() as out:
                schema.metadata.create_all(out, tables=tables)
                out.execute(sa.text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR)"))
                out.execute(sa.text(f"INSERT INTO {VERSION_TABLE} VALUES (:v)"), {"v": version})
            for t in tables:
                _copy_table(conn, t, bk)
        with bk.connect() as out:
            got = _fingerprints(out, tables)
        _compare_fingerprints(expected, got, "backup")
    finally:
        bk.dispose()
    return engine.url.render_as_string(hide_password=True)


def _copy_table(src: Connection, table: sa.Table, dest: Engine) -> None:

    result = src.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(
        sa.select(table))
    for part in result.partitions(CHUNK_ROWS):
        with dest.begin() as out:
            bulk_insert(out, table, pd.DataFrame(part, columns=list(result.keys())))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(2**24):
            h.update(block)
    return h.hexdigest()


def _revision(con) -> str | None:
    try:
        return con.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()[0]
    except (duckdb.Error, TypeError):
        return None


# --------------------------------------------------------------------------- #
# verify and restore
# --------------------------------------------------------------------------- #
def verify(path: str | Path) -> dict:
    """Check a backup file against its manifest; returns the manifest. Raises
    :class:`BackupError` for a missing, damaged, truncated or foreign file."""
    path = Path(path).resolve()
    mf = Path(f"{path}.manifest.json")
    if not path.exists() or not mf.exists():
        raise BackupError(f"{path} or its manifest {mf.name} is missing")
    try:
        manifest = json.loads(mf.read_text())
        expected = manifest["tables"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{mf.name} is not a Greendoor backup manifest ({exc})") from exc
    if manifest.get("sha256") and _sha256(path) != manifest["sha256"]:
        raise BackupError(f"{path.name} is damaged: its bytes differ from the backup that was "
                          "written (sha256 mismatch)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise BackupError(f"{path.name} is damaged or not a Greendoor backup: "
                          f"{str(exc).splitlines()[0][:200]}") from exc
    try:
        got = checksums(con, con.execute("SELECT current_database()").fetchone()[0])
        manifest.setdefault("revision", _revision(con))
    except duckdb.Error as exc:
        raise BackupError(f"{path.name} is damaged: {str(exc).splitlines()[0][:200]}") from exc
    finally:
        con.close()
    _compare(expected, got, f"backup {path}")
    return manifest


def _is_new_duckdb(engine: Engine) -> bool:
    return engine.dialect.name == "duckdb" and not Path(engine.url.database).exists()


def restore(engine: Engine, path: str | Path, actor: str = "cli") -> dict:
    """Replace the live store's content with a verified backup, in one transaction,
    and verify the result (see the module docstring). Returns the manifest."""

    manifest = verify(path)
    path = Path(path).resolve()
    created = _is_new_duckdb(engine)
    try:
        live_rev = current_revision(engine)
        rev = manifest.get("revision")
        if live_rev is None:
            _create_schema(engine, rev)
        elif rev and live_rev != rev:
            raise BackupError(f"the backup is at schema revision {rev} and the store at "
                              f"{live_rev}: restore into a new, empty store instead (it is "
                              "created at the backup's revision and then upgraded)")
        _load(engine, path)
        init_store(engine, actor=actor)  # upgrades a store restored at an older revision
        with engine.begin() as c:
            audit.record(c, actor, "store.restore", "store", str(path),
                         after={"backup_created_at": manifest["created_at"]})
    except BaseException:
        if created:
            engine.dispose()
            db = Path(engine.url.database)
            for p in (db, Path(f"{db}.wal")):
                p.unlink(missing_ok=True)
        raise
    return manifest


def _create_schema(engine: Engine, revision: str | None) -> None:
    """The schema of an empty store at ``revision`` (the backup's)."""


    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision or "head")


def _load(engine: Engine, path: Path) -> None:
    """Every backed-up table into the live store in one transaction, checked against
    the backup's fingerprints before the commit."""
    bk = _backup_engine(path)
    try:
        with bk.connect() as src:
            in_backup = set(sa.inspect(src).get_table_names())
            tables = [t for t in schema.metadata.sorted_tables if t.name in in_backup]
            expected = _fingerprints(src, [t for t in tables if t.name != AUDIT])
        with engine.connect() as conn:
            duck = conn.dialect.name == "duckdb"
            if duck:  # attached outside the transaction, read-only
                conn.connection.driver_connection.execute(
                    "ATTACH ? AS greendoor_restore (READ_ONLY)", [str(path)])
            try:
                with conn.begin():
                    live = {t.name for t in _store_tables(conn)}
                    missing = [t.name for t in tables if t.name not in live]
                    if missing:
                        raise BackupError(f"the live store lacks tables {missing}")
                    for t in reversed(tables):
                        if t.name != AUDIT:
                            conn.execute(t.delete())
                    for t in tables:
                        _restore_table(conn, t, bk)
                    got = _fingerprints(conn, [t for t in tables if t.name != AUDIT])
                    _compare_fingerprints(expected, got, "restored store")
            finally:
                if duck:
                    with contextlib.suppress(duckdb.Error):
                        conn.connection.driver_connection.execute("DETACH greendoor_restore")
    finally:
        bk.dispose()


def _restore_table(conn: Connection, table: sa.Table, bk: Engine) -> None:
    """One table from the backup into the live store (the caller's transaction)."""
    cols = ", ".join(f'"{c.name}"' for c in table.c)  # names from the schema, not input
    if conn.dialect.name == "duckdb":
        con = conn.connection.driver_connection
        where = (f' WHERE audit_id NOT IN (SELECT audit_id FROM "{table.name}")'
                 if table.name == AUDIT else "")
        con.execute(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} '
                    f'FROM greendoor_restore.main."{table.name}"{where}')
        return

    known: set = set()
    if table.name == AUDIT:
        known = {r[0] for r in conn.execute(sa.select(table.c.audit_id))}
    with bk.connect() as src:
        result = src.execution_options(yield_per=CHUNK_ROWS).execute(sa.select(table))
        for part in result.partitions(CHUNK_ROWS):
            frame = pd.DataFrame(part, columns=list(result.keys()))
            if known:
                frame = frame[~frame["audit_id"].isin(known)]
            bulk_insert(conn, table, frame)
