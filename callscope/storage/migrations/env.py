"""Alembic environment: the URL comes from the caller (`callscope.db.migrate`) or from settings."""

from alembic import context
from sqlalchemy import pool, text

from callscope.settings import get_settings
from callscope.storage.db import Base, get_engine
from callscope.storage.search import include_object

MIGRATION_LOCK = 0x63616C6C  # any constant of our own: the lock every migrating process takes

url = context.config.attributes.get("url") or get_settings().resolved_database_url

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = get_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            poolclass=pool.NullPool,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # API hosts starting together each migrate: one does, the others wait here, then read the version it
                # left (a transaction's lock: released at its end, also if this process dies)
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            context.run_migrations()
        connection.commit()
