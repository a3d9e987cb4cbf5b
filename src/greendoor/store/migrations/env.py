"""Alembic environment: runs on the connection handed over by init_store."""

from alembic import context

import greendoor.store.engine  # noqa: F401  (registers the DuckDB DDL impl)
from greendoor.store.schema import metadata

target_metadata = metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from greendoor.store.engine import make_engine

        with make_engine().begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
