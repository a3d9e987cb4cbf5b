"""usage.source_key recomputed by the engine (greendoor.store.usage_keys)

Keys written before this revision were hashed in pandas; under pandas 3 rows with an
empty grain column got one key per identity, so a re-import merged them. Every
imported row (``source_key`` not NULL) gets its key under the new definition; rows of
one identity are numbered in the order of their old keys (the file order is not
stored). Demo rows keep a NULL key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from greendoor.store import schema, usage_keys

    conn = op.get_bind()
    usage = schema.usage
    if not conn.execute(sa.select(sa.func.count()).select_from(
            sa.select(usage.c.date).where(usage.c.source_key.is_not(None)).limit(1)
            .subquery())).scalar_one():
        return
    rid = sa.literal_column("usage.ctid" if conn.dialect.name == "postgresql" else "usage.rowid")
    ident = usage_keys.identity(usage).label("_identity")
    inner = (sa.select(rid.label("rid"), ident,
                       sa.func.row_number().over(
                           partition_by=ident,
                           order_by=[usage.c.source_key, usage.c.events,
                                     usage.c.duration_seconds, usage.c.errors]).label("occ"))
             .where(usage.c.source_key.is_not(None)).subquery())
    new = sa.select(inner.c.rid, sa.func.md5(
        inner.c._identity + sa.literal("#") + sa.cast(inner.c.occ - 1, sa.String)
    ).label("key")).subquery()
    with warnings.catch_warnings():  # the row id is a pseudo-column SQLAlchemy cannot see
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        conn.execute(usage.update().values(source_key=new.c.key).where(rid == new.c.rid))


def downgrade() -> None:
    pass  # the old keys cannot be recomputed without pandas' hashes; new ones stay valid
