"""Engine creation and schema set-up (``greendoor init``).

The store URL comes from :func:`greendoor.config.db_url`; the default is an
embedded DuckDB file, PostgreSQL works with ``postgresql+psycopg://...``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from greendoor import config
from greendoor.store import schema

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class AlembicDuckDBImpl(DefaultImpl):
    """Alembic DDL implementation for DuckDB (duckdb-engine's recommendation)."""

    __dialect__ = "duckdb"


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for ``url`` (default :func:`greendoor.config.db_url`).

    For a DuckDB file the parent folder is created when missing.
    """
    url = url or config.db_url()
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "duckdb" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url)


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations shipped in the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the store is at, or ``None`` for an empty store."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def init_store(engine: Engine, actor: str = "system") -> dict[str, str | None]:
    """Create or upgrade the schema to the latest revision; idempotent.

    Also writes settings version 1 (the SPEC.md defaults) when no settings exist.
    Returns ``{"from": revision_before, "to": revision_after}``.
    """
    before = current_revision(engine)
    if before != head_revision():
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
                    note="defaults from SPEC.md",
                    settings_json=json.dumps(settings, sort_keys=True),
                )
            )
            conn.execute(
                schema.audit_log.insert().values(
                    audit_id=new_id(),
                    occurred_at=now,
                    actor=actor,
                    action="settings.create",
                    entity="settings_versions",
                    entity_id="1",
                    after_json=json.dumps(settings, sort_keys=True),
                )
            )
    return {"from": before, "to": current_revision(engine)}


def new_id() -> str:
    """A new random id for rows Greendoor writes (32 hex characters)."""
    import uuid

    return uuid.uuid4().hex
