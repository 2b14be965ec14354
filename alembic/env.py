"""Alembic environment: keyq's tables, one lock so concurrent starts migrate once."""

from __future__ import annotations

from sqlalchemy import create_engine, pool, text

from alembic import context
from storage.tables import Base

MIGRATION_LOCK = 7_205_117  # pg_advisory_xact_lock key shared by every keyq process

config = context.config
url = config.attributes.get("url")
if url is None:
    from bot.settings import Settings
    from storage.database import urls

    url = urls(Settings().database_url)[1]

connectable = create_engine(url, poolclass=pool.NullPool, hide_parameters=True)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        context.run_migrations()
connectable.dispose()
