"""Engine creation and schema set-up (``greendoor init``).

The store URL comes from :func:`greendoor.config.db_url`; the default is an
embedded DuckDB file, PostgreSQL works with ``postgresql+psycopg://...``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from greendoor import audit, config
from greendoor.store import schema
from greendoor.store.ids import new_id  # noqa: F401 (re-exported: store.engine.new_id)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


_alembic_ready = False


def _alembic():
    """Import Alembic on first use (commands that only read the store, such as
    ``greendoor score``, start about 0.2 s sooner) and register its DuckDB DDL
    implementation (duckdb-engine's recommendation)."""
    global _alembic_ready
    if not _alembic_ready:
        from alembic.ddl.impl import DefaultImpl

        class AlembicDuckDBImpl(DefaultImpl):
            __dialect__ = "duckdb"

        _alembic_ready = True


#: Environment variable: how long (seconds) to wait for the embedded store's file lock.
LOCK_TIMEOUT_ENV = "GREENDOOR_LOCK_TIMEOUT"
#: DuckDB memory limit for the embedded store (e.g. "8GB"); DuckDB's default is 80 % of RAM.
MEMORY_LIMIT_ENV = "GREENDOOR_DUCKDB_MEMORY_LIMIT"
DEFAULT_LOCK_TIMEOUT = 120.0


class StoreBusy(RuntimeError):
    """The embedded store stayed locked by another process for the whole lock timeout."""


def is_lock_error(exc: BaseException) -> bool:
    """True for DuckDB's "Could not set lock on file" (another process holds the file)."""
    return "could not set lock" in str(exc).lower() or "conflicting lock" in str(exc).lower()


def make_engine(url: str | None = None, lock_timeout: float | None = None) -> Engine:
    """Create an engine for ``url`` (default :func:`greendoor.config.db_url`).

    Embedded DuckDB file: the parent folder is created when missing, and the engine
    uses **short-lived connections** (no pool), so a process holds the file only while
    it runs a query or a transaction. Opening a connection while another process holds
    the file waits and retries (backoff 50 ms .. 1 s) for up to ``lock_timeout``
    seconds (``$GREENDOOR_LOCK_TIMEOUT``, default 120), then raises
    :class:`StoreBusy`. This is how the app and ``greendoor score/import`` share one
    store file without losing a write (docs/concurrency.md). PostgreSQL engines pool
    as usual (``pool_pre_ping``).
    """
    url = url or config.db_url()
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "duckdb":
        return sa.create_engine(url, pool_pre_ping=True)
    # DuckDB takes up to 80 % of the machine's memory for its buffers unless told less
    limit = os.environ.get(MEMORY_LIMIT_ENV)
    cargs = {"config": {"memory_limit": limit}} if limit else {}
    if parsed.database in (None, "", ":memory:"):
        return sa.create_engine(url, connect_args=cargs)
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    timeout = float(lock_timeout if lock_timeout is not None
                    else os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT))
    engine = sa.create_engine(url, poolclass=NullPool, connect_args=cargs)

    @event.listens_for(engine, "do_connect")
    def _connect_with_retry(dialect, conn_rec, cargs, cparams):
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                return dialect.connect(*cargs, **cparams)
            except Exception as exc:  # duckdb.IOException: the file is locked
                if not is_lock_error(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"the store {parsed.database} stayed locked by another process for "
                        f"{timeout:g} s (a long import or scoring run?): {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    return engine


def alembic_config():
    """Alembic configuration (``alembic.config.Config``) pointing at the migrations
    shipped in the package."""
    _alembic()
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the store is at, or ``None`` for an empty store."""
    _alembic()
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest schema revision this release knows (Alembic head)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def init_store(engine: Engine, actor: str = "system") -> dict[str, str | None]:
    """Create or upgrade the schema to the latest revision; idempotent.

    Also writes settings version 1 (the SPEC.md defaults) when no settings exist.
    Returns ``{"from": revision_before, "to": revision_after}``.
    """
    before = current_revision(engine)
    head = head_revision()
    if before != head:
        from alembic import command

        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    with engine.begin() as conn:
        has_settings = conn.execute(
            sa.select(sa.func.count()).select_from(schema.settings_versions)
        ).scalar_one()
        if not has_settings:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            settings = config.default_settings()
            conn.execute(
                schema.settings_versions.insert().values(
                    version=1,
                    created_at=now,
                    created_by=actor,
                    note="Greendoor defaults",
                    settings_json=json.dumps(settings, sort_keys=True),
                )
            )
            audit.record(conn, actor, "settings.create", "settings_versions", "1",
                         after=json.dumps(settings, sort_keys=True), raw=True, at=now)
    # (read again only after an upgrade: 0.15 s of every command otherwise)
    return {"from": before, "to": before if before == head else current_revision(engine)}


